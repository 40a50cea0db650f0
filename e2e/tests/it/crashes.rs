use std::process::{Child, Command};
use std::time::Duration;

use rdkafka::message::OwnedHeaders;
use serde_json::json;
use taskflow_platform::EventProducer;
use taskflow_platform::codec::EventCodec;
use taskflow_schemas::Stream;

use crate::helpers::{System, read_topic, wait_until};

/// Kills the process when the test ends, whatever happened.
pub struct Process(pub Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the real binary as a separate process, so it can be killed with SIGKILL.
pub fn spawn_executor(system: &System, instance: &str) -> Process {
    spawn_executor_with(system, instance, &[])
}

pub fn spawn_executor_with(system: &System, instance: &str, extra: &[(&str, &str)]) -> Process {
    let config = system.executor_config(instance, 4);
    Command::new(crate::helpers::executor_binary())
        .envs(extra.iter().copied())
        .env("DATABASE_URL_EXECUTOR", &config.database_url)
        .env("TASKFLOW_EXECUTOR_BIND", "127.0.0.1:0")
        .env("TASKFLOW_EXECUTOR_CONCURRENCY", "4")
        .env("TASKFLOW_EXECUTOR_INSTANCE", instance)
        .env("TASKFLOW_EXECUTOR_GROUP", &config.consumer_group)
        .env("TASKFLOW_TOPIC_PREFIX", config.kafka.topics.prefix())
        .env("TASKFLOW_TASK_PARTITIONS", "3")
        .env("TASKFLOW_BACKOFF_BASE_MS", "100")
        .env("TASKFLOW_BACKOFF_CAP_MS", "400")
        .env("TASKFLOW_LEASE_GRACE_MS", "1000")
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .spawn()
        .map(Process)
        .expect("executor process")
}

/// Two executors share the work; one is killed with SIGKILL mid-batch. Its leases expire, the
/// survivor takes the tasks over, and every task still ends exactly once.
#[tokio::test(flavor = "multi_thread")]
async fn every_task_ends_exactly_once_when_an_executor_is_killed() {
    let system = System::start().await;
    let mut first = spawn_executor(&system, "ex-a");
    let _second = spawn_executor(&system, "ex-b");
    let tenant = system.tenant().await;
    let mut ids = Vec::new();
    for _ in 0..24 {
        ids.push(system.submit(&tenant, json!({"type": "sleep", "payload": {"duration_ms": 1500, "steps": 3}, "timeout_ms": 3000})).await);
    }
    wait_until(
        Duration::from_secs(60),
        "both executors to be working",
        || async {
            let attempts = system.attempts().await;
            let busy = attempts
                .iter()
                .any(|a| a.instance == "ex-a" && a.outcome.is_empty());
            let started = attempts.iter().any(|a| a.instance == "ex-b");
            (busy && started).then_some(())
        },
    )
    .await;
    first.0.kill().expect("SIGKILL");
    let _ = first.0.wait();

    for id in &ids {
        system
            .wait_status(&tenant, id, "completed", Duration::from_secs(90))
            .await;
    }
    let endings = system.endings_per_task().await;
    assert_eq!(endings.len(), ids.len());
    assert!(
        endings.iter().all(|(_, n)| *n == 1),
        "a task ended twice: {endings:?}"
    );
    let attempts = system.attempts().await;
    assert!(
        attempts.iter().any(|a| a.instance == "ex-a"),
        "the killed executor had started work"
    );
    assert!(
        attempts
            .iter()
            .all(|a| a.outcome != "lost" || a.instance == "ex-a")
    );
}

/// Undecodable records on the task topic are dead-lettered with the reason, and the tasks
/// behind them still run.
#[tokio::test(flavor = "multi_thread")]
async fn a_poison_record_is_dead_lettered_and_the_partition_keeps_flowing() {
    let system = System::start().await;
    system.executor("ex-1", 2).await;
    let codec = std::sync::Arc::new(EventCodec::new(
        &system.registry,
        system.kafka.topics.clone(),
    ));
    let producer = EventProducer::new(&system.kafka, codec).expect("producer");
    let topic = system.kafka.topics.name(Stream::TaskRequests);
    for partition_key in ["a", "b", "c", "d", "e", "f"] {
        producer
            .send_raw(
                &topic,
                Some(partition_key.as_bytes()),
                b"not an event",
                OwnedHeaders::new(),
            )
            .await
            .expect("sent");
    }
    let tenant = system.tenant().await;
    let id = system.submit(&tenant, json!({"type": "noop"})).await;
    system
        .wait_status(&tenant, &id, "completed", Duration::from_secs(60))
        .await;
    let dead_letters = system
        .kafka
        .topics
        .dead_letter(&format!("it-{}-svc-executor", system.id));
    let parked = read_topic(&system.kafka.bootstrap_servers, &dead_letters, 6).await;
    assert!(parked.iter().all(|r| r.payload == b"not an event"));
    assert!(parked.iter().all(|r| {
        r.header("taskflow.dlq.reason")
            .is_some_and(|r| r.contains("not registry-framed"))
    }));
}

/// SIGTERM: the executor stops taking work, gives the running attempt back when the drain time
/// is up, and exits; another instance runs the task to its end. The released attempt does not
/// count: a task allowed one attempt still gets a full run elsewhere.
#[tokio::test(flavor = "multi_thread")]
async fn sigterm_releases_unfinished_attempts_to_other_instances() {
    let system = System::start().await;
    let mut first = spawn_executor_with(&system, "ex-a", &[("TASKFLOW_DRAIN_MS", "300")]);
    let tenant = system.tenant().await;
    let id = system
        .submit(
            &tenant,
            json!({"type": "sleep", "payload": {"duration_ms": 4000, "steps": 4}, "max_attempts": 1}),
        )
        .await;
    system
        .wait_status(&tenant, &id, "running", Duration::from_secs(120))
        .await;
    let status = Command::new("kill")
        .arg("-TERM")
        .arg(first.0.id().to_string())
        .status()
        .expect("kill");
    assert!(status.success());
    let exited = wait_until(Duration::from_secs(20), "the executor to exit", || {
        std::future::ready(first.0.try_wait().ok().flatten())
    })
    .await;
    assert!(exited.success(), "graceful exit: {exited:?}");
    let attempts = system.attempts().await;
    assert_eq!(attempts[0].outcome, "released");

    let _second = spawn_executor(&system, "ex-b");
    let done = system
        .wait_status(&tenant, &id, "completed", Duration::from_secs(60))
        .await;
    assert_eq!(done["attempts"], 2);
    assert_eq!(system.endings_per_task().await.len(), 1);
}
