//! The compacted `taskflow.tasks.state.v1`: a change of a task's status, attempts or cancel flag
//! puts its whole current state there (changes between two state-relay passes as one record),
//! keyed by task id, so a reader that keeps the last record per key has every task's current
//! state without replaying history.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::json;
use taskflow_platform::codec::EventCodec;
use taskflow_schemas::samples::sample_meta;
use taskflow_schemas::{
    Event, EventMeta, Stream, TaskCompleted, TaskProgressUpdated, TaskStarted, TaskState,
};
use uuid::Uuid;

use crate::helpers::{TestApp, drain_topic, json_of, noop, wait_until};

/// Every state record on the topic so far, in topic order.
async fn states(app: &TestApp) -> Vec<TaskState> {
    let codec = EventCodec::new(&app.registry, app.kafka.topics.clone());
    let mut states = Vec::new();
    for record in drain_topic(&app.kafka.bootstrap_servers, &app.topic(Stream::TaskStates)).await {
        let Event::TaskState(state) = codec.decode(Some(&record.payload)).await.expect("event")
        else {
            panic!("only TaskState on the state topic");
        };
        assert_eq!(record.key, Some(state.task_id.to_string().into_bytes()));
        states.push(state);
    }
    states
}

#[tokio::test(flavor = "multi_thread")]
async fn each_state_change_puts_the_tasks_whole_state_on_the_compacted_topic() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant().await;
    let mut body = noop();
    body["labels"] = json!({"team": "data"});
    let task = json_of(app.submit(&tenant, &body, None).await).await;
    let task_id: Uuid = task["id"].as_str().expect("id").parse().expect("uuid");

    // The state relay publishes within about half a second.
    let created = wait_until(Duration::from_secs(30), "the created state", || async {
        let all = states(&app).await;
        (!all.is_empty()).then_some(all)
    })
    .await;
    assert_eq!(created.len(), 1, "{created:?}");
    let first = &created[0];
    assert_eq!((first.task_id, first.status.as_str()), (task_id, "pending"));
    assert_eq!(first.meta.tenant_id, tenant.id);
    assert_eq!(first.task_type, "noop");
    assert_eq!(first.labels["team"], "data");
    assert_eq!(first.version, 1);
    assert_eq!(first.attempts, 0);

    let meta = || EventMeta {
        tenant_id: tenant.id,
        ..sample_meta()
    };
    let producer = app.producer();
    for event in [
        Event::from(TaskStarted {
            meta: meta(),
            task_id,
            attempt: 1,
            instance: "ex-1".into(),
        }),
        TaskProgressUpdated {
            meta: meta(),
            task_id,
            attempt: 1,
            percent: 50,
            message: None,
        }
        .into(),
        TaskCompleted {
            meta: meta(),
            task_id,
            attempt: 1,
            result_json: None,
            duration_ms: 7,
        }
        .into(),
    ] {
        producer.publish(&event).await.expect("published");
    }
    let done = wait_until(Duration::from_secs(30), "the completed state", || async {
        let all = states(&app).await;
        all.last()
            .is_some_and(|s| s.status == "completed")
            .then_some(all)
    })
    .await;
    // The last record per key is the task's state now.
    let latest: HashMap<Uuid, &TaskState> = done.iter().map(|s| (s.task_id, s)).collect();
    let now = latest[&task_id];
    assert_eq!(now.attempts, 1);
    assert_eq!(now.version, 4, "created, started, progress, completed");
    assert!(now.started_at.is_some() && now.finished_at.is_some());
    let view = json_of(app.get(&tenant, &format!("/v1/tasks/{task_id}")).await).await;
    assert_eq!(view["status"], now.status.as_str());
    // At most one record per state change (progress alone publishes none); versions only grow.
    assert!(done.len() <= 3, "{done:?}");
    assert!(
        done.windows(2).all(|w| w[0].version < w[1].version),
        "{done:?}"
    );
}
