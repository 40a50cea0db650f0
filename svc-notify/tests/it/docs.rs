//! `GET /openapi.json` lists exactly the routes svc-notify serves.

use reqwest::StatusCode;
use serde_json::Value;

use taskflow_platform::testing::documented_routes;

use crate::helpers::*;

/// Each documented operation is routed (401 without credentials under `/v1`, a documented
/// answer elsewhere), every other method on a documented path is 405 with `Allow` naming the
/// documented ones, and the list is every route of `http::configure`.
#[tokio::test(flavor = "multi_thread")]
async fn the_document_is_served_and_lists_every_route() {
    let app = TestNotify::spawn().await;
    let (doc, listed) = documented_routes(
        &app.http,
        &app.url(""),
        &[
            ("{task_id}", "0190a1b2-0000-7000-8000-000000000000"),
            ("{file}", "app.js"),
            ("{job_id}", "0190a1b2-0000-7000-8000-000000000001"),
        ],
    )
    .await;
    assert_eq!(
        listed,
        [
            "GET /",
            "GET /dashboard/config.json",
            "GET /dashboard/{file}",
            "GET /health/live",
            "GET /health/ready",
            "GET /v1/admin/projections/rebuild/{job_id}",
            "GET /v1/notifications",
            "GET /v1/overview",
            "GET /v1/stream",
            "GET /v1/tasks/{task_id}/stream",
            "GET /v1/ws",
            "POST /v1/admin/projections/rebuild",
            "POST /v1/stream-tokens",
        ]
    );
    // The SSE operations answer event streams.
    for path in ["/v1/stream", "/v1/tasks/{task_id}/stream"] {
        assert!(
            doc["paths"][path]["get"]["responses"]["200"]["content"]["text/event-stream"]
                .is_object(),
            "{path}"
        );
    }
}

/// What schemathesis found against the document: a malformed `token` beside a valid header, and
/// a malformed `after` beside a valid Last-Event-ID, were ignored, an array body was read as a token request, and `615.0` (an integer to JSON Schema)
/// was refused.
#[tokio::test(flavor = "multi_thread")]
async fn the_fuzzers_findings_stay_fixed() {
    let app = TestNotify::spawn().await;
    let tenant = app.tenant().await;
    for path in ["/v1/overview?token=abc", "/v1/notifications?token="] {
        let answer = app
            .http
            .get(app.url(path))
            .bearer_auth(&tenant.key)
            .send()
            .await
            .expect("request");
        assert_eq!(answer.status(), StatusCode::BAD_REQUEST, "{path}");
        let problem: Value = answer.json().await.expect("problem");
        assert!(
            problem["detail"]
                .as_str()
                .expect("detail")
                .contains("token"),
            "{problem}"
        );
    }
    let answer = app
        .http
        .get(app.url("/v1/notifications?after=AAA"))
        .bearer_auth(&tenant.key)
        .header("Last-Event-ID", "0")
        .send()
        .await
        .expect("request");
    assert_eq!(answer.status(), StatusCode::BAD_REQUEST);
    let problem: Value = answer.json().await.expect("problem");
    assert!(
        problem["detail"]
            .as_str()
            .expect("detail")
            .starts_with("after "),
        "{problem}"
    );
    let issue = |body: &'static str| {
        app.http
            .post(app.url("/v1/stream-tokens"))
            .bearer_auth(&tenant.key)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let answer = issue("[null, null]").await.expect("request");
    assert_eq!(answer.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let answer = issue(r#"{"ttl_seconds": 615.0}"#).await.expect("request");
    assert_eq!(answer.status(), StatusCode::CREATED);
    let token: Value = answer.json().await.expect("token");
    assert_eq!(token["ttl_seconds"], 615);
    for body in [r#"{"ttl_seconds": 61.5}"#, r#"{"ttl_seconds": 1e300}"#] {
        let answer = issue(body).await.expect("request");
        assert_eq!(answer.status(), StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    }
}
