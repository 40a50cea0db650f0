//! Recording many attempts' outcomes at once: the completer's two statements, written as SQL
//! text for the same reason as the claim (see `claim.rs`): each is an `UPDATE … FROM` over the
//! batch (`unnest` of parallel arrays), which diesel's query builder cannot express; one
//! statement per batch instead of one per outcome is what keeps a busy executor's PostgreSQL
//! work small. The state literal is `ExecutionState::Running`'s text form (partial indexes).
//! Its text is the same for any batch size, so it is [`prepared`] once per connection.

use chrono::{DateTime, Utc};
use diesel::QueryableByName;
use diesel::sql_types::{Array, Bool, Integer, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::RunQueryDsl;
use taskflow_platform::db::prepared;
use uuid::Uuid;

use super::{Conn, StoreError};
use crate::domain::AttemptOutcome;
use crate::domain::execution::{Due, Move};

/// One attempt's end, as the completer records it.
#[derive(Debug, Clone)]
pub struct Outcome<'a> {
    pub task_id: Uuid,
    pub attempt: i32,
    pub change: Move,
    pub outcome: AttemptOutcome,
    pub error: Option<&'a str>,
}

#[derive(QueryableByName, PartialEq, Eq)]
struct Finished {
    #[diesel(sql_type = SqlUuid)]
    task_id: Uuid,
    #[diesel(sql_type = Integer)]
    attempt: i32,
}

/// Applies every outcome whose attempt `owner` still holds (the guard: same attempt, same
/// lease owner, still running); the caller announces the counted ones, which ends their
/// attempts in the log. Returns, in the order of
/// `outcomes`, whether each counted; the others lost their lease meanwhile and changed nothing.
///
/// One batch can hold two outcomes of the same task: an attempt that outlived its lease (its
/// instance stalled, or the database was away) and the attempt that took it over, when both
/// end at about the same time on this instance. A row is updated at most once per statement,
/// by the current attempt's outcome; an outcome counts only when its own attempt is the one
/// returned, never merely its task.
pub async fn finish_all(
    conn: &mut Conn,
    owner: &str,
    outcomes: &[Outcome<'_>],
) -> Result<Vec<bool>, StoreError> {
    if outcomes.is_empty() {
        return Ok(Vec::new());
    }
    let task_ids: Vec<Uuid> = outcomes.iter().map(|o| o.task_id).collect();
    let attempts: Vec<i32> = outcomes.iter().map(|o| o.attempt).collect();
    let states: Vec<&str> = outcomes.iter().map(|o| o.change.to.as_str()).collect();
    let due_now: Vec<bool> = outcomes
        .iter()
        .map(|o| matches!(o.change.due, Due::Now))
        .collect();
    let due_at: Vec<Option<DateTime<Utc>>> = outcomes
        .iter()
        .map(|o| match o.change.due {
            Due::At(at) => Some(at),
            Due::Now | Due::Unchanged => None,
        })
        .collect();
    let finished: Vec<Finished> = prepared(
        diesel::sql_query(
            "UPDATE executions e SET state = v.state, lease_owner = NULL, lease_until = NULL, \
               due_at = CASE WHEN v.due_now THEN now() ELSE COALESCE(v.due_at, e.due_at) END, \
               updated_at = now() \
             FROM (SELECT unnest($1::uuid[]) AS task_id, unnest($2::int[]) AS attempt, \
                          unnest($3::text[]) AS state, unnest($4::bool[]) AS due_now, \
                          unnest($5::timestamptz[]) AS due_at) v \
             WHERE e.task_id = v.task_id AND e.attempt = v.attempt AND e.lease_owner = $6 \
               AND e.state = 'running' \
             RETURNING e.task_id, e.attempt",
        )
        .bind::<Array<SqlUuid>, _>(&task_ids)
        .bind::<Array<Integer>, _>(&attempts)
        .bind::<Array<Text>, _>(&states)
        .bind::<Array<Bool>, _>(&due_now)
        .bind::<Array<Nullable<Timestamptz>>, _>(&due_at)
        .bind::<Text, _>(owner),
    )
    .load(conn)
    .await?;
    let counted: Vec<bool> = outcomes
        .iter()
        .map(|o| {
            finished.contains(&Finished {
                task_id: o.task_id,
                attempt: o.attempt,
            })
        })
        .collect();
    Ok(counted)
}
