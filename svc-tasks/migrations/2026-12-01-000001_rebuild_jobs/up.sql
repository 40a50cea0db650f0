-- Projection rebuilds run as jobs (POST /v1/admin/projections/rebuild). Their state lives here, so
-- any instance answers for them and a restart shows an interrupted one as failed.
CREATE TABLE rebuild_jobs (
    id           uuid PRIMARY KEY,
    state        text NOT NULL CHECK (state IN ('running', 'succeeded', 'failed')),
    -- Task streams to refold: those that existed when the job started (NULL until counted).
    total_tasks  bigint CHECK (total_tasks >= 0),
    done_tasks   bigint NOT NULL DEFAULT 0 CHECK (done_tasks >= 0),
    -- The newest stream when the job started; later tasks are projected live, not refolded.
    upto         uuid,
    started_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL,
    finished_at  timestamptz,
    error        text,
    -- The svc-tasks instance that runs or ran it.
    owner        text NOT NULL
);
-- At most one job runs at a time, whichever instance started it.
CREATE UNIQUE INDEX rebuild_jobs_one_running ON rebuild_jobs (state) WHERE state = 'running';
