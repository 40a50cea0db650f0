//! The claim and the completer run as statements PostgreSQL prepares once per connection
//! (`taskflow_platform::db::prepared`), and the claim's plan stays right when PostgreSQL runs its
//! generic plan: it takes the ranked work and locks nothing else.

use diesel_async::RunQueryDsl;
use svc_executor::store;
use uuid::Uuid;

use crate::helpers::{completed, count, queued_execution, store_only};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claims_and_outcomes_are_prepared_once_and_right_under_a_generic_plan() {
    let pool = store_only("exec_prepared").await;
    let mut conn = pool.get().await.expect("conn");
    // What PostgreSQL runs after a few executions of a prepared statement, from the first one.
    diesel::sql_query("SET plan_cache_mode = force_generic_plan")
        .execute(&mut conn)
        .await
        .expect("generic plans");
    let tasks: Vec<Uuid> = (0..6).map(|_| Uuid::now_v7()).collect();
    let queued: Vec<_> = tasks.iter().map(|t| queued_execution(*t, 1)).collect();
    store::insert_executions(&mut conn, &queued)
        .await
        .expect("queued");

    let mut claimed = Vec::new();
    for _ in 0..3 {
        let batch = store::claim(&mut conn, "it", 2, 0).await.expect("claim");
        assert_eq!(batch.len(), 2, "each claim takes what it asks for");
        let outcomes: Vec<_> = batch.iter().map(|c| completed(c.task_id, 1)).collect();
        let counted = store::finish_all(&mut conn, "it", &outcomes)
            .await
            .expect("finish");
        assert_eq!(counted, vec![true, true]);
        claimed.extend(batch.into_iter().map(|c| c.task_id));
    }
    claimed.sort();
    let mut expected = tasks.clone();
    expected.sort();
    assert_eq!(claimed, expected, "every task claimed once");
    assert!(
        store::claim(&mut conn, "it", 2, 0)
            .await
            .expect("claim")
            .is_empty()
    );

    // One named statement each, reused by every call on this connection: diesel's own
    // `sql_query` would leave none (an unnamed statement, parsed and planned every call).
    for (what, start) in [
        ("claim", "WITH ready AS"),
        ("completer", "UPDATE executions e SET state = v.state"),
    ] {
        let n = count(
            &mut conn,
            &format!(
                "SELECT count(*) AS n FROM pg_prepared_statements \
                 WHERE statement LIKE '{start}%'"
            ),
        )
        .await;
        assert_eq!(n, 1, "the {what} is prepared once on this connection");
    }
}
