-- The state relay follows the projection by position instead of marking every task it
-- publishes (a row write per task saved). A task's state change stamps `state_tx` with the
-- writing transaction's id, in the same statement; the relay publishes, in (state_tx, id)
-- order, the rows of transactions that have all ended (state_tx below the oldest running
-- transaction id), and records in one row how far it got. A task changed again gets a newer
-- stamp and is published again, in its latest state.
ALTER TABLE tasks ADD COLUMN state_tx bigint NOT NULL DEFAULT pg_current_xact_id()::text::bigint;
-- States not yet published keep this migration's stamp (published after it); the others are
-- behind the cursor's start.
UPDATE tasks SET state_tx = 0 WHERE state_version <= state_published;
DROP INDEX tasks_state_unpublished;
ALTER TABLE tasks DROP COLUMN state_published;
CREATE INDEX tasks_state_position ON tasks (state_tx, id);
CREATE TABLE state_relay_cursor (
    only_row   boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    -- The last (state_tx, id) published.
    state_tx   bigint NOT NULL,
    task_id    uuid NOT NULL,
    moved_at   timestamptz NOT NULL DEFAULT now()
);
INSERT INTO state_relay_cursor (state_tx, task_id) VALUES (0, 'ffffffff-ffff-ffff-ffff-ffffffffffff');
