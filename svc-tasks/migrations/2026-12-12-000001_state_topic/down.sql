DROP INDEX tasks_state_unpublished;
ALTER TABLE tasks DROP COLUMN state_published;
ALTER TABLE tasks DROP COLUMN state_version;
