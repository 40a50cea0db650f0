-- The inbox every consumer shares (taskflow_platform::inbox): ids of applied events, recorded
-- in the transaction of their effect. IF NOT EXISTS: svc-executor's databases created before
-- the platform owned this table already have it, with the same shape.
CREATE TABLE IF NOT EXISTS consumed_events (
    event_id     uuid PRIMARY KEY,
    consumed_at  timestamptz NOT NULL DEFAULT now()
);
