//! Claiming due work, and what a claim needs around it: tenants' turns and the time until
//! something falls due. Three of this service's five statements written as SQL text live here
//! (the other two are the completer's, in `complete.rs`): `claim`, `note_turns` and
//! `until_next_due`; each says why beside it.
//!
//! Why the claim is raw: it is a single statement that ranks each tenant's first few ready tasks
//! (`CROSS JOIN LATERAL`), takes rows with `FOR UPDATE OF e SKIP LOCKED` inside a CTE, and
//! updates and returns them in the same round trip (`UPDATE … FROM picked … RETURNING`). Diesel's
//! query builder has no LATERAL joins, no CTEs and no `UPDATE … FROM`; spread over several
//! builder queries, the claim would take more round trips and hold its row locks longer.
//! The state literals are `ExecutionState`'s text forms, written out so that the planner can
//! use the partial indexes (`WHERE state = 'queued'` / `'running'`) of the migrations.
//!
//! All three are [`prepared`]: parsed and planned once per connection (planning the claim took
//! 0.4-2 ms a call against 0.3 ms running it). The claim's shape is what makes its generic plan
//! good: the candidates are ranked first, then walked in rank order, each looked up by key and
//! locked (`LATERAL … FOR UPDATE SKIP LOCKED`) until `limit` are taken, so a claim locks and
//! reads only the rows it takes (or skips). The former shape joined the ranked candidates to
//! every due execution and sorted before locking: with 25,000 queued tasks of 70 tenants, 30 ms
//! a claim, custom plan or generic, against 8 ms now.

use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text, Timestamptz};
use diesel_async::RunQueryDsl;
use taskflow_platform::db::prepared;
use uuid::Uuid;

use super::schema::{executions, tenant_turns};
use super::{Conn, StoreError};

/// An execution this instance just leased for its next attempt.
#[derive(Debug, Clone, QueryableByName)]
#[diesel(table_name = executions, check_for_backend(diesel::pg::Pg))]
pub struct Claimed {
    pub task_id: Uuid,
    pub tenant_id: Uuid,
    pub task_type: String,
    pub priority: i16,
    pub payload: serde_json::Value,
    pub max_attempts: i32,
    pub timeout_ms: i64,
    pub correlation_id: String,
    pub created_event_id: Uuid,
    /// The attempt starting now (1-based).
    pub attempt: i32,
    /// Whether this claim took the task over from an instance whose lease expired (its attempt
    /// was running), rather than starting queued work.
    #[diesel(sql_type = diesel::sql_types::Bool)]
    pub taken_over: bool,
    pub traceparent: Option<String>,
    pub tracestate: Option<String>,
}

/// Leases up to `limit` executions for `owner` (each tenant's first `4 × limit` ready tasks are
/// ranked, so that instances claiming at the same moment skip each other's locked rows and
/// still find work): due queued ones, and running ones whose lease expired (their instance
/// died or stalled; `dispatch::rescuer` tells the whole takeover) — `Claimed` in the state
/// machine. Most urgent priority first; within a priority the tenant that got a slot longest
/// ago goes first, and tenants alternate inside one claim, so one tenant's backlog cannot
/// starve another's. Only each tenant's first few ready tasks are considered, which keeps a
/// claim cheap however long the queue is. Due times and leases are judged by the database's
/// clock, the same for every instance.
pub async fn claim(
    conn: &mut Conn,
    owner: &str,
    limit: i64,
    grace_ms: i64,
) -> Result<Vec<Claimed>, StoreError> {
    prepared(
        diesel::sql_query(
            "WITH ready AS ( \
               SELECT x.task_id, x.tenant_id, x.priority, x.due_at, t.last_claimed_at \
               FROM tenant_turns t CROSS JOIN LATERAL ( \
                 SELECT task_id, tenant_id, priority, due_at FROM executions q \
                 WHERE q.tenant_id = t.tenant_id AND q.state = 'queued' AND q.due_at <= now() \
                 ORDER BY q.priority DESC, q.due_at LIMIT $1 * 4) x \
               UNION ALL \
               (SELECT task_id, tenant_id, priority, due_at, NULL::timestamptz FROM executions \
                WHERE state = 'running' AND lease_until < now() ORDER BY lease_until LIMIT $1) \
             ), ranked AS ( \
               SELECT task_id, priority, due_at, last_claimed_at, \
                      row_number() OVER (PARTITION BY tenant_id, priority ORDER BY due_at, task_id) AS turn \
               FROM ready \
             ), picked AS ( \
               SELECT l.task_id, l.was FROM ( \
                 SELECT task_id, priority, turn, last_claimed_at, due_at FROM ranked \
                 ORDER BY priority DESC, turn, last_claimed_at ASC NULLS FIRST, due_at) r \
               CROSS JOIN LATERAL ( \
                 SELECT e.task_id, e.state AS was FROM executions e \
                 WHERE e.task_id = r.task_id AND CASE e.state \
                   WHEN 'queued' THEN e.due_at <= now() \
                   WHEN 'running' THEN e.lease_until < now() ELSE false END \
                 FOR UPDATE SKIP LOCKED) l \
               ORDER BY r.priority DESC, r.turn, r.last_claimed_at ASC NULLS FIRST, r.due_at \
               LIMIT $1 \
             ) \
             UPDATE executions e SET state = 'running', attempt = e.attempt + 1, lease_owner = $2, \
               lease_until = now() + (e.timeout_ms + $3) * interval '1 millisecond', updated_at = now() \
             FROM picked WHERE e.task_id = picked.task_id \
             RETURNING e.task_id, e.tenant_id, e.task_type, e.priority, e.payload, e.max_attempts, \
               e.timeout_ms, e.correlation_id, e.created_event_id, e.attempt, e.traceparent, e.tracestate, \
               picked.was = 'running' AS taken_over",
        )
        .bind::<BigInt, _>(limit)
        .bind::<Text, _>(owner)
        .bind::<BigInt, _>(grace_ms),
    )
    .load(conn)
    .await
}

