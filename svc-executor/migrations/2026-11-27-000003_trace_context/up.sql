-- The trace the task belongs to (W3C context of the span that ingested its TaskCreated), so the
-- attempts' spans and events — started, progress, ending — join it.
ALTER TABLE executions ADD COLUMN traceparent text, ADD COLUMN tracestate text;
