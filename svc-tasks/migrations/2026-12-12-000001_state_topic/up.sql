-- The compacted state topic is fed from the projection: `state_version` is the task's version at
-- its last change of status, attempts or cancel flag (progress alone does not count), and
-- `state_published` the version last published. The state relay publishes the rows where the
-- first is ahead, many changes of one task between two passes becoming one record.
ALTER TABLE tasks ADD COLUMN state_version integer NOT NULL DEFAULT 1;
ALTER TABLE tasks ADD COLUMN state_published integer NOT NULL DEFAULT 0;
-- Existing tasks: their state is published once.
CREATE INDEX tasks_state_unpublished ON tasks (updated_at) WHERE state_version > state_published;
