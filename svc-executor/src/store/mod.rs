//! Every SQL statement of svc-executor. Callers own the transaction.

use chrono::{DateTime, Utc};
use diesel::sql_types::{
    BigInt, Bool, Integer, Jsonb, SmallInt, Text, Timestamptz, Uuid as SqlUuid,
};
use diesel::{QueryableByName, sql_query};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

pub use taskflow_platform::outbox::enqueue;

pub type Conn = AsyncPgConnection;
pub type StoreError = diesel::result::Error;

/// A task as TaskCreated described it, ready to queue.
#[derive(Debug, Clone)]
pub struct NewExecution {
    pub task_id: Uuid,
    pub tenant_id: Uuid,
    pub task_type: String,
    pub priority: i16,
    pub payload: serde_json::Value,
    pub max_attempts: i32,
    pub timeout_ms: i64,
    pub correlation_id: String,
    pub created_event_id: Uuid,
    pub created_event: serde_json::Value,
    pub trace: taskflow_platform::headers::TraceContext,
}

/// An execution this instance just leased for its next attempt.
#[derive(Debug, Clone, QueryableByName)]
pub struct Claimed {
    #[diesel(sql_type = SqlUuid)]
    pub task_id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    pub tenant_id: Uuid,
    #[diesel(sql_type = Text)]
    pub task_type: String,
    #[diesel(sql_type = SmallInt)]
    pub priority: i16,
    #[diesel(sql_type = Jsonb)]
    pub payload: serde_json::Value,
    #[diesel(sql_type = Integer)]
    pub max_attempts: i32,
    #[diesel(sql_type = BigInt)]
    pub timeout_ms: i64,
    #[diesel(sql_type = Text)]
    pub correlation_id: String,
    #[diesel(sql_type = SqlUuid)]
    pub created_event_id: Uuid,
    /// The attempt starting now (1-based).
    #[diesel(sql_type = Integer)]
    pub attempt: i32,
    #[diesel(sql_type = diesel::sql_types::Nullable<Text>)]
    pub traceparent: Option<String>,
    #[diesel(sql_type = diesel::sql_types::Nullable<Text>)]
    pub tracestate: Option<String>,
}

#[derive(QueryableByName)]
struct TaskIdRow {
    #[diesel(sql_type = SqlUuid)]
    task_id: Uuid,
}

#[derive(QueryableByName)]
struct StateRow {
    #[diesel(sql_type = Text)]
    state: String,
    #[diesel(sql_type = Integer)]
    attempt: i32,
    #[diesel(sql_type = SqlUuid)]
    tenant_id: Uuid,
    #[diesel(sql_type = Text)]
    correlation_id: String,
}

/// Queues the execution (and gives its tenant a turn row); false when the task is known.
pub async fn insert_execution(conn: &mut Conn, e: &NewExecution) -> Result<bool, StoreError> {
    // DO NOTHING takes no lock on an existing row, so concurrent ingests never wait here.
    sql_query("INSERT INTO tenant_turns (tenant_id, last_claimed_at) VALUES ($1, '-infinity') ON CONFLICT DO NOTHING")
        .bind::<SqlUuid, _>(e.tenant_id)
        .execute(conn)
        .await?;
    let inserted = sql_query(
        "INSERT INTO executions (task_id, tenant_id, task_type, priority, payload, max_attempts, \
         timeout_ms, correlation_id, created_event_id, created_event, traceparent, tracestate, state, due_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 'queued', now()) ON CONFLICT DO NOTHING",
    )
    .bind::<SqlUuid, _>(e.task_id)
    .bind::<SqlUuid, _>(e.tenant_id)
    .bind::<Text, _>(&e.task_type)
    .bind::<SmallInt, _>(e.priority)
    .bind::<Jsonb, _>(&e.payload)
    .bind::<Integer, _>(e.max_attempts)
    .bind::<BigInt, _>(e.timeout_ms)
    .bind::<Text, _>(&e.correlation_id)
    .bind::<SqlUuid, _>(e.created_event_id)
    .bind::<Jsonb, _>(&e.created_event)
    .bind::<diesel::sql_types::Nullable<Text>, _>(&e.trace.traceparent)
    .bind::<diesel::sql_types::Nullable<Text>, _>(&e.trace.tracestate)
    .execute(conn)
    .await?;
    Ok(inserted == 1)
}

/// What a cancellation request found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CancelFound {
    /// It was waiting: it is now cancelled here and the caller announces it.
    StoppedWaiting {
        attempt: i32,
        tenant_id: Uuid,
        correlation_id: String,
    },
    /// It is running somewhere: flagged; its runner stops it and announces it.
    Flagged,
    /// Already ended, or unknown.
    Nothing,
}

