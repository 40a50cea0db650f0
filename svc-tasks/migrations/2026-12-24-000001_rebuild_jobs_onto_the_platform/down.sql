-- The table as 2026-12-01-000001_rebuild_jobs made it, with svc-tasks' jobs moved back (a job
-- running under the platform's locks cannot be carried over to the older ones: failed).
CREATE TABLE rebuild_jobs (
    id           uuid PRIMARY KEY,
    state        text NOT NULL CHECK (state IN ('running', 'succeeded', 'failed')),
    total_tasks  bigint CHECK (total_tasks >= 0),
    done_tasks   bigint NOT NULL DEFAULT 0 CHECK (done_tasks >= 0),
    upto         uuid,
    started_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL,
    finished_at  timestamptz,
    error        text,
    owner        text NOT NULL
);
CREATE UNIQUE INDEX rebuild_jobs_one_running ON rebuild_jobs (state) WHERE state = 'running';

INSERT INTO rebuild_jobs
    (id, state, total_tasks, done_tasks, upto, started_at, updated_at, finished_at, error, owner)
SELECT id,
       CASE WHEN state = 'running' THEN 'failed' ELSE state END,
       total,
       done,
       NULL,
       started_at,
       updated_at,
       CASE WHEN state = 'running' THEN now() ELSE finished_at END,
       CASE WHEN state = 'running'
            THEN 'interrupted: svc-tasks was downgraded while this rebuild ran; start a new one'
            ELSE error END,
       owner
FROM projection_rebuilds
WHERE unit = 'tasks';
DELETE FROM projection_rebuilds WHERE unit = 'tasks';
