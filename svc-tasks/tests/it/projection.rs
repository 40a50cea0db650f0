use std::time::Duration;

use diesel_async::RunQueryDsl;
use reqwest::StatusCode;
use serde_json::{Value, json};
use taskflow_schemas::samples::sample_meta;
use taskflow_schemas::{
    Event, EventMeta, TaskCancelled, TaskCompleted, TaskProgressUpdated, TaskStarted,
};
use uuid::Uuid;

use svc_tasks::service::rebuild::TaskProjection;
use svc_tasks::startup::MIGRATIONS;
use taskflow_platform::rebuild::{LOCK_CLASS, Projection, RUNNER_LOCK};

use crate::helpers::{TestApp, TestTenant, assert_problem, json_of, noop, wait_until};

fn meta(tenant: &TestTenant) -> EventMeta {
    EventMeta {
        tenant_id: tenant.id,
        ..sample_meta()
    }
}

async fn wait_for_status(app: &TestApp, tenant: &TestTenant, id: &str, status: &str) -> Value {
    wait_until(
        Duration::from_secs(30),
        &format!("task {id} {status}"),
        || async {
            let task = json_of(app.get(tenant, &format!("/v1/tasks/{id}")).await).await;
            (task["status"] == status).then_some(task)
        },
    )
    .await
}

/// Starts a rebuild (202 + Location), then polls its status resource until it has ended.
pub(crate) async fn rebuild_and_wait(app: &TestApp) -> Value {
    let job = start_rebuild(app).await;
    wait_for_job(app, job["job_id"].as_str().expect("job id")).await
}

/// `POST /v1/admin/projections/rebuild`: the job, checked to be where `Location` says.
async fn start_rebuild(app: &TestApp) -> Value {
    let response = app
        .http
        .post(app.url("/v1/admin/projections/rebuild"))
        .bearer_auth(&app.admin_token)
        .send()
        .await
        .expect("rebuild");
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let location = response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .expect("Location")
        .to_owned();
    let job = json_of(response).await;
    let id = job["job_id"].as_str().expect("job id");
    assert_eq!(location, format!("/v1/admin/projections/rebuild/{id}"));
    job
}

async fn job_status(app: &TestApp, id: &str) -> Value {
    let response = app
        .http
        .get(app.url(&format!("/v1/admin/projections/rebuild/{id}")))
        .bearer_auth(&app.admin_token)
        .send()
        .await
        .expect("status");
    assert_eq!(response.status(), StatusCode::OK);
    json_of(response).await
}

