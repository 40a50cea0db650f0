-- attempt_interruptions is part of the executor's log (the attempts lost with their instance or
-- given back at shutdown, which no event tells): append-only, enforced by the database like the
-- outbox. Retention deletes its rows with their ended executions, under taskflow.retention.
CREATE TRIGGER attempt_interruptions_append_only
    BEFORE UPDATE OR DELETE OR TRUNCATE ON attempt_interruptions
    FOR EACH STATEMENT EXECUTE FUNCTION taskflow_append_only();
