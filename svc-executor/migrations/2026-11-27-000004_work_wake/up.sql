-- Dispatchers LISTEN on this channel: new work wakes every instance at commit, whichever
-- instance ingested it, instead of waiting for a poll. One notification per statement.
CREATE OR REPLACE FUNCTION taskflow_work_wake() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('taskflow_work', '');
    RETURN NULL;
END;
$$;
CREATE TRIGGER executions_wake AFTER INSERT ON executions
    FOR EACH STATEMENT EXECUTE FUNCTION taskflow_work_wake();
