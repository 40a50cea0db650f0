-- A task's lifecycle events that arrived before its TaskCreated (they come from another topic):
-- held here, in arrival order, and told right after the creation, so a feed never shows a task
-- starting before it exists.
CREATE TABLE held_events (
    held_seq   bigserial PRIMARY KEY,
    task_id    uuid NOT NULL,
    event_type text NOT NULL,
    body       jsonb NOT NULL,
    held_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX held_events_task ON held_events (task_id);
