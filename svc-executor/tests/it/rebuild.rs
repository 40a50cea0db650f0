//! `executions` rebuilt from the executor's log through `POST /v1/admin/projections/rebuild`,
//! while tasks run: every row comes back as it was, and no task runs twice.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::Utc;
use diesel::QueryableByName;
use diesel::sql_types::{Jsonb, Text};
use diesel_async::RunQueryDsl;
use reqwest::StatusCode;
use serde_json::{Value, json};
use svc_executor::rebuild::Executions;
use taskflow_platform::rebuild::Projection;
use taskflow_schemas::Priority;
use uuid::Uuid;

use crate::helpers::{ADMIN_TOKEN, NewTask, TestExecutor, wait_until};

/// The executor's admin endpoints.
struct Admin {
    http: reqwest::Client,
    base: String,
}

impl Admin {
    fn new(port: u16) -> Self {
        Self {
            http: reqwest::Client::new(),
            base: format!("http://127.0.0.1:{port}/v1/admin/projections/rebuild"),
        }
    }

    async fn post(&self, token: Option<&str>) -> reqwest::Response {
        let request = self.http.post(&self.base);
        let request = match token {
            Some(token) => request.bearer_auth(token),
            None => request,
        };
        request.send().await.expect("POST rebuild")
    }

    /// Starts a rebuild (or joins the running one): 202, the job, where `Location` says.
    async fn start(&self) -> Value {
        let response = self.post(Some(ADMIN_TOKEN)).await;
        assert_eq!(response.status(), StatusCode::ACCEPTED);
        let location = response.headers()["location"]
            .to_str()
            .expect("Location")
            .to_owned();
        let job: Value = response.json().await.expect("job");
        assert_eq!(
            location,
            format!(
                "/v1/admin/projections/rebuild/{}",
                job["job_id"].as_str().expect("id")
            )
        );
        assert_eq!(job["unit"], "executions");
        job
    }

    async fn job(&self, id: &Value) -> Value {
        let id = id.as_str().expect("job id");
        let response = self
            .http
            .get(format!("{}/{id}", self.base))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .expect("GET job");
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.expect("job")
    }

    async fn ended(&self, id: &Value) -> Value {
        wait_until(Duration::from_secs(60), "the rebuild to end", || async {
            let job = self.job(id).await;
            (job["state"] != "running").then_some(job)
        })
        .await
    }
}

#[derive(QueryableByName)]
struct Row {
    #[diesel(sql_type = Text)]
    task_id: String,
    #[diesel(sql_type = Jsonb)]
    row: Value,
}

/// Every column of the executions of `tasks`, by task.
async fn snapshot(app: &TestExecutor, tasks: &[Uuid]) -> BTreeMap<String, Value> {
    let mut conn = app.db.get().await.expect("conn");
    let rows: Vec<Row> =
        diesel::sql_query("SELECT task_id::text AS task_id, to_jsonb(e) AS row FROM executions e")
            .load(&mut conn)
            .await
            .expect("executions");
    let wanted: Vec<String> = tasks.iter().map(Uuid::to_string).collect();
    rows.into_iter()
        .filter(|r| wanted.contains(&r.task_id))
        .map(|r| (r.task_id, r.row))
        .collect()
}

