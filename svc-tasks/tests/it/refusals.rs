use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{TestApp, assert_problem};

/// Every refused request answers a specific problem and leaves no trace.
#[tokio::test(flavor = "multi_thread")]
async fn refused_requests_write_nothing_and_publish_nothing() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant().await;
    let post = |body: String, content_type: &'static str| {
        app.http
            .post(app.url("/v1/tasks"))
            .bearer_auth(&tenant.key)
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    let json = "application/json";
    let cases: Vec<(String, &str, StatusCode, &str)> = vec![
        (
            "{\"type\": \"noop\",".into(),
            json,
            StatusCode::BAD_REQUEST,
            "malformed-json",
        ),
        (
            json!({"type": "noop", "colour": "red"}).to_string(),
            json,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-body",
        ),
        (
            json!({"payload": {}}).to_string(),
            json,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-body",
        ),
        (
            json!({"type": "teleport"}).to_string(),
            json,
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown-task-type",
        ),
        (
            json!({"type": "sleep", "payload": {"duration_ms": -5}}).to_string(),
            json,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-submission",
        ),
        (
            json!({"type": "http", "payload": {"url": "gopher://x"}}).to_string(),
            json,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-submission",
        ),
        (
            json!({"type": "noop", "priority": "urgent"}).to_string(),
            json,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-submission",
        ),
        (
            json!({"type": "noop", "max_attempts": 0}).to_string(),
            json,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-submission",
        ),
        (
            json!({"type": "noop", "timeout_ms": 1}).to_string(),
            json,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-submission",
        ),
        (
            json!({"type": "http", "payload": {"url": "https://x", "body": "a".repeat(70_000)}})
                .to_string(),
            json,
            StatusCode::PAYLOAD_TOO_LARGE,
            "body-too-large",
        ),
        (
            json!({"type": "noop"}).to_string(),
            "text/plain",
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
        ),
    ];
    for (body, content_type, status, slug) in cases {
        let problem = assert_problem(
            post(body.clone(), content_type).await.expect("request"),
            status,
            slug,
        )
        .await;
        assert!(
            problem["title"].as_str().is_some_and(|t| !t.is_empty()),
            "{body}"
        );
    }
    let invalid = assert_problem(
        post(
            json!({"type": "sleep", "payload": {"duration_ms": "soon"}, "max_attempts": 99})
                .to_string(),
            json,
        )
        .await
        .expect("request"),
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid-submission",
    )
    .await;
    let pointers: Vec<_> = invalid["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| e["pointer"].clone())
        .collect();
    assert_eq!(
        pointers,
        [json!("/payload/duration_ms"), json!("/max_attempts")]
    );

    let unauthenticated = app
        .http
        .post(app.url("/v1/tasks"))
        .json(&json!({"type": "noop"}))
        .send()
        .await
        .expect("request");
    assert_problem(unauthenticated, StatusCode::UNAUTHORIZED, "unauthorized").await;
    let wrong_key = app
        .http
        .post(app.url("/v1/tasks"))
        .bearer_auth("tfk_not-a-key")
        .json(&json!({"type": "noop"}))
        .send()
        .await
        .expect("request");
    assert_problem(wrong_key, StatusCode::UNAUTHORIZED, "unauthorized").await;
    assert_problem(
        app.get(&tenant, "/v1/tasks/not-a-uuid").await,
        StatusCode::NOT_FOUND,
        "not-found",
    )
    .await;
    assert_problem(
        app.get(&tenant, "/v1/tasks?limit=0").await,
        StatusCode::BAD_REQUEST,
        "invalid-query",
    )
    .await;
    assert_problem(
        app.get(&tenant, "/v1/tasks?cursor=bogus").await,
        StatusCode::BAD_REQUEST,
        "invalid-query",
    )
    .await;
    assert_problem(
        app.get(&tenant, "/v1/nothing-here").await,
        StatusCode::NOT_FOUND,
        "not-found",
    )
    .await;

    for table in ["tasks", "task_events", "idempotency_keys"] {
        assert_eq!(
            app.count(table).await,
            0,
            "{table} has rows after refused requests"
        );
    }
    assert_eq!(app.task_outbox().await, 0, "outbox has task events");
}
