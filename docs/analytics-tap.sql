-- events: one row per record in events.jsonl, the JSON lines `taskflow tap` printed.
CREATE OR REPLACE TABLE events AS
SELECT topic, "partition", "offset", event_type, event
FROM read_json('events.jsonl', format = 'newline_delimited', columns = {
    topic: 'VARCHAR', "partition": 'INTEGER', "offset": 'BIGINT', event_type: 'VARCHAR', event: 'JSON'});
