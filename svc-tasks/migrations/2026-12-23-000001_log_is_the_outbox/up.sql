-- The task log is the outbox (issue 24): one row per event, not two.
--
-- Before: every event of a task was a row of `task_events` (the log the projection is folded
-- from), and each event svc-tasks announces (TaskCreated, TaskCancelRequested) was written a
-- second time into `outbox` for the relay: one more row and ~0.85 kB of WAL per task.
--
-- Now: a task's events are rows of the outbox that carry their stream position (`stream_id`,
-- `version`, platform migration 8). Announced events are published by the relay from there; the
-- events svc-tasks consumed from the executor, and a schedule's trigger (version 0), are
-- internal rows (platform migration 7): in the log, never published. `task_events` stays, as a
-- view of the stream rows, so the reads (history, rebuild, the bench) are unchanged.

-- Carry the log over. The outbox copies of announced events go (the one delete the log lets
-- through, as retention does) and come back as the task's rows; a copy the relay has not
-- published yet stays to be published, one already published is not published again.
SET LOCAL taskflow.retention = 'on';

CREATE TEMPORARY TABLE carried ON COMMIT DROP AS
SELECT e.stream_id, e.version, e.event_id, e.event_type, e.body, e.recorded_at,
       o.traceparent, o.tracestate,
       o.id IS NULL OR o.id <= (SELECT COALESCE(max(up_to), 0) FROM outbox_published) AS internal
FROM task_events e
LEFT JOIN outbox o USING (event_id);

DELETE FROM outbox WHERE event_id IN (SELECT event_id FROM carried);

INSERT INTO outbox (event_id, event_type, body, created_at, traceparent, tracestate, internal,
                    stream_id, version)
SELECT event_id, event_type, body, recorded_at, traceparent, tracestate, internal,
       stream_id, version
FROM carried
ORDER BY recorded_at, stream_id, version;

DROP TABLE task_events;

CREATE VIEW task_events AS
SELECT stream_id,
       version,
       event_id,
       event_type,
       (body->>'tenant_id')::uuid AS tenant_id,
       body->>'correlation_id' AS correlation_id,
       to_timestamp((body->>'occurred_at')::bigint / 1000.0) AS occurred_at,
       created_at AS recorded_at,
       body
FROM outbox
WHERE stream_id IS NOT NULL;
