-- The task log is append-only, enforced by the database: UPDATE, DELETE and TRUNCATE of
-- task_events are refused (taskflow_append_only(), platform/migrations). It has no retention.
CREATE TRIGGER task_events_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON task_events
    FOR EACH STATEMENT EXECUTE FUNCTION taskflow_append_only();
