//! svc-notify's history of what it told is append-only, and the database says so; only the
//! maintenance room's retention deletes from it (covered by `resume.rs`).

use taskflow_platform::db;
use taskflow_platform::testing::{Isolation, assert_append_only};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_history_refuses_updates_and_deletes() {
    let url = Isolation::new().database("notify_append_only").await;
    let pool = db::pool(&url, 2).expect("pool");
    db::migrate(&pool, svc_notify::startup::MIGRATIONS)
        .await
        .expect("migrations");
    let mut conn = pool.get().await.expect("conn");
    assert_append_only(&mut conn, "notifications", "event_id").await;
}
