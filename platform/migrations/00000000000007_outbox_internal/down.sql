DROP VIEW IF EXISTS outbox_unpublished;
CREATE OR REPLACE FUNCTION taskflow_outbox_wake() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('taskflow_outbox', '');
    RETURN NULL;
END;
$$;
DROP TRIGGER IF EXISTS outbox_wake ON outbox;
CREATE TRIGGER outbox_wake AFTER INSERT ON outbox
    FOR EACH STATEMENT EXECUTE FUNCTION taskflow_outbox_wake();
ALTER TABLE outbox DROP COLUMN IF EXISTS internal;
CREATE VIEW outbox_unpublished AS
SELECT o.* FROM outbox o
WHERE o.id > (SELECT COALESCE(max(up_to), 0) FROM outbox_published);
