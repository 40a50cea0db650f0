use std::collections::HashMap;
use std::time::Duration;

use taskflow_schemas::TaskStarted;
use uuid::Uuid;

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread")]
async fn live_events_arrive_numbered_without_gaps_and_in_each_tasks_order() {
    let app = TestNotify::spawn().await;
    let tenant = app.tenant().await;
    let mut stream = open_stream(&app, "/v1/stream", Some(&tenant.key)).await;
    let a = app.task_life(&tenant, 5, true).await;
    let b = app.task_life(&tenant, 5, true).await;
    // Two tasks × (created, started, 5 progress, completed).
    let events = stream.tasks(16).await;
    let seqs: Vec<i64> = events.iter().map(|e| e.id.expect("id")).collect();
    let first = seqs[0];
    assert_eq!(
        seqs,
        (first..first + 16).collect::<Vec<_>>(),
        "ids are the tenant's sequence, gap-free"
    );
    let mut per_task: HashMap<String, Vec<String>> = HashMap::new();
    for e in &events {
        assert_eq!(e.data["seq"], e.id.expect("id"));
        assert_eq!(e.data["kind"], "task");
        per_task
            .entry(e.data["task_id"].as_str().expect("task").to_owned())
            .or_default()
            .push(e.data["event_type"].as_str().expect("type").to_owned());
    }
    for task in [a, b] {
        let types = &per_task[&task.to_string()];
        assert_eq!(types.first().map(String::as_str), Some("TaskCreated"));
        assert_eq!(types.last().map(String::as_str), Some("TaskCompleted"));
        assert_eq!(types.len(), 8);
    }
    let last = events
        .iter()
        .rfind(|e| e.data["task_id"] == a.to_string())
        .expect("a's last");
    assert_eq!(last.data["status"], "completed");
    assert_eq!(last.data["previous_status"], "running");
    assert_eq!(last.data["labels"]["team"], "core");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_task_stream_tells_the_whole_story_then_ends_and_a_reconnect_is_told_no_more() {
    let app = TestNotify::spawn().await;
    let tenant = app.tenant().await;
    let task = app.task_life(&tenant, 2, false).await;
    app.known(&tenant, task, 4).await;
    let mut stream =
        open_stream(&app, &format!("/v1/tasks/{task}/stream"), Some(&tenant.key)).await;
    let replayed = stream.tasks(4).await;
    assert_eq!(replayed[0].data["event_type"], "TaskCreated");
    app.publish(&[taskflow_schemas::TaskCompleted {
        meta: meta(tenant.id),
        task_id: task,
        attempt: 1,
        result_json: None,
        duration_ms: 1,
    }
    .into()])
        .await;
    let done = stream.tasks(1).await;
    assert_eq!(done[0].data["status"], "completed");
    let end = stream.next().await.expect("an end event");
    assert_eq!(end.event, "end");
    assert_eq!(end.data["reason"], "task-ended");
    assert!(stream.next().await.is_none(), "the stream closes");

    let again = app
        .http
        .get(app.url(&format!("/v1/tasks/{task}/stream")))
        .bearer_auth(&tenant.key)
        .header("Last-Event-ID", done[0].id.expect("id").to_string())
        .send()
        .await
        .expect("request");
    assert_eq!(
        again.status(),
        reqwest::StatusCode::NO_CONTENT,
        "204 stops EventSource from reconnecting forever"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn filters_pick_what_a_client_asked_for() {
    let app = TestNotify::spawn().await;
    let tenant = app.tenant().await;
    let mut completed = open_stream(&app, "/v1/stream?status=completed", Some(&tenant.key)).await;
    let mut labelled = open_stream(
        &app,
        "/v1/stream?label=team:core&type=sleep",
        Some(&tenant.key),
    )
    .await;
    let mut other_label = open_stream(&app, "/v1/stream?label=team:else", Some(&tenant.key)).await;
    let task = app.task_life(&tenant, 1, true).await;
    let done = completed.tasks(1).await;
    assert_eq!(done[0].data["task_id"], task.to_string());
    assert_eq!(done[0].data["event_type"], "TaskCompleted");
    assert_eq!(labelled.tasks(4).await.len(), 4);
    // Nothing for the other label: the next thing it sees is a keep-alive or nothing at all.
    let quiet = tokio::time::timeout(Duration::from_millis(500), other_label.next()).await;
    assert!(quiet.is_err(), "no events match label team:else");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_quiet_stream_gets_keep_alive_comments() {
    let app = TestNotify::spawn_with(|c| c.keepalive = Duration::from_millis(200)).await;
    let tenant = app.tenant().await;
    let mut stream = open_stream(&app, "/v1/stream", Some(&tenant.key)).await;
    let task = app.task_life(&tenant, 0, false).await;
    let got = stream.tasks(2).await;
    assert_eq!(got[0].data["task_id"], task.to_string());
    assert!(
        stream.comments >= 1,
        "the opening comment at least; keep-alives follow"
    );
    let before = stream.comments;
    stream.wait_comments(before + 2).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reader_that_falls_behind_is_cut_off_and_resumes_from_history() {
    let app = TestNotify::spawn_with(|c| c.client_buffer = 16).await;
    let tenant = app.tenant().await;
    let response = app
        .http
        .get(app.url("/v1/stream"))
        .bearer_auth(&tenant.key)
        .send()
        .await
        .expect("request");
    let mut stream = SseClient::new(response);
    // Big messages fill the socket buffers quickly while this client reads nothing.
    let task = Uuid::now_v7();
    app.publish(&[created(tenant.id, task)]).await;
    let big = "x".repeat(32 * 1024);
    let events: Vec<_> = (0..600)
        .map(|i| progress_event(tenant.id, task, i, &big))
        .collect();
    app.publish(&events).await;
    app.seq_reaches(&tenant, 601).await; // seq 1 is the creation, 2..=601 the progress
    let mut last = None;
    let end = loop {
        let sse = stream
            .next()
            .await
            .expect("an end comes before the stream closes");
        if sse.event == "end" {
            break sse;
        }
        if let Some(id) = sse.id {
            if let Some(prev) = last {
                assert_eq!(id, prev + 1, "no gap before the cut");
            }
            last = Some(id);
        }
    };
    assert_eq!(end.data["reason"], "too-slow");
    let last = last.expect("some events came before the cut");
    assert!(last < 601, "cut off before the end");
    let mut resumed = SseClient::new(
        app.http
            .get(app.url("/v1/stream"))
            .bearer_auth(&tenant.key)
            .header("Last-Event-ID", last.to_string())
            .send()
            .await
            .expect("request"),
    );
    let rest = resumed
        .tasks(usize::try_from(601 - last).expect("positive"))
        .await;
    let ids: Vec<i64> = rest.iter().map(|e| e.id.expect("id")).collect();
    assert_eq!(
        ids,
        (last + 1..=601).collect::<Vec<_>>(),
        "resumed without gap or duplicate"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_filtered_stream_on_a_busy_tenant_still_gets_keep_alives() {
    let app = TestNotify::spawn_with(|c| c.keepalive = Duration::from_millis(300)).await;
    let tenant = app.tenant().await;
    let mut stream = open_stream(&app, "/v1/stream?type=nomatch", Some(&tenant.key)).await;
    let opening = stream.comments;
    let task = Uuid::now_v7();
    app.publish(&[created(tenant.id, task)]).await;
    // Events keep coming faster than the keep-alive interval, none of them for this filter.
    let publisher = {
        let producer = app.producer.clone();
        let tenant_id = tenant.id;
        tokio::spawn(async move {
            let mut pace = tokio::time::interval(Duration::from_millis(50));
            for i in 0..100 {
                pace.tick().await;
                let event = progress_event(tenant_id, task, i, "busy");
                producer.publish(&event).await.expect("published");
            }
        })
    };
    tokio::time::timeout(Duration::from_secs(20), stream.wait_comments(opening + 3))
        .await
        .expect("keep-alives while the tenant is busy");
    publisher.abort();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_start_read_before_its_creation_is_told_after_it() {
    let app = TestNotify::spawn().await;
    let tenant = app.tenant().await;
    let task_id = Uuid::now_v7();
    // The lifecycle topic is read first: the executor's events of a task whose TaskCreated
    // (requests topic) svc-notify has not read yet.
    app.publish(&[
        TaskStarted {
            meta: meta(tenant.id),
            task_id,
            attempt: 1,
            instance: "it".into(),
        }
        .into(),
        progress_event(tenant.id, task_id, 50, "half"),
    ])
    .await;
    wait_until(Duration::from_secs(30), "both events held", || async {
        let held = app.held_events(task_id).await;
        (held == 2).then_some(())
    })
    .await;
    let mut stream = open_stream(&app, "/v1/stream", Some(&tenant.key)).await;
    app.publish(&[created(tenant.id, task_id)]).await;

    let events = stream.tasks(3).await;
    let types: Vec<&str> = events
        .iter()
        .map(|e| e.data["event_type"].as_str().expect("type"))
        .collect();
    assert_eq!(types, ["TaskCreated", "TaskStarted", "TaskProgressUpdated"]);
    let statuses: Vec<&str> = events
        .iter()
        .map(|e| e.data["status"].as_str().expect("status"))
        .collect();
    assert_eq!(statuses, ["pending", "running", "running"]);
    assert_eq!(events[1].data["previous_status"], "pending");
    assert_eq!(
        events[2].id,
        events[0].id.map(|s| s + 2),
        "numbered in that order"
    );
    assert_eq!(app.held_events(task_id).await, 0, "nothing left held");
}

#[tokio::test(flavor = "multi_thread")]
async fn open_streams_are_counted_in_the_metrics() {
    let app = TestNotify::spawn().await;
    let tenant = app.tenant().await;
    let gauge = || async {
        let text = app
            .http
            .get(app.url("/metrics"))
            .send()
            .await
            .expect("scrape")
            .text()
            .await
            .expect("text");
        text.lines()
            .find_map(|line| line.strip_prefix("taskflow_sse_clients "))
            .and_then(|v| v.trim().parse::<i64>().ok())
            .expect("taskflow_sse_clients in the scrape")
    };
    assert_eq!(gauge().await, 0);
    let first = open_stream(&app, "/v1/stream", Some(&tenant.key)).await;
    let second = open_stream(&app, "/v1/stream", Some(&tenant.key)).await;
    assert_eq!(gauge().await, 2);
    drop(first);
    drop(second);
    // The server notices a closed client at its next write: keep-alives are 15 s apart here,
    // so give it a task to tell.
    app.task_life(&tenant, 1, true).await;
    wait_until(Duration::from_secs(60), "both streams gone", || async {
        (gauge().await == 0).then_some(())
    })
    .await;
}