pub async fn request_cancel(conn: &mut Conn, task_id: Uuid) -> Result<CancelFound, StoreError> {
    let rows: Vec<StateRow> = sql_query(
        "SELECT state, attempt, tenant_id, correlation_id FROM executions WHERE task_id = $1 FOR UPDATE",
    )
    .bind::<SqlUuid, _>(task_id)
    .load(conn)
    .await?;
    let Some(row) = rows.into_iter().next() else {
        return Ok(CancelFound::Nothing);
    };
    match row.state.as_str() {
        "queued" => {
            sql_query(
                "UPDATE executions SET state = 'cancelled', updated_at = now() WHERE task_id = $1",
            )
            .bind::<SqlUuid, _>(task_id)
            .execute(conn)
            .await?;
            Ok(CancelFound::StoppedWaiting {
                attempt: row.attempt,
                tenant_id: row.tenant_id,
                correlation_id: row.correlation_id,
            })
        }
        "running" => {
            sql_query("UPDATE executions SET cancel_requested = true, updated_at = now() WHERE task_id = $1")
                .bind::<SqlUuid, _>(task_id)
                .execute(conn)
                .await?;
            Ok(CancelFound::Flagged)
        }
        _ => Ok(CancelFound::Nothing),
    }
}

/// Leases up to `limit` executions for `owner`: due queued ones, and running ones whose lease
/// expired (their instance died or stalled). Most urgent priority first; within a priority the
/// tenant that got a slot longest ago goes first, and tenants alternate inside one claim, so
/// one tenant's backlog cannot starve another's. Only each tenant's first few ready tasks are
/// considered, which keeps a claim cheap however long the queue is.
pub async fn claim(
    conn: &mut Conn,
    owner: &str,
    limit: i64,
    grace_ms: i64,
) -> Result<Vec<Claimed>, StoreError> {
    sql_query(
        "WITH ready AS ( \
           SELECT x.task_id, x.tenant_id, x.priority, x.due_at, t.last_claimed_at \
           FROM tenant_turns t CROSS JOIN LATERAL ( \
             SELECT task_id, tenant_id, priority, due_at FROM executions q \
             WHERE q.tenant_id = t.tenant_id AND q.state = 'queued' AND q.due_at <= now() \
             ORDER BY q.priority DESC, q.due_at LIMIT $1) x \
           UNION ALL \
           (SELECT task_id, tenant_id, priority, due_at, NULL::timestamptz FROM executions \
            WHERE state = 'running' AND lease_until < now() ORDER BY lease_until LIMIT $1) \
         ), ranked AS ( \
           SELECT task_id, priority, due_at, last_claimed_at, \
                  row_number() OVER (PARTITION BY tenant_id, priority ORDER BY due_at, task_id) AS turn \
           FROM ready \
         ), picked AS ( \
           SELECT e.task_id FROM executions e JOIN ranked r USING (task_id) \
           WHERE (e.state = 'queued' AND e.due_at <= now()) OR (e.state = 'running' AND e.lease_until < now()) \
           ORDER BY r.priority DESC, r.turn, r.last_claimed_at ASC NULLS FIRST, r.due_at \
           LIMIT $1 FOR UPDATE OF e SKIP LOCKED \
         ) \
         UPDATE executions e SET state = 'running', attempt = e.attempt + 1, lease_owner = $2, \
           lease_until = now() + (e.timeout_ms + $3) * interval '1 millisecond', updated_at = now() \
         FROM picked WHERE e.task_id = picked.task_id \
         RETURNING e.task_id, e.tenant_id, e.task_type, e.priority, e.payload, e.max_attempts, \
           e.timeout_ms, e.correlation_id, e.created_event_id, e.attempt, e.traceparent, e.tracestate",
    )
    .bind::<BigInt, _>(limit)
    .bind::<Text, _>(owner)
    .bind::<BigInt, _>(grace_ms)
    .load(conn)
    .await
}

/// Remembers when these tenants last got a slot. Outside the claiming transaction on purpose:
/// it is a fairness hint, and holding these rows locked would make instances claim in turn.
pub async fn note_turns(conn: &mut Conn, tenants: &[Uuid]) -> Result<(), StoreError> {
    sql_query(
        "INSERT INTO tenant_turns (tenant_id, last_claimed_at) SELECT unnest($1::uuid[]), clock_timestamp() \
         ON CONFLICT (tenant_id) DO UPDATE SET last_claimed_at = excluded.last_claimed_at",
    )
    .bind::<diesel::sql_types::Array<SqlUuid>, _>(tenants)
    .execute(conn)
    .await?;
    Ok(())
}

/// Logs the start of an attempt; an earlier attempt that never ended is marked lost.
pub async fn start_attempt(
    conn: &mut Conn,
    task_id: Uuid,
    attempt: i32,
    instance: &str,
) -> Result<(), StoreError> {
    sql_query(
        "UPDATE attempts SET ended_at = now(), outcome = 'lost', error = 'lease expired' \
         WHERE task_id = $1 AND attempt < $2 AND ended_at IS NULL",
    )
    .bind::<SqlUuid, _>(task_id)
    .bind::<Integer, _>(attempt)
    .execute(conn)
    .await?;
    sql_query("INSERT INTO attempts (task_id, attempt, instance) VALUES ($1, $2, $3)")
        .bind::<SqlUuid, _>(task_id)
        .bind::<Integer, _>(attempt)
        .bind::<Text, _>(instance)
        .execute(conn)
        .await?;
    Ok(())
}

