CREATE TABLE api_keys (
    key_id      uuid PRIMARY KEY,
    tenant_id   uuid NOT NULL,
    key_sha256  bytea NOT NULL UNIQUE,
    key_prefix  text NOT NULL,
    issued_at   timestamptz NOT NULL,
    revoked_at  timestamptz
);
INSERT INTO api_keys (key_id, tenant_id, key_sha256, key_prefix, issued_at, revoked_at)
SELECT key_id, tenant_id, key_sha256, key_prefix, COALESCE(issued_at, now()), revoked_at
FROM api_key_directory;
CREATE TRIGGER keys_wake AFTER UPDATE OF revoked_at ON api_keys
    FOR EACH STATEMENT EXECUTE FUNCTION notify_feed();
