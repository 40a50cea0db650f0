//! One task's events reach Kafka in the order the executor committed them, whichever instance
//! wrote them and whatever happens to the broker; and a killed instance does not stall new work
//! for longer than the consumer session timeout.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::process::Command;
use std::time::{Duration, Instant};

use diesel::QueryableByName;
use diesel::sql_types::{Text, Uuid as SqlUuid};
use diesel_async::RunQueryDsl;
use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use serde_json::json;
use taskflow_schemas::Stream;
use uuid::Uuid;

use crate::crashes::spawn_executor;
use crate::helpers::{System, wait_until};

#[derive(QueryableByName)]
struct OutboxEntry {
    #[diesel(sql_type = SqlUuid)]
    event_id: Uuid,
    #[diesel(sql_type = Text)]
    task_id: String,
    #[diesel(sql_type = Text)]
    event_type: String,
}

/// What the executor publishes per task, in commit order (row id): its outbox without dead
/// letters and internal rows.
async fn committed_order(system: &System) -> BTreeMap<String, Vec<(Uuid, String)>> {
    let mut conn = system.executor_db.get().await.expect("conn");
    let rows: Vec<OutboxEntry> = diesel::sql_query(
        "SELECT event_id, body->>'task_id' AS task_id, event_type FROM outbox \
         WHERE destination IS NULL AND NOT internal ORDER BY id",
    )
    .load(&mut conn)
    .await
    .expect("outbox");
    let mut per_task: BTreeMap<String, Vec<(Uuid, String)>> = BTreeMap::new();
    for row in rows {
        per_task
            .entry(row.task_id)
            .or_default()
            .push((row.event_id, row.event_type));
    }
    per_task
}

async fn count(system: &System, sql: &str) -> i64 {
    #[derive(QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let mut conn = system.executor_db.get().await.expect("conn");
    diesel::sql_query(sql)
        .get_result::<N>(&mut conn)
        .await
        .expect("count")
        .n
}

/// Reads `topic` from the start with a plain consumer until every id in `expected` was seen;
/// returns the event ids per key in the order their first copy sits on the topic.
async fn first_copies(
    bootstrap: &str,
    topic: &str,
    expected: &HashSet<Uuid>,
) -> HashMap<String, Vec<Uuid>> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", format!("it-order-{}", Uuid::new_v4().simple()))
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    consumer.subscribe(&[topic]).expect("subscribe");
    let mut seen = HashSet::new();
    let mut per_key: HashMap<String, Vec<Uuid>> = HashMap::new();
    wait_until(
        Duration::from_secs(60),
        "every committed event on the topic",
        || {
            while let Some(Ok(m)) = consumer.poll(Duration::from_millis(100)) {
                let key = String::from_utf8_lossy(m.key().unwrap_or_default()).into_owned();
                let event_id = m.headers().and_then(|h| {
                    h.iter()
                        .find(|h| h.key == "event_id")
                        .and_then(|h| h.value)
                        .and_then(|v| std::str::from_utf8(v).ok())
                        .and_then(|v| v.parse::<Uuid>().ok())
                });
                if let Some(event_id) = event_id
                    && seen.insert(event_id)
                {
                    per_key.entry(key).or_default().push(event_id);
                }
            }
            std::future::ready(expected.is_subset(&seen).then_some(()))
        },
    )
    .await;
    per_key
}

/// The checkout under test: nextest runs tests in the package's folder (e2e) of the
/// workspace it was started in; the compile-time path is only the fallback.
fn repo_root() -> std::path::PathBuf {
    let is_root = |p: &std::path::Path| p.join("deploy/up.sh").is_file();
    std::env::current_dir()
        .ok()
        .and_then(|dir| {
            dir.ancestors()
                .find(|p| is_root(p))
                .map(|p| p.to_path_buf())
        })
        .unwrap_or_else(|| {
            // e2e → the repository root
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .ancestors()
                .nth(1)
                .expect("repository root")
                .to_path_buf()
        })
}

/// kill -9 of the broker `make up` started, then the same start `make up` does.
fn restart_broker() {
    let pidfile = repo_root().join(".taskflow/run/kafka.pid");
    let text = std::fs::read_to_string(&pidfile).expect("kafka pidfile (run under `make test`)");
    let pid = text.split_whitespace().next().expect("pid").to_owned();
    let killed = Command::new("kill")
        .args(["-9", &pid])
        .status()
        .expect("kill");
    assert!(killed.success(), "kill -9 kafka ({pid})");
    let proc_dir = std::path::Path::new("/proc").join(&pid);
    let deadline = Instant::now() + Duration::from_secs(30);
    while proc_dir.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let started = Command::new(repo_root().join("deploy/up.sh"))
        .arg("kafka")
        .status()
        .expect("deploy/up.sh kafka");
    assert!(started.success(), "kafka restarted");
}

