//! The task log is append-only, and the database says so: its rows cannot be changed or deleted
//! through the service's own connection. The log is the outbox (`task_events` is a view of its
//! stream rows), so changes through the view are refused by the same trigger.

use diesel_async::RunQueryDsl;
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
    assert_append_only(&mut conn, "outbox", "event_id").await;
    for statement in [
        "UPDATE task_events SET event_id = event_id WHERE false",
        "DELETE FROM task_events WHERE false",
    ] {
        let error = diesel::sql_query(statement)
            .execute(&mut conn)
            .await
            .expect_err(statement);
        assert!(
            error.to_string().contains("append-only"),
            "{statement}: refused for another reason: {error}"
        );
    }
}
