-- The API keys move to the platform's directory (platform/migrations, `api_key_directory`,
-- created before this runs). The keys this database projected so far are copied over, so a
-- database made before the move keeps recognising every key without a replay of the keys topic;
-- then the scheduler's own copy goes. Older rows have no prefix ('') and no issue time (NULL).
INSERT INTO api_key_directory (key_id, tenant_id, key_sha256, revoked_at)
SELECT key_id, tenant_id, key_sha256, revoked_at FROM api_keys
ON CONFLICT DO NOTHING;
DROP TABLE api_keys;
