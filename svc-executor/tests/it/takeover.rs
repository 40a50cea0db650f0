//! The completer's guarded update when one batch carries two outcomes of one task: the attempt
//! that outlived its lease and the attempt that took it over on the same instance (found by
//! the chaos judge after a PostgreSQL crash: both were recorded, the task ended twice). Played
//! on the store directly, against the real database, so the interleaving is exact.

use chrono::Utc;
use diesel_async::RunQueryDsl;
use svc_executor::store;
use uuid::Uuid;

use crate::helpers::{AttemptRow, completed, queued_execution, store_only};

const OWNER: &str = "it-takeover";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_two_outcomes_of_one_task_in_a_batch_only_the_current_attempts_counts() {
    let pool = store_only("exec_takeover").await;
    let mut conn = pool.get().await.expect("conn");
    let task_id = Uuid::now_v7();
    store::insert_executions(&mut conn, &[queued_execution(task_id, 3)])
        .await
        .expect("queued");

    let first = store::claim(&mut conn, OWNER, 1, 0).await.expect("claim");
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].attempt, 1);
    // Attempt 1 outlives its lease; this instance takes it over as attempt 2, as the claimer
    // does (attempt 1 logged as lost in the same transaction).
    diesel::sql_query("UPDATE executions SET lease_until = now() - interval '1 second'")
        .execute(&mut conn)
        .await
        .expect("lease expired");
    let second = store::claim(&mut conn, OWNER, 1, 0).await.expect("claim");
    assert_eq!(second.len(), 1);
    assert_eq!(second[0].attempt, 2, "taken over");
    assert!(second[0].taken_over, "claimed from an expired lease");
    assert!(!first[0].taken_over, "claimed from the queue");
    store::end_lost_attempts(&mut conn, &[(task_id, 2)])
        .await
        .expect("attempt 1 lost");

    let counted = store::finish_all(
        &mut conn,
        OWNER,
        &[completed(task_id, 1), completed(task_id, 2)],
    )
    .await
    .expect("outcomes recorded");
    assert_eq!(
        counted,
        vec![false, true],
        "only the attempt holding the lease ends the task"
    );
    // Attempt 2's ending is its event (the caller announces counted outcomes); attempt 1 has
    // none, and is recorded as lost.
    let interrupted: Vec<AttemptRow> = diesel::sql_query(
        "SELECT at AS started_at, outcome FROM attempt_interruptions WHERE task_id = $1 \
         ORDER BY attempt",
    )
    .bind::<diesel::sql_types::Uuid, _>(task_id)
    .load(&mut conn)
    .await
    .expect("interruptions");
    let outcomes: Vec<Option<&str>> = interrupted.iter().map(|a| a.outcome.as_deref()).collect();
    assert_eq!(
        outcomes,
        vec![Some("lost")],
        "the lost attempt stays lost in the log"
    );
    assert!(interrupted.iter().all(|a| a.started_at <= Utc::now()));
}
