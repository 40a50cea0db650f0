-- An attempt's history is the executor's event log, the outbox (append-only, platform/migrations):
-- its TaskStarted opens an attempt, the attempt's first ending event (TaskCompleted, TaskFailed,
-- TaskCancelled) closes it. Keeping a row per attempt besides cost two row writes per task.
-- What the log has no event for, an attempt lost with its instance or given back at shutdown,
-- is recorded here; both are rare.
CREATE TABLE attempt_interruptions (
    task_id     uuid NOT NULL,
    attempt     integer NOT NULL,
    outcome     text NOT NULL CHECK (outcome IN ('lost', 'released')),
    error       text,
    at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (task_id, attempt)
);
INSERT INTO attempt_interruptions (task_id, attempt, outcome, error, at)
SELECT task_id, attempt, outcome, error, ended_at FROM attempts
WHERE outcome IN ('lost', 'released');

-- Attempts before this migration stay readable until retention takes their executions.
ALTER TABLE attempts RENAME TO attempts_before_log;

-- The attempts as before, read from the log: one row per attempt started.
CREATE VIEW attempts AS
WITH started AS (
    SELECT (body->>'task_id')::uuid AS task_id, (body->>'attempt')::int AS attempt,
           body->>'instance' AS instance, created_at AS started_at
    FROM outbox WHERE event_type = 'TaskStarted' AND destination IS NULL
), ended AS (
    SELECT DISTINCT ON (task_id, attempt) task_id, attempt, ended_at, outcome, error FROM (
        SELECT id, (body->>'task_id')::uuid AS task_id, (body->>'attempt')::int AS attempt,
               created_at AS ended_at,
               CASE event_type
                   WHEN 'TaskCompleted' THEN 'completed'
                   WHEN 'TaskCancelled' THEN 'cancelled'
                   WHEN 'TaskFailed' THEN CASE WHEN body->>'error' LIKE 'attempt timed out after %'
                                               THEN 'timed_out' ELSE 'failed' END
               END AS outcome,
               body->>'error' AS error
        FROM outbox
        WHERE event_type IN ('TaskCompleted', 'TaskFailed', 'TaskCancelled')
          AND destination IS NULL
    ) endings
    ORDER BY task_id, attempt, id
)
SELECT s.task_id, s.attempt, s.instance, s.started_at,
       COALESCE(i.at, e.ended_at) AS ended_at,
       COALESCE(i.outcome, e.outcome) AS outcome,
       COALESCE(i.error, e.error) AS error
FROM started s
LEFT JOIN attempt_interruptions i USING (task_id, attempt)
LEFT JOIN ended e USING (task_id, attempt)
UNION ALL
SELECT task_id, attempt, instance, started_at, ended_at, outcome, error FROM attempts_before_log;