/// A tenant that has never had a slot: first in line.
fn never() -> diesel::expression::SqlLiteral<Timestamptz> {
    // chrono has no infinite instants, so PostgreSQL's is written out.
    sql::<Timestamptz>("'-infinity'")
}

/// Gives each of `tenants` (no repeats) a turn row if it has none. Tenants that have one (nearly
/// always) are found by a read first: `INSERT … ON CONFLICT DO NOTHING` on an existing row waits
/// for any transaction holding it — a claim noting the tenant's turn, until its commit — and that
/// wait sat between every TaskCreated and its claim (0.6 ms a batch at 100 tasks/s,
/// pg_stat_statements). A read never waits.
pub async fn ensure_turns(conn: &mut Conn, tenants: &[Uuid]) -> Result<(), StoreError> {
    let known: Vec<Uuid> = tenant_turns::table
        .filter(tenant_turns::tenant_id.eq_any(tenants))
        .select(tenant_turns::tenant_id)
        .load(conn)
        .await?;
    let rows: Vec<_> = tenants
        .iter()
        .filter(|t| !known.contains(t))
        .map(|t| {
            (
                tenant_turns::tenant_id.eq(*t),
                tenant_turns::last_claimed_at.eq(never()),
            )
        })
        .collect();
    if rows.is_empty() {
        return Ok(());
    }
    diesel::insert_into(tenant_turns::table)
        .values(rows)
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    Ok(())
}

/// Remembers when these tenants last got a slot (in the claiming transaction). Rows another
/// instance is noting at this moment are skipped (`SKIP LOCKED`): its note is as fresh, and
/// waiting for its commit would make instances claim in turn. Every tenant with work already
/// has its row (ingest creates it), so nothing is inserted here. SQL text: the builder has no
/// `UPDATE … FROM`, here over the subquery that locks the rows it can have.
pub async fn note_turns(conn: &mut Conn, tenants: &[Uuid]) -> Result<(), StoreError> {
    if tenants.is_empty() {
        return Ok(());
    }
    prepared(
        diesel::sql_query(
            // clock_timestamp(): the time at the call, not at the start of the transaction.
            "UPDATE tenant_turns t SET last_claimed_at = clock_timestamp() \
             FROM (SELECT tenant_id FROM tenant_turns WHERE tenant_id = ANY($1) \
                   FOR UPDATE SKIP LOCKED) free \
             WHERE t.tenant_id = free.tenant_id",
        )
        .bind::<diesel::sql_types::Array<diesel::sql_types::Uuid>, _>(tenants),
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// How long until something may become claimable without a wake-up: the earliest due time of
/// queued work (a retry's backoff) or lease expiry of running work (a lost instance), by the
/// database's clock. `None` when nothing waits. SQL text: one round trip needs `LEAST` of two
/// scalar subqueries and `EXTRACT(EPOCH FROM …)` of an interval, none of which the builder has.
pub async fn until_next_due(conn: &mut Conn) -> Result<Option<std::time::Duration>, StoreError> {
    let seconds: Option<f64> = prepared(diesel::select(sql::<
        diesel::sql_types::Nullable<diesel::sql_types::Double>,
    >(
        "EXTRACT(EPOCH FROM LEAST( \
           (SELECT min(due_at) FROM executions WHERE state = 'queued'), \
           (SELECT min(lease_until) FROM executions WHERE state = 'running')) - now())::float8",
    )))
    .get_result(conn)
    .await?;
    Ok(seconds.map(|s| std::time::Duration::from_secs_f64(s.max(0.0))))
}
