DROP TRIGGER IF EXISTS keys_wake ON api_keys;
DROP TRIGGER IF EXISTS notifications_wake ON notifications;
DROP FUNCTION IF EXISTS notify_feed();
DROP TABLE IF EXISTS token_secret, status_counts, tasks, notifications, tenant_feeds, api_keys;
