-- The notification history (svc-notify's log of what it told) is append-only, enforced by the
-- database: UPDATE, DELETE and TRUNCATE are refused (taskflow_append_only(),
-- platform/migrations), except the maintenance room's deletes past the retention, which set
-- taskflow.retention for their transaction.
CREATE TRIGGER notifications_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON notifications
    FOR EACH STATEMENT EXECUTE FUNCTION taskflow_append_only();