/// Moves the execution out of `running`, provided `owner` still holds attempt `attempt`.
/// False means the lease was lost (taken over after expiry): the caller must record nothing.
pub async fn finish(
    conn: &mut Conn,
    task_id: Uuid,
    attempt: i32,
    owner: &str,
    state: &str,
    due_at: Option<DateTime<Utc>>,
) -> Result<bool, StoreError> {
    let changed = sql_query(
        "UPDATE executions SET state = $4, lease_owner = NULL, lease_until = NULL, \
         due_at = COALESCE($5, due_at), updated_at = now() \
         WHERE task_id = $1 AND attempt = $2 AND lease_owner = $3 AND state = 'running'",
    )
    .bind::<SqlUuid, _>(task_id)
    .bind::<Integer, _>(attempt)
    .bind::<Text, _>(owner)
    .bind::<Text, _>(state)
    .bind::<diesel::sql_types::Nullable<Timestamptz>, _>(due_at)
    .execute(conn)
    .await?;
    Ok(changed == 1)
}

pub async fn end_attempt(
    conn: &mut Conn,
    task_id: Uuid,
    attempt: i32,
    outcome: &str,
    error: Option<&str>,
) -> Result<(), StoreError> {
    sql_query("UPDATE attempts SET ended_at = now(), outcome = $3, error = $4 WHERE task_id = $1 AND attempt = $2")
        .bind::<SqlUuid, _>(task_id)
        .bind::<Integer, _>(attempt)
        .bind::<Text, _>(outcome)
        .bind::<diesel::sql_types::Nullable<Text>, _>(error)
        .execute(conn)
        .await?;
    Ok(())
}

/// True while `owner` holds attempt `attempt` of the task (guards progress reports).
pub async fn holds(
    conn: &mut Conn,
    task_id: Uuid,
    attempt: i32,
    owner: &str,
) -> Result<bool, StoreError> {
    let rows: Vec<TaskIdRow> = sql_query(
        "SELECT task_id FROM executions WHERE task_id = $1 AND attempt = $2 AND lease_owner = $3 AND state = 'running'",
    )
    .bind::<SqlUuid, _>(task_id)
    .bind::<Integer, _>(attempt)
    .bind::<Text, _>(owner)
    .load(conn)
    .await?;
    Ok(!rows.is_empty())
}

/// Running executions of `owner` that someone asked to cancel.
pub async fn cancel_flags(conn: &mut Conn, owner: &str) -> Result<Vec<Uuid>, StoreError> {
    let rows: Vec<TaskIdRow> = sql_query(
        "SELECT task_id FROM executions WHERE lease_owner = $1 AND state = 'running' AND cancel_requested",
    )
    .bind::<Text, _>(owner)
    .load(conn)
    .await?;
    Ok(rows.into_iter().map(|r| r.task_id).collect())
}

/// On shutdown: give back what `owner` still runs, to start again elsewhere right away.
pub async fn release_owned(conn: &mut Conn, owner: &str) -> Result<usize, StoreError> {
    sql_query(
        "UPDATE attempts a SET ended_at = now(), outcome = 'released' FROM executions e \
         WHERE a.task_id = e.task_id AND a.attempt = e.attempt AND e.lease_owner = $1 \
         AND e.state = 'running' AND a.ended_at IS NULL",
    )
    .bind::<Text, _>(owner)
    .execute(conn)
    .await?;
    sql_query(
        "UPDATE executions SET state = 'queued', lease_owner = NULL, lease_until = NULL, due_at = now(), \
         updated_at = now() WHERE lease_owner = $1 AND state = 'running'",
    )
    .bind::<Text, _>(owner)
    .execute(conn)
    .await
}

/// Parks the task's original TaskCreated on the dead-letter `topic` (through the outbox, in
/// the caller's transaction) with `reason`.
pub async fn dead_letter_task(
    conn: &mut Conn,
    task_id: Uuid,
    topic: &str,
    reason: &str,
) -> Result<(), StoreError> {
    sql_query(
        "INSERT INTO outbox (event_id, event_type, body, destination, reason) \
         SELECT gen_random_uuid(), 'TaskCreated', created_event, $2, $3 FROM executions WHERE task_id = $1",
    )
    .bind::<SqlUuid, _>(task_id)
    .bind::<Text, _>(topic)
    .bind::<Text, _>(reason)
    .execute(conn)
    .await?;
    Ok(())
}

/// `SELECT true`, for readiness.
pub async fn ping(conn: &mut Conn) -> Result<(), StoreError> {
    #[derive(QueryableByName)]
    struct One {
        #[diesel(sql_type = Bool)]
        #[allow(dead_code)]
        ok: bool,
    }
    let _: Vec<One> = sql_query("SELECT true AS ok").load(conn).await?;
    Ok(())
}
