//! Executors as separate processes (`spawn_executor`, which `ordering.rs` kills and whose broker
//! it restarts), and poison on the task topic behind svc-tasks' real work. A killed executor's
//! takeover and SIGTERM's release are tested beside the executor, in
//! `svc-executor/tests/it/crashes.rs`.

use std::process::{Child, Command};
use std::time::Duration;

use rdkafka::message::OwnedHeaders;
use serde_json::json;
use taskflow_platform::EventProducer;
use taskflow_platform::codec::EventCodec;
use taskflow_schemas::Stream;

use crate::helpers::{System, read_topic};

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
    let config = system.executor_config(instance, 4);
    Command::new(crate::helpers::executor_binary())
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
