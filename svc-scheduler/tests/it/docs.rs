use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::helpers::*;

const METHODS: [&str; 7] = ["get", "put", "post", "delete", "options", "patch", "trace"];

/// `/openapi.json` lists exactly the routes the server serves: each documented operation is
/// routed (401 without a key on `/v1`, an answer on `/health`), and every other method on a
/// documented path is 405 with `Allow` naming the documented ones.
#[tokio::test(flavor = "multi_thread")]
async fn the_document_is_served_and_lists_every_route() {
    let app = TestScheduler::spawn().await;
    let response = app
        .http
        .get(app.url("/openapi.json"))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::OK);
    let doc: Value = response.json().await.expect("json");
    assert!(doc["openapi"].as_str().expect("openapi").starts_with("3."));
    let paths = doc["paths"].as_object().expect("paths");
    let mut listed: Vec<String> = Vec::new();
    for (path, item) in paths {
        let concrete = path.replace("{id}", "0190a1b2-0000-7000-8000-000000000000");
        let documented: Vec<&str> = METHODS
            .into_iter()
            .filter(|m| item.get(*m).is_some())
            .collect();
        for method in METHODS {
            let answer = app
                .http
                .request(
                    Method::from_bytes(method.to_uppercase().as_bytes()).expect("method"),
                    app.url(&concrete),
                )
                .send()
                .await
                .expect("request");
            let status = answer.status();
            if documented.contains(&method) {
                listed.push(format!("{} {path}", method.to_uppercase()));
                if path.starts_with("/v1/") {
                    assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {path}");
                }
                assert!(
                    item[method]["responses"][status.as_str()].is_object(),
                    "{method} {path}: {status} is not documented"
                );
            } else {
                assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
                let allow = answer.headers()["allow"]
                    .to_str()
                    .expect("allow")
                    .to_owned();
                let allow: Vec<String> = allow.split(", ").map(str::to_lowercase).collect();
                assert_eq!(allow, documented, "{method} {path}");
            }
        }
    }
    listed.sort();
    assert_eq!(
        listed,
        [
            "DELETE /v1/schedules/{id}",
            "GET /health/live",
            "GET /health/ready",
            "GET /v1/schedules",
            "GET /v1/schedules/{id}",
            "GET /v1/schedules/{id}/occurrences",
            "PATCH /v1/schedules/{id}",
            "POST /v1/schedules",
            "POST /v1/schedules/{id}/backfill",
            "POST /v1/schedules/{id}/pause",
            "POST /v1/schedules/{id}/resume",
            "POST /v1/schedules/{id}/trigger",
        ]
    );
    let unknown = app
        .http
        .get(app.url("/v2/nothing"))
        .send()
        .await
        .expect("request");
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
}
