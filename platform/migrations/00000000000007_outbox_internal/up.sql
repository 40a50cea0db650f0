-- Internal events: the outbox is each service's whole event log, not only what it announces.
--
-- A service records in its log the facts its projections are folded from, also those nobody
-- else reads (svc-executor: the TaskCreated it queued; svc-tasks: the execution events it
-- consumed into a task's stream). Such rows are `internal`: they take their position (id) like
-- any other, under the same append-only rules and retention, but no relay publishes them and
-- they wake no relay. A relay that reads past them records the settled position, so they are
-- never read twice.
ALTER TABLE outbox ADD COLUMN IF NOT EXISTS internal boolean NOT NULL DEFAULT false;

-- Wake the relays only for rows they publish: an insert of internal rows alone would cost every
-- listening relay a pass for nothing.
CREATE OR REPLACE FUNCTION taskflow_outbox_wake() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM appended WHERE NOT internal) THEN
        PERFORM pg_notify('taskflow_outbox', '');
    END IF;
    RETURN NULL;
END;
$$;
DROP TRIGGER IF EXISTS outbox_wake ON outbox;
CREATE TRIGGER outbox_wake AFTER INSERT ON outbox
    REFERENCING NEW TABLE AS appended
    FOR EACH STATEMENT EXECUTE FUNCTION taskflow_outbox_wake();

CREATE OR REPLACE VIEW outbox_unpublished AS
SELECT o.* FROM outbox o
WHERE o.id > (SELECT COALESCE(max(up_to), 0) FROM outbox_published) AND NOT o.internal;
