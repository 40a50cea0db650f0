-- Kept for databases migrated before the platform owned the outbox: there it adds the dead-letter
-- columns; on newer databases the platform's outbox already has them.
ALTER TABLE outbox ADD COLUMN IF NOT EXISTS destination text, ADD COLUMN IF NOT EXISTS reason text;
