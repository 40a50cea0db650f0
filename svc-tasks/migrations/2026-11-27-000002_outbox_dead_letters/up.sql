-- Once added the dead-letter columns to the outbox, before the platform owned that table. The
-- platform's migration has had them since, and a service never changes the platform's tables
-- (`taskflow_platform::testing::assert_no_platform_tables`): kept empty so the version stays in
-- the history of databases that ran it.
SELECT 1;
