//! The API-key directory against a real database: the keys topic's events applied once however
//! often they come, and the `Tenant` extractor answering from what was applied.

use actix_web::test::{TestRequest, call_service, init_service, read_body_json};
use actix_web::{App, HttpResponse, web};
use serde_json::Value;
use sha2::{Digest, Sha256};
use taskflow_platform::http::{KeyDirectory, Tenant};
use taskflow_platform::keys::{self, KeyChange, KeyOwner};
use taskflow_platform::problem::DatabaseFailure;
use taskflow_schemas::samples::sample_meta;
use taskflow_schemas::{ApiKeyIssued, ApiKeyRevoked, Event};
use uuid::Uuid;

use crate::helpers::platform_db;

fn issued(key: &str, tenant_id: Uuid) -> (Uuid, Event) {
    let key_id = Uuid::new_v4();
    let mut meta = sample_meta();
    meta.tenant_id = tenant_id;
    let event = ApiKeyIssued {
        meta,
        key_id,
        key_sha256: ApiKeyIssued::hash_hex(&Sha256::digest(key.as_bytes())),
        key_prefix: key[..8].to_owned(),
    }
    .into();
    (key_id, event)
}

fn revoked(key_id: Uuid) -> Event {
    ApiKeyRevoked {
        meta: sample_meta(),
        key_id,
        reason: None,
    }
    .into()
}

#[tokio::test(flavor = "multi_thread")]
async fn key_events_apply_once_and_a_revocation_is_final() {
    let pool = platform_db("keys").await;
    let mut conn = pool.get().await.expect("conn");
    let tenant_id = Uuid::new_v4();
    let key = format!("tfk_{}", Uuid::new_v4().simple());
    let (key_id, issue) = issued(&key, tenant_id);
    let owner = KeyOwner { key_id, tenant_id };

    assert_eq!(
        keys::apply(&mut conn, &issue).await.expect("apply"),
        KeyChange::Issued
    );
    assert_eq!(
        keys::apply(&mut conn, &issue).await.expect("apply"),
        KeyChange::Unchanged
    );
    assert_eq!(
        keys::owner_of(&mut conn, &key).await.expect("lookup"),
        Some(owner)
    );
    assert_eq!(
        keys::owner_of(&mut conn, "tfk_other")
            .await
            .expect("lookup"),
        None
    );
    assert!(
        keys::is_active(&mut conn, key_id, tenant_id)
            .await
            .expect("active")
    );
    assert!(
        !keys::is_active(&mut conn, key_id, Uuid::new_v4())
            .await
            .expect("active")
    );

    let revoke = revoked(key_id);
    assert_eq!(
        keys::apply(&mut conn, &revoke).await.expect("apply"),
        KeyChange::Revoked
    );
    assert_eq!(
        keys::apply(&mut conn, &revoke).await.expect("apply"),
        KeyChange::Unchanged
    );
    assert_eq!(
        keys::apply(&mut conn, &issue).await.expect("apply"),
        KeyChange::Unchanged,
        "a replayed issue does not bring a revoked key back"
    );
    assert_eq!(keys::owner_of(&mut conn, &key).await.expect("lookup"), None);
    assert!(
        !keys::is_active(&mut conn, key_id, tenant_id)
            .await
            .expect("active")
    );
    assert_eq!(
        keys::revoked_since(&mut conn, 60).await.expect("revoked"),
        vec![owner]
    );

    let unknown = revoked(Uuid::new_v4());
    assert_eq!(
        keys::apply(&mut conn, &unknown).await.expect("apply"),
        KeyChange::Unchanged
    );
    let (_, mut bad_hash) = issued("tfk_bad_hash_key", tenant_id);
    if let Event::ApiKeyIssued(e) = &mut bad_hash {
        e.key_sha256 = "not hex".into();
    }
    assert_eq!(
        keys::apply(&mut conn, &bad_hash).await.expect("apply"),
        KeyChange::Unchanged
    );
    let other = taskflow_schemas::samples::one_of_each().remove(0);
    assert_eq!(
        keys::apply(&mut conn, &other).await.expect("apply"),
        KeyChange::Unchanged
    );
}

const WORDS: DatabaseFailure<'static> = DatabaseFailure {
    unavailable: "down",
    internal: "broken",
};

#[tokio::test(flavor = "multi_thread")]
async fn the_tenant_extractor_knows_active_keys_only() {
    let pool = platform_db("keys").await;
    let tenant_id = Uuid::new_v4();
    let key = format!("tfk_{}", Uuid::new_v4().simple());
    let (key_id, issue) = issued(&key, tenant_id);
    {
        let mut conn = pool.get().await.expect("conn");
        keys::apply(&mut conn, &issue).await.expect("apply");
    }
    let app = init_service(
        App::new()
            .app_data(KeyDirectory::data(pool.clone(), WORDS))
            .route(
                "/whoami",
                web::get().to(|tenant: Tenant| async move {
                    HttpResponse::Ok().json(serde_json::json!({
                        "tenant_id": tenant.tenant_id,
                        "key_id": tenant.key_id,
                    }))
                }),
            ),
    )
    .await;
    let call = |header: Option<String>| {
        let mut req = TestRequest::get().uri("/whoami");
        if let Some(h) = header {
            req = req.insert_header(("authorization", h));
        }
        req.to_request()
    };

    let res = call_service(&app, call(Some(format!("bearer  {key} ")))).await;
    assert_eq!(res.status(), 200);
    let body: Value = read_body_json(res).await;
    assert_eq!(body["tenant_id"], tenant_id.to_string());
    assert_eq!(body["key_id"], key_id.to_string());

    for header in [
        None,
        Some("Bearer tfk_unknown".to_owned()),
        Some(format!("Basic {key}")),
    ] {
        let res = call_service(&app, call(header.clone())).await;
        assert_eq!(res.status(), 401, "{header:?}");
        let body: Value = read_body_json(res).await;
        assert_eq!(body["type"], "urn:taskflow:problem:unauthorized");
    }

    {
        let mut conn = pool.get().await.expect("conn");
        keys::apply(&mut conn, &revoked(key_id))
            .await
            .expect("apply");
    }
    let res = call_service(&app, call(Some(format!("Bearer {key}")))).await;
    assert_eq!(res.status(), 401, "a revoked key");
}
