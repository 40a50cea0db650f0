//! API keys are announced on `taskflow.tenants.keys.v1` through the outbox: `ApiKeyIssued` with
//! the SHA-256 of the key (never the key) when a key is issued, `ApiKeyRevoked` when it is
//! revoked; keys issued before svc-tasks announced keys are announced when an instance starts.

use std::fmt::Write;

use reqwest::StatusCode;
use serde_json::Value;
use sha2::{Digest, Sha256};
use svc_tasks::service::credentials::new_api_key;
use taskflow_platform::codec::EventCodec;
use taskflow_schemas::{ApiKeyIssued, ApiKeyRevoked, Event, Stream};
use uuid::Uuid;

use crate::helpers::{TestApp, json_of, read_topic};

/// What a consumer of the keys topic computes from a presented key.
fn sha256_hex(key: &str) -> String {
    Sha256::digest(key.as_bytes())
        .iter()
        .fold(String::new(), |mut hex, b| {
            write!(hex, "{b:02x}").expect("write to a string");
            hex
        })
}

/// The first `count` records of the keys topic, decoded, with their record keys.
async fn key_events(app: &TestApp, count: usize) -> Vec<(String, Event)> {
    let codec = EventCodec::new(&app.registry, app.kafka.topics.clone());
    let topic = app.topic(Stream::TenantKeys);
    let mut events = Vec::new();
    for record in read_topic(&app.kafka.bootstrap_servers, &topic, count).await {
        let key = String::from_utf8(record.key.clone().expect("record key")).expect("utf-8");
        let event = codec
            .decode(Some(&record.payload))
            .await
            .expect("a key event");
        events.push((key, event));
    }
    events
}

fn issued_of(events: &[(String, Event)], key_id: Uuid) -> Vec<ApiKeyIssued> {
    events
        .iter()
        .filter_map(|(record_key, event)| match event {
            Event::ApiKeyIssued(e) if e.key_id == key_id => {
                assert_eq!(*record_key, key_id.to_string(), "keyed by key id");
                Some(e.clone())
            }
            _ => None,
        })
        .collect()
}

fn revoked_of(events: &[(String, Event)], key_id: Uuid) -> Vec<ApiKeyRevoked> {
    events
        .iter()
        .filter_map(|(record_key, event)| match event {
            Event::ApiKeyRevoked(e) if e.key_id == key_id => {
                assert_eq!(*record_key, key_id.to_string(), "keyed by key id");
                Some(e.clone())
            }
            _ => None,
        })
        .collect()
}

/// An admin request with a correlation id; the answer's JSON (if any).
async fn admin(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    correlation_id: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = app
        .http
        .request(method, app.url(path))
        .bearer_auth(&app.admin_token)
        .header("X-Correlation-Id", correlation_id);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("request");
    let status = response.status();
    (status, response.json().await.unwrap_or_default())
}

fn uuid_of(value: &Value) -> Uuid {
    value.as_str().expect("uuid text").parse().expect("uuid")
}

