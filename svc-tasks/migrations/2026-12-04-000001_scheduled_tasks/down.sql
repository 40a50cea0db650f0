ALTER TABLE tasks DROP COLUMN fire_time, DROP COLUMN schedule_id;
DELETE FROM task_events WHERE version = 0;
ALTER TABLE task_events DROP CONSTRAINT task_events_version_check;
ALTER TABLE task_events ADD CONSTRAINT task_events_version_check CHECK (version >= 1);
