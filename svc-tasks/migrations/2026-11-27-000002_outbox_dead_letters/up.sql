-- The shared outbox (taskflow-platform) can park events on a dead-letter topic.
ALTER TABLE outbox ADD COLUMN destination text, ADD COLUMN reason text;