fn sleep(ms: u64, timeout_ms: i64) -> NewTask {
    NewTask {
        timeout_ms,
        ..NewTask::of("sleep", json!({"duration_ms": ms}))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rebuild_while_tasks_run_restores_every_execution_and_runs_nothing_twice() {
    let app = TestExecutor::without_instances().await;
    let config = app.config(&format!("it-{}", app.isolation.id), 8);
    let projection = Executions {
        lease_grace: config.lease_grace,
        retention: config.retention,
    };
    let admin = Admin::new(app.start(config).await);

    // The workload: every way an execution can be when the rebuild comes.
    let mut completed = Vec::new();
    for _ in 0..3 {
        completed.push(app.submit(NewTask::default()).await);
    }
    let retried = app
        .submit(NewTask {
            max_attempts: 2,
            ..NewTask::of("fail", json!({"message": "503", "retryable": true}))
        })
        .await;
    let permanent = app
        .submit(NewTask {
            max_attempts: 3,
            ..NewTask::of("fail", json!({"message": "404", "retryable": false}))
        })
        .await;
    let later = Some(Utc::now() + chrono::Duration::hours(1));
    let delayed = app.create(Priority::High, later).await;
    let cancelled_waiting = app.create(Priority::Low, later).await;
    let mut long = Vec::new();
    for _ in 0..3 {
        long.push(app.submit(sleep(15_000, 60_000)).await);
    }
    let cancelled_running = app.submit(sleep(60_000, 120_000)).await;

    app.queued(cancelled_waiting).await;
    app.cancel(cancelled_waiting).await;
    app.wait_state(cancelled_running, "running", Duration::from_secs(30))
        .await;
    app.cancel(cancelled_running).await;
    let within = Duration::from_secs(30);
    for (task, state) in completed
        .iter()
        .map(|t| (*t, "completed"))
        .chain([
            (retried, "failed"),
            (permanent, "failed"),
            (cancelled_waiting, "cancelled"),
            (cancelled_running, "cancelled"),
            (delayed, "queued"),
        ])
        .chain(long.iter().map(|t| (*t, "running")))
    {
        app.wait_state(task, state, within).await;
    }
    assert_eq!(app.attempts(retried).await.len(), 2, "retried once");
    let all: Vec<Uuid> = completed
        .iter()
        .chain(&long)
        .copied()
        .chain([
            retried,
            permanent,
            delayed,
            cancelled_waiting,
            cancelled_running,
        ])
        .collect();
    let before = snapshot(&app, &all).await;
    assert_eq!(before.len(), all.len());
    assert_eq!(
        before[&cancelled_running.to_string()]["cancel_requested"],
        true
    );

    // Without the token, nothing starts.
    for token in [None, Some("not-the-admin-token")] {
        let refused = admin.post(token).await;
        assert_eq!(refused.status(), StatusCode::UNAUTHORIZED, "{token:?}");
        assert_eq!(
            refused.headers()["content-type"],
            "application/problem+json"
        );
    }

    // A rebuild waits for a row a live writer holds (here: the test, as a completer would):
    // meanwhile a second POST answers the running job.
    let mut holder = app.db.get().await.expect("conn");
    diesel::sql_query("BEGIN")
        .execute(&mut holder)
        .await
        .expect("begin");
    diesel::sql_query(format!(
        "SELECT 1 FROM executions WHERE task_id = '{}' FOR UPDATE",
        completed[0]
    ))
    .execute(&mut holder)
    .await
    .expect("row locked");
    let first = admin.start().await;
    assert_eq!(first["state"], "running");
    let second = admin.start().await;
    assert_eq!(
        second["job_id"], first["job_id"],
        "the running job, not a new one"
    );
    assert_eq!(admin.job(&first["job_id"]).await["state"], "running");
    diesel::sql_query("COMMIT")
        .execute(&mut holder)
        .await
        .expect("commit");
    drop(holder);
    let done = admin.ended(&first["job_id"]).await;
    assert_eq!(done["state"], "succeeded", "{done}");
    assert_eq!(done["done"], done["total"]);
    assert_eq!(
        snapshot(&app, &all).await,
        before,
        "a rebuild over an intact projection changes nothing"
    );

    // Wiped, then rebuilt while the long tasks run and new work comes and goes.
    let mut conn = app.db.get().await.expect("conn");
    projection.wipe(&mut conn).await.expect("wiped");
    drop(conn);
    assert!(snapshot(&app, &all).await.is_empty());
    let mut during = Vec::new();
    for _ in 0..5 {
        during.push(app.submit(NewTask::default()).await);
    }
    let job = admin.start().await;
    assert_ne!(job["job_id"], first["job_id"]);
    let job = admin.ended(&job["job_id"]).await;
    assert_eq!(job["state"], "succeeded", "{job}");
    assert!(job["total"].as_i64().expect("total") >= all.len() as i64);
    // Every column comes back, the lease of the running attempts included: it is live state
    // that a rebuild keeps when the row holds it, and here, the row gone, the lease its claim
    // granted (TaskStarted's time + timeout + grace) is the one the row had (none was renewed).
    let after = snapshot(&app, &all).await;
    for task in &all {
        let key = task.to_string();
        assert_eq!(after.get(&key), before.get(&key), "execution {task}");
    }

    // The workload ends; nothing ran twice.
    for task in long.iter().chain(&during) {
        app.wait_state(*task, "completed", Duration::from_secs(60))
            .await;
    }
    for task in all.iter().chain(&during) {
        let events = app.events(*task).await;
        let started: Vec<i64> = events
            .iter()
            .filter(|e| e.event_type == "TaskStarted")
            .map(|e| e.body["attempt"].as_i64().expect("attempt"))
            .collect();
        let expected: Vec<i64> = (1..=started.len() as i64).collect();
        assert_eq!(started, expected, "one TaskStarted per attempt of {task}");
        let endings = app.endings(*task).await;
        assert_eq!(
            endings,
            usize::from(*task != delayed),
            "one ending for {task}"
        );
    }
    for task in &long {
        assert_eq!(app.attempts(*task).await.len(), 1, "{task} ran once");
    }
}
