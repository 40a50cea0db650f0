DROP INDEX executions_ended;
