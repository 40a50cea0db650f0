use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;
use svc_notify::domain::token::{Claims, sign};
use uuid::Uuid;

use crate::helpers::*;

async fn problem(response: reqwest::Response, status: StatusCode) -> Value {
    assert_eq!(response.status(), status);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    response.json().await.expect("problem json")
}

#[tokio::test(flavor = "multi_thread")]
async fn another_tenants_task_is_not_found_and_its_events_never_reach_my_stream() {
    let app = TestNotify::spawn().await;
    let mine = app.tenant().await;
    let theirs = app.tenant().await;
    let mut my_stream = open_stream(&app, "/v1/stream", Some(&mine.key)).await;
    let their_task = app.task_life(&theirs, 1, true).await;
    app.known(&theirs, their_task, 4).await;
    let my_task = app.task_life(&mine, 0, true).await;
    let seen = my_stream.tasks(3).await;
    assert!(
        seen.iter()
            .all(|e| e.data["task_id"] == my_task.to_string())
    );

    let missing = Uuid::now_v7();
    for task in [their_task, missing] {
        for path in [
            format!("/v1/tasks/{task}/stream"),
            format!("/v1/notifications?task_id={task}"),
            format!("/v1/ws?task_id={task}"),
        ] {
            let response = app
                .http
                .get(app.url(&path))
                .bearer_auth(&mine.key)
                .send()
                .await
                .expect("request");
            let body = problem(response, StatusCode::NOT_FOUND).await;
            assert_eq!(body["type"], "urn:taskflow:problem:not-found", "{path}");
            let detail = body["detail"].as_str().expect("detail");
            assert_eq!(
                detail.replace(&task.to_string(), "ID"),
                format!(
                    "no task ID is known to the notification service (a task appears here within moments of its submission)"
                ),
                "a foreign task reads exactly like a missing one"
            );
        }
    }
    let page: Value = app
        .http
        .get(app.url("/v1/notifications"))
        .bearer_auth(&mine.key)
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    assert!(
        page["items"]
            .as_array()
            .expect("items")
            .iter()
            .all(|n| n["task_id"] == my_task.to_string())
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn stream_tokens_work_in_urls_until_they_expire_and_only_for_their_scope() {
    let app = TestNotify::spawn().await;
    let tenant = app.tenant().await;
    let task = app.task_life(&tenant, 0, false).await;
    let other = app.task_life(&tenant, 0, false).await;
    app.known(&tenant, other, 2).await;

    let token = app.token(&tenant, None).await;
    assert!(token.starts_with("tfs_"));
    let mut stream = open_stream(&app, &format!("/v1/stream?after=0&token={token}"), None).await;
    assert_eq!(stream.tasks(4).await.len(), 4);

    let scoped = app.token(&tenant, Some(task)).await;
    let mut one = open_stream(
        &app,
        &format!("/v1/tasks/{task}/stream?token={scoped}"),
        None,
    )
    .await;
    assert_eq!(one.tasks(2).await[0].data["task_id"], task.to_string());
    for path in [
        format!("/v1/tasks/{other}/stream?token={scoped}"),
        format!("/v1/stream?token={scoped}"),
    ] {
        let response = app.http.get(app.url(&path)).send().await.expect("request");
        assert!(
            [StatusCode::NOT_FOUND, StatusCode::FORBIDDEN].contains(&response.status()),
            "{path}: {}",
            response.status()
        );
    }

    // A token minted with this database's secret but already expired.
    let mut conn = app.pool.get().await.expect("connection");
    let secret = svc_notify::store::token_secret(&mut conn, b"unused")
        .await
        .expect("secret");
    let expired = sign(
        &Claims {
            tenant_id: tenant.id,
            key_id: tenant.key_id,
            task_id: None,
            expires_at: chrono::Utc::now().timestamp() - 1,
        },
        &secret,
    );
    let response = app
        .http
        .get(app.url(&format!("/v1/stream?token={expired}")))
        .send()
        .await
        .expect("request");
    let body = problem(response, StatusCode::UNAUTHORIZED).await;
    assert_eq!(body["type"], "urn:taskflow:problem:token-expired");

    let forged = sign(
        &Claims {
            tenant_id: Uuid::new_v4(),
            key_id: tenant.key_id,
            task_id: None,
            expires_at: chrono::Utc::now().timestamp() + 60,
        },
        b"not the secret",
    );
    let response = app
        .http
        .get(app.url(&format!("/v1/stream?token={forged}")))
        .send()
        .await
        .expect("request");
    problem(response, StatusCode::UNAUTHORIZED).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_revoked_key_ends_its_open_streams_and_its_tokens_within_seconds() {
    let app = TestNotify::spawn().await;
    let tenant = app.tenant().await;
    let token = app.token(&tenant, None).await;
    let mut by_key = open_stream(&app, "/v1/stream", Some(&tenant.key)).await;
    let mut by_token = open_stream(&app, &format!("/v1/stream?token={token}"), None).await;
    app.revoke(&tenant).await;
    for stream in [&mut by_key, &mut by_token] {
        let end = tokio::time::timeout(Duration::from_secs(30), stream.next())
            .await
            .expect("ended in time")
            .expect("an end event");
        assert_eq!(end.event, "end");
        assert_eq!(end.data["reason"], "key-revoked");
    }
    for request in [
        app.http.get(app.url("/v1/stream")).bearer_auth(&tenant.key),
        app.http.get(app.url(&format!("/v1/stream?token={token}"))),
        app.http
            .post(app.url("/v1/stream-tokens"))
            .bearer_auth(&tenant.key),
    ] {
        let response = request.send().await.expect("request");
        problem(response, StatusCode::UNAUTHORIZED).await;
    }
}
