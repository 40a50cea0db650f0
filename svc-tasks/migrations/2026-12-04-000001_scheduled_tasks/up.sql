-- Tasks created by svc-scheduler's triggers. A scheduled task's stream starts with the trigger
-- that caused it, recorded at version 0 (before its TaskCreated at version 1, never announced):
-- the log keeps the nominal fire time, which TaskCreated's contract does not carry, so a
-- projection rebuild restores it. Only a trigger may sit at version 0.
ALTER TABLE task_events DROP CONSTRAINT task_events_version_check;
ALTER TABLE task_events ADD CONSTRAINT task_events_version_check
    CHECK (version >= 1 OR (version = 0 AND event_type = 'ScheduledTaskTriggered'));

-- Where a task came from: its schedule and that schedule's nominal instant (NULL: submitted).
ALTER TABLE tasks ADD COLUMN schedule_id uuid, ADD COLUMN fire_time timestamptz;
