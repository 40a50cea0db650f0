DROP TABLE held_events;
