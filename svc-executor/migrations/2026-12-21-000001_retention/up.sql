-- Retention (the maintenance room, store/retention.rs) deletes ended executions and their
-- attempts some time after they ended; this index finds them without reading live work. The
-- state literals are `ExecutionState`'s final states.
CREATE INDEX executions_ended ON executions (updated_at)
    WHERE state IN ('completed', 'failed', 'cancelled');