async fn wait_for_job(app: &TestApp, id: &str) -> Value {
    wait_until(
        Duration::from_secs(60),
        &format!("rebuild {id} to end"),
        || async {
            let job = job_status(app, id).await;
            (job["state"] != "running").then_some(job)
        },
    )
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn execution_events_drive_the_live_view_once_each() {
    let app = TestApp::spawn().await;
    let tenant = app
        .create_tenant(json!({"name": "one-slot", "quotas": {"max_active_tasks": 1}}))
        .await;
    let task = json_of(app.submit(&tenant, &noop(), None).await).await;
    let id = task["id"].as_str().expect("id");
    assert_eq!(
        app.submit(&tenant, &noop(), None).await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );

    let task_id: Uuid = id.parse().expect("uuid");
    let started: Event = TaskStarted {
        meta: meta(&tenant),
        task_id,
        attempt: 1,
        instance: "ex-1".into(),
    }
    .into();
    let events = [
        started.clone(),
        started,
        TaskProgressUpdated {
            meta: meta(&tenant),
            task_id,
            attempt: 1,
            percent: 50,
            message: Some("half".into()),
        }
        .into(),
        TaskCompleted {
            meta: meta(&tenant),
            task_id,
            attempt: 1,
            result_json: Some(r#"{"ok":true}"#.into()),
            duration_ms: 7,
        }
        .into(),
    ];
    let producer = app.producer();
    for event in &events {
        producer.publish(event).await.expect("published");
    }
    let done = wait_for_status(&app, &tenant, id, "completed").await;
    assert_eq!(done["attempts"], 1);
    assert_eq!(done["result"], json!({"ok": true}));
    assert_eq!(done["progress"]["percent"], 100);
    assert!(done["finished_at"].is_string());

    let history = json_of(app.get(&tenant, &format!("/v1/tasks/{id}/events")).await).await;
    let types: Vec<_> = history["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["type"].clone())
        .collect();
    assert_eq!(
        types,
        [
            json!("TaskCreated"),
            json!("TaskStarted"),
            json!("TaskProgressUpdated"),
            json!("TaskCompleted")
        ]
    );

    // The log is the outbox: each event is one row of it, at its stream position; only the
    // TaskCreated is published, the executor's events are recorded there as internal rows.
    assert_eq!(
        app.count_where("outbox", &format!("body->>'task_id' = '{id}'"))
            .await,
        4,
        "one row per event (the repeated TaskStarted once), no second copy for the relay"
    );
    assert_eq!(
        app.count_where(
            "outbox",
            &format!(
                "stream_id = '{id}' AND NOT internal AND version = 1 AND event_type = 'TaskCreated'"
            )
        )
        .await,
        1
    );
    assert_eq!(
        app.count_where("outbox", &format!("stream_id = '{id}' AND internal"))
            .await,
        3
    );
    assert_eq!(
        app.count_where("pg_class", "relname = 'task_events' AND relkind = 'v'")
            .await,
        1,
        "task_events is a view of the log"
    );

    // The ended task gave its slot back.
    assert_eq!(
        app.submit(&tenant, &noop(), None).await.status(),
        StatusCode::CREATED
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rebuilt_projection_equals_the_live_one() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant().await;
    let mut ids = Vec::new();
    for body in [
        noop(),
        json!({"type": "sleep", "payload": {"duration_ms": 3}, "labels": {"a": "b"}}),
        noop(),
    ] {
        ids.push(
            json_of(app.submit(&tenant, &body, None).await).await["id"]
                .as_str()
                .expect("id")
                .to_owned(),
        );
    }
    let producer = app.producer();
    let first: Uuid = ids[0].parse().expect("uuid");
    producer
        .publish(
            &TaskStarted {
                meta: meta(&tenant),
                task_id: first,
                attempt: 1,
                instance: "x".into(),
            }
            .into(),
        )
        .await
        .expect("published");
    producer
        .publish(
            &TaskCompleted {
                meta: meta(&tenant),
                task_id: first,
                attempt: 1,
                result_json: None,
                duration_ms: 1,
            }
            .into(),
        )
        .await
        .expect("published");
    let cancel = app
        .http
        .post(app.url(&format!("/v1/tasks/{}/cancel", ids[1])))
        .bearer_auth(&tenant.key)
        .send()
        .await
        .expect("cancel");
    assert_eq!(cancel.status(), StatusCode::ACCEPTED);
    let second: Uuid = ids[1].parse().expect("uuid");
    producer
        .publish(
            &TaskCancelled {
                meta: meta(&tenant),
                task_id: second,
                attempt: None,
                reason: None,
            }
            .into(),
        )
        .await
        .expect("published");
    wait_for_status(&app, &tenant, &ids[0], "completed").await;
    wait_for_status(&app, &tenant, &ids[1], "cancelled").await;

    let live = json_of(app.get(&tenant, "/v1/tasks").await).await;
    let mut conn = app.services.db.get().await.expect("connection");
    diesel::sql_query(
        "UPDATE tasks SET status = 'pending', attempts = 99, result = NULL, labels = '{}'",
    )
    .execute(&mut conn)
    .await
    .expect("projection damaged");
    diesel::sql_query("UPDATE tenant_usage SET active_tasks = 0")
        .execute(&mut conn)
        .await
        .expect("counters damaged");
    let rebuilt = rebuild_and_wait(&app).await;
    assert_eq!(rebuilt["state"], "succeeded", "{rebuilt}");
    assert_eq!(rebuilt["unit"], "tasks");
    assert_eq!(rebuilt["total"], 3);
    assert_eq!(rebuilt["done"], 3);
    assert!(rebuilt["finished_at"].is_string());
    assert_eq!(json_of(app.get(&tenant, "/v1/tasks").await).await, live);
    let active = || async {
        let mut conn = app.services.db.get().await.expect("connection");
        diesel::select(diesel::dsl::sql::<diesel::sql_types::Integer>(
            "(SELECT active_tasks FROM tenant_usage LIMIT 1)",
        ))
        .get_result::<i32>(&mut conn)
        .await
        .expect("active")
    };
    assert_eq!(active().await, 1, "one task is still pending");

    // Without a single row to repair: every task comes back from the log alone.
    TaskProjection.wipe(&mut conn).await.expect("wiped");
    assert_eq!(app.count("tasks").await, 0);
    assert_eq!(active().await, 0);
    let rebuilt = rebuild_and_wait(&app).await;
    assert_eq!(rebuilt["state"], "succeeded", "{rebuilt}");
    assert_eq!(json_of(app.get(&tenant, "/v1/tasks").await).await, live);
    assert_eq!(active().await, 1);
}

/// A large rebuild answers at once, reports growing progress page by page, lets submissions
/// through meanwhile, and repairs every row that existed when it started.
#[tokio::test(flavor = "multi_thread")]
async fn a_rebuild_is_a_job_with_progress_while_traffic_flows() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant().await;
    for _ in 0..3 {
        let items: Vec<Value> = (0..400).map(|_| noop()).collect();
        let response = app
            .http
            .post(app.url("/v1/tasks:batch"))
            .bearer_auth(&tenant.key)
            .json(&json!({"tasks": items}))
            .send()
            .await
            .expect("batch");
        assert_eq!(response.status(), StatusCode::CREATED);
    }
    let mut conn = app.services.db.get().await.expect("connection");
    diesel::sql_query("UPDATE tasks SET status = 'failed', attempts = 7")
        .execute(&mut conn)
        .await
        .expect("projection damaged");

    let job = start_rebuild(&app).await;
    let id = job["job_id"].as_str().expect("job id").to_owned();
    assert_eq!(job["state"], "running");
    assert_eq!(job["done"], 0);
    let seen = std::sync::Mutex::new(Vec::new());
    let submitted = std::sync::atomic::AtomicUsize::new(0);
    let done = wait_until(Duration::from_secs(120), "the rebuild to end", || async {
        if submitted.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < 20 {
            assert_eq!(
                app.submit(&tenant, &noop(), None).await.status(),
                StatusCode::CREATED,
                "submissions go on during a rebuild"
            );
        }
        let job = job_status(&app, &id).await;
        seen.lock()
            .expect("progress")
            .push(job["done"].as_i64().expect("done"));
        (job["state"] != "running").then_some(job)
    })
    .await;
    let seen = seen.into_inner().expect("progress");
    assert!(
        seen.windows(2).all(|w| w[0] <= w[1]),
        "progress went back: {seen:?}"
    );
    assert_eq!(done["state"], "succeeded", "{done}");
    assert_eq!(done["done"], done["total"], "{done}");
    assert!(done["total"].as_i64().expect("total") >= 1200, "{done}");
    assert!(done["error"].is_null());
    let damaged: i64 = diesel::select(diesel::dsl::sql::<diesel::sql_types::BigInt>(
        "(SELECT count(*) FROM tasks WHERE status = 'failed' OR attempts = 7)",
    ))
    .get_result(&mut conn)
    .await
    .expect("count");
    assert_eq!(
        damaged, 0,
        "every task that existed when the job started was refolded"
    );
}

/// One job at a time: a second start while one runs (here on "another instance": its row and
/// its session holding the runner lock) returns that job. When its runner goes away the job
/// shows as failed (interrupted), and a new one can start. An instance starting up marks such
/// a job too.
#[tokio::test(flavor = "multi_thread")]
async fn one_rebuild_at_a_time_and_a_lost_runner_shows_as_interrupted() {
    use diesel_async::{AsyncConnection, AsyncPgConnection};

    let app = TestApp::spawn().await;
    let running = Uuid::now_v7();
    let mut other = AsyncPgConnection::establish(&app.config.database_url)
        .await
        .expect("connection");
    diesel::sql_query(format!(
        "SELECT pg_advisory_lock({LOCK_CLASS}, {RUNNER_LOCK})"
    ))
    .execute(&mut other)
    .await
    .expect("runner lock");
    diesel::sql_query(
        "INSERT INTO projection_rebuilds (id, state, unit, done, started_at, updated_at, owner) \
         VALUES ($1, 'running', 'tasks', 0, now(), now(), 'svc-tasks@elsewhere')",
    )
    .bind::<diesel::sql_types::Uuid, _>(running)
    .execute(&mut other)
    .await
    .expect("running job");

    let joined = start_rebuild(&app).await;
    assert_eq!(joined["job_id"], running.to_string(), "{joined}");
    assert_eq!(joined["state"], "running");
    assert_eq!(
        job_status(&app, &running.to_string()).await["state"],
        "running"
    );

    drop(other);
    let failed = wait_for_job(&app, &running.to_string()).await;
    assert_eq!(failed["state"], "failed");
    assert!(
        failed["error"]
            .as_str()
            .is_some_and(|e| e.starts_with("interrupted")),
        "{failed}"
    );
    let next = rebuild_and_wait(&app).await;
    assert_ne!(next["job_id"], running.to_string());
    assert_eq!(next["state"], "succeeded", "{next}");

    assert_problem(
        app.http
            .get(app.url(&format!("/v1/admin/projections/rebuild/{}", Uuid::now_v7())))
            .bearer_auth(&app.admin_token)
            .send()
            .await
            .expect("status"),
        StatusCode::NOT_FOUND,
        "not-found",
    )
    .await;

    // Both routes want the admin token, as svc-tasks' other admin routes do: a tenant's key or
    // no credential at all is a 401.
    let tenant = app.tenant().await;
    for (method, path) in [
        (
            reqwest::Method::POST,
            "/v1/admin/projections/rebuild".to_owned(),
        ),
        (
            reqwest::Method::GET,
            format!("/v1/admin/projections/rebuild/{running}"),
        ),
    ] {
        for key in [None, Some(&tenant.key)] {
            let mut request = app.http.request(method.clone(), app.url(&path));
            if let Some(key) = key {
                request = request.bearer_auth(key);
            }
            let problem = assert_problem(
                request.send().await.expect("request"),
                StatusCode::UNAUTHORIZED,
                "unauthorized",
            )
            .await;
            assert_eq!(
                problem["detail"], "admin endpoints need Authorization: Bearer <admin token>",
                "{method} {path}"
            );
        }
    }

    // A job left running by a process that died is failed by the next one to start.
    let orphan = Uuid::now_v7();
    let mut conn = app.services.db.get().await.expect("connection");
    diesel::sql_query(
        "INSERT INTO projection_rebuilds (id, state, unit, done, started_at, updated_at, owner) \
         VALUES ($1, 'running', 'tasks', 10, now(), now(), 'svc-tasks@gone')",
    )
    .bind::<diesel::sql_types::Uuid, _>(orphan)
    .execute(&mut conn)
    .await
    .expect("orphan job");
    let database_url = app.config.database_url.clone();
    let _restarted = TestApp::spawn_with(|c| c.database_url = database_url).await;
    let state: String = diesel::select(
        diesel::dsl::sql::<diesel::sql_types::Text>(
            "(SELECT state FROM projection_rebuilds WHERE id = ",
        )
        .bind::<diesel::sql_types::Uuid, _>(orphan)
        .sql(")"),
    )
    .get_result(&mut conn)
    .await
    .expect("state");
    assert_eq!(state, "failed");
}

/// A database from before svc-tasks' rebuild became the platform's: its jobs are carried into
/// `projection_rebuilds` in the platform's shape (one still `running` there as failed: nothing
/// can run it on), and `rebuild_jobs` is gone.
#[tokio::test(flavor = "multi_thread")]
async fn older_rebuild_jobs_are_carried_over_as_history() {
    use diesel::sql_types::{BigInt, Nullable, Text, Uuid as SqlUuid};

    #[derive(diesel::QueryableByName, Debug, PartialEq)]
    struct Job {
        #[diesel(sql_type = Text)]
        state: String,
        #[diesel(sql_type = Text)]
        unit: String,
        #[diesel(sql_type = Nullable<BigInt>)]
        total: Option<i64>,
        #[diesel(sql_type = BigInt)]
        done: i64,
        #[diesel(sql_type = Nullable<Text>)]
        error: Option<String>,
        #[diesel(sql_type = Text)]
        owner: String,
    }

    let name = format!(
        "it_tasks_jobs_{}",
        &Uuid::new_v4().simple().to_string()[..12]
    );
    let pool =
        taskflow_platform::testing::database_before(&name, MIGRATIONS, &["20261224000001"]).await;
    let (ended, running) = (Uuid::now_v7(), Uuid::now_v7());
    let mut conn = pool.get().await.expect("conn");
    diesel::sql_query(
        "INSERT INTO rebuild_jobs (id, state, total_tasks, done_tasks, upto, started_at, \
         updated_at, finished_at, error, owner) VALUES \
         ($1, 'succeeded', 12, 12, $1, now(), now(), now(), NULL, 'svc-tasks@a'), \
         ($2, 'running', 40, 10, $2, now(), now(), NULL, NULL, 'svc-tasks@b')",
    )
    .bind::<SqlUuid, _>(ended)
    .bind::<SqlUuid, _>(running)
    .execute(&mut conn)
    .await
    .expect("older jobs");
    drop(conn);

    taskflow_platform::db::migrate(&pool, MIGRATIONS)
        .await
        .expect("migrated");

    let mut conn = pool.get().await.expect("conn");
    let job = |id: Uuid| {
        diesel::sql_query(
            "SELECT state, unit, total, done, error, owner FROM projection_rebuilds WHERE id = $1",
        )
        .bind::<SqlUuid, _>(id)
    };
    let carried: Job = job(ended).get_result(&mut conn).await.expect("ended job");
    assert_eq!(
        carried,
        Job {
            state: "succeeded".into(),
            unit: "tasks".into(),
            total: Some(12),
            done: 12,
            error: None,
            owner: "svc-tasks@a".into(),
        }
    );
    let failed: Job = job(running)
        .get_result(&mut conn)
        .await
        .expect("running job");
    assert_eq!((failed.state.as_str(), failed.done), ("failed", 10));
    assert!(
        failed
            .error
            .as_deref()
            .is_some_and(|e| e.starts_with("interrupted")),
        "{failed:?}"
    );
    let tables: i64 = diesel::select(diesel::dsl::sql::<BigInt>(
        "(SELECT count(*) FROM pg_tables WHERE tablename = 'rebuild_jobs')",
    ))
    .get_result(&mut conn)
    .await
    .expect("tables");
    assert_eq!(tables, 0, "rebuild_jobs is gone");
}
