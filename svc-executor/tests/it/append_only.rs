//! The executor's log is append-only, and the database says so: the outbox and the attempts
//! it has no event for (`attempt_interruptions`) refuse UPDATE, DELETE and TRUNCATE through the
//! service's connection; only retention deletes (`retention.rs` shows it still does).

use taskflow_platform::db;
use taskflow_platform::testing::{Isolation, assert_append_only};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_execution_log_refuses_updates_and_deletes() {
    let url = Isolation::new().database("executor_append_only").await;
    let pool = db::pool(&url, 2).expect("pool");
    db::migrate(&pool, svc_executor::startup::MIGRATIONS)
        .await
        .expect("migrations");
    let mut conn = pool.get().await.expect("conn");
    assert_append_only(&mut conn, "outbox", "event_id").await;
    assert_append_only(&mut conn, "attempt_interruptions", "task_id").await;
}
