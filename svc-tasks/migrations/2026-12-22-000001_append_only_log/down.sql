DROP TRIGGER IF EXISTS task_events_append_only ON task_events;
