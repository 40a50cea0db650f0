DROP TRIGGER IF EXISTS schedules_wake ON schedules;
DROP FUNCTION IF EXISTS schedules_changed();
DROP TABLE IF EXISTS occurrences, schedules, api_keys;
