-- svc-tasks' projection rebuild is a job of the platform's rebuild room now
-- (taskflow_platform::rebuild, unit 'tasks'), kept in the platform's `projection_rebuilds`
-- (platform migration 6, which runs before this one). svc-tasks' own `rebuild_jobs` goes.
--
-- Its jobs are history only; they are copied so that their ids still answer
-- GET /v1/admin/projections/rebuild/{job_id}, in the platform's shape (total_tasks -> total,
-- done_tasks -> done; `upto`, the bound a job refolded to, is not kept). A job still `running`
-- there had an older svc-tasks as its runner, under other locks that nothing takes any more:
-- nothing resumes it, and its progress can no longer be recorded, so it is copied as failed.
INSERT INTO projection_rebuilds
    (id, state, unit, total, done, started_at, updated_at, finished_at, error, owner)
SELECT id,
       CASE WHEN state = 'running' THEN 'failed' ELSE state END,
       'tasks',
       total_tasks,
       done_tasks,
       started_at,
       updated_at,
       CASE WHEN state = 'running' THEN now() ELSE finished_at END,
       CASE WHEN state = 'running'
            THEN 'interrupted: svc-tasks was upgraded while this rebuild ran; start a new one'
            ELSE error END,
       owner
FROM rebuild_jobs
ON CONFLICT (id) DO NOTHING;

DROP TABLE rebuild_jobs;
