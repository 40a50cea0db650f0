use reqwest::StatusCode;
use serde_json::{Value, json};
use taskflow_schemas::Stream;

use crate::helpers::{TestApp, json_of, noop, read_topic};

#[tokio::test(flavor = "multi_thread")]
async fn a_submitted_task_is_readable_recorded_and_published() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant().await;
    let body = json!({"type": "sleep", "payload": {"duration_ms": 5, "steps": 2}, "priority": "high",
                      "max_attempts": 4, "timeout_ms": 5000, "labels": {"team": "core"}});
    let response = app
        .http
        .post(app.url("/v1/tasks"))
        .bearer_auth(&tenant.key)
        .header("X-Correlation-Id", "corr-abc-1")
        .json(&body)
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(response.headers()["x-correlation-id"], "corr-abc-1");
    let location = response.headers()["location"]
        .to_str()
        .expect("ascii")
        .to_owned();
    let created = json_of(response).await;
    assert_eq!(
        location,
        format!("/v1/tasks/{}", created["id"].as_str().expect("id"))
    );
    assert_eq!(created["status"], "pending");
    assert_eq!(created["priority"], "high");
    assert_eq!(created["attempts"], 0);
    assert_eq!(created["max_attempts"], 4);
    assert_eq!(created["labels"]["team"], "core");
    assert_eq!(created["correlation_id"], "corr-abc-1");

    let read = json_of(app.get(&tenant, &location).await).await;
    assert_eq!(read, created);

    let history = json_of(app.get(&tenant, &format!("{location}/events")).await).await;
    let events = history["events"].as_array().expect("events");
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["type"], "TaskCreated");
    assert_eq!(events[0]["version"], 1);
    assert_eq!(events[0]["correlation_id"], "corr-abc-1");

    let records = read_topic(
        &app.kafka.bootstrap_servers,
        &app.topic(Stream::TaskRequests),
        1,
    )
    .await;
    assert_eq!(records[0].header("event_type"), Some("TaskCreated"));
    assert_eq!(
        records[0].header("event_id"),
        events[0]["event_id"].as_str()
    );
    assert_eq!(records[0].header("correlation_id"), Some("corr-abc-1"));
    assert_eq!(
        records[0].key.as_deref(),
        created["id"].as_str().map(str::as_bytes)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_batch_is_all_or_nothing() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant().await;
    let bad = json!({"tasks": [noop(), noop(), {"type": "sleep", "payload": {}}]});
    let response = app
        .http
        .post(app.url("/v1/tasks:batch"))
        .bearer_auth(&tenant.key)
        .json(&bad)
        .send()
        .await
        .expect("request");
    let problem = crate::helpers::assert_problem(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid-submission",
    )
    .await;
    assert_eq!(problem["index"], 2);
    assert_eq!(app.count("tasks").await, 0);
    assert_eq!(app.task_outbox().await, 0);

    let items: Vec<Value> = (0..25)
        .map(|i| json!({"type": "noop", "idempotency_key": format!("k{i}")}))
        .collect();
    let response = app
        .http
        .post(app.url("/v1/tasks:batch"))
        .bearer_auth(&tenant.key)
        .json(&json!({"tasks": items}))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::CREATED);
    let created = json_of(response).await;
    assert_eq!(created["tasks"].as_array().map(Vec::len), Some(25));
    assert_eq!(app.count("tasks").await, 25);
    read_topic(
        &app.kafka.bootstrap_servers,
        &app.topic(Stream::TaskRequests),
        25,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn listing_filters_and_pages_newest_first() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant().await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let priority = if i % 2 == 0 { "low" } else { "high" };
        let task = json_of(
            app.submit(
                &tenant,
                &json!({"type": "noop", "priority": priority}),
                None,
            )
            .await,
        )
        .await;
        ids.push(task["id"].as_str().expect("id").to_owned());
    }
    ids.reverse();

    let mut seen = Vec::new();
    let mut path = "/v1/tasks?limit=2".to_owned();
    loop {
        let page = json_of(app.get(&tenant, &path).await).await;
        seen.extend(
            page["tasks"]
                .as_array()
                .expect("tasks")
                .iter()
                .map(|t| t["id"].as_str().expect("id").to_owned()),
        );
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/v1/tasks?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(seen, ids, "every task once, newest first");

    let high = json_of(
        app.get(&tenant, "/v1/tasks?priority=high&status=pending&type=noop")
            .await,
    )
    .await;
    assert_eq!(high["tasks"].as_array().map(Vec::len), Some(2));
    let none = json_of(app.get(&tenant, "/v1/tasks?status=completed").await).await;
    assert_eq!(none["tasks"].as_array().map(Vec::len), Some(0));
    let future = json_of(
        app.get(&tenant, "/v1/tasks?created_after=2999-01-01T00:00:00Z")
            .await,
    )
    .await;
    assert_eq!(future["tasks"].as_array().map(Vec::len), Some(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn health_and_docs_answer() {
    let app = TestApp::spawn().await;
    let live = app
        .http
        .get(app.url("/health/live"))
        .send()
        .await
        .expect("live");
    assert_eq!(live.status(), StatusCode::OK);
    let ready = app
        .http
        .get(app.url("/health/ready"))
        .send()
        .await
        .expect("ready");
    assert_eq!(ready.status(), StatusCode::OK);
    let ready = json_of(ready).await;
    for check in ["database", "kafka", "schema_registry"] {
        assert_eq!(ready["checks"][check]["status"], "up", "{ready}");
    }
    let spec = json_of(
        app.http
            .get(app.url("/openapi.json"))
            .send()
            .await
            .expect("spec"),
    )
    .await;
    for path in [
        "/v1/tasks",
        "/v1/tasks/{id}",
        "/v1/tasks:batch",
        "/v1/tasks/{id}/cancel",
        "/v1/tasks/{id}/events",
        "/v1/admin/tenants",
    ] {
        assert!(
            spec["paths"][path].is_object(),
            "{path} missing from the OpenAPI document"
        );
    }
    let docs = app.http.get(app.url("/docs")).send().await.expect("docs");
    assert_eq!(docs.status(), StatusCode::OK);
    let page = docs.text().await.expect("html");
    // Swagger UI over /openapi.json, and the operations listed for a reader without scripts.
    assert!(page.contains("SwaggerUIBundle") && page.contains("'/openapi.json'"));
    assert!(page.contains("/v1/tasks/{id}/cancel"));
    // Its assets are served by the service itself (offline), not a CDN.
    for (asset, kind, marker) in [
        (
            "/docs/swagger-ui-bundle.js",
            "text/javascript",
            "SwaggerUIBundle",
        ),
        ("/docs/swagger-ui.css", "text/css", ".swagger-ui"),
    ] {
        assert!(page.contains(asset), "{asset}");
        let response = app.http.get(app.url(asset)).send().await.expect("asset");
        assert_eq!(response.status(), StatusCode::OK, "{asset}");
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap_or_default()
                .starts_with(kind)
        );
        assert!(
            response.text().await.expect("text").contains(marker),
            "{asset}"
        );
    }
    assert!(!page.contains("cdn"), "no CDN");
}
