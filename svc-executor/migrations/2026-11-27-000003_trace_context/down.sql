ALTER TABLE executions DROP COLUMN traceparent, DROP COLUMN tracestate;
