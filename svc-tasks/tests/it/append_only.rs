//! The task log is append-only, and the database says so: its rows cannot be changed or deleted
//! through the service's own connection.

use taskflow_platform::db;
use taskflow_platform::testing::{Isolation, assert_append_only};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_task_log_refuses_updates_and_deletes() {
    let url = Isolation::new().database("tasks_append_only").await;
    let pool = db::pool(&url, 2).expect("pool");
    db::migrate(&pool, svc_tasks::startup::MIGRATIONS)
        .await
        .expect("migrations");
    let mut conn = pool.get().await.expect("conn");
    assert_append_only(&mut conn, "task_events", "event_id").await;
    assert_append_only(&mut conn, "outbox", "event_id").await;
}