#[tokio::test(flavor = "multi_thread")]
async fn issued_keys_are_announced_with_the_hash_of_the_key() {
    let app = TestApp::spawn().await;
    let name = format!("t-{}", Uuid::new_v4().simple());
    let (status, created) = admin(
        &app,
        reqwest::Method::POST,
        "/v1/admin/tenants",
        "it-create-tenant",
        Some(serde_json::json!({ "name": name })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let tenant_id = uuid_of(&created["tenant_id"]);
    let (status, added) = admin(
        &app,
        reqwest::Method::POST,
        &format!("/v1/admin/tenants/{tenant_id}/keys"),
        "it-add-key",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{added}");

    let events = key_events(&app, 2).await;
    for (answer, correlation_id) in [(&created, "it-create-tenant"), (&added, "it-add-key")] {
        let key_id = uuid_of(&answer["key_id"]);
        let api_key = answer["api_key"].as_str().expect("api key");
        let [issued] = issued_of(&events, key_id).try_into().expect("one event");
        assert_eq!(issued.key_sha256, sha256_hex(api_key));
        assert!(api_key.starts_with(&issued.key_prefix), "{issued:?}");
        assert!(issued.key_prefix.len() < api_key.len() / 2, "{issued:?}");
        assert_eq!(issued.meta.tenant_id, tenant_id);
        assert_eq!(issued.meta.correlation_id, correlation_id);
        assert!(issued.meta.producer.starts_with("svc-tasks/"), "{issued:?}");
        let payload = serde_json::to_string(&issued).expect("json");
        assert!(
            !payload.contains(api_key),
            "the key itself is never published"
        );
    }
    assert_eq!(
        added["key_prefix"],
        issued_of(&events, uuid_of(&added["key_id"]))[0].key_prefix
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_revoked_key_is_announced_revoked_once() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant().await;
    let added = json_of(
        app.http
            .post(app.url(&format!("/v1/admin/tenants/{}/keys", tenant.id)))
            .bearer_auth(&app.admin_token)
            .send()
            .await
            .expect("add key"),
    )
    .await;
    let key_id = uuid_of(&added["key_id"]);
    let path = format!("/v1/admin/tenants/{}/keys/{key_id}", tenant.id);
    let (status, _) = admin(&app, reqwest::Method::DELETE, &path, "it-revoke", None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = admin(
        &app,
        reqwest::Method::DELETE,
        &path,
        "it-revoke-again",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let events = key_events(&app, 3).await;
    let [revoked] = revoked_of(&events, key_id).try_into().expect("one event");
    assert_eq!(revoked.meta.tenant_id, tenant.id);
    assert_eq!(revoked.meta.correlation_id, "it-revoke");
    assert_eq!(revoked.reason, None);
    let order: Vec<_> = events
        .iter()
        .filter(|(record_key, _)| *record_key == key_id.to_string())
        .map(|(_, event)| event.kind().name())
        .collect();
    assert_eq!(order, ["ApiKeyIssued", "ApiKeyRevoked"]);
    assert_eq!(
        app.count_where("outbox", "event_type = 'ApiKeyRevoked'")
            .await,
        1,
        "a second revocation announces nothing"
    );
    let refused = app
        .http
        .get(app.url("/v1/tasks"))
        .bearer_auth(added["api_key"].as_str().expect("key"))
        .send()
        .await
        .expect("request");
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
}

/// A key as svc-tasks stored it before it announced keys: `announced_at` is NULL.
async fn insert_unannounced_key(app: &TestApp, tenant_id: Uuid, revoked: bool) -> (Uuid, String) {
    let (key, hash, prefix) = new_api_key();
    let id = Uuid::now_v7();
    let hash_hex = hash.iter().fold(String::new(), |mut hex, b| {
        write!(hex, "{b:02x}").expect("write to a string");
        hex
    });
    let revoked_at = if revoked {
        "now() - interval '1 hour'"
    } else {
        "NULL"
    };
    app.execute(&format!(
        "INSERT INTO api_keys (id, tenant_id, key_hash, key_prefix, created_at, revoked_at, announced_at) \
         VALUES ('{id}', '{tenant_id}', '\\x{hash_hex}', '{prefix}', now() - interval '1 day', {revoked_at}, NULL)"
    ))
    .await;
    (id, key)
}

#[tokio::test(flavor = "multi_thread")]
async fn keys_never_announced_are_announced_once_when_instances_start() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant().await;
    let (active, active_key) = insert_unannounced_key(&app, tenant.id, false).await;
    let (revoked, revoked_key) = insert_unannounced_key(&app, tenant.id, true).await;

    // Two instances start at once; then one restarts.
    let (_b, _c) = tokio::join!(app.sibling(), app.sibling());
    let _d = app.sibling().await;

    // The tenant's own key, then the two old keys: issued, issued + revoked.
    let events = key_events(&app, 4).await;
    let [issued] = issued_of(&events, active).try_into().expect("one event");
    assert_eq!(issued.key_sha256, sha256_hex(&active_key));
    assert_eq!(issued.meta.tenant_id, tenant.id);
    assert!(revoked_of(&events, active).is_empty());
    let [issued] = issued_of(&events, revoked).try_into().expect("one event");
    assert_eq!(issued.key_sha256, sha256_hex(&revoked_key));
    let [gone] = revoked_of(&events, revoked).try_into().expect("one event");
    assert!(issued.meta.occurred_at < gone.meta.occurred_at);
    let order: Vec<_> = events
        .iter()
        .filter(|(record_key, _)| *record_key == revoked.to_string())
        .map(|(_, event)| event.kind().name())
        .collect();
    assert_eq!(order, ["ApiKeyIssued", "ApiKeyRevoked"]);

    assert_eq!(app.count_where("api_keys", "announced_at IS NULL").await, 0);
    assert_eq!(
        app.count_where("outbox", "event_type = 'ApiKeyIssued'")
            .await,
        3,
        "each key announced once, whichever instance did it"
    );
    assert_eq!(
        app.count_where("outbox", "event_type = 'ApiKeyRevoked'")
            .await,
        1
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn revoking_a_key_never_announced_announces_its_issue_first() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant().await;
    // Inserted after this instance started: no start-up has announced it yet.
    let (key_id, key) = insert_unannounced_key(&app, tenant.id, false).await;
    let path = format!("/v1/admin/tenants/{}/keys/{key_id}", tenant.id);
    let (status, _) = admin(&app, reqwest::Method::DELETE, &path, "it-revoke-old", None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    let events = key_events(&app, 3).await;
    let order: Vec<_> = events
        .iter()
        .filter(|(record_key, _)| *record_key == key_id.to_string())
        .map(|(_, event)| event.kind().name())
        .collect();
    assert_eq!(order, ["ApiKeyIssued", "ApiKeyRevoked"]);
    assert_eq!(issued_of(&events, key_id)[0].key_sha256, sha256_hex(&key));
    assert_eq!(app.count_where("api_keys", "announced_at IS NULL").await, 0);
}
