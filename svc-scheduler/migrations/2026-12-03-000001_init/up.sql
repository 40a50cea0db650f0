-- svc-scheduler's own database: who may call (projected from the keys topic), the schedules,
-- and one row per nominal instant of each schedule with what became of it.

CREATE TABLE api_keys (
    key_id      uuid PRIMARY KEY,
    tenant_id   uuid NOT NULL,
    key_sha256  bytea NOT NULL UNIQUE,
    revoked_at  timestamptz
);

CREATE TABLE schedules (
    id               uuid PRIMARY KEY,
    tenant_id        uuid NOT NULL,
    name             text NOT NULL,
    -- The definition as accepted (the API's shape, defaults filled in); PATCH merges into it.
    definition       jsonb NOT NULL,
    paused           boolean NOT NULL DEFAULT false,
    -- Every-schedules count their instants from here.
    anchor           timestamptz NOT NULL,
    -- The next nominal instant to decide about, and when (nominal + jitter); NULL: never again.
    next_nominal     timestamptz,
    next_fire_at     timestamptz,
    -- Set while an occurrence waits for this run to end (overlap buffer_one / buffer_all).
    waiting_for_task uuid,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    UNIQUE (tenant_id, name)
);
CREATE INDEX schedules_due ON schedules (next_fire_at)
    WHERE NOT paused AND next_fire_at IS NOT NULL AND waiting_for_task IS NULL;

-- One row per (schedule, nominal instant): the unique key is what makes a fire happen once,
-- whichever instance gets there and however often.
CREATE TABLE occurrences (
    schedule_id   uuid NOT NULL REFERENCES schedules (id) ON DELETE CASCADE,
    nominal_time  timestamptz NOT NULL,
    outcome       text NOT NULL,          -- triggered | skipped | missed
    reason        text,                   -- why skipped or missed; 'manual' / 'backfill' for those triggers
    task_id       uuid UNIQUE,
    task_ended    boolean NOT NULL DEFAULT false,
    fired_at      timestamptz NOT NULL,
    PRIMARY KEY (schedule_id, nominal_time)
);
CREATE INDEX occurrences_active ON occurrences (schedule_id) WHERE task_id IS NOT NULL AND NOT task_ended;

-- Wakes every instance's firer when a schedule is created or changed.
CREATE FUNCTION schedules_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('taskflow_schedules', '');
    RETURN NULL;
END $$;
CREATE TRIGGER schedules_wake AFTER INSERT OR UPDATE OF next_fire_at, paused, waiting_for_task ON schedules
    FOR EACH STATEMENT EXECUTE FUNCTION schedules_changed();
