-- Delayed tasks wait as 'scheduled', which counts as active.
DROP INDEX IF EXISTS tasks_active;
CREATE INDEX tasks_active ON tasks (tenant_id) WHERE status IN ('scheduled', 'pending', 'running', 'retrying');
