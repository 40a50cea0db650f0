//! The HTTP contract around the handlers: problem documents for every error (also 405, 404
//! and oversized bodies on any route), case-insensitive `Bearer`, and an OpenAPI document that
//! states what the server does.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_problem, json_of, noop};

#[tokio::test(flavor = "multi_thread")]
async fn wrong_methods_get_405_with_allow_and_unknown_paths_404() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant().await;
    let id = uuid::Uuid::now_v7();
    let cases = [
        (Method::PUT, "/v1/tasks".to_owned(), "GET, POST"),
        (Method::DELETE, format!("/v1/tasks/{id}"), "GET"),
        (Method::GET, format!("/v1/tasks/{id}/cancel"), "POST"),
        (Method::PATCH, "/v1/tasks:batch".to_owned(), "POST"),
        (
            Method::GET,
            "/v1/admin/projections/rebuild".to_owned(),
            "POST",
        ),
        (
            Method::POST,
            format!("/v1/admin/tenants/{id}"),
            "GET, PATCH",
        ),
        (Method::POST, "/health/ready".to_owned(), "GET"),
    ];
    for (method, path, allow) in cases {
        let response = app
            .http
            .request(method.clone(), app.url(&path))
            .bearer_auth(&tenant.key)
            .send()
            .await
            .expect("request");
        assert_eq!(
            response
                .headers()
                .get("allow")
                .and_then(|v| v.to_str().ok()),
            Some(allow),
            "{method} {path}"
        );
        assert_problem(
            response,
            StatusCode::METHOD_NOT_ALLOWED,
            "method-not-allowed",
        )
        .await;
    }
    for path in ["/v1/nothing", "/v1/tasks/a/b/c", "/v1/admin"] {
        let response = app
            .http
            .delete(app.url(path))
            .send()
            .await
            .expect("request");
        assert_problem(response, StatusCode::NOT_FOUND, "not-found").await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_oversized_body_is_a_413_problem_on_every_route() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant().await;
    let task = json_of(app.submit(&tenant, &noop(), None).await).await;
    let id = task["id"].as_str().expect("id");
    let big = json!({"reason": "x".repeat(app.config.max_body_bytes + 1)}).to_string();
    for (path, token) in [
        (format!("/v1/tasks/{id}/cancel"), &tenant.key),
        ("/v1/tasks".to_owned(), &tenant.key),
        ("/v1/tasks:batch".to_owned(), &tenant.key),
        ("/v1/admin/tenants".to_owned(), &app.admin_token),
    ] {
        let response = app
            .http
            .post(app.url(&path))
            .bearer_auth(token)
            .header("content-type", "application/json")
            .body(big.clone())
            .send()
            .await
            .expect("request");
        let problem =
            assert_problem(response, StatusCode::PAYLOAD_TOO_LARGE, "body-too-large").await;
        assert_eq!(problem["limit_bytes"], app.config.max_body_bytes, "{path}");
    }
    assert_eq!(app.count("task_events").await, 1, "nothing recorded");
}

