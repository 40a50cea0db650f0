//! The real `taskflow` binary against the running stack (`make up`; run with
//! `source .taskflow/dev.env && cargo nextest run -p taskflow-cli`). Each test makes its own
//! tenant through the CLI and reads Kafka with its own consumer groups.

use std::collections::BTreeSet;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use taskflow_platform::testing::wait_until;
use taskflow_platform::{EventCodec, EventProducer, KafkaSettings, RegistrySettings};
use taskflow_schemas::{Event, EventMeta, Priority, ScheduledTaskTriggered};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use uuid::Uuid;

const BIN: &str = env!("CARGO_BIN_EXE_taskflow");
/// No single CLI run in these tests should take longer.
const RUN_LIMIT: Duration = Duration::from_secs(90);

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run the tests with `source .taskflow/dev.env` after `make up`")
    })
}

#[derive(Debug)]
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {self:?}"))
    }

    fn json_lines(&self) -> Vec<Value> {
        self.stdout
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}"))
            })
            .collect()
    }
}

/// A tenant of its own, and the CLI set up for it.
struct Cli {
    tenant_id: String,
    api_key: String,
}

impl Cli {
    /// Creates a tenant through the CLI itself (`tenants create`, admin token from the env).
    async fn new_tenant(limits: &[&str]) -> Cli {
        let name = format!("cli-{}", Uuid::new_v4().simple());
        let mut args = vec!["tenants", "create", name.as_str(), "-o", "json"];
        args.extend_from_slice(limits);
        let run = run(None, &args).await;
        assert_eq!(run.code, 0, "{run:?}");
        let created = run.json();
        Cli {
            tenant_id: created["tenant_id"].as_str().expect("tenant_id").to_owned(),
            api_key: created["api_key"].as_str().expect("api_key").to_owned(),
        }
    }

    async fn run(&self, args: &[&str]) -> Run {
        run(Some(&self.api_key), args).await
    }

    async fn submit(&self, task_type: &str, payload: &str, extra: &[&str]) -> String {
        let mut args = vec!["submit", task_type, "--payload", payload, "-o", "json"];
        args.extend_from_slice(extra);
        let run = self.run(&args).await;
        assert_eq!(run.code, 0, "{run:?}");
        run.json_lines()[0]["id"].as_str().expect("id").to_owned()
    }

    async fn task(&self, id: &str) -> Value {
        let run = self.run(&["get", id, "-o", "json"]).await;
        assert_eq!(run.code, 0, "{run:?}");
        run.json()
    }
}

