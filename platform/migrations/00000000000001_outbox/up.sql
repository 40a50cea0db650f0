-- The transactional outbox every TaskFlow service shares (taskflow_platform::outbox). It is
-- created here, by the platform, before a service's own migrations run; no service declares it.
-- IF NOT EXISTS: databases created before the platform owned this table already have it.
CREATE TABLE IF NOT EXISTS outbox (
    id            bigserial PRIMARY KEY,
    event_id      uuid NOT NULL UNIQUE,
    event_type    text NOT NULL,
    body          jsonb NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    published_at  timestamptz,
    -- Dead letters: parked on this topic instead of the event's stream, with this reason.
    destination   text,
    reason        text
);
ALTER TABLE outbox ADD COLUMN IF NOT EXISTS destination text;
ALTER TABLE outbox ADD COLUMN IF NOT EXISTS reason text;
-- W3C trace context of the span that wrote the event, sent as Kafka headers by the relay.
ALTER TABLE outbox ADD COLUMN IF NOT EXISTS traceparent text;
ALTER TABLE outbox ADD COLUMN IF NOT EXISTS tracestate text;
CREATE INDEX IF NOT EXISTS outbox_unpublished ON outbox (id) WHERE published_at IS NULL;

-- Relays LISTEN on this channel instead of polling: one notification per inserting statement
-- (and PostgreSQL folds identical notifications of one transaction into one), delivered at commit.
CREATE OR REPLACE FUNCTION taskflow_outbox_wake() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('taskflow_outbox', '');
    RETURN NULL;
END;
$$;
DROP TRIGGER IF EXISTS outbox_wake ON outbox;
CREATE TRIGGER outbox_wake AFTER INSERT ON outbox
    FOR EACH STATEMENT EXECUTE FUNCTION taskflow_outbox_wake();
