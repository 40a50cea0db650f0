DROP TRIGGER IF EXISTS outbox_append_only ON outbox;
DROP TRIGGER IF EXISTS outbox_append ON outbox;
DROP FUNCTION IF EXISTS taskflow_append_only();
DROP FUNCTION IF EXISTS taskflow_outbox_append();
DROP VIEW IF EXISTS outbox_unpublished;
ALTER TABLE outbox ADD COLUMN IF NOT EXISTS published_at timestamptz;
UPDATE outbox SET published_at = now()
 WHERE id <= (SELECT COALESCE(max(up_to), 0) FROM outbox_published);
CREATE INDEX IF NOT EXISTS outbox_unpublished ON outbox (id) WHERE published_at IS NULL;
DROP TABLE IF EXISTS outbox_published;