#[tokio::test(flavor = "multi_thread")]
async fn cancel_takes_no_body_null_or_an_object_and_only_json() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant().await;
    let cancel = async |body: Option<(&str, &str)>| {
        let task = json_of(app.submit(&tenant, &noop(), None).await).await;
        let id = task["id"].as_str().expect("id").to_owned();
        let mut request = app
            .http
            .post(app.url(&format!("/v1/tasks/{id}/cancel")))
            .bearer_auth(&tenant.key);
        if let Some((content_type, body)) = body {
            request = request
                .header("content-type", content_type)
                .body(body.to_owned());
        }
        request.send().await.expect("cancel")
    };
    for body in [
        None,
        Some(("application/json", "")),
        Some(("application/json", "null")),
        Some(("application/json", "{}")),
        Some(("application/json", "{\"reason\": null}")),
        Some(("application/json", "{\"reason\": \"done\"}")),
    ] {
        assert_eq!(
            cancel(body).await.status(),
            StatusCode::ACCEPTED,
            "{body:?}"
        );
    }
    assert_problem(
        cancel(Some(("text/plain", "{}"))).await,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported-media-type",
    )
    .await;
    assert_problem(
        cancel(Some(("application/json", "[\"done\"]"))).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid-body",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_bearer_scheme_is_case_insensitive() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant().await;
    for scheme in ["bearer", "BEARER", "bEaReR"] {
        let response = app
            .http
            .post(app.url("/v1/tasks"))
            .header("authorization", format!("{scheme} {}", tenant.key))
            .json(&noop())
            .send()
            .await
            .expect("submit");
        assert_eq!(response.status(), StatusCode::CREATED, "{scheme}");
        let response = app
            .http
            .get(app.url("/v1/admin/outbox"))
            .header("authorization", format!("{scheme} {}", app.admin_token))
            .send()
            .await
            .expect("outbox");
        assert_eq!(response.status(), StatusCode::OK, "{scheme}");
    }
    let response = app
        .http
        .get(app.url("/v1/tasks"))
        .header("authorization", format!("Basic {}", tenant.key))
        .send()
        .await
        .expect("list");
    assert_problem(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
}

fn operation<'a>(doc: &'a Value, path: &str, method: &str) -> &'a Value {
    let op = &doc["paths"][path][method];
    assert!(op.is_object(), "{method} {path} missing from the document");
    op
}

fn parameter<'a>(op: &'a Value, name: &str) -> &'a Value {
    op["parameters"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["name"] == name))
        .unwrap_or_else(|| panic!("parameter {name}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn the_openapi_document_states_what_the_server_answers() {
    let app = TestApp::spawn().await;
    let doc = json_of(
        app.http
            .get(app.url("/openapi.json"))
            .send()
            .await
            .expect("openapi"),
    )
    .await;
    let submit = operation(&doc, "/v1/tasks", "post");
    for status in [
        "201", "400", "401", "409", "413", "415", "422", "429", "500", "503",
    ] {
        let response = &submit["responses"][status];
        assert!(response.is_object(), "POST /v1/tasks lacks {status}");
        if status != "201" {
            assert!(
                response["content"]["application/problem+json"].is_object(),
                "{status} is not a problem document"
            );
        }
    }
    assert_eq!(
        submit["responses"]["429"]["headers"]["Retry-After"]["required"],
        true
    );
    let key = &parameter(submit, "Idempotency-Key")["schema"];
    assert_eq!(
        (key["minLength"].clone(), key["maxLength"].clone()),
        (json!(1), json!(255))
    );
    let limit = &parameter(operation(&doc, "/v1/tasks", "get"), "limit")["schema"];
    assert_eq!(
        (limit["minimum"].clone(), limit["maximum"].clone()),
        (json!(1), json!(500))
    );
    for (path, method) in [
        ("/v1/tasks/{id}", "get"),
        ("/v1/admin/tenants", "post"),
        ("/v1/admin/projections/rebuild", "post"),
    ] {
        assert!(
            operation(&doc, path, method)["responses"]["401"].is_object(),
            "{method} {path} lacks 401"
        );
    }

    // The cancel body the document allows (null, no body) is what the server takes.
    let cancel = operation(&doc, "/v1/tasks/{id}/cancel", "post");
    assert_eq!(cancel["requestBody"]["required"], false);
    let body_schema = &cancel["requestBody"]["content"]["application/json"]["schema"];
    assert!(
        body_schema.to_string().contains("\"null\""),
        "{body_schema}"
    );
    let tenant = app.tenant().await;
    let task = json_of(app.submit(&tenant, &noop(), None).await).await;
    let response = app
        .http
        .post(app.url(&format!(
            "/v1/tasks/{}/cancel",
            task["id"].as_str().expect("id")
        )))
        .bearer_auth(&tenant.key)
        .header("content-type", "application/json")
        .body("null")
        .send()
        .await
        .expect("cancel");
    assert_eq!(response.status(), StatusCode::ACCEPTED);
}
