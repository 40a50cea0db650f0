-- task_events: each event once. Delivery is at-least-once, so a record may be on a topic twice
-- (a producer's retry re-sends the same event_id); keep its first copy.
CREATE OR REPLACE VIEW task_events AS
SELECT event_type,
       event ->> 'task_id' AS task_id,
       epoch_ms(CAST(event ->> 'occurred_at' AS BIGINT)) AS occurred_at,
       event
FROM events
WHERE event ->> 'task_id' IS NOT NULL
QUALIFY row_number() OVER (PARTITION BY event ->> 'event_id' ORDER BY topic, "partition", "offset") = 1;

-- tasks: one row per task whose TaskCreated was read. Its type and labels are on TaskCreated
-- only; the other events name the task by task_id.
CREATE OR REPLACE TABLE tasks AS
SELECT task_id,
       any_value(event ->> 'task_type') FILTER (WHERE event_type = 'TaskCreated') AS task_type,
       any_value(event -> 'labels') FILTER (WHERE event_type = 'TaskCreated') AS labels,
       CASE WHEN count(*) FILTER (WHERE event_type = 'TaskCompleted') > 0 THEN 'completed'
            WHEN count(*) FILTER (WHERE event_type = 'TaskFailed'
                                  AND CAST(event ->> 'final' AS BOOLEAN)) > 0 THEN 'failed'
            WHEN count(*) FILTER (WHERE event_type = 'TaskCancelled') > 0 THEN 'cancelled'
            WHEN count(*) FILTER (WHERE event_type = 'TaskStarted') > 0 THEN 'running'
            ELSE 'pending' END AS status,
       max(CAST(event ->> 'attempt' AS INTEGER)) AS attempts,
       min(occurred_at) FILTER (WHERE event_type = 'TaskCreated') AS created_at,
       min(occurred_at) FILTER (WHERE event_type = 'TaskStarted') AS started_at,
       max(occurred_at) FILTER (WHERE event_type IN ('TaskCompleted', 'TaskCancelled')
                                OR (event_type = 'TaskFailed'
                                    AND CAST(event ->> 'final' AS BOOLEAN))) AS ended_at,
       any_value(CAST(event ->> 'duration_ms' AS BIGINT))
           FILTER (WHERE event_type = 'TaskCompleted') AS run_ms
FROM task_events
GROUP BY task_id
HAVING count(*) FILTER (WHERE event_type = 'TaskCreated') > 0;

-- statuses: tasks per type and status.
SELECT task_type, status, count(*) AS tasks
FROM tasks
GROUP BY task_type, status
ORDER BY task_type, status;

-- durations: completed tasks per type. run = the completing attempt (TaskCompleted.duration_ms),
-- total = TaskCreated to TaskCompleted (queue wait, retries and backoff included).
SELECT task_type,
       count(*) AS completed,
       round(quantile_cont(run_ms, 0.5), 1) AS run_p50_ms,
       round(quantile_cont(run_ms, 0.95), 1) AS run_p95_ms,
       max(run_ms) AS run_max_ms,
       round(quantile_cont(date_diff('millisecond', created_at, ended_at), 0.5), 1) AS total_p50_ms,
       round(quantile_cont(date_diff('millisecond', created_at, ended_at), 0.95), 1) AS total_p95_ms
FROM tasks
WHERE status = 'completed'
GROUP BY task_type
ORDER BY task_type;
