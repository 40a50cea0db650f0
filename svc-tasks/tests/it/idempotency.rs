use diesel::dsl::sql;
use diesel::sql_types::{BigInt, Bool};
use diesel_async::{AsyncConnection, RunQueryDsl};
use reqwest::StatusCode;
use serde_json::json;
use svc_tasks::service::submit::lock_id;

use crate::helpers::{TestApp, assert_problem, json_of};

#[tokio::test(flavor = "multi_thread")]
async fn the_idempotency_matrix() {
    let app = TestApp::spawn().await;
    let a = app.tenant().await;
    let b = app.tenant().await;
    let body = json!({"type": "sleep", "payload": {"duration_ms": 1}});

    let first = app.submit(&a, &body, Some("order-42")).await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let first = json_of(first).await;

    // Same key, same body (other key order and whitespace): the same task, nothing new.
    let reordered = json!({"payload": {"duration_ms": 1}, "type": "sleep"});
    let again = app.submit(&a, &reordered, Some("order-42")).await;
    assert_eq!(again.status(), StatusCode::CREATED);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(json_of(again).await["id"], first["id"]);
    assert_eq!(app.count("tasks").await, 1);
    assert_eq!(app.task_outbox().await, 1);

    // Same key, other body: refused, nothing written.
    let other = json!({"type": "sleep", "payload": {"duration_ms": 2}});
    assert_problem(
        app.submit(&a, &other, Some("order-42")).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "idempotency-key-reused",
    )
    .await;
    assert_eq!(app.count("tasks").await, 1);

    // Keys are per tenant: B's "order-42" is B's own.
    let theirs = app.submit(&b, &body, Some("order-42")).await;
    assert_eq!(theirs.status(), StatusCode::CREATED);
    assert_ne!(json_of(theirs).await["id"], first["id"]);

    // While a request with the key is in flight (its transaction holds the key's lock): 409.
    let mut holder = diesel_async::AsyncPgConnection::establish(&app.config.database_url)
        .await
        .expect("connection");
    let in_flight_key = "order-43";
    holder
        .transaction::<_, diesel::result::Error, _>(async |conn| {
            let locked: bool = diesel::select(
                sql::<Bool>("pg_try_advisory_xact_lock(")
                    .bind::<BigInt, _>(lock_id(a.id, in_flight_key))
                    .sql(")"),
            )
            .get_result(conn)
            .await?;
            assert!(locked);
            let response = app.submit(&a, &body, Some(in_flight_key)).await;
            let problem =
                assert_problem(response, StatusCode::CONFLICT, "idempotency-key-in-flight").await;
            assert!(problem["retry_after_secs"].is_number());
            Ok(())
        })
        .await
        .expect("held the lock");
    assert_eq!(
        app.submit(&a, &body, Some(in_flight_key)).await.status(),
        StatusCode::CREATED
    );
}
