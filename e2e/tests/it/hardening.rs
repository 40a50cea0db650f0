//! `make up` lets `http` tasks reach loopback so developers can call local test servers — but
//! only on the ports it lists (18200-18299, deploy/up.d/60-svc-executor.sh), never the
//! platform's own: a task cannot talk to the schema registry (which accepts deletes), the
//! brokers or the services' endpoints.

use std::time::Duration;

use serde_json::json;
use svc_executor::startup::Application as Executor;

use crate::helpers::System;

#[tokio::test(flavor = "multi_thread")]
async fn an_http_task_cannot_reach_the_schema_registry_in_a_dev_setup() {
    let system = System::start().await;
    let mut config = system.executor_config("executor-1", 4);
    // What `make up` gives its executors.
    config.allow_loopback = true;
    config.loopback_ports = "18200-18299".parse().expect("ports");
    let executor = Executor::build(config).await.expect("executor");
    tokio::spawn(executor.run_until_stopped());
    let tenant = system.tenant().await;

    let registry = std::env::var("SCHEMA_REGISTRY_URL").expect("run the tests with `make test`");
    let id = system
        .submit(
            &tenant,
            json!({
                "type": "http",
                "payload": {"url": format!("{registry}/subjects"), "method": "DELETE"},
                "max_attempts": 3,
            }),
        )
        .await;
    let task = system
        .wait_status(&tenant, &id, "failed", Duration::from_secs(60))
        .await;
    let error = task["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("refused") && error.contains("is not one tasks may reach"),
        "{task}"
    );
    assert_eq!(task["attempts"], 1, "refused for good, not retried: {task}");
}
