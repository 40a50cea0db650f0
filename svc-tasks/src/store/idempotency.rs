//! Idempotency keys: which submission a (tenant, key) produced.

use super::prelude::*;

/// Takes a transaction-scoped advisory lock on (tenant, key); false when another transaction
/// holds it, i.e. a request with the same key is in flight.
pub async fn try_lock_idempotency_key(conn: &mut Conn, lock_id: i64) -> Result<bool, StoreError> {
    Ok(diesel::select(
        sql::<Bool>("pg_try_advisory_xact_lock(")
            .bind::<BigInt, _>(lock_id)
            .sql(")"),
    )
    .get_result(conn)
    .await?)
}

/// (request hash, task id) remembered for this key.
pub async fn find_idempotency_key(
    conn: &mut Conn,
    tenant_id: Uuid,
    key: &str,
) -> Result<Option<(Vec<u8>, Uuid)>, StoreError> {
    Ok(idempotency_keys::table
        .find((tenant_id, key))
        .select((idempotency_keys::request_hash, idempotency_keys::task_id))
        .first(conn)
        .await
        .optional()?)
}

pub async fn insert_idempotency_key(
    conn: &mut Conn,
    tenant_id: Uuid,
    key: &str,
    request_hash: &[u8],
    task_id: Uuid,
) -> Result<(), StoreError> {
    diesel::insert_into(idempotency_keys::table)
        .values((
            idempotency_keys::tenant_id.eq(tenant_id),
            idempotency_keys::key.eq(key),
            idempotency_keys::request_hash.eq(request_hash),
            idempotency_keys::task_id.eq(task_id),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// Remembers many (key → task) pairs of one tenant in one statement.
pub async fn insert_idempotency_keys(
    conn: &mut Conn,
    tenant_id: Uuid,
    keys: &[(&str, &[u8], Uuid)],
) -> Result<(), StoreError> {
    if keys.is_empty() {
        return Ok(());
    }
    let rows: Vec<_> = keys
        .iter()
        .map(|(key, hash, task_id)| {
            (
                idempotency_keys::tenant_id.eq(tenant_id),
                idempotency_keys::key.eq(*key),
                idempotency_keys::request_hash.eq(*hash),
                idempotency_keys::task_id.eq(*task_id),
            )
        })
        .collect();
    diesel::insert_into(idempotency_keys::table)
        .values(rows)
        .execute(conn)
        .await?;
    Ok(())
}

/// Retention: forgets up to `limit` Idempotency-Keys recorded before `cut_off` (a retry with
/// one of them after that makes a new task); returns how many. SQL text: the builder has no
/// row-value `IN` over a limited subquery.
pub fn delete_idempotency_keys_before(
    conn: &mut Conn,
    cut_off: DateTime<Utc>,
    limit: i64,
) -> taskflow_platform::maintenance::BoxFuture<'_, Result<usize, diesel::result::Error>> {
    Box::pin(async move {
        diesel::sql_query(
            "DELETE FROM idempotency_keys WHERE (tenant_id, key) IN ( \
               SELECT tenant_id, key FROM idempotency_keys WHERE created_at < $1 LIMIT $2)",
        )
        .bind::<diesel::sql_types::Timestamptz, _>(cut_off)
        .bind::<BigInt, _>(limit)
        .execute(conn)
        .await
    })
}
