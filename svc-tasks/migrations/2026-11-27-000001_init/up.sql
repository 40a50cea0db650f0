-- svc-tasks owns this database. The event log is the truth; `tasks` is a projection of it that
-- can be rebuilt; `idempotency_keys` remembers submissions.

CREATE TABLE tenants (
    id                      uuid PRIMARY KEY,
    name                    text NOT NULL UNIQUE,
    max_active_tasks        integer CHECK (max_active_tasks >= 0),
    submissions_per_minute  integer CHECK (submissions_per_minute >= 0),
    -- NULL: every priority allowed.
    allowed_priorities      text[],
    created_at              timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE api_keys (
    id          uuid PRIMARY KEY,
    tenant_id   uuid NOT NULL REFERENCES tenants (id),
    -- SHA-256 of the key: keys are 256-bit random, so a fast hash is enough and lookups are exact.
    key_hash    bytea NOT NULL UNIQUE,
    -- First characters of the key, to tell keys apart in listings without revealing them.
    key_prefix  text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);

-- Counters behind the quotas; the row is locked by every submission of its tenant, which makes
-- quota checks atomic under concurrency.
CREATE TABLE tenant_usage (
    tenant_id     uuid PRIMARY KEY REFERENCES tenants (id),
    active_tasks  integer NOT NULL DEFAULT 0 CHECK (active_tasks >= 0),
    window_start  timestamptz NOT NULL DEFAULT to_timestamp(0),
    window_count  integer NOT NULL DEFAULT 0
);

-- Append-only. (stream_id, version) gives optimistic concurrency; event_id dedupes consumption.
CREATE TABLE task_events (
    stream_id       uuid NOT NULL,
    version         integer NOT NULL CHECK (version >= 1),
    event_id        uuid NOT NULL UNIQUE,
    event_type      text NOT NULL,
    tenant_id       uuid NOT NULL,
    correlation_id  text NOT NULL,
    occurred_at     timestamptz NOT NULL,
    recorded_at     timestamptz NOT NULL DEFAULT now(),
    -- The event as its Avro contract's fields, in JSON.
    body            jsonb NOT NULL,
    PRIMARY KEY (stream_id, version)
);

CREATE TABLE tasks (
    id                 uuid PRIMARY KEY,
    tenant_id          uuid NOT NULL,
    task_type          text NOT NULL,
    priority           text NOT NULL,
    status             text NOT NULL,
    payload            jsonb NOT NULL,
    labels             jsonb NOT NULL,
    max_attempts       integer NOT NULL,
    timeout_ms         bigint NOT NULL,
    attempts           integer NOT NULL,
    progress_percent   integer,
    progress_message   text,
    result             jsonb,
    error              text,
    idempotency_key    text,
    correlation_id     text NOT NULL,
    cancel_requested   boolean NOT NULL,
    next_attempt_at    timestamptz,
    created_at         timestamptz NOT NULL,
    updated_at         timestamptz NOT NULL,
    started_at         timestamptz,
    finished_at        timestamptz,
    version            integer NOT NULL
);
CREATE INDEX tasks_tenant_newest ON tasks (tenant_id, created_at DESC, id DESC);
CREATE INDEX tasks_tenant_status ON tasks (tenant_id, status, created_at DESC, id DESC);

CREATE TABLE idempotency_keys (
    tenant_id     uuid NOT NULL,
    key           text NOT NULL,
    request_hash  bytea NOT NULL,
    task_id       uuid NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, key)
);

-- The outbox is the platform's (platform/migrations), created before these migrations run.
