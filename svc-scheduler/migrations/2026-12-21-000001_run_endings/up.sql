-- What svc-scheduler learnt from svc-tasks about the runs it started: a task ended, or svc-tasks
-- refused the trigger (no task ran). Input facts, not the scheduler's decisions, so its own log
-- (the outbox) does not hold them; a rebuild of `occurrences` from that log takes an
-- occurrence's `task_ended`, and a refusal, from here. Written by the consumer whether or not
-- the occurrence is there (a rebuild may be rewriting it), kept as long as occurrences are.
CREATE TABLE run_endings (
    task_id      uuid PRIMARY KEY,
    -- svc-tasks' reason when it refused the trigger; NULL: the task ran and ended.
    refused      text,
    recorded_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX run_endings_recorded ON run_endings (recorded_at);

-- The runs that ended before this table existed.
INSERT INTO run_endings (task_id, refused)
SELECT task_id,
       CASE WHEN outcome = 'refused' THEN substring(reason FROM '^refused by svc-tasks: (.*)$') END
FROM occurrences
WHERE task_id IS NOT NULL AND task_ended;