/// Three executor processes (three producers, three relays over one outbox) run tasks with
/// retries and progress while the broker is killed with -9 and restarted. A plain consumer then
/// reads the lifecycle topic: for every task the first copy of each event sits in the order the
/// executor committed it (duplicates after a broker fault are allowed; consumers drop them by
/// event id). Runs on its own (`make test` runs it after the others) because it restarts the
/// shared broker.
#[tokio::test(flavor = "multi_thread")]
async fn each_tasks_events_reach_the_topic_in_commit_order_under_a_broker_restart() {
    let system = System::start().await;
    let _a = spawn_executor(&system, "ord-a");
    let _b = spawn_executor(&system, "ord-b");
    let _c = spawn_executor(&system, "ord-c");
    let tenant = system.tenant().await;
    let tasks = 60;
    for i in 0..tasks {
        let body = if i % 2 == 0 {
            json!({"type": "sleep", "payload": {"duration_ms": 600, "steps": 3}})
        } else {
            json!({"type": "fail", "payload": {"retryable": true}, "max_attempts": 3})
        };
        system.submit(&tenant, body).await;
    }
    wait_until(Duration::from_secs(60), "work under way", || async {
        (count(&system, "SELECT count(*) AS n FROM attempts").await >= 12).then_some(())
    })
    .await;
    tokio::task::spawn_blocking(restart_broker)
        .await
        .expect("restart");
    wait_until(Duration::from_secs(240), "every task to end", || async {
        let ended = count(
            &system,
            "SELECT count(*) AS n FROM executions WHERE state IN ('completed', 'failed')",
        )
        .await;
        (ended == tasks).then_some(())
    })
    .await;
    wait_until(Duration::from_secs(120), "the outbox to drain", || async {
        (count(&system, "SELECT count(*) AS n FROM outbox_unpublished").await == 0).then_some(())
    })
    .await;

    let committed = committed_order(&system).await;
    let expected: HashSet<Uuid> = committed.values().flatten().map(|(id, _)| *id).collect();
    let topic = system.kafka.topics.name(Stream::TaskExecution);
    let on_topic = first_copies(&system.kafka.bootstrap_servers, &topic, &expected).await;
    let mut out_of_order = Vec::new();
    for (task, events) in &committed {
        let ids: Vec<Uuid> = events.iter().map(|(id, _)| *id).collect();
        if on_topic.get(task) != Some(&ids) {
            out_of_order.push((task.clone(), events.clone(), on_topic.get(task).cloned()));
        }
    }
    eprintln!(
        "order check: {} tasks, {} events, {} out of order",
        committed.len(),
        expected.len(),
        out_of_order.len()
    );
    assert_eq!(committed.len() as i64, tasks);
    assert!(
        expected.len() as i64 >= tasks * 5,
        "multi-event tasks: {} events",
        expected.len()
    );
    assert!(out_of_order.is_empty(), "out of order: {out_of_order:#?}");
}

/// Members of `group` once it is stable (no rebalance under way).
fn group_members(system: &System, group: &str) -> Option<usize> {
    let client: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &system.kafka.bootstrap_servers)
        .create()
        .expect("client");
    let groups = client
        .fetch_group_list(Some(group), Duration::from_secs(5))
        .ok()?;
    let info = groups.groups().first()?;
    (info.state() == "Stable").then(|| info.members().len())
}

/// An executor killed with -9 keeps its partitions only until the group notices it is gone
/// (the session timeout, 10 s): tasks submitted right after the kill all run within seconds,
/// not after Kafka's default 45 s.
#[tokio::test(flavor = "multi_thread")]
async fn a_killed_executor_stalls_new_work_only_for_seconds() {
    let system = System::start().await;
    let mut doomed = spawn_executor(&system, "stall-a");
    let _survivor = spawn_executor(&system, "stall-b");
    let tenant = system.tenant().await;
    let group = format!("it-{}-svc-executor", system.id);
    wait_until(
        Duration::from_secs(60),
        "both executors in the group",
        || std::future::ready((group_members(&system, &group) == Some(2)).then_some(())),
    )
    .await;
    // Work flows before the kill.
    let warmup = system.submit(&tenant, json!({"type": "noop"})).await;
    system
        .wait_status(&tenant, &warmup, "completed", Duration::from_secs(60))
        .await;
    doomed.0.kill().expect("SIGKILL");
    let _ = doomed.0.wait();
    let killed_at = Instant::now();
    let mut ids = Vec::new();
    for _ in 0..12 {
        ids.push(system.submit(&tenant, json!({"type": "noop"})).await);
    }
    // 10 s to notice the dead member, a rebalance, and the work itself: 25 s is well below the
    // 45-50 s that Kafka's default session timeout cost.
    for id in &ids {
        system
            .wait_status(&tenant, id, "completed", Duration::from_secs(25))
            .await;
    }
    eprintln!(
        "all work submitted after the kill done {:.1} s after it",
        killed_at.elapsed().as_secs_f64()
    );
}
