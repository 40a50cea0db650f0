//! Input PostgreSQL cannot store (U+0000 in text or jsonb) is refused by validation, pointing at
//! the field, and writes nothing; it is never mistaken for an unreachable database.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_problem, json_of, noop};

fn pointers(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("errors in {problem}"))
        .iter()
        .map(|e| e["pointer"].as_str().expect("pointer").to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn nul_is_refused_at_its_field_and_writes_nothing() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant().await;
    let tenants_before = app.count("tenants").await;

    let cases = [
        (
            json!({"type": "noop", "payload": {}, "labels": {"a": "x\u{0}y"}}),
            vec!["/labels/a"],
        ),
        (
            json!({"type": "fail", "payload": {"message": "boom\u{0}", "retryable": false}}),
            vec!["/payload/message"],
        ),
        (
            json!({"type": "http", "payload": {"url": "https://example.test/", "headers": {"x-a\u{0}": "v", "x-b": "w\u{0}"}}}),
            vec!["/payload/headers/x-a\u{0}", "/payload/headers/x-b"],
        ),
        (json!({"type": "no\u{0}op"}), vec!["/type"]),
    ];
    for (body, expected) in cases {
        let problem = assert_problem(
            app.submit(&tenant, &body, None).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-submission",
        )
        .await;
        assert_eq!(pointers(&problem), expected, "{body}");
    }

    // A batch names the item, and the pointers lead into the request body.
    let batch = |tasks: Value| {
        app.http
            .post(app.url("/v1/tasks:batch"))
            .bearer_auth(&tenant.key)
            .json(&json!({"tasks": tasks}))
            .send()
    };
    let problem = assert_problem(
        batch(json!([noop(), {"type": "noop", "labels": {"k": "\u{0}"}}]))
            .await
            .expect("batch"),
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid-submission",
    )
    .await;
    assert_eq!(problem["index"], 1);
    assert_eq!(pointers(&problem), ["/tasks/1/labels/k"]);
    let problem = assert_problem(
        batch(json!([{"type": "noop", "idempotency_key": "k\u{0}"}, noop()]))
            .await
            .expect("batch"),
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid-submission",
    )
    .await;
    assert_eq!(pointers(&problem), ["/tasks/0/idempotency_key"]);

    // A list filter.
    let problem = assert_problem(
        app.get(&tenant, "/v1/tasks?type=no%00op").await,
        StatusCode::BAD_REQUEST,
        "invalid-query",
    )
    .await;
    assert_eq!(problem["parameter"], "type");

    // A tenant name.
    let response = app
        .http
        .post(app.url("/v1/admin/tenants"))
        .bearer_auth(&app.admin_token)
        .json(&json!({"name": "ac\u{0}me"}))
        .send()
        .await
        .expect("create");
    let problem =
        assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY, "invalid-tenant").await;
    assert_eq!(pointers(&problem), ["/name"]);

    for table in ["tasks", "task_events", "idempotency_keys"] {
        assert_eq!(app.count(table).await, 0, "{table} has rows after refusals");
    }
    assert_eq!(app.task_outbox().await, 0, "outbox has task events");
    assert_eq!(app.count("tenants").await, tenants_before);
    assert_eq!(
        app.count_where("outbox", "event_type LIKE 'ApiKey%'").await,
        tenants_before,
        "only the keys of tenants that exist were announced"
    );

    // A cancellation reason: refused, and the task's history stays as it was.
    let task = json_of(app.submit(&tenant, &noop(), None).await).await;
    let id = task["id"].as_str().expect("id");
    let response = app
        .http
        .post(app.url(&format!("/v1/tasks/{id}/cancel")))
        .bearer_auth(&tenant.key)
        .json(&json!({"reason": "because\u{0}"}))
        .send()
        .await
        .expect("cancel");
    let problem = assert_problem(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid-cancellation",
    )
    .await;
    assert_eq!(pointers(&problem), ["/reason"]);
    assert_eq!(app.count("task_events").await, 1);
    assert_eq!(app.task_outbox().await, 1);
}
