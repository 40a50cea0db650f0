DROP TABLE state_relay_cursor;
DROP INDEX tasks_state_position;
ALTER TABLE tasks ADD COLUMN state_published integer NOT NULL DEFAULT 0;
UPDATE tasks SET state_published = state_version;
ALTER TABLE tasks DROP COLUMN state_tx;
CREATE INDEX tasks_state_unpublished ON tasks (updated_at) WHERE state_version > state_published;
