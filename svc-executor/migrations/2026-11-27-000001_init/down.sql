DROP TABLE attempts;
DROP TABLE tenant_turns;
DROP TABLE executions;
DROP TABLE consumed_events;
