-- A row of the log can name the stream (aggregate) it belongs to and its position in it.
--
-- A service that folds a projection from its log per aggregate reads the aggregate's events
-- by `stream_id` instead of scanning the whole log, and one that needs optimistic concurrency
-- gives each event its `version` (unique per stream). svc-tasks' task log is stored this way
-- (its own migration 2026-12-23-000001_log_is_the_outbox): one row per event, no second copy.
-- Rows without a stream keep both NULL.
ALTER TABLE outbox ADD COLUMN IF NOT EXISTS stream_id uuid;
ALTER TABLE outbox ADD COLUMN IF NOT EXISTS version integer;
ALTER TABLE outbox ADD CONSTRAINT outbox_stream_position
    CHECK (version IS NULL OR (stream_id IS NOT NULL AND version >= 0));
CREATE UNIQUE INDEX IF NOT EXISTS outbox_stream ON outbox (stream_id, version)
    WHERE stream_id IS NOT NULL;
