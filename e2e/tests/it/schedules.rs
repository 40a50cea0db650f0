//! svc-scheduler beside the real svc-tasks and executor: a one-second schedule runs real tasks,
//! each instant exactly once, even with two scheduler instances, and the tasks say which
//! schedule made them.

use std::collections::HashSet;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use svc_scheduler::config::SchedulerConfig;
use svc_scheduler::startup::Application as Scheduler;
use taskflow_platform::testing::new_database;
use uuid::Uuid;

use crate::helpers::{System, Tenant, wait_until};

pub async fn start_scheduler(system: &System, database_url: &str) -> String {
    let scheduler = Scheduler::build(SchedulerConfig {
        bind: "127.0.0.1:0".into(),
        workers: 1,
        database_url: database_url.to_owned(),
        db_pool_size: 6,
        consumer_group: format!("it-{}-svc-scheduler", system.id),
        max_per_second: 1.0,
        retention: std::time::Duration::from_secs(720 * 3600),
        maintenance: Default::default(),
        admin_token: Default::default(),
        kafka: system.kafka.clone(),
        registry: system.registry.clone(),
    })
    .await
    .expect("svc-scheduler");
    let url = format!("http://127.0.0.1:{}", scheduler.port());
    tokio::spawn(scheduler.run_until_stopped());
    url
}

/// A database of its own for this test's schedulers.
pub async fn scheduler_database(system: &System) -> String {
    new_database(&format!("it_sched_{}", system.id)).await
}

