DROP TRIGGER IF EXISTS executions_wake ON executions;
DROP FUNCTION IF EXISTS taskflow_work_wake();
