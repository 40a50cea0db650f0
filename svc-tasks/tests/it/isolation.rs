use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{TestApp, assert_problem, json_of, noop};

#[tokio::test(flavor = "multi_thread")]
async fn tenants_cannot_see_or_touch_each_others_tasks() {
    let app = TestApp::spawn().await;
    let a = app.tenant().await;
    let b = app.tenant().await;
    let task = json_of(app.submit(&b, &noop(), None).await).await;
    let id = task["id"].as_str().expect("id");

    for path in [format!("/v1/tasks/{id}"), format!("/v1/tasks/{id}/events")] {
        assert_problem(
            app.get(&a, &path).await,
            StatusCode::NOT_FOUND,
            "task-not-found",
        )
        .await;
        assert_eq!(app.get(&b, &path).await.status(), StatusCode::OK);
    }
    let listed = json_of(app.get(&a, "/v1/tasks").await).await;
    assert_eq!(listed["tasks"], json!([]));
    let cancel = app
        .http
        .post(app.url(&format!("/v1/tasks/{id}/cancel")))
        .bearer_auth(&a.key)
        .send()
        .await
        .expect("cancel");
    assert_problem(cancel, StatusCode::NOT_FOUND, "task-not-found").await;
    assert_eq!(
        app.count("task_events").await,
        1,
        "the refused cancel wrote nothing"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn keys_rotate_and_revoked_keys_stop_working() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant().await;
    let issued = json_of(
        app.http
            .post(app.url(&format!("/v1/admin/tenants/{}/keys", tenant.id)))
            .bearer_auth(&app.admin_token)
            .send()
            .await
            .expect("issue"),
    )
    .await;
    let new_key = issued["api_key"].as_str().expect("key").to_owned();
    let list = |key: String| {
        let app = &app;
        async move {
            app.http
                .get(app.url("/v1/tasks"))
                .bearer_auth(key)
                .send()
                .await
                .expect("list")
                .status()
        }
    };
    assert_eq!(list(new_key.clone()).await, StatusCode::OK);
    assert_eq!(list(tenant.key.clone()).await, StatusCode::OK);

    let key_id = issued["key_id"].as_str().expect("id");
    let revoked = app
        .http
        .delete(app.url(&format!("/v1/admin/tenants/{}/keys/{key_id}", tenant.id)))
        .bearer_auth(&app.admin_token)
        .send()
        .await
        .expect("revoke");
    assert_eq!(revoked.status(), StatusCode::NO_CONTENT);
    assert_eq!(list(new_key).await, StatusCode::UNAUTHORIZED);
    assert_eq!(list(tenant.key.clone()).await, StatusCode::OK);

    let not_admin = app
        .http
        .post(app.url("/v1/admin/tenants"))
        .bearer_auth(&tenant.key)
        .json(&json!({"name": "x"}))
        .send()
        .await
        .expect("req");
    assert_problem(not_admin, StatusCode::UNAUTHORIZED, "unauthorized").await;
}