/// Waits until the scheduler at `url` knows `key` (it learns keys from svc-tasks' key events).
pub async fn wait_for_key(http: &reqwest::Client, url: &str, key: &str) {
    wait_until(
        Duration::from_secs(60),
        "the scheduler to know the tenant's key",
        || async {
            let status = http
                .get(format!("{url}/v1/schedules"))
                .bearer_auth(key)
                .send()
                .await
                .ok()?
                .status();
            (status == StatusCode::OK).then_some(())
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_one_second_schedule_runs_real_tasks_once_per_instant_with_two_schedulers() {
    let system = System::start().await;
    system.executor("executor-1", 8).await;
    let database_url = scheduler_database(&system).await;
    let first = start_scheduler(&system, &database_url).await;
    let _second = start_scheduler(&system, &database_url).await;
    let tenant: Tenant = system.tenant().await;
    let http = reqwest::Client::new();
    wait_for_key(&http, &first, &tenant.key).await;
    let created: Value = http
        .post(format!("{first}/v1/schedules"))
        .bearer_auth(&tenant.key)
        .json(&json!({
            "name": "heartbeat",
            "task": {"type": "noop", "payload": {}, "labels": {"from": "schedule"}},
            "spec": {"every": "PT1S"},
        }))
        .send()
        .await
        .expect("create")
        .json()
        .await
        .expect("json");
    let schedule_id = created["id"].as_str().expect("id").to_owned();

    // Tasks appear in svc-tasks and complete; each names its schedule.
    let tasks = wait_until(
        Duration::from_secs(60),
        "5 completed scheduled tasks",
        || async {
            let page: Value = http
                .get(format!(
                    "{}/v1/tasks?status=completed&limit=100",
                    system.api
                ))
                .bearer_auth(&tenant.key)
                .send()
                .await
                .ok()?
                .json()
                .await
                .ok()?;
            let items = page["tasks"].as_array()?.clone();
            (items.len() >= 5).then_some(items)
        },
    )
    .await;
    let mut seen = HashSet::new();
    for task in &tasks {
        assert_eq!(task["schedule_id"], schedule_id.as_str(), "{task}");
        assert!(seen.insert(task["id"].as_str().expect("id").to_owned()));
    }
    let occurrences: Value = http
        .get(format!(
            "{first}/v1/schedules/{schedule_id}/occurrences?limit=500"
        ))
        .bearer_auth(&tenant.key)
        .send()
        .await
        .expect("occurrences")
        .json()
        .await
        .expect("json");
    let triggered: Vec<&Value> = occurrences["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|o| o["outcome"] == "triggered")
        .collect();
    let task_ids: HashSet<Uuid> = triggered
        .iter()
        .filter_map(|o| o["task_id"].as_str()?.parse().ok())
        .collect();
    assert_eq!(task_ids.len(), triggered.len(), "one task per instant");
    for task in &tasks {
        let id: Uuid = task["id"].as_str().expect("id").parse().expect("uuid");
        assert!(task_ids.contains(&id), "every task is one instant's");
    }
}

/// Two schedulers fire one schedule; one of them is killed with SIGKILL while it fires. The
/// other carries on, and every instant still becomes exactly one task.
#[tokio::test(flavor = "multi_thread")]
async fn killing_one_of_two_schedulers_loses_and_doubles_no_instant() {
    let system = System::start().await;
    system.executor("executor-1", 8).await;
    let database_url = scheduler_database(&system).await;
    let survivor = start_scheduler(&system, &database_url).await;
    let mut doomed = crate::crashes::Process(
        std::process::Command::new(crate::helpers::service_binary("svc-scheduler"))
            .env("DATABASE_URL_SCHEDULER", &database_url)
            .env("TASKFLOW_SCHEDULER_BIND", "127.0.0.1:0")
            .env(
                "TASKFLOW_SCHEDULER_GROUP",
                format!("it-{}-svc-scheduler", system.id),
            )
            .env("TASKFLOW_TOPIC_PREFIX", system.kafka.topics.prefix())
            .env("TASKFLOW_TASK_PARTITIONS", "3")
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("scheduler process"),
    );
    let tenant: Tenant = system.tenant().await;
    let http = reqwest::Client::new();
    wait_for_key(&http, &survivor, &tenant.key).await;
    let created: Value = http
        .post(format!("{survivor}/v1/schedules"))
        .bearer_auth(&tenant.key)
        .json(&json!({
            "name": "tick",
            "task": {"type": "noop", "payload": {}},
            "spec": {"every": "PT1S"},
            "overlap": "allow_all",
        }))
        .send()
        .await
        .expect("create")
        .json()
        .await
        .expect("json");
    let id = created["id"].as_str().expect("id").to_owned();
    let occurrences = async |at_least: usize| {
        wait_until(
            Duration::from_secs(60),
            &format!("{at_least} occurrences"),
            || async {
                let page: Value = http
                    .get(format!(
                        "{survivor}/v1/schedules/{id}/occurrences?limit=500"
                    ))
                    .bearer_auth(&tenant.key)
                    .send()
                    .await
                    .ok()?
                    .json()
                    .await
                    .ok()?;
                let items = page["items"].as_array()?.clone();
                (items.len() >= at_least).then_some(items)
            },
        )
        .await
    };
    occurrences(8).await;
    doomed.0.kill().expect("SIGKILL");
    let rows = occurrences(25).await;

    let mut instants: Vec<chrono::DateTime<chrono::Utc>> = rows
        .iter()
        .map(|o| {
            o["nominal_time"]
                .as_str()
                .expect("time")
                .parse()
                .expect("rfc3339")
        })
        .collect();
    instants.sort_unstable();
    assert!(
        instants
            .windows(2)
            .all(|w| (w[1] - w[0]).num_milliseconds() == 1_000),
        "each second once across the kill: {instants:?}"
    );
    let task_ids: HashSet<String> = rows
        .iter()
        .filter_map(|o| o["task_id"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(
        task_ids.len(),
        rows.len(),
        "every instant triggered, each its own task"
    );
    let tasks = wait_until(
        Duration::from_secs(60),
        "every instant's task in svc-tasks",
        || async {
            let page: Value = http
                .get(format!("{}/v1/tasks?limit=500", system.api))
                .bearer_auth(&tenant.key)
                .send()
                .await
                .ok()?
                .json()
                .await
                .ok()?;
            let ids: HashSet<String> = page["tasks"]
                .as_array()?
                .iter()
                .filter_map(|t| t["id"].as_str().map(str::to_owned))
                .collect();
            task_ids
                .is_subset(&ids)
                .then_some(page["tasks"].as_array()?.len())
        },
    )
    .await;
    assert!(tasks >= task_ids.len());
}
