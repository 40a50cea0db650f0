-- Claims look at each tenant's most urgent few ready tasks instead of ranking the whole queue,
-- so a claim costs O(tenants) however long the backlog is. Every tenant with work has a turn row.
CREATE INDEX executions_ready_by_tenant ON executions (tenant_id, priority DESC, due_at) WHERE state = 'queued';
INSERT INTO tenant_turns (tenant_id, last_claimed_at)
SELECT DISTINCT tenant_id, '-infinity'::timestamptz FROM executions
ON CONFLICT (tenant_id) DO NOTHING;
