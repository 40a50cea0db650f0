//! The maintenance room: ended executions (with their attempts) and consumed event ids go once
//! past their retention; queued or running work stays however old. Against a database of its
//! own, with the service's own cleaners (`startup::cleaners`) and the time of the round named.

use std::time::Duration;

use chrono::Utc;
use svc_executor::config::ExecutorConfig;
use svc_executor::store;
use taskflow_platform::maintenance::Maintenance;
use uuid::Uuid;

use crate::helpers::{completed, count, queued_execution, store_only};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ended_work_and_old_inbox_ids_go_and_live_work_stays() {
    let pool = store_only("exec_retention").await;
    let mut conn = pool.get().await.expect("conn");
    let (ended, waiting) = (Uuid::now_v7(), Uuid::now_v7());
    store::insert_executions(&mut conn, &[queued_execution(ended, 1)])
        .await
        .expect("queued");
    let claimed = store::claim(&mut conn, "it", 1, 0).await.expect("claim");
    assert_eq!(claimed.len(), 1);
    // An earlier attempt of it was lost (recorded as the claimer records a takeover).
    store::end_lost_attempts(&mut conn, &[(ended, 2)])
        .await
        .expect("interruption");
    let done = completed(ended, 1);
    assert_eq!(
        store::finish_all(&mut conn, "it", &[done])
            .await
            .expect("done"),
        vec![true]
    );
    store::insert_executions(&mut conn, &[queued_execution(waiting, 1)])
        .await
        .expect("queued");
    taskflow_platform::inbox::record_all(&mut conn, &[Uuid::now_v7()])
        .await
        .expect("an id consumed");

    let config = ExecutorConfig::from_vars(&|name: &str| match name {
        "DATABASE_URL_EXECUTOR" => Some("postgres://127.0.0.1/unused".into()),
        "KAFKA_BOOTSTRAP_SERVERS" => Some("127.0.0.1:9092".into()),
        "SCHEMA_REGISTRY_URL" => Some("http://127.0.0.1:8081".into()),
        _ => None,
    })
    .expect("defaults");
    let maintenance = Maintenance {
        pool: pool.clone(),
        every: Duration::from_secs(3600),
        cleaners: svc_executor::startup::cleaners(&config),
    };

    // Within the retention nothing goes.
    assert_eq!(
        maintenance.run_once().await.expect("round"),
        vec![("executions", 0), ("consumed_events", 0), ("outbox", 0)]
    );
    // Eight days on (the defaults keep 7): the ended execution and the old id go, the queued
    // execution stays.
    let later = Utc::now() + chrono::Duration::days(8);
    assert_eq!(
        maintenance.run_at(later).await.expect("round"),
        vec![("executions", 1), ("consumed_events", 1), ("outbox", 0)]
    );
    let left = count(&mut conn, "SELECT count(*) AS n FROM executions").await;
    assert_eq!(left, 1, "the queued execution stays");
    let state = count(
        &mut conn,
        &format!(
            "SELECT count(*) AS n FROM executions WHERE task_id = '{waiting}' AND state = 'queued'"
        ),
    )
    .await;
    assert_eq!(state, 1);
    assert_eq!(
        count(&mut conn, "SELECT count(*) AS n FROM attempt_interruptions").await,
        0
    );
}
