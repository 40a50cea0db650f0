DROP TABLE rebuild_jobs;
