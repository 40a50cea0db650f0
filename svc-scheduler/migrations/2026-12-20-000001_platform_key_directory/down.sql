CREATE TABLE api_keys (
    key_id      uuid PRIMARY KEY,
    tenant_id   uuid NOT NULL,
    key_sha256  bytea NOT NULL UNIQUE,
    revoked_at  timestamptz
);
INSERT INTO api_keys (key_id, tenant_id, key_sha256, revoked_at)
SELECT key_id, tenant_id, key_sha256, revoked_at FROM api_key_directory;
