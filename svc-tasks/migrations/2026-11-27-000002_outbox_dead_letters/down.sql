ALTER TABLE outbox DROP COLUMN destination, DROP COLUMN reason;
