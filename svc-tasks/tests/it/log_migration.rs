//! A database from before the task log became the outbox: its `task_events` rows move into the
//! outbox at their stream positions, an announced event the relay had published is not
//! published again, one it had not stays to be published, and nothing is written twice.

use diesel::sql_types::{BigInt, Bool, Integer, Jsonb, Text, Uuid as SqlUuid};
use diesel_async::RunQueryDsl;
use taskflow_platform::db;
use taskflow_platform::outbox;
use taskflow_schemas::samples::one_of_each;
use taskflow_schemas::{Event, EventKind};
use uuid::Uuid;

use svc_tasks::startup::MIGRATIONS;

#[derive(diesel::QueryableByName, Debug, PartialEq)]
struct LogRow {
    #[diesel(sql_type = Integer)]
    version: i32,
    #[diesel(sql_type = Text)]
    event_type: String,
    #[diesel(sql_type = Bool)]
    internal: bool,
    #[diesel(sql_type = Jsonb)]
    body: serde_json::Value,
}

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

fn sample(kind: EventKind) -> Event {
    one_of_each()
        .into_iter()
        .find(|e| e.kind() == kind)
        .expect("a sample of every kind")
}

#[tokio::test(flavor = "multi_thread")]
async fn the_task_events_table_moves_into_the_outbox() {
    let name = format!(
        "it_tasks_log_{}",
        &Uuid::new_v4().simple().to_string()[..12]
    );
    let pool =
        taskflow_platform::testing::database_before(&name, MIGRATIONS, &["20261223000001"]).await;
    let created = sample(EventKind::TaskCreated);
    let cancel = sample(EventKind::TaskCancelRequested);
    let started = sample(EventKind::TaskStarted);
    let stream = created.task_id().expect("a task event");
    let log = [(1, &created), (2, &cancel), (3, &started)];

    let mut conn = pool.get().await.expect("conn");
    for (version, event) in log {
        let meta = event.meta();
        diesel::sql_query(
            "INSERT INTO task_events (stream_id, version, event_id, event_type, tenant_id, \
             correlation_id, occurred_at, body) \
             VALUES ($1, $2, $3, $4, $5, $6, to_timestamp($7 / 1000.0), $8)",
        )
        .bind::<SqlUuid, _>(stream)
        .bind::<Integer, _>(version)
        .bind::<SqlUuid, _>(meta.event_id)
        .bind::<Text, _>(event.kind().name())
        .bind::<SqlUuid, _>(meta.tenant_id)
        .bind::<Text, _>(&meta.correlation_id)
        .bind::<BigInt, _>(meta.occurred_at)
        .bind::<Jsonb, _>(event.to_json().expect("json"))
        .execute(&mut conn)
        .await
        .expect("a row of the old log");
    }
    // Both announced events were in the outbox too; the relay had published the first.
    outbox::enqueue(&mut conn, &created)
        .await
        .expect("enqueued");
    let published = outbox::settled_up_to(&mut conn).await.expect("settled");
    outbox::mark_published(&mut conn, published)
        .await
        .expect("published");
    outbox::enqueue(&mut conn, &cancel).await.expect("enqueued");
    drop(conn);

    db::migrate(&pool, MIGRATIONS).await.expect("migrated");

    let mut conn = pool.get().await.expect("conn");
    let rows: Vec<LogRow> = diesel::sql_query(
        "SELECT version, event_type, internal, body FROM outbox WHERE stream_id = $1 ORDER BY version",
    )
    .bind::<SqlUuid, _>(stream)
    .load(&mut conn)
    .await
    .expect("the task's rows");
    let expected: Vec<LogRow> = [
        (1, &created, true),
        (2, &cancel, false),
        (3, &started, true),
    ]
    .into_iter()
    .map(|(version, event, internal)| LogRow {
        version,
        event_type: event.kind().name().to_owned(),
        internal,
        body: event.to_json().expect("json"),
    })
    .collect();
    assert_eq!(rows, expected);
    let count = |sql: &'static str| {
        let pool = pool.clone();
        async move {
            let mut conn = pool.get().await.expect("conn");
            diesel::sql_query(sql)
                .get_result::<Count>(&mut conn)
                .await
                .expect(sql)
                .n
        }
    };
    assert_eq!(
        count("SELECT count(*) AS n FROM outbox").await,
        3,
        "one row per event"
    );
    assert_eq!(
        count("SELECT count(*) AS n FROM outbox_unpublished").await,
        1,
        "the cancel request is still to be published, the TaskCreated not again"
    );
    assert_eq!(count("SELECT count(*) AS n FROM task_events").await, 3);
}
