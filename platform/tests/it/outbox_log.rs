//! The outbox as an append-only log read by position: writers that do not wait for each other
//! and a relay that reads only as far as every append has ended, the relay recording how far it
//! published instead of touching rows, and the database refusing changes to rows.

use std::time::Duration;

use diesel::sql_types::Text;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use taskflow_platform::db::DbPool;
use taskflow_platform::outbox::{self, OutboxError};
use taskflow_platform::testing::wait_until;
use taskflow_schemas::samples::one_of_each;
use taskflow_schemas::{Event, Stream};

use crate::helpers::{TestBus, count, platform_db};

fn execution_events() -> Vec<Event> {
    one_of_each()
        .into_iter()
        .filter(|e| e.kind().stream() == Stream::TaskExecution)
        .collect()
}

/// Backend process id of a connection (to look it up in pg_stat_activity).
async fn pid(conn: &mut AsyncPgConnection) -> i64 {
    count(conn, "SELECT pg_backend_pid()::int8 AS n").await
}

async fn event_ids_in_id_order(pool: &DbPool) -> Vec<String> {
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = Text)]
        event_id: String,
    }
    let mut conn = pool.get().await.expect("conn");
    diesel::sql_query("SELECT event_id::text FROM outbox ORDER BY id")
        .load::<Row>(&mut conn)
        .await
        .expect("rows")
        .into_iter()
        .map(|r| r.event_id)
        .collect()
}

/// Writers do not wait for each other: a second append commits while the first is still open.
/// The relay does: how far the log is settled is only answered once the append in flight has
/// ended, and then covers both rows, so a pass reading up to it never passes a row that commits
/// later. With writers taking the lock exclusively the second append would wait (the first
/// assertion fails); without the relay's wait it would answer at once while row 1 is still
/// uncommitted (the second fails).
#[tokio::test(flavor = "multi_thread")]
async fn writers_go_on_while_the_relay_waits_for_appends_in_flight() {
    let pool = platform_db("outbox_fence").await;
    let events = execution_events();
    let (first, second) = (events[0].clone(), events[1].clone());

    let mut holder = pool.get().await.expect("conn");
    let mut other = pool.get().await.expect("conn");
    let mut relay_conn = pool.get().await.expect("conn");
    let relay_pid = pid(&mut relay_conn).await;
    let holder: &mut AsyncPgConnection = &mut holder;
    let pool_for_check = pool.clone();
    let settled = holder
        .transaction::<_, OutboxError, _>(async |conn| {
            outbox::enqueue(conn, &first).await?;
            let other: &mut AsyncPgConnection = &mut other;
            tokio::time::timeout(
                Duration::from_secs(10),
                other.transaction::<_, OutboxError, _>(async |conn| {
                    outbox::enqueue(conn, &second).await
                }),
            )
            .await
            .expect("the second append commits while the first is open")
            .expect("second append");

            let settled = tokio::spawn(async move {
                outbox::settled_up_to(&mut relay_conn)
                    .await
                    .expect("settled")
            });
            wait_until(
                Duration::from_secs(10),
                "the relay to wait for the append in flight",
                || {
                    let pool = pool_for_check.clone();
                    async move {
                        let mut conn = pool.get().await.ok()?;
                        let waiting = count(
                            &mut conn,
                            &format!(
                                "SELECT count(*) AS n FROM pg_stat_activity \
                                 WHERE pid = {relay_pid} AND wait_event_type = 'Lock' \
                                   AND wait_event = 'advisory'"
                            ),
                        )
                        .await;
                        (waiting == 1).then_some(())
                    }
                },
            )
            .await;
            assert!(!settled.is_finished());
            Ok(settled)
        })
        .await
        .expect("first append")
        .await
        .expect("settled answered");

    let mut conn = pool.get().await.expect("conn");
    assert_eq!(
        settled,
        count(&mut conn, "SELECT max(id) AS n FROM outbox").await,
        "settled up to the last row"
    );
    let ids = event_ids_in_id_order(&pool).await;
    assert_eq!(
        ids,
        vec![
            events[0].meta().event_id.to_string(),
            events[1].meta().event_id.to_string()
        ]
    );
}

/// A pass records one position and leaves the rows as they are: they stay in the log, and the
/// next pass starts after them.
#[tokio::test(flavor = "multi_thread")]
async fn the_relay_records_a_position_and_leaves_the_rows() {
    let bus = TestBus::start().await;
    let pool = platform_db("outbox_position").await;
    let mut conn = pool.get().await.expect("conn");
    let events = execution_events();
    conn.transaction::<_, OutboxError, _>(async |conn| {
        for event in &events {
            outbox::enqueue(conn, event).await?;
        }
        Ok(())
    })
    .await
    .expect("enqueued");
    let relay = outbox::Relay {
        db: pool.clone(),
        producer: bus.producer.clone(),
        ready: std::sync::Arc::new(tokio::sync::Notify::new()),
        idle_poll: Duration::from_secs(60),
    };
    assert_eq!(relay.pass().await.expect("pass"), 5);
    let last = count(&mut conn, "SELECT max(id) AS n FROM outbox").await;
    assert_eq!(
        outbox::published_up_to(&mut conn).await.expect("position"),
        last
    );
    assert_eq!(
        count(&mut conn, "SELECT count(*) AS n FROM outbox").await,
        5
    );
    assert_eq!(
        count(&mut conn, "SELECT count(*) AS n FROM outbox_unpublished").await,
        0
    );
    assert_eq!(
        relay.pass().await.expect("pass"),
        0,
        "nothing after the position"
    );
}

/// The log's rows cannot be changed or deleted through the service's connection; only
/// retention (which sets taskflow.retention for its transaction) deletes.
#[tokio::test(flavor = "multi_thread")]
async fn the_log_refuses_updates_and_deletes() {
    let pool = platform_db("outbox_append_only").await;
    let mut conn = pool.get().await.expect("conn");
    outbox::enqueue(&mut conn, &execution_events()[0])
        .await
        .expect("enqueued");
    for statement in [
        "UPDATE outbox SET reason = 'x'",
        "DELETE FROM outbox",
        "TRUNCATE outbox",
    ] {
        let error = diesel::sql_query(statement)
            .execute(&mut conn)
            .await
            .expect_err(statement);
        assert!(
            error.to_string().contains("append-only"),
            "{statement}: {error}"
        );
    }
    assert_eq!(
        count(&mut conn, "SELECT count(*) AS n FROM outbox").await,
        1
    );
}

/// A transaction dropped between its outbox insert and its commit would hold the writers' lock,
/// and with it every writer and the relay, until its connection was handed out again: every
/// pooled session has PostgreSQL end a transaction left idle (`db::IDLE_IN_TRANSACTION`).
#[tokio::test(flavor = "multi_thread")]
async fn pooled_sessions_end_a_transaction_left_idle() {
    #[derive(diesel::QueryableByName)]
    struct Setting {
        #[diesel(sql_type = Text)]
        value: String,
    }
    let pool = platform_db("idle_in_transaction").await;
    let mut conn = pool.get().await.expect("conn");
    let setting: Setting =
        diesel::sql_query("SELECT current_setting('idle_in_transaction_session_timeout') AS value")
            .get_result(&mut conn)
            .await
            .expect("setting");
    let limit = taskflow_platform::db::IDLE_IN_TRANSACTION.as_secs();
    assert_eq!(setting.value, format!("{}min", limit / 60));
}
