DROP TRIGGER IF EXISTS outbox_wake ON outbox;
DROP FUNCTION IF EXISTS taskflow_outbox_wake();
DROP TABLE IF EXISTS outbox;
