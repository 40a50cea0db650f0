-- The API-key directory (taskflow_platform::keys): the tenants' API keys as svc-tasks announces
-- them on the keys topic (ApiKeyIssued, ApiKeyRevoked), by hash only. svc-notify and
-- svc-scheduler recognise callers with it; in the other services' databases it stays empty.
-- svc-tasks' own `api_keys` (the keys it issues) is a different table.
--
-- Databases made before the platform owned this table keep their rows: svc-notify's and
-- svc-scheduler's own migrations copy their former `api_keys` projection in here, then drop it.
CREATE TABLE IF NOT EXISTS api_key_directory (
    key_id      uuid PRIMARY KEY,
    tenant_id   uuid NOT NULL,
    -- SHA-256 of the key text.
    key_sha256  bytea NOT NULL UNIQUE,
    -- First characters of the key, to tell keys apart; '' for keys projected before it was kept.
    key_prefix  text NOT NULL DEFAULT '',
    -- When svc-tasks issued it; NULL for keys projected before it was kept.
    issued_at   timestamptz,
    -- By the database's clock when the revocation was applied (svc-notify's fan-out looks for
    -- recent revocations by it).
    revoked_at  timestamptz
);
CREATE INDEX IF NOT EXISTS api_key_directory_revoked ON api_key_directory (revoked_at)
    WHERE revoked_at IS NOT NULL;
