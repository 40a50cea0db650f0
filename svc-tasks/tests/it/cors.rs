//! CORS: pages of `TASKFLOW_CORS_ORIGINS` may call the API from the browser; other origins get
//! no `Access-Control-Allow-Origin`; everything else about the HTTP contract stays.

use reqwest::{Method, Response, StatusCode};
use svc_tasks::config::CorsOrigins;

use crate::helpers::{TestApp, assert_problem, json_of, noop};

const DASHBOARD: &str = "http://127.0.0.1:18093";
const OTHER: &str = "http://127.0.0.1:18094";

async fn preflight(app: &TestApp, path: &str, origin: &str, method: &str) -> Response {
    app.http
        .request(Method::OPTIONS, app.url(path))
        .header("Origin", origin)
        .header("Access-Control-Request-Method", method)
        .header(
            "Access-Control-Request-Headers",
            "authorization,content-type,idempotency-key,x-correlation-id",
        )
        .send()
        .await
        .expect("preflight")
}

fn header<'a>(response: &'a Response, name: &str) -> Option<&'a str> {
    response.headers().get(name).and_then(|v| v.to_str().ok())
}

fn listed(response: &Response, name: &str) -> Vec<String> {
    header(response, name)
        .unwrap_or_default()
        .split(',')
        .map(|item| item.trim().to_ascii_lowercase())
        .filter(|item| !item.is_empty())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_dashboard_origin_may_call_the_api_and_other_origins_may_not() {
    let origins = CorsOrigins::parse(DASHBOARD).expect("origins");
    let app = TestApp::spawn_with_cors(|_| {}, origins).await;
    let tenant = app.tenant().await;
    let task = json_of(app.submit(&tenant, &noop(), None).await).await;
    let id = task["id"].as_str().expect("id");

    let operations = [
        ("/v1/tasks".to_owned(), "POST"),
        ("/v1/tasks".to_owned(), "GET"),
        (format!("/v1/tasks/{id}"), "GET"),
        (format!("/v1/tasks/{id}/cancel"), "POST"),
    ];
    for (path, method) in &operations {
        let allowed = preflight(&app, path, DASHBOARD, method).await;
        assert_eq!(allowed.status(), StatusCode::OK, "{method} {path}");
        assert_eq!(
            header(&allowed, "access-control-allow-origin"),
            Some(DASHBOARD)
        );
        assert!(
            listed(&allowed, "access-control-allow-methods").contains(&method.to_ascii_lowercase()),
            "{method} {path}"
        );
        let headers = listed(&allowed, "access-control-allow-headers");
        for name in [
            "authorization",
            "content-type",
            "idempotency-key",
            "x-correlation-id",
        ] {
            assert!(headers.iter().any(|h| h == name), "{name} in {headers:?}");
        }
        assert_eq!(header(&allowed, "access-control-max-age"), Some("600"));

        let refused = preflight(&app, path, OTHER, method).await;
        assert_eq!(header(&refused, "access-control-allow-origin"), None);
        assert_problem(refused, StatusCode::BAD_REQUEST, "bad-request").await;
    }
    let unlisted_header = app
        .http
        .request(Method::OPTIONS, app.url("/v1/tasks"))
        .header("Origin", DASHBOARD)
        .header("Access-Control-Request-Method", "POST")
        .header("Access-Control-Request-Headers", "x-something-else")
        .send()
        .await
        .expect("preflight");
    assert_problem(unlisted_header, StatusCode::BAD_REQUEST, "bad-request").await;

    // The request itself: the page may read the answer and the exposed headers.
    let answer = app
        .http
        .get(app.url(&format!("/v1/tasks/{id}")))
        .bearer_auth(&tenant.key)
        .header("Origin", DASHBOARD)
        .send()
        .await
        .expect("request");
    assert_eq!(answer.status(), StatusCode::OK);
    assert_eq!(
        header(&answer, "access-control-allow-origin"),
        Some(DASHBOARD)
    );
    let exposed = listed(&answer, "access-control-expose-headers");
    for name in ["x-correlation-id", "retry-after", "location"] {
        assert!(exposed.iter().any(|h| h == name), "{name} in {exposed:?}");
    }
    // Errors too: a page can read the problem document.
    let unauthorized = app
        .http
        .get(app.url("/v1/tasks"))
        .header("Origin", DASHBOARD)
        .send()
        .await
        .expect("request");
    assert_eq!(
        header(&unauthorized, "access-control-allow-origin"),
        Some(DASHBOARD)
    );
    assert_problem(unauthorized, StatusCode::UNAUTHORIZED, "unauthorized").await;

    // Another origin is served (CORS is not authentication) but its page may not read it.
    let other = app
        .http
        .get(app.url(&format!("/v1/tasks/{id}")))
        .bearer_auth(&tenant.key)
        .header("Origin", OTHER)
        .send()
        .await
        .expect("request");
    assert_eq!(other.status(), StatusCode::OK);
    assert_eq!(header(&other, "access-control-allow-origin"), None);

    // An OPTIONS that is no preflight is still a method no route serves.
    let options = app
        .http
        .request(Method::OPTIONS, app.url("/v1/tasks"))
        .bearer_auth(&tenant.key)
        .send()
        .await
        .expect("request");
    assert_eq!(header(&options, "allow"), Some("GET, POST"));
    assert_problem(
        options,
        StatusCode::METHOD_NOT_ALLOWED,
        "method-not-allowed",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn without_configured_origins_no_page_may_call_the_api() {
    let app = TestApp::spawn().await;
    let refused = preflight(&app, "/v1/tasks", DASHBOARD, "POST").await;
    assert_eq!(header(&refused, "access-control-allow-origin"), None);
    assert_problem(refused, StatusCode::BAD_REQUEST, "bad-request").await;
}
