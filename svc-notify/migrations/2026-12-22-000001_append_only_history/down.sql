DROP TRIGGER IF EXISTS notifications_append_only ON notifications;
