DROP TABLE attempts;
DROP TABLE tenant_turns;
DROP TABLE executions;
