-- The outbox becomes an append-only log read by position (taskflow_platform::outbox).
--
-- Before: the relay marked every row it published (published_at), one more write per event.
-- Now: it records how far it has published, one row per pass in outbox_published, and reads the
-- rows after that position. Reading by position is only sound if positions are handed out in
-- commit order, so that no row below a published position can still commit: every insert takes
-- one transaction-scoped advisory lock first (outbox_append), which it holds until its commit,
-- and ids are drawn under it. Writers therefore insert into the outbox as the last statement of
-- their transactions (the lock is held from there to the commit).

CREATE TABLE IF NOT EXISTS outbox_published (
    up_to         bigint PRIMARY KEY,
    published_at  timestamptz NOT NULL DEFAULT now()
);

-- What was published before this migration counts as published; a row marked out of order
-- (a key's later row after another key's failure) may go once more: consumers drop copies.
INSERT INTO outbox_published (up_to)
SELECT COALESCE(
    (SELECT min(id) - 1 FROM outbox WHERE published_at IS NULL),
    (SELECT max(id) FROM outbox),
    0)
ON CONFLICT DO NOTHING;

DROP INDEX IF EXISTS outbox_unpublished;
ALTER TABLE outbox DROP COLUMN IF EXISTS published_at;

-- For operators and outside checks: the rows no relay has published yet.
CREATE VIEW outbox_unpublished AS
SELECT o.* FROM outbox o
WHERE o.id > (SELECT COALESCE(max(up_to), 0) FROM outbox_published);

-- Commit order = id order: the advisory lock below is the writers' (the relay's turn is another).
CREATE OR REPLACE FUNCTION taskflow_outbox_append() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(8031453476610899970);
    RETURN NULL;
END;
$$;
CREATE TRIGGER outbox_append BEFORE INSERT ON outbox
    FOR EACH STATEMENT EXECUTE FUNCTION taskflow_outbox_append();

-- Append-only: rows are never changed, and deleted only by retention (the maintenance room sets
-- taskflow.retention for its own transaction).
CREATE OR REPLACE FUNCTION taskflow_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND current_setting('taskflow.retention', true) = 'on' THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING HINT = 'rows go only by retention (the maintenance room)';
END;
$$;
CREATE TRIGGER outbox_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON outbox
    FOR EACH STATEMENT EXECUTE FUNCTION taskflow_append_only();
