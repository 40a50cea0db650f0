-- Delayed tasks: when a task submitted with `run_at` / `delay_ms` is due (NULL: at once).
-- Such a task starts as status 'scheduled' (status is free text, spelled by TaskStatus).
ALTER TABLE tasks ADD COLUMN run_at timestamptz;
