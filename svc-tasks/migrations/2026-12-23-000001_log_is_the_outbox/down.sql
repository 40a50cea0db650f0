DROP VIEW task_events;
CREATE TABLE task_events (
    stream_id       uuid NOT NULL,
    version         integer NOT NULL,
    event_id        uuid NOT NULL UNIQUE,
    event_type      text NOT NULL,
    tenant_id       uuid NOT NULL,
    correlation_id  text NOT NULL,
    occurred_at     timestamptz NOT NULL,
    recorded_at     timestamptz NOT NULL DEFAULT now(),
    body            jsonb NOT NULL,
    PRIMARY KEY (stream_id, version),
    CONSTRAINT task_events_version_check
        CHECK (version >= 1 OR (version = 0 AND event_type = 'ScheduledTaskTriggered'))
);
INSERT INTO task_events
SELECT stream_id, version, event_id, event_type, (body->>'tenant_id')::uuid,
       body->>'correlation_id', to_timestamp((body->>'occurred_at')::bigint / 1000.0),
       created_at, body
FROM outbox WHERE stream_id IS NOT NULL;
CREATE TRIGGER task_events_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON task_events
    FOR EACH STATEMENT EXECUTE FUNCTION taskflow_append_only();
