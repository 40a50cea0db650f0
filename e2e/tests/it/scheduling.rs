use std::time::Duration;

use serde_json::json;

use crate::helpers::{System, wait_until};

const WAIT: Duration = Duration::from_secs(60);

/// Occupies the executor's only slot so a backlog builds up behind it.
async fn block_the_slot(system: &System) -> String {
    let tenant = system.tenant().await;
    let blocker = system
        .submit(
            &tenant,
            json!({"type": "sleep", "payload": {"duration_ms": 1500}}),
        )
        .await;
    system.wait_status(&tenant, &blocker, "running", WAIT).await;
    blocker
}

async fn wait_for_backlog(system: &System, executions: i64) {
    wait_until(WAIT, "the executor to take in the backlog", || async {
        let mut conn = system.executor_db.get().await.expect("conn");
        let count: i64 = diesel_async::RunQueryDsl::get_result(
            diesel::select(diesel::dsl::sql::<diesel::sql_types::BigInt>(
                "(SELECT count(*) FROM executions)",
            )),
            &mut conn,
        )
        .await
        .expect("count");
        (count >= executions).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn urgent_tasks_start_before_a_backlog_of_routine_ones() {
    let system = System::start().await;
    system.executor("ex-1", 1).await;
    block_the_slot(&system).await;
    let tenant = system.tenant().await;
    let mut low = Vec::new();
    for _ in 0..4 {
        low.push(
            system
                .submit(&tenant, json!({"type": "noop", "priority": "low"}))
                .await,
        );
    }
    let normal = system.submit(&tenant, json!({"type": "noop"})).await;
    let critical = system
        .submit(&tenant, json!({"type": "noop", "priority": "critical"}))
        .await;
    let high = system
        .submit(&tenant, json!({"type": "noop", "priority": "high"}))
        .await;
    wait_for_backlog(&system, 8).await;
    for id in low.iter().chain([&normal, &critical, &high]) {
        system.wait_status(&tenant, id, "completed", WAIT).await;
    }
    let order: Vec<String> = system
        .attempts()
        .await
        .into_iter()
        .skip(1)
        .map(|a| a.task_id.to_string())
        .collect();
    assert_eq!(order[..3], [critical, high, normal]);
}

#[tokio::test(flavor = "multi_thread")]
async fn one_tenants_flood_does_not_starve_another() {
    let system = System::start().await;
    system.executor("ex-1", 1).await;
    block_the_slot(&system).await;
    let flood = system.tenant().await;
    let quiet = system.tenant().await;
    let mut flooded = Vec::new();
    for _ in 0..8 {
        flooded.push(system.submit(&flood, json!({"type": "noop"})).await);
    }
    let mine = vec![
        system.submit(&quiet, json!({"type": "noop"})).await,
        system.submit(&quiet, json!({"type": "noop"})).await,
    ];
    wait_for_backlog(&system, 11).await;
    for id in &mine {
        system.wait_status(&quiet, id, "completed", WAIT).await;
    }
    let order: Vec<String> = system
        .attempts()
        .await
        .into_iter()
        .skip(1)
        .map(|a| a.task_id.to_string())
        .collect();
    let position = |id: &String| order.iter().position(|o| o == id).expect("ran");
    assert!(
        mine.iter().all(|id| position(id) < 4),
        "the quiet tenant's tasks wait behind the flood: {order:?}"
    );
}