/// Runs the binary with the dev environment (and `api_key` as TASKFLOW_API_KEY); no profile file.
async fn run(api_key: Option<&str>, args: &[&str]) -> Run {
    for name in [
        "TASKFLOW_API_URL",
        "TASKFLOW_ADMIN_TOKEN",
        "TASKFLOW_NOTIFY_URL",
        "KAFKA_BOOTSTRAP_SERVERS",
    ] {
        env(name);
    }
    let mut command = tokio::process::Command::new(BIN);
    command
        .args(args)
        .env("XDG_CONFIG_HOME", "/nonexistent-taskflow-cli-test")
        .env_remove("TASKFLOW_PROFILE")
        .env_remove("TASKFLOW_CONFIG")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    match api_key {
        Some(key) => command.env("TASKFLOW_API_KEY", key),
        None => command.env_remove("TASKFLOW_API_KEY"),
    };
    let output = tokio::time::timeout(RUN_LIMIT, command.output())
        .await
        .unwrap_or_else(|_| panic!("taskflow {args:?} ran longer than {RUN_LIMIT:?}"))
        .expect("run the taskflow binary");
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

#[tokio::test]
async fn submit_then_watch_ends_with_the_outcome_and_its_exit_code() {
    let cli = Cli::new_tenant(&[]).await;

    let run = cli
        .run(&[
            "submit",
            "sleep",
            "--payload",
            r#"{"duration_ms":600,"steps":3}"#,
            "--label",
            "suite=cli",
            "--wait",
            "-o",
            "json",
        ])
        .await;
    assert_eq!(run.code, 0, "{run:?}");
    let lines = run.json_lines();
    let task_id = lines[0]["id"].as_str().expect("submitted task").to_owned();
    assert_eq!(lines[0]["labels"]["suite"], "cli");
    let outcome = lines.last().expect("outcome line");
    assert_eq!(outcome["kind"], "outcome", "{run:?}");
    assert_eq!(outcome["status"], "completed", "{run:?}");
    let percents: Vec<i64> = lines
        .iter()
        .filter(|l| l["kind"] == "task" && l["event_type"] == "TaskProgressUpdated")
        .filter_map(|l| l["percent"].as_i64())
        .collect();
    assert!(!percents.is_empty(), "progress was streamed: {run:?}");

    // Watching a task that has already ended tells its outcome too (table output).
    let again = cli.run(&["watch", &task_id]).await;
    assert_eq!(again.code, 0, "{again:?}");
    assert!(
        again.stdout.contains(&format!("task {task_id} completed")),
        "{again:?}"
    );

    // A task that fails: the watch says why and exits 1.
    let failing = cli
        .submit(
            "fail",
            r#"{"message":"boom on purpose","retryable":false}"#,
            &["--max-attempts", "1"],
        )
        .await;
    let watched = cli.run(&["watch", &failing, "-o", "json"]).await;
    assert_eq!(watched.code, 1, "{watched:?}");
    let outcome = watched.json_lines().pop().expect("outcome");
    assert_eq!(outcome["status"], "failed", "{watched:?}");
    assert!(watched.stderr.contains("boom on purpose"), "{watched:?}");

    // Refusals are exit 1 with the API's detail; usage errors exit 2.
    let refused = cli
        .run(&["submit", "sleep", "--payload", r#"{"duration_ms":"soon"}"#])
        .await;
    assert_eq!(refused.code, 1, "{refused:?}");
    assert!(
        refused.stderr.contains("/payload/duration_ms"),
        "{refused:?}"
    );
    let usage = cli
        .run(&["submit", "sleep", "--payload", "{not json"])
        .await;
    assert_eq!(usage.code, 2, "{usage:?}");
    assert!(usage.stderr.contains("--payload"), "{usage:?}");
}

#[tokio::test]
async fn a_batch_with_one_bad_line_refuses_that_batch_only_and_says_why() {
    let cli = Cli::new_tenant(&[]).await;
    let dir = std::env::temp_dir().join(format!("taskflow-cli-{}", Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("tasks.ndjson");
    let good = r#"{"type":"noop","labels":{"batch":"t"}}"#;
    let bad = r#"{"type":"no-such-type","payload":{}}"#;
    std::fs::write(&file, [good, good, bad, good, "", good].join("\n")).expect("write file");

    let run = cli
        .run(&[
            "submit",
            "--batch",
            file.to_str().expect("path"),
            "--batch-size",
            "2",
            "-o",
            "json",
        ])
        .await;
    assert_eq!(run.code, 1, "{run:?}");
    let summary = run.json();
    assert_eq!(summary["accepted"], 3, "{run:?}");
    assert_eq!(summary["refused"], 2, "{run:?}");
    let batches = summary["batches"].as_array().expect("batches");
    let statuses: Vec<&str> = batches
        .iter()
        .map(|b| b["status"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(statuses, ["accepted", "refused", "accepted"], "{run:?}");
    let refused = &batches[1];
    assert_eq!(
        refused["line"], 3,
        "the refusal names the file's line: {refused}"
    );
    let reason = refused["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("line 3") && reason.contains("no-such-type"),
        "{reason}"
    );
    assert!(run.stderr.contains("2 of 5 tasks refused"), "{run:?}");

    // All or nothing: the refused batch's good line was not created either.
    let listed = cli.run(&["list", "-o", "json"]).await;
    assert_eq!(listed.code, 0, "{listed:?}");
    assert_eq!(
        listed.json()["tasks"].as_array().map(Vec::len),
        Some(3),
        "{listed:?}"
    );

    // A line that is not JSON refuses its batch without sending it.
    std::fs::write(&file, format!("{good}\nthis is not json\n")).expect("write file");
    let run = cli
        .run(&["submit", "--batch", file.to_str().expect("path")])
        .await;
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stdout.contains("line 2: not JSON"), "{run:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Every distinct `event_type` among `lines` of this tenant's events.
fn types_of(lines: &[Value]) -> BTreeSet<String> {
    lines
        .iter()
        .filter_map(|l| l["event_type"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn tap_prints_every_event_type_as_decoded_json_lines() {
    let cli = Cli::new_tenant(&[]).await;
    let since = chrono::Utc::now() - chrono::Duration::seconds(5);
    let since = since.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);

    // Completed with progress, failed for good, cancelled while running.
    let ok = cli
        .submit("sleep", r#"{"duration_ms":300,"steps":3}"#, &[])
        .await;
    let failed = cli
        .submit("fail", r#"{"retryable":false}"#, &["--max-attempts", "1"])
        .await;
    let long = cli
        .submit("sleep", r#"{"duration_ms":60000,"steps":60}"#, &[])
        .await;
    wait_until(Duration::from_secs(30), "the long task to run", || async {
        (cli.task(&long).await["status"] == "running").then_some(())
    })
    .await;
    let cancel = cli.run(&["cancel", &long, "--reason", "enough"]).await;
    assert_eq!(cancel.code, 0, "{cancel:?}");
    for (id, code) in [(&ok, 0), (&failed, 1), (&long, 1)] {
        let watched = cli.run(&["watch", id]).await;
        assert_eq!(watched.code, code, "{watched:?}");
    }

    // The tap stops by itself at the end of the topics; every line is a decoded event.
    let wanted: BTreeSet<String> = [
        "TaskCreated",
        "TaskCancelRequested",
        "TaskStarted",
        "TaskProgressUpdated",
        "TaskCompleted",
        "TaskFailed",
        "TaskCancelled",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    let lines = wait_until(
        Duration::from_secs(30),
        "every event type on the tap",
        || async {
            let run = cli
                .run(&[
                    "tap",
                    "requests",
                    "lifecycle",
                    "--from",
                    &since,
                    "--tenant",
                    &cli.tenant_id,
                ])
                .await;
            assert_eq!(run.code, 0, "{run:?}");
            let lines = run.json_lines();
            wanted.is_subset(&types_of(&lines)).then_some(lines)
        },
    )
    .await;
    let ours = [&ok, &failed, &long];
    for line in &lines {
        for field in [
            "topic",
            "partition",
            "offset",
            "timestamp",
            "key",
            "headers",
            "event_type",
            "event",
        ] {
            assert!(line.get(field).is_some(), "{field} missing: {line}");
        }
        assert!(line.get("error").is_none(), "undecodable: {line}");
        let event = &line["event"];
        assert_eq!(event["tenant_id"], cli.tenant_id.as_str(), "{line}");
        assert!(
            ours.iter().any(|id| event["task_id"] == id.as_str()),
            "{line}"
        );
        assert_eq!(line["key"], event["task_id"], "{line}");
        assert_eq!(line["headers"]["event_type"], line["event_type"], "{line}");
        assert_eq!(
            line["headers"]["correlation_id"], event["correlation_id"],
            "{line}"
        );
        assert_eq!(line["headers"]["event_id"], event["event_id"], "{line}");
    }
    let final_failure = lines
        .iter()
        .find(|l| l["event_type"] == "TaskFailed")
        .expect("TaskFailed");
    assert_eq!(final_failure["event"]["final"], true, "{final_failure}");
    if std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT").is_ok() {
        assert!(
            lines
                .iter()
                .any(|l| l["headers"]["traceparent"].is_string()),
            "traced services write traceparent, and the tap shows it"
        );
    }

    // --type filters; a named analytics group resumes where it stopped.
    let completed = cli
        .run(&[
            "tap",
            "lifecycle",
            "--from",
            &since,
            "--tenant",
            &cli.tenant_id,
            "--type",
            "TaskCompleted",
        ])
        .await;
    assert_eq!(completed.code, 0, "{completed:?}");
    let completed = completed.json_lines();
    assert_eq!(
        types_of(&completed),
        BTreeSet::from(["TaskCompleted".to_owned()])
    );
    assert_eq!(completed.len(), 1);

    let group = format!("cli-test-{}", Uuid::new_v4().simple());
    let tap = [
        "tap",
        "lifecycle",
        "--group",
        group.as_str(),
        "--tenant",
        cli.tenant_id.as_str(),
        "--type",
        "TaskCompleted",
    ];
    let mut first = tap.to_vec();
    first.extend(["--from", since.as_str()]);
    let first = cli.run(&first).await;
    assert_eq!(first.json_lines().len(), 1, "{first:?}");
    let resumed = cli.run(&tap).await;
    assert_eq!(resumed.code, 0, "{resumed:?}");
    assert!(
        resumed.json_lines().is_empty(),
        "already read by analytics.{group}: {resumed:?}"
    );
    let next = cli.submit("noop", "{}", &[]).await;
    assert_eq!(cli.run(&["watch", &next]).await.code, 0);
    let lines = wait_until(
        Duration::from_secs(30),
        "the new completion on the resumed group",
        || async {
            let run = cli.run(&tap).await;
            assert_eq!(run.code, 0, "{run:?}");
            let lines = run.json_lines();
            (!lines.is_empty()).then_some(lines)
        },
    )
    .await;
    assert_eq!(lines.len(), 1, "only what came after: {lines:?}");
    assert_eq!(lines[0]["event"]["task_id"], next.as_str());
}

#[tokio::test]
async fn dlq_replay_submits_a_new_task_linked_to_the_dead_lettered_one() {
    let cli = Cli::new_tenant(&[]).await;
    let original = cli
        .submit(
            "fail",
            r#"{"message":"parked","retryable":false}"#,
            &["--max-attempts", "1", "--label", "origin=test"],
        )
        .await;
    assert_eq!(cli.run(&["watch", &original]).await.code, 1);

    // svc-executor parks the TaskCreated of a task that failed for good, with the reason.
    let listed = wait_until(Duration::from_secs(30), "the dead letter", || async {
        let run = cli
            .run(&[
                "dlq",
                "list",
                "--group",
                "svc-executor",
                "--tenant",
                &cli.tenant_id,
                "-o",
                "json",
            ])
            .await;
        assert_eq!(run.code, 0, "{run:?}");
        let letters = run.json()["dead_letters"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        (!letters.is_empty()).then_some(letters)
    })
    .await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    let letter = &listed[0];
    assert_eq!(letter["event_type"], "TaskCreated");
    assert_eq!(letter["event"]["task_id"], original.as_str());
    assert!(
        letter["reason"].as_str().is_some_and(|r| !r.is_empty()),
        "{letter}"
    );

    let shown = cli
        .run(&["dlq", "show", &original, "--group", "svc-executor"])
        .await;
    assert_eq!(shown.code, 0, "{shown:?}");
    assert!(shown.stdout.contains("reason"), "{shown:?}");

    let replayed = cli
        .run(&[
            "dlq",
            "replay",
            &original,
            "--group",
            "svc-executor",
            "-o",
            "json",
        ])
        .await;
    assert_eq!(replayed.code, 0, "{replayed:?}");
    let result = &replayed.json()["results"][0];
    assert_eq!(result["outcome"], "replayed", "{replayed:?}");
    let new_id = result["task_id"].as_str().expect("new task id").to_owned();
    assert_ne!(new_id, original);

    // The new task is the tenant's own, and says what it replays: in its state and history.
    let task = cli.task(&new_id).await;
    assert_eq!(task["labels"]["replay_of"], original.as_str(), "{task}");
    assert_eq!(task["labels"]["origin"], "test", "{task}");
    assert_eq!(task["type"], "fail");
    let history = cli.run(&["events", &new_id, "-o", "json"]).await;
    let created = &history.json()["events"][0];
    assert_eq!(created["type"], "TaskCreated");
    assert_eq!(created["data"]["labels"]["replay_of"], original.as_str());

    // Replaying the same dead letter again gives the same task, not another one.
    let again = cli
        .run(&[
            "dlq",
            "replay",
            &original,
            "--group",
            "svc-executor",
            "-o",
            "json",
        ])
        .await;
    assert_eq!(again.code, 0, "{again:?}");
    assert_eq!(again.json()["results"][0]["outcome"], "replayed-before");
    assert_eq!(again.json()["results"][0]["task_id"], new_id.as_str());
}

/// A TCP proxy in front of svc-notify that cuts its first connection right after the first
/// task event went through, and keeps every request's head.
async fn cutting_proxy() -> (String, Arc<Mutex<Vec<String>>>) {
    let upstream = env("TASKFLOW_NOTIFY_URL")
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
    let address = listener.local_addr().expect("proxy address");
    let heads = Arc::new(Mutex::new(Vec::new()));
    let seen = heads.clone();
    tokio::spawn(async move {
        let mut connections = 0;
        while let Ok((mut client, _)) = listener.accept().await {
            connections += 1;
            let cut = connections == 1;
            let upstream = upstream.clone();
            let seen = seen.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    if client.read_exact(&mut byte).await.is_err() {
                        return;
                    }
                    head.push(byte[0]);
                }
                if let Ok(mut heads) = seen.lock() {
                    heads.push(String::from_utf8_lossy(&head).to_lowercase());
                }
                let Ok(mut server) = TcpStream::connect(&upstream).await else {
                    return;
                };
                if server.write_all(&head).await.is_err() {
                    return;
                }
                if !cut {
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    return;
                }
                let mut buffer = vec![0u8; 16 * 1024];
                let mut sent = Vec::new();
                while let Ok(n) = server.read(&mut buffer).await {
                    if n == 0 || client.write_all(&buffer[..n]).await.is_err() {
                        return;
                    }
                    sent.extend_from_slice(&buffer[..n]);
                    if String::from_utf8_lossy(&sent).contains("event: task") {
                        return; // both sockets close here: the stream drops mid-task
                    }
                }
            });
        }
    });
    (format!("http://{address}"), heads)
}

#[tokio::test]
async fn watch_resumes_after_a_dropped_connection_without_gap_or_repeat() {
    let cli = Cli::new_tenant(&[]).await;
    let (proxy, heads) = cutting_proxy().await;
    let task = cli
        .submit("sleep", r#"{"duration_ms":3000,"steps":6}"#, &[])
        .await;

    let run = cli
        .run(&["watch", &task, "--notify-url", &proxy, "-o", "json"])
        .await;
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stderr.contains("resuming after"), "{run:?}");
    let heads = heads.lock().map(|h| h.clone()).unwrap_or_default();
    assert!(heads.len() >= 2, "reconnected: {heads:?}");
    assert!(!heads[0].contains("last-event-id"), "{heads:?}");
    let resumed_after: i64 = heads[1]
        .split("last-event-id: ")
        .nth(1)
        .and_then(|rest| rest.split("\r\n").next())
        .and_then(|id| id.parse().ok())
        .unwrap_or_else(|| panic!("the reconnect carries Last-Event-ID: {heads:?}"));

    let lines = run.json_lines();
    let seqs: Vec<i64> = lines.iter().filter_map(|l| l["seq"].as_i64()).collect();
    let expected: Vec<i64> = (1..=seqs.len() as i64).collect();
    assert_eq!(
        seqs, expected,
        "this tenant's one task, told once each, in order: {run:?}"
    );
    assert!(
        resumed_after >= 1 && resumed_after < seqs.len() as i64,
        "cut mid-task: {heads:?}"
    );
    assert_eq!(
        lines.last().map(|l| l["status"].clone()),
        Some("completed".into())
    );
    let progress = lines
        .iter()
        .filter(|l| l["event_type"] == "TaskProgressUpdated")
        .count();
    assert_eq!(
        progress, 6,
        "every step, the ones told while disconnected too: {run:?}"
    );
}

/// Publishes a schedule trigger for `tenant` the way svc-scheduler would, with the platform's
/// producer (so through the registry), as if a schedule of that tenant had fired.
async fn publish_trigger(tenant: &str, priority: Priority) -> Uuid {
    let kafka = KafkaSettings::from_env().expect("kafka settings");
    let registry = RegistrySettings::from_env().expect("registry settings");
    let codec = Arc::new(EventCodec::new(&registry, kafka.topics.clone()));
    let producer = EventProducer::new(&kafka, codec).expect("producer");
    let now = chrono::Utc::now().timestamp_millis();
    let tenant_id = Uuid::parse_str(tenant).expect("tenant id");
    let task_id = Uuid::new_v4();
    let trigger = ScheduledTaskTriggered {
        meta: EventMeta::new(
            now,
            Uuid::new_v4().to_string(),
            tenant_id,
            "taskflow-cli-test",
        ),
        schedule_id: Uuid::now_v7(),
        fire_time: now,
        task_id,
        task_type: "noop".into(),
        priority,
        payload_json: "{}".into(),
        max_attempts: 2,
        timeout_ms: 10_000,
        labels: [("from".to_owned(), "trigger".to_owned())].into(),
        cancel_task_id: None,
    };
    producer
        .publish(&Event::from(trigger))
        .await
        .expect("trigger published");
    task_id
}

#[tokio::test]
async fn a_refused_trigger_is_replayed_once_its_cause_is_fixed() {
    // The tenant may not use `high`; a schedule trigger asking for it is refused by svc-tasks
    // and parked on its dead-letter topic.
    let cli = Cli::new_tenant(&["--allowed-priorities", "low,normal"]).await;
    let trigger_task = publish_trigger(&cli.tenant_id, Priority::High)
        .await
        .to_string();
    let list = [
        "dlq",
        "list",
        "--group",
        "svc-tasks",
        "--tenant",
        cli.tenant_id.as_str(),
        "-o",
        "json",
    ];
    let letters = wait_until(
        Duration::from_secs(30),
        "the refused trigger on svc-tasks' dead letters",
        || async {
            let run = cli.run(&list).await;
            assert_eq!(run.code, 0, "{run:?}");
            let letters = run.json()["dead_letters"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            (!letters.is_empty()).then_some(letters)
        },
    )
    .await;
    assert_eq!(letters.len(), 1, "{letters:?}");
    assert_eq!(letters[0]["event_type"], "ScheduledTaskTriggered");
    assert_eq!(letters[0]["event"]["task_id"], trigger_task.as_str());
    let reason = letters[0]["reason"].as_str().unwrap_or_default().to_owned();
    assert!(
        reason.contains("high"),
        "the reason names the priority: {reason}"
    );

    // Replayed as it is, the API refuses it the same way: exit 1 with that reason.
    let replay = [
        "dlq",
        "replay",
        trigger_task.as_str(),
        "--group",
        "svc-tasks",
        "-o",
        "json",
    ];
    let refused = cli.run(&replay).await;
    assert_eq!(refused.code, 1, "{refused:?}");
    let result = &refused.json()["results"][0];
    assert_eq!(result["outcome"], "refused", "{refused:?}");
    assert!(
        result["reason"]
            .as_str()
            .is_some_and(|r| r.contains("/priority")),
        "{refused:?}"
    );

    // The operator lifts the restriction and replays: a new task, linked to the trigger's.
    let lifted = run(
        None,
        &[
            "tenants",
            "update",
            &cli.tenant_id,
            "--allowed-priorities",
            "all",
        ],
    )
    .await;
    assert_eq!(lifted.code, 0, "{lifted:?}");
    let replayed = cli.run(&replay).await;
    assert_eq!(replayed.code, 0, "{replayed:?}");
    let new_id = replayed.json()["results"][0]["task_id"]
        .as_str()
        .expect("task id")
        .to_owned();
    let task = cli.task(&new_id).await;
    assert_eq!(task["labels"]["replay_of"], trigger_task.as_str(), "{task}");
    assert_eq!(task["labels"]["from"], "trigger");
    assert_eq!(task["priority"], "high");
    assert_eq!(
        cli.run(&["watch", &new_id]).await.code,
        0,
        "the replayed task runs"
    );
}

#[tokio::test]
async fn tap_decodes_every_other_contract_too() {
    // Keys, schedules (their occurrences, lifecycle and state), refused triggers and task
    // states: with the task events above, the record types come through the tap decoded.
    let cli = Cli::new_tenant(&["--allowed-priorities", "low,normal"]).await;
    let since = chrono::Utc::now() - chrono::Duration::seconds(5);
    let since = since.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);

    // ApiKeyIssued (the tenant's first key, and this one), ApiKeyRevoked.
    let issued = run(
        None,
        &["tenants", "keys", "issue", &cli.tenant_id, "-o", "json"],
    )
    .await;
    assert_eq!(issued.code, 0, "{issued:?}");
    let key_id = issued.json()["key_id"].as_str().expect("key_id").to_owned();
    let revoked = run(
        None,
        &["tenants", "keys", "revoke", &cli.tenant_id, &key_id],
    )
    .await;
    assert_eq!(revoked.code, 0, "{revoked:?}");
    // TaskState (the state relay), from a task of this tenant.
    cli.submit("noop", "{}", &[]).await;
    // ScheduledTaskRefused: svc-tasks answers a trigger asking for a priority the tenant lacks.
    publish_trigger(&cli.tenant_id, Priority::High).await;
    // ScheduledTaskTriggered and ScheduleOccurrenceSkipped: a 1 s schedule of long runs.
    let definition = serde_json::json!({
        "name": format!("tap-{}", Uuid::new_v4().simple()),
        "task": {"type": "sleep", "payload": {"duration_ms": 30_000}},
        "spec": {"every": "PT1S"},
        "overlap": "skip",
    })
    .to_string();
    let created = wait_until(
        Duration::from_secs(30),
        "svc-scheduler to know the tenant's key",
        || async {
            let run = cli
                .run(&[
                    "schedules",
                    "create",
                    "--definition",
                    &definition,
                    "-o",
                    "json",
                ])
                .await;
            (run.code == 0).then(|| run.json())
        },
    )
    .await;
    let schedule = created["id"].as_str().expect("schedule id").to_owned();

    let wanted: BTreeSet<String> = [
        "ApiKeyIssued",
        "ApiKeyRevoked",
        "TaskState",
        "ScheduledTaskRefused",
        "ScheduledTaskTriggered",
        "ScheduleOccurrenceSkipped",
        "ScheduleCreated",
        "ScheduleState",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    let lines = wait_until(
        Duration::from_secs(60),
        "every other record type",
        || async {
            let run = cli
                .run(&["tap", "--all", "--from", &since, "--tenant", &cli.tenant_id])
                .await;
            assert_eq!(run.code, 0, "{run:?}");
            let lines = run.json_lines();
            wanted.is_subset(&types_of(&lines)).then_some(lines)
        },
    )
    .await;
    let pause = cli.run(&["schedules", "pause", &schedule]).await;
    assert_eq!(pause.code, 0, "{pause:?}");
    for line in &lines {
        assert!(line.get("error").is_none(), "undecodable: {line}");
        assert_eq!(line["event"]["tenant_id"], cli.tenant_id.as_str(), "{line}");
        assert_eq!(line["headers"]["event_type"], line["event_type"], "{line}");
        // The record key is the entity the contract names.
        let key = match line["event_type"].as_str().unwrap_or_default() {
            "ApiKeyIssued" | "ApiKeyRevoked" => &line["event"]["key_id"],
            "ScheduledTaskTriggered"
            | "ScheduleOccurrenceSkipped"
            | "ScheduleCreated"
            | "ScheduleChanged"
            | "SchedulePaused"
            | "ScheduleResumed"
            | "ScheduleDeleted"
            | "ScheduleState" => &line["event"]["schedule_id"],
            _ => &line["event"]["task_id"],
        };
        assert_eq!(&line["key"], key, "{line}");
    }
}

/// `schedules history` reads a schedule's lifecycle from `taskflow.schedules.lifecycle.v1`. The
/// test plays svc-scheduler (publishing with the platform's producer, so through the registry,
/// after creating the topics as a service's start does), so that it does not depend on the
/// running svc-scheduler's version; svc-scheduler's own tests prove that it writes them.
#[tokio::test]
async fn schedule_history_shows_one_schedules_life_in_order() {
    use taskflow_schemas::samples::schedule_settings;
    use taskflow_schemas::{ScheduleCreated, ScheduleDeleted, SchedulePaused, ScheduleSettings};

    let kafka = KafkaSettings::from_env().expect("kafka settings");
    let registry = RegistrySettings::from_env().expect("registry settings");
    taskflow_platform::topic_admin::ensure_topics(&kafka, &[])
        .await
        .expect("topics");
    let codec = Arc::new(EventCodec::new(&registry, kafka.topics.clone()));
    let producer = EventProducer::new(&kafka, codec).expect("producer");
    let (id, other) = (Uuid::now_v7(), Uuid::now_v7());
    let meta = || {
        EventMeta::new(
            chrono::Utc::now().timestamp_millis(),
            "corr-history",
            Uuid::new_v4(),
            "taskflow-cli-test",
        )
    };
    let settings = schedule_settings();
    let paused = ScheduleSettings {
        paused: true,
        note: Some("maintenance".into()),
        ..settings.clone()
    };
    let events: Vec<Event> = vec![
        ScheduleCreated {
            meta: meta(),
            schedule_id: id,
            settings: settings.clone(),
        }
        .into(),
        ScheduleCreated {
            meta: meta(),
            schedule_id: other,
            settings: settings.clone(),
        }
        .into(),
        SchedulePaused {
            meta: meta(),
            schedule_id: id,
            settings: paused.clone(),
        }
        .into(),
        ScheduleDeleted {
            meta: meta(),
            schedule_id: id,
            settings: paused,
        }
        .into(),
    ];
    for event in &events {
        producer.publish(event).await.expect("published");
    }

    let id_text = id.to_string();
    let history = run(None, &["schedules", "history", &id_text, "-o", "json"]).await;
    assert_eq!(history.code, 0, "{history:?}");
    let lines = history.json_lines();
    let kinds: Vec<&str> = lines
        .iter()
        .map(|l| l["event_type"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        kinds,
        ["ScheduleCreated", "SchedulePaused", "ScheduleDeleted"],
        "its own events, oldest first: {history:?}"
    );
    for line in &lines {
        assert_eq!(line["key"], id_text.as_str(), "{line}");
        assert_eq!(line["event"]["name"], "nightly report", "{line}");
    }
    assert_eq!(lines[1]["event"]["note"], "maintenance");

    let table = run(None, &["schedules", "history", &id_text]).await;
    assert_eq!(table.code, 0, "{table:?}");
    assert!(table.stdout.contains("note: maintenance"), "{table:?}");
    assert!(
        table.stdout.contains("cron 0 2 * * * Europe/Berlin"),
        "{table:?}"
    );

    let unknown = Uuid::now_v7().to_string();
    let none = run(None, &["schedules", "history", &unknown]).await;
    assert_eq!(none.code, 1, "{none:?}");
    assert!(none.stderr.contains("no events of schedule"), "{none:?}");
}
