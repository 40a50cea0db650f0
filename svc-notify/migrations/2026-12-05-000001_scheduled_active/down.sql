DROP INDEX IF EXISTS tasks_active;
CREATE INDEX tasks_active ON tasks (tenant_id) WHERE status IN ('pending', 'running', 'retrying');
