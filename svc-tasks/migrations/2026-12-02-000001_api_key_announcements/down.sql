DROP INDEX api_keys_unannounced;
ALTER TABLE api_keys DROP COLUMN announced_at;
