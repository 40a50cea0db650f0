-- svc-executor owns this database. `executions` is the durable work queue (and the retry
-- timers); `attempts` is the execution log.

-- `consumed_events` (the inbox) is the platform's (platform/migrations).

CREATE TABLE executions (
    task_id           uuid PRIMARY KEY,
    tenant_id         uuid NOT NULL,
    task_type         text NOT NULL,
    -- 0 low .. 3 critical, so ORDER BY priority DESC starts the most urgent first.
    priority          smallint NOT NULL,
    payload           jsonb NOT NULL,
    max_attempts      integer NOT NULL,
    timeout_ms        bigint NOT NULL,
    correlation_id    text NOT NULL,
    created_event_id  uuid NOT NULL,
    -- The TaskCreated as received (its contract's fields), parked as a dead letter if the task
    -- fails for good.
    created_event     jsonb NOT NULL,
    -- queued | running | completed | failed | cancelled
    state             text NOT NULL,
    attempt           integer NOT NULL DEFAULT 0,
    -- When a queued execution may start: now for new work, later for a retry.
    due_at            timestamptz NOT NULL,
    -- The instance running it, and until when; an expired lease is taken over.
    lease_owner       text,
    lease_until       timestamptz,
    cancel_requested  boolean NOT NULL DEFAULT false,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX executions_due ON executions (due_at) WHERE state = 'queued';
CREATE INDEX executions_leases ON executions (lease_until) WHERE state = 'running';

-- When each tenant last got a slot: the tenant waiting longest goes next (within a priority).
CREATE TABLE tenant_turns (
    tenant_id        uuid PRIMARY KEY,
    last_claimed_at  timestamptz NOT NULL
);

CREATE TABLE attempts (
    task_id     uuid NOT NULL REFERENCES executions (task_id),
    attempt     integer NOT NULL,
    instance    text NOT NULL,
    started_at  timestamptz NOT NULL DEFAULT now(),
    ended_at    timestamptz,
    -- completed | failed | timed_out | cancelled | lost | released
    outcome     text,
    error       text,
    PRIMARY KEY (task_id, attempt)
);

-- The outbox is the platform's (platform/migrations), created before these migrations run.
