UPDATE tasks SET status = 'pending' WHERE status = 'scheduled';
ALTER TABLE tasks DROP COLUMN run_at;
