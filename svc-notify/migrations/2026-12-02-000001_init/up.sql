-- svc-notify's own database: who may call (projected from the keys topic), the per-tenant
-- notification history with a gap-free sequence, a small per-task projection and per-status
-- counters. Platform tables (outbox, consumed_events) come from the platform's migrations.

CREATE TABLE api_keys (
    key_id      uuid PRIMARY KEY,
    tenant_id   uuid NOT NULL,
    key_sha256  bytea NOT NULL UNIQUE,
    key_prefix  text NOT NULL,
    issued_at   timestamptz NOT NULL,
    revoked_at  timestamptz
);

-- One row per tenant: the last sequence number handed out and how far history was pruned.
-- Writers take this row's lock to number their notifications, so numbers commit in order.
CREATE TABLE tenant_feeds (
    tenant_id       uuid PRIMARY KEY,
    last_seq        bigint NOT NULL DEFAULT 0,
    pruned_through  bigint NOT NULL DEFAULT 0
);

CREATE TABLE notifications (
    tenant_id        uuid NOT NULL,
    seq              bigint NOT NULL,
    event_id         uuid NOT NULL UNIQUE,
    task_id          uuid NOT NULL,
    event_type       text NOT NULL,
    status           text NOT NULL,
    previous_status  text,
    task_type        text,
    priority         text,
    labels           jsonb NOT NULL DEFAULT '{}',
    percent          integer,
    message          text,
    attempt          integer,
    error            text,
    result_summary   text,
    occurred_at      timestamptz NOT NULL,
    recorded_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, seq)
);
CREATE INDEX notifications_by_task ON notifications (tenant_id, task_id, seq);
CREATE INDEX notifications_by_age ON notifications (recorded_at);

CREATE TABLE tasks (
    task_id      uuid PRIMARY KEY,
    tenant_id    uuid NOT NULL,
    task_type    text,
    priority     text,
    labels       jsonb NOT NULL DEFAULT '{}',
    status       text NOT NULL,
    percent      integer,
    message      text,
    attempt      integer NOT NULL DEFAULT 0,
    error        text,
    cancel_requested boolean NOT NULL DEFAULT false,
    created_at   timestamptz,
    updated_at   timestamptz NOT NULL,
    last_seq     bigint NOT NULL
);
CREATE INDEX tasks_by_tenant_recent ON tasks (tenant_id, updated_at DESC);
CREATE INDEX tasks_active ON tasks (tenant_id) WHERE status IN ('pending', 'running', 'retrying');

CREATE TABLE status_counts (
    tenant_id  uuid NOT NULL,
    status     text NOT NULL,
    n          bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, status)
);

-- The key that signs stream tokens: made once per database, shared by every instance, so a
-- token issued by one instance (or before a restart) is honoured by another.
CREATE TABLE token_secret (
    id      boolean PRIMARY KEY DEFAULT true CHECK (id),
    secret  bytea NOT NULL
);

-- Wakes every instance's fan-out after a commit that wrote notifications or revoked a key.
CREATE FUNCTION notify_feed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('taskflow_notify', '');
    RETURN NULL;
END $$;
CREATE TRIGGER notifications_wake AFTER INSERT ON notifications
    FOR EACH STATEMENT EXECUTE FUNCTION notify_feed();
CREATE TRIGGER keys_wake AFTER UPDATE OF revoked_at ON api_keys
    FOR EACH STATEMENT EXECUTE FUNCTION notify_feed();
