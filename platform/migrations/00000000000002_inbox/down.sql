DROP TABLE IF EXISTS consumed_events;
