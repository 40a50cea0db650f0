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

/// A task's facts stay in the log as long as its execution does: a task delayed past the log's
/// retention keeps its queued fact, an ended one's log goes with it, and a rebuild after the
/// round brings back the first and not the second.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_keeps_the_facts_of_live_executions_and_a_rebuild_agrees() {
    use diesel_async::AsyncConnection;
    use svc_executor::rebuild::Executions;
    use taskflow_platform::headers::TraceContext;
    use taskflow_platform::rebuild::Projection;
    use taskflow_schemas::{Event, EventMeta, Priority, TaskCompleted, TaskCreated, TaskStarted};

    let pool = store_only("exec_log_retention").await;
    let mut conn = pool.get().await.expect("conn");
    let tenant = Uuid::now_v7();
    let meta = || EventMeta::new(Utc::now().timestamp_millis(), "it".to_owned(), tenant, "it");
    let created = |task_id: Uuid, run_at: Option<i64>| -> Event {
        TaskCreated {
            meta: meta(),
            task_id,
            task_type: "noop".into(),
            priority: Priority::Normal,
            payload_json: "{}".into(),
            max_attempts: 1,
            timeout_ms: 1_000,
            labels: Default::default(),
            idempotency_key: None,
            schedule_id: None,
            run_at,
        }
        .into()
    };
    let (ended, delayed) = (Uuid::now_v7(), Uuid::now_v7());
    let in_30_days = (Utc::now() + chrono::Duration::days(30)).timestamp_millis();
    let queued = [created(ended, None), created(delayed, Some(in_30_days))];
    for event in &queued {
        let Event::TaskCreated(c) = event else {
            unreachable!()
        };
        let new =
            svc_executor::log::new_execution(event, c, TraceContext::default()).expect("execution");
        store::insert_executions(&mut conn, &[new])
            .await
            .expect("queued");
    }
    let logged: Vec<_> = queued
        .iter()
        .map(|e| (e.clone(), TraceContext::default()))
        .collect();
    store::append_internal(&mut conn, &logged)
        .await
        .expect("queued facts");
    let claimed = store::claim(&mut conn, "it", 2, 0).await.expect("claim");
    assert_eq!(claimed.len(), 1, "the delayed one is not due");
    let started: Event = TaskStarted {
        meta: meta(),
        task_id: ended,
        attempt: 1,
        instance: "it".into(),
    }
    .into();
    let done: Event = TaskCompleted {
        meta: meta(),
        task_id: ended,
        attempt: 1,
        result_json: None,
        duration_ms: 1,
    }
    .into();
    assert_eq!(
        store::finish_all(&mut conn, "it", &[completed(ended, 1)])
            .await
            .expect("done"),
        vec![true]
    );
    let trace = TraceContext::default;
    store::enqueue_all(&mut conn, &[(started, trace()), (done, trace())])
        .await
        .expect("announced");
    // Everything is published (as a relay's pass records it).
    let last = count(&mut conn, "SELECT max(id) AS n FROM outbox").await;
    taskflow_platform::outbox::mark_published(&mut conn, last)
        .await
        .expect("published");

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
    let log_of =
        |task: Uuid| format!("SELECT count(*) AS n FROM outbox WHERE body->>'task_id' = '{task}'");
    assert_eq!(
        maintenance.run_once().await.expect("round"),
        vec![("executions", 0), ("consumed_events", 0), ("outbox", 0)]
    );
    // Eight days on, past both retentions (7 days each by default): the ended execution goes,
    // then its three rows of the log; the delayed one, past the log's retention too, stays whole.
    let later = Utc::now() + chrono::Duration::days(8);
    assert_eq!(
        maintenance.run_at(later).await.expect("round"),
        vec![("executions", 1), ("consumed_events", 0), ("outbox", 3)]
    );
    assert_eq!(count(&mut conn, &log_of(ended)).await, 0);
    assert_eq!(
        count(&mut conn, &log_of(delayed)).await,
        1,
        "its queued fact"
    );

    let row = "SELECT count(*) AS n FROM executions WHERE state = 'queued' AND due_at = \
               to_timestamp(%s / 1000.0)";
    let row = row.replace("%s", &in_30_days.to_string());
    assert_eq!(count(&mut conn, &row).await, 1);
    let projection = Executions {
        lease_grace: config.lease_grace,
        retention: config.retention,
    };
    projection.wipe(&mut conn).await.expect("wiped");
    let plan = projection.plan(&mut conn).await.expect("plan");
    assert_eq!(plan.total, 1, "only the live execution is left to refold");
    conn.transaction::<_, svc_executor::rebuild::RefoldError, _>(async |conn| {
        projection.refold_page(conn, &plan.bound, None).await?;
        Ok(())
    })
    .await
    .expect("refolded");
    assert_eq!(
        count(&mut conn, &row).await,
        1,
        "the delayed task is back, queued"
    );
    assert_eq!(
        count(&mut conn, "SELECT count(*) AS n FROM executions").await,
        1,
        "the ended one is not"
    );
}
