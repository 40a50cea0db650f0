-- Projection rebuilds run as jobs (POST /v1/admin/projections/rebuild, platform/src/rebuild).
-- Their state lives here, so any instance of the service answers for them and a restart shows an
-- interrupted one as failed. (svc-tasks' older `rebuild_jobs` has another shape and stays its own
-- until it moves onto this table.)
CREATE TABLE projection_rebuilds (
    id           uuid PRIMARY KEY,
    state        text NOT NULL CHECK (state IN ('running', 'succeeded', 'failed')),
    -- What `total` and `done` count, in the service's words: 'tasks', 'executions', ...
    unit         text NOT NULL,
    -- Units to refold, counted when the job starts (NULL until counted; may grow by what was
    -- created below the job's bound meanwhile).
    total        bigint CHECK (total >= 0),
    done         bigint NOT NULL DEFAULT 0 CHECK (done >= 0),
    started_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL,
    finished_at  timestamptz,
    error        text,
    -- The instance that runs or ran it.
    owner        text NOT NULL
);
-- At most one job runs at a time, whichever instance started it.
CREATE UNIQUE INDEX projection_rebuilds_one_running ON projection_rebuilds (state)
    WHERE state = 'running';
