//! A database from before the platform owned the API keys: its own `api_keys` projection moves
//! into the platform's directory when the service migrates, so every key it knew still works
//! (and every revoked one stays revoked) without a replay of the keys topic.

use diesel::sql_types::{Bool, Bytea, Nullable, Timestamptz, Uuid as SqlUuid};
use diesel_async::RunQueryDsl;
use sha2::{Digest, Sha256};
use svc_scheduler::startup::MIGRATIONS;
use taskflow_platform::db;
use uuid::Uuid;

#[derive(diesel::QueryableByName)]
struct Exists {
    #[diesel(sql_type = Bool)]
    exists: bool,
}

#[tokio::test(flavor = "multi_thread")]
async fn keys_projected_before_the_directory_move_into_it() {
    let name = format!(
        "it_sched_keys_{}",
        &Uuid::new_v4().simple().to_string()[..12]
    );
    let pool = taskflow_platform::testing::database_before(
        &name,
        MIGRATIONS,
        &["00000000000003", "20261220000001"],
    )
    .await;
    let tenant_id = Uuid::new_v4();
    let (active, revoked) = ("tfk_still_active", "tfk_revoked_before");
    let (active_id, revoked_id) = (Uuid::new_v4(), Uuid::new_v4());
    let mut conn = pool.get().await.expect("conn");
    for (key_id, key, revoked_at) in [
        (active_id, active, None),
        (revoked_id, revoked, Some(chrono::Utc::now())),
    ] {
        diesel::sql_query(
            "INSERT INTO api_keys (key_id, tenant_id, key_sha256, revoked_at) VALUES ($1, $2, $3, $4)",
        )
        .bind::<SqlUuid, _>(key_id)
        .bind::<SqlUuid, _>(tenant_id)
        .bind::<Bytea, _>(Sha256::digest(key.as_bytes()).to_vec())
        .bind::<Nullable<Timestamptz>, _>(revoked_at)
        .execute(&mut conn)
        .await
        .expect("a key as the old projection held it");
    }
    drop(conn);

    db::migrate(&pool, MIGRATIONS).await.expect("migrated");

    let mut conn = pool.get().await.expect("conn");
    taskflow_platform::testing::assert_keys_carried_over(
        &mut conn,
        tenant_id,
        (active, active_id),
        (revoked, revoked_id),
    )
    .await;
    let old_table: Exists =
        diesel::sql_query("SELECT to_regclass('api_keys') IS NOT NULL AS exists")
            .get_result(&mut conn)
            .await
            .expect("query");
    assert!(!old_table.exists, "the scheduler's own key table is gone");
}
