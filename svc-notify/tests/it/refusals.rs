//! Bad input gets a clear problem document before any stream starts, and holds nothing open.

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread")]
async fn bad_requests_are_refused_with_specific_problems() {
    let app = TestNotify::spawn().await;
    let tenant = app.tenant().await;
    let task = app.task_life(&tenant, 0, false).await;
    app.known(&tenant, task, 2).await;
    let cases: Vec<(reqwest::RequestBuilder, StatusCode, &str)> = vec![
        (
            app.http.get(app.url("/v1/stream")),
            StatusCode::UNAUTHORIZED,
            "unauthorized",
        ),
        (
            app.http
                .get(app.url("/v1/stream"))
                .bearer_auth("tfk_unknown"),
            StatusCode::UNAUTHORIZED,
            "unauthorized",
        ),
        (
            app.http
                .get(app.url(&format!("/v1/stream?token={}", tenant.key))),
            StatusCode::BAD_REQUEST,
            "api-key-in-url",
        ),
        (
            app.http.get(app.url("/v1/stream?token=tfs_garbage")),
            StatusCode::UNAUTHORIZED,
            "unauthorized",
        ),
        (
            app.http
                .get(app.url("/v1/stream"))
                .bearer_auth(&tenant.key)
                .header("Last-Event-ID", "abc"),
            StatusCode::BAD_REQUEST,
            "invalid-cursor",
        ),
        (
            app.http
                .get(app.url("/v1/stream?after=-1"))
                .bearer_auth(&tenant.key),
            StatusCode::BAD_REQUEST,
            "invalid-cursor",
        ),
        (
            app.http
                .get(app.url("/v1/stream?after=99999999999999999999999"))
                .bearer_auth(&tenant.key),
            StatusCode::BAD_REQUEST,
            "invalid-cursor",
        ),
        (
            app.http
                .get(app.url("/v1/stream?after=1000"))
                .bearer_auth(&tenant.key),
            StatusCode::BAD_REQUEST,
            "cursor-ahead",
        ),
        (
            app.http
                .get(app.url("/v1/stream?colour=red"))
                .bearer_auth(&tenant.key),
            StatusCode::BAD_REQUEST,
            "unknown-parameter",
        ),
        (
            app.http
                .get(app.url("/v1/stream?status=done"))
                .bearer_auth(&tenant.key),
            StatusCode::BAD_REQUEST,
            "invalid-query",
        ),
        (
            app.http
                .get(app.url("/v1/stream?label=nocolon"))
                .bearer_auth(&tenant.key),
            StatusCode::BAD_REQUEST,
            "invalid-query",
        ),
        (
            app.http
                .get(app.url("/v1/tasks/not-a-uuid/stream"))
                .bearer_auth(&tenant.key),
            StatusCode::NOT_FOUND,
            "not-found",
        ),
        (
            app.http
                .get(app.url("/v1/notifications?limit=0"))
                .bearer_auth(&tenant.key),
            StatusCode::BAD_REQUEST,
            "invalid-query",
        ),
        (
            app.http
                .post(app.url("/v1/stream-tokens"))
                .bearer_auth(&tenant.key)
                .header("content-type", "application/json")
                .body("{not json"),
            StatusCode::BAD_REQUEST,
            "malformed-json",
        ),
        (
            app.http
                .post(app.url("/v1/stream-tokens"))
                .bearer_auth(&tenant.key)
                .json(&serde_json::json!({"ttl_seconds": 86400})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-body",
        ),
        (
            app.http
                .post(app.url("/v1/stream-tokens"))
                .bearer_auth(&tenant.key)
                .json(&serde_json::json!({"scope": "all"})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-body",
        ),
        (
            app.http
                .delete(app.url("/v1/stream"))
                .bearer_auth(&tenant.key),
            StatusCode::METHOD_NOT_ALLOWED,
            "method-not-allowed",
        ),
        (
            app.http.get(app.url("/v1/nothing")),
            StatusCode::NOT_FOUND,
            "not-found",
        ),
        (
            app.http.get(app.url("/v1/ws")).bearer_auth(&tenant.key),
            StatusCode::BAD_REQUEST,
            "not-a-websocket",
        ),
    ];
    for (request, status, slug) in cases {
        let request = request.build().expect("request");
        let what = format!("{} {}", request.method(), request.url());
        let response = app.http.execute(request).await.expect("response");
        assert_eq!(response.status(), status, "{what}");
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json",
            "{what}"
        );
        let body: Value = response.json().await.expect("json");
        assert_eq!(
            body["type"],
            format!("urn:taskflow:problem:{slug}"),
            "{what}: {body}"
        );
        assert!(
            !body["detail"].as_str().unwrap_or_default().is_empty(),
            "{what}"
        );
    }
}
