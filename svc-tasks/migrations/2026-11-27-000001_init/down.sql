DROP TABLE idempotency_keys;
DROP TABLE tasks;
DROP TABLE task_events;
DROP TABLE tenant_usage;
DROP TABLE api_keys;
DROP TABLE tenants;
