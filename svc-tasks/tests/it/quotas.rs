use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{TestApp, assert_problem, noop};

#[tokio::test(flavor = "multi_thread")]
async fn fifty_concurrent_submissions_for_one_free_slot_accept_exactly_one() {
    let app = TestApp::spawn().await;
    let tenant = app
        .create_tenant(json!({"name": "crowded", "quotas": {"max_active_tasks": 3}}))
        .await;
    for _ in 0..2 {
        assert_eq!(
            app.submit(&tenant, &noop(), None).await.status(),
            StatusCode::CREATED
        );
    }
    let body = noop();
    let responses = join_all((0..50).map(|_| app.submit(&tenant, &body, None))).await;
    let accepted = responses
        .iter()
        .filter(|r| r.status() == StatusCode::CREATED)
        .count();
    assert_eq!(accepted, 1);
    for response in responses
        .into_iter()
        .filter(|r| r.status() != StatusCode::CREATED)
    {
        assert!(response.headers().contains_key("retry-after"));
        let problem =
            assert_problem(response, StatusCode::TOO_MANY_REQUESTS, "quota-exceeded").await;
        assert_eq!(problem["reason"], "max_active_tasks");
    }
    assert_eq!(app.count("tasks").await, 3);
    assert_eq!(app.task_outbox().await, 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_submission_rate_and_allowed_priorities_are_enforced() {
    let app = TestApp::spawn().await;
    let tenant = app
        .create_tenant(json!({"name": "metered", "quotas": {"submissions_per_minute": 2}, "allowed_priorities": ["low", "normal"]}))
        .await;
    let urgent = json!({"type": "noop", "priority": "critical"});
    let problem = assert_problem(
        app.submit(&tenant, &urgent, None).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "priority-not-allowed",
    )
    .await;
    assert_eq!(problem["allowed_priorities"], json!(["low", "normal"]));

    assert_eq!(
        app.submit(&tenant, &noop(), None).await.status(),
        StatusCode::CREATED
    );
    assert_eq!(
        app.submit(&tenant, &noop(), None).await.status(),
        StatusCode::CREATED
    );
    let response = app.submit(&tenant, &noop(), None).await;
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds");
    assert!((1..=60).contains(&retry_after));
    let problem = assert_problem(response, StatusCode::TOO_MANY_REQUESTS, "quota-exceeded").await;
    assert_eq!(problem["reason"], "submissions_per_minute");

    // Lifting the limit takes effect at once.
    let lifted = app
        .http
        .patch(app.url(&format!("/v1/admin/tenants/{}", tenant.id)))
        .bearer_auth(&app.admin_token)
        .json(&json!({"quotas": {"submissions_per_minute": null}}))
        .send()
        .await
        .expect("patch");
    assert_eq!(lifted.status(), StatusCode::OK);
    assert_eq!(
        app.submit(&tenant, &noop(), None).await.status(),
        StatusCode::CREATED
    );
    assert_eq!(app.count("tasks").await, 3);
}

/// Unlimited tenants do not keep counters (so their submissions run side by side); setting a
/// limit later recounts their active tasks, so the limit holds from its first moment.
#[tokio::test(flavor = "multi_thread")]
async fn a_limit_set_later_counts_the_tasks_already_active() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant().await;
    for _ in 0..3 {
        assert_eq!(
            app.submit(&tenant, &noop(), None).await.status(),
            StatusCode::CREATED
        );
    }
    let limited = app
        .http
        .patch(app.url(&format!("/v1/admin/tenants/{}", tenant.id)))
        .bearer_auth(&app.admin_token)
        .json(&json!({"quotas": {"max_active_tasks": 3}}))
        .send()
        .await
        .expect("patch");
    assert_eq!(limited.status(), StatusCode::OK);
    let problem = assert_problem(
        app.submit(&tenant, &noop(), None).await,
        StatusCode::TOO_MANY_REQUESTS,
        "quota-exceeded",
    )
    .await;
    assert_eq!(problem["reason"], "max_active_tasks");
}
