-- The API keys move to the platform's directory (platform/migrations, `api_key_directory`,
-- created before this runs). The keys this database projected so far are copied over with
-- their prefix, issue time and revocation, so a database made before the move keeps every key
-- (and every revocation) without a replay of the keys topic; then svc-notify's own copy goes,
-- and with it the trigger that woke the fan-out on a revocation: the ingest now wakes it itself
-- in the transaction that applies one (store/wake.rs).
INSERT INTO api_key_directory (key_id, tenant_id, key_sha256, key_prefix, issued_at, revoked_at)
SELECT key_id, tenant_id, key_sha256, key_prefix, issued_at, revoked_at FROM api_keys
ON CONFLICT DO NOTHING;
DROP TABLE api_keys;
