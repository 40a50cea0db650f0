//! The state relay's position: a change committed late by a transaction that started before
//! others is never left behind the cursor. Played on the store against a database of its own
//! (no relay running), so the interleaving is exact.

use std::time::Duration;

use diesel_async::RunQueryDsl;
use svc_tasks::domain::{TaskView, apply};
use svc_tasks::store;
use taskflow_platform::db;
use taskflow_platform::testing::Isolation;
use taskflow_schemas::samples::sample_meta;
use taskflow_schemas::{Priority, TaskCreated};
use uuid::Uuid;

use crate::helpers::wait_until;

fn new_task() -> TaskView {
    let created = TaskCreated {
        meta: sample_meta(),
        task_id: Uuid::now_v7(),
        task_type: "noop".into(),
        priority: Priority::Normal,
        payload_json: "{}".into(),
        max_attempts: 1,
        timeout_ms: 1_000,
        labels: Default::default(),
        idempotency_key: None,
        schedule_id: None,
        run_at: None,
    };
    apply(None, &created.into()).expect("a new task")
}

async fn after_cursor(pool: &db::DbPool) -> Vec<Uuid> {
    let mut conn = pool.get().await.expect("conn");
    store::states_after_cursor(&mut conn, 100)
        .await
        .expect("states")
        .into_iter()
        .map(|(task, _)| task.id)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_committed_late_is_published_after_the_changes_that_overtook_it() {
    let url = Isolation::new().database("tasks_cursor").await;
    let pool = db::pool(&url, 3).expect("pool");
    db::migrate(&pool, svc_tasks::startup::MIGRATIONS)
        .await
        .expect("migrations");
    let mut conn = pool.get().await.expect("conn");
    let a = new_task();
    store::insert_tasks(&mut conn, std::slice::from_ref(&a))
        .await
        .expect("a");
    let seen = wait_until(Duration::from_secs(30), "a's state", || async {
        let mut conn = pool.get().await.expect("conn");
        let states = store::states_after_cursor(&mut conn, 100)
            .await
            .expect("states");
        (!states.is_empty()).then_some(states)
    })
    .await;
    assert_eq!(seen.len(), 1);
    store::move_state_cursor(&mut conn, seen[0].1)
        .await
        .expect("cursor");

    // A transaction changes a's state and stays open; b is created and committed meanwhile.
    let mut late = pool.get().await.expect("conn");
    diesel::sql_query("BEGIN")
        .execute(&mut late)
        .await
        .expect("begin");
    let cancelled = TaskView {
        cancel_requested: true,
        version: a.version + 1,
        ..a.clone()
    };
    store::update_tasks(&mut late, &[cancelled])
        .await
        .expect("a changed");
    let b = new_task();
    store::insert_tasks(&mut conn, std::slice::from_ref(&b))
        .await
        .expect("b");
    assert_eq!(
        after_cursor(&pool).await,
        Vec::<Uuid>::new(),
        "b waits while a change stamped before it may still commit"
    );

    diesel::sql_query("COMMIT")
        .execute(&mut late)
        .await
        .expect("commit");
    let order = wait_until(Duration::from_secs(30), "both states", || async {
        let ids = after_cursor(&pool).await;
        (ids.len() == 2).then_some(ids)
    })
    .await;
    assert_eq!(
        order,
        vec![a.id, b.id],
        "in the order of their transactions"
    );
}
