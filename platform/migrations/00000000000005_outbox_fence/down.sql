DROP FUNCTION IF EXISTS taskflow_outbox_settled();
CREATE OR REPLACE FUNCTION taskflow_outbox_append() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(8031453476610899970);
    RETURN NULL;
END;
$$;
