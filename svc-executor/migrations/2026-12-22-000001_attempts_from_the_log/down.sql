DROP VIEW attempts;
ALTER TABLE attempts_before_log RENAME TO attempts;
INSERT INTO attempts (task_id, attempt, instance, started_at, ended_at, outcome, error)
SELECT i.task_id, i.attempt, '', i.at, i.at, i.outcome, i.error FROM attempt_interruptions i
JOIN executions e USING (task_id)
ON CONFLICT (task_id, attempt) DO NOTHING;
DROP TABLE attempt_interruptions;
