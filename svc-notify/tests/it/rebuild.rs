//! The projections (`tasks`, `status_counts`) rebuilt from the notification history by the
//! platform's rebuild job, while the service goes on serving and consuming.

use std::collections::BTreeMap;
use std::time::Duration;

use diesel::sql_types::{BigInt, Text};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
use reqwest::StatusCode;
use serde_json::Value;
use svc_notify::service::rebuild::TaskViews;
use taskflow_platform::rebuild::{AdminToken, JobState, Projection, Rebuilder};
use taskflow_schemas::{Event, TaskCancelRequested, TaskCancelled, TaskFailed, TaskStarted};
use uuid::Uuid;

use crate::helpers::*;

const REBUILD: &str = "/v1/admin/projections/rebuild";

#[derive(diesel::QueryableByName)]
struct Json {
    #[diesel(sql_type = Text)]
    row: String,
}

/// Every task's view, as JSON, in task id order.
async fn tasks(app: &TestNotify) -> Vec<Value> {
    let mut conn = app.pool.get().await.expect("connection");
    let rows: Vec<Json> =
        diesel::sql_query("SELECT row_to_json(t)::text AS row FROM tasks t ORDER BY task_id")
            .load(&mut conn)
            .await
            .expect("tasks");
    rows.iter()
        .map(|r| serde_json::from_str(&r.row).expect("json"))
        .collect()
}

/// The counters that are not zero, by (tenant, status).
async fn counts(app: &TestNotify) -> BTreeMap<(String, String), i64> {
    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = Text)]
        tenant: String,
        #[diesel(sql_type = Text)]
        status: String,
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let mut conn = app.pool.get().await.expect("connection");
    let rows: Vec<Count> = diesel::sql_query(
        "SELECT tenant_id::text AS tenant, status, n FROM status_counts WHERE n <> 0",
    )
    .load(&mut conn)
    .await
    .expect("counts");
    rows.into_iter()
        .map(|c| ((c.tenant, c.status), c.n))
        .collect()
}

/// The tenant's overview, its tasks in id order (the API orders by last change, which ties).
async fn overview(app: &TestNotify, tenant: &TestTenant) -> Value {
    let response = app
        .http
        .get(app.url("/v1/overview"))
        .bearer_auth(&tenant.key)
        .send()
        .await
        .expect("overview");
    assert_eq!(response.status(), StatusCode::OK);
    let mut overview: Value = response.json().await.expect("json");
    let tasks = overview["tasks"].as_array_mut().expect("tasks");
    tasks.sort_by_key(|t| t["task_id"].as_str().unwrap_or_default().to_owned());
    overview
}

async fn start(app: &TestNotify) -> Value {
    let response = app
        .http
        .post(app.url(REBUILD))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .expect("rebuild");
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let location = response.headers()["location"]
        .to_str()
        .expect("location")
        .to_owned();
    let job: Value = response.json().await.expect("json");
    let id = job["job_id"].as_str().expect("job id");
    assert_eq!(location, format!("{REBUILD}/{id}"));
    assert_eq!(job["unit"], "tasks");
    job
}

async fn job(app: &TestNotify, id: &str) -> Value {
    let response = app
        .http
        .get(app.url(&format!("{REBUILD}/{id}")))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .expect("status");
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.expect("json")
}

async fn wait_for_job(
    app: &TestNotify,
    id: &str,
    what: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    wait_until(Duration::from_secs(60), what, || async {
        let job = job(app, id).await;
        done(&job).then_some(job)
    })
    .await
}

/// Sessions of this database waiting for a lock.
async fn waiting_for_a_lock(app: &TestNotify) -> i64 {
    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let mut conn = app.pool.get().await.expect("connection");
    let count: Count = diesel::sql_query(
        "SELECT count(*) AS n FROM pg_stat_activity \
         WHERE datname = current_database() AND wait_event_type = 'Lock'",
    )
    .get_result(&mut conn)
    .await
    .expect("activity");
    count.n
}

/// Tenant A: a completed task, one still running, one failed for good after a retry, one
/// cancelled; tenant B: a completed task. Returns once every notification is told.
async fn workload(app: &TestNotify, a: &TestTenant, b: &TestTenant) {
    app.task_life(a, 3, true).await;
    app.task_life(a, 2, false).await;
    let failed = app.task_life(a, 1, false).await;
    app.publish(&[
        failure(a.id, failed, 1, false),
        TaskStarted {
            meta: meta(a.id),
            task_id: failed,
            attempt: 2,
            instance: "it".into(),
        }
        .into(),
        failure(a.id, failed, 2, true),
    ])
    .await;
    let cancelled = Uuid::now_v7();
    app.publish(&[created(a.id, cancelled)]).await;
    app.publish(&[
        TaskCancelRequested {
            meta: meta(a.id),
            task_id: cancelled,
            reason: Some("not needed".into()),
        }
        .into(),
        TaskCancelled {
            meta: meta(a.id),
            task_id: cancelled,
            attempt: None,
            reason: Some("not needed".into()),
        }
        .into(),
    ])
    .await;
    app.task_life(b, 1, true).await;
    // A: 6 + 4 + 3 + 3 + 3; B: 4.
    app.seq_reaches(a, 19).await;
    app.seq_reaches(b, 4).await;
}

fn failure(tenant: Uuid, task_id: Uuid, attempt: i32, is_final: bool) -> Event {
    TaskFailed {
        meta: meta(tenant),
        task_id,
        attempt,
        error: format!("attempt {attempt} failed"),
        retryable: !is_final,
        is_final,
        next_attempt_at: None,
    }
    .into()
}

/// Wiped views and counters come back from the history equal to what the live path wrote, while
/// the service keeps answering and applying new events; one job runs at a time.
#[tokio::test(flavor = "multi_thread")]
async fn wiped_projections_are_rebuilt_from_the_history_while_the_service_serves() {
    let app = TestNotify::spawn().await;
    let (a, b) = (app.tenant().await, app.tenant().await);
    workload(&app, &a, &b).await;
    let live_tasks = tasks(&app).await;
    let live_counts = counts(&app).await;
    let live_overview = overview(&app, &a).await;
    assert_eq!(live_tasks.len(), 5);
    assert_eq!(
        live_counts.values().sum::<i64>(),
        5,
        "one count per task: {live_counts:?}"
    );

    let mut conn = app.pool.get().await.expect("connection");
    TaskViews::default().wipe(&mut conn).await.expect("wiped");
    drop(conn);
    assert!(tasks(&app).await.is_empty());
    assert!(
        overview(&app, &a).await["tasks"]
            .as_array()
            .expect("tasks")
            .is_empty()
    );

    // Hold the rebuild's first page: an uncommitted view of one of its tasks makes the page's
    // write wait for this transaction.
    let mut blocker = AsyncPgConnection::establish(&app.config.database_url)
        .await
        .expect("connection");
    blocker.batch_execute("BEGIN").await.expect("begin");
    diesel::sql_query(
        "INSERT INTO tasks SELECT * FROM json_populate_record(NULL::tasks, $1::json)",
    )
    .bind::<Text, _>(live_tasks[0].to_string())
    .execute(&mut blocker)
    .await
    .expect("uncommitted view");

    let started = start(&app).await;
    let id = started["job_id"].as_str().expect("job id").to_owned();
    assert_eq!(started["state"], "running");
    let running = wait_for_job(&app, &id, "the job to count its tasks", |j| {
        j["total"].is_number()
    })
    .await;
    assert_eq!(running["state"], "running");
    assert_eq!(running["total"], 5);
    wait_until(
        Duration::from_secs(30),
        "the rebuild to wait on its page",
        || async { (waiting_for_a_lock(&app).await > 0).then_some(()) },
    )
    .await;

    // Meanwhile: one job at a time, the service answers, and a new event is applied.
    let again = start(&app).await;
    assert_eq!(again["job_id"], started["job_id"]);
    assert_eq!(job(&app, &id).await["state"], "running");
    assert_eq!(overview(&app, &b).await["seq"], 4);
    let newcomer = Uuid::now_v7();
    app.publish(&[created(b.id, newcomer)]).await;
    app.seq_reaches(&b, 5).await;
    let b_now = overview(&app, &b).await;
    let b_tasks = b_now["tasks"].as_array().expect("tasks");
    assert!(
        b_tasks.iter().any(|t| t["task_id"] == newcomer.to_string()),
        "{b_now}"
    );
    assert_eq!(job(&app, &id).await["state"], "running");

    blocker.batch_execute("ROLLBACK").await.expect("rollback");
    let ended = wait_for_job(&app, &id, "the job to end", |j| j["state"] != "running").await;
    assert_eq!(ended["state"], "succeeded", "{ended}");
    assert_eq!(ended["done"], ended["total"]);
    assert!(ended["total"].as_i64().expect("total") >= 5);
    assert!(ended["finished_at"].is_string());
    assert!(ended["error"].is_null());

    let rebuilt = tasks(&app).await;
    let (old, new): (Vec<Value>, Vec<Value>) = rebuilt
        .into_iter()
        .partition(|t| t["task_id"] != newcomer.to_string());
    assert_eq!(old, live_tasks);
    assert_eq!(new.len(), 1);
    assert_eq!(new[0]["status"], "pending");
    let mut expected_counts = live_counts;
    *expected_counts
        .entry((b.id.to_string(), "pending".into()))
        .or_default() += 1;
    assert_eq!(counts(&app).await, expected_counts);
    assert_eq!(overview(&app, &a).await, live_overview);
}

/// The admin token guards both routes: none or another is 401, a service without one
/// configured answers 403; an unknown job is 404. Every refusal is a problem document.
#[tokio::test(flavor = "multi_thread")]
async fn the_routes_need_the_admin_token() {
    let app = TestNotify::spawn().await;
    let tenant = app.tenant().await;
    let job_url = app.url(&format!("{REBUILD}/{}", Uuid::now_v7()));
    for token in [None, Some(tenant.key.as_str()), Some("not-the-admin-token")] {
        for request in [app.http.post(app.url(REBUILD)), app.http.get(&job_url)] {
            let request = match token {
                Some(token) => request.bearer_auth(token),
                None => request,
            };
            let response = request.send().await.expect("request");
            assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{token:?}");
            assert_eq!(
                response.headers()["content-type"],
                "application/problem+json"
            );
        }
    }
    let missing = app
        .http
        .get(&job_url)
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .expect("request");
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    let problem: Value = missing.json().await.expect("json");
    assert_eq!(problem["type"], "urn:taskflow:problem:not-found");
    // Nothing was started by the refused requests.
    let mut conn = app.pool.get().await.expect("connection");
    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let jobs: Count = diesel::sql_query("SELECT count(*) AS n FROM projection_rebuilds")
        .get_result(&mut conn)
        .await
        .expect("jobs");
    assert_eq!(jobs.n, 0);

    let off = TestNotify::spawn_with(|c| c.admin_token = AdminToken::default()).await;
    let response = off
        .http
        .post(off.url(REBUILD))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let problem: Value = response.json().await.expect("json");
    assert_eq!(problem["type"], "urn:taskflow:problem:admin-disabled");
    assert!(
        problem["detail"]
            .as_str()
            .expect("detail")
            .contains("TASKFLOW_ADMIN_TOKEN"),
        "{problem}"
    );
}

/// Retention pruned the start of a task's history: the rebuild leaves the task's view as it is
/// (what is left cannot say what the pruned part did); a task with no view gets what is left.
#[tokio::test(flavor = "multi_thread")]
async fn a_view_whose_history_start_was_pruned_is_kept() {
    let app = TestNotify::spawn().await;
    let tenant = app.tenant().await;
    let task = app.task_life(&tenant, 1, false).await;
    app.seq_reaches(&tenant, 3).await;
    let mut conn = app.pool.get().await.expect("connection");
    conn.batch_execute(&format!(
        "BEGIN; SELECT set_config('taskflow.retention', 'on', true); \
         DELETE FROM notifications WHERE task_id = '{task}' AND seq = 1; \
         UPDATE tasks SET message = 'as the live path left it' WHERE task_id = '{task}'; COMMIT"
    ))
    .await
    .expect("pruned");
    let kept = tasks(&app).await;

    let started = start(&app).await;
    let id = started["job_id"].as_str().expect("job id");
    let ended = wait_for_job(&app, id, "the job to end", |j| j["state"] != "running").await;
    assert_eq!(ended["state"], "succeeded", "{ended}");
    assert_eq!(ended["done"], 1);
    assert_eq!(tasks(&app).await, kept);

    TaskViews::default().wipe(&mut conn).await.expect("wiped");
    let started = start(&app).await;
    let id = started["job_id"].as_str().expect("job id");
    let ended = wait_for_job(&app, id, "the job to end", |j| j["state"] != "running").await;
    assert_eq!(ended["state"], "succeeded", "{ended}");
    let restored = tasks(&app).await;
    assert_eq!(restored.len(), 1);
    assert_eq!(restored[0]["status"], "running");
    assert_eq!(restored[0]["task_type"], "sleep");
    assert_eq!(
        restored[0]["created_at"],
        Value::Null,
        "only the creation told it"
    );
    assert_eq!(restored[0]["last_seq"], 3);
    assert_eq!(
        counts(&app).await,
        BTreeMap::from([((tenant.id.to_string(), "running".to_owned()), 1)])
    );
}

/// A rebuild of several pages (two tasks each) ends where one page would: every task once.
#[tokio::test(flavor = "multi_thread")]
async fn a_rebuild_page_by_page_restores_every_task_once() {
    let app = TestNotify::spawn().await;
    let (a, b) = (app.tenant().await, app.tenant().await);
    workload(&app, &a, &b).await;
    let live_tasks = tasks(&app).await;
    let live_counts = counts(&app).await;
    let mut conn = app.pool.get().await.expect("connection");
    TaskViews::default().wipe(&mut conn).await.expect("wiped");

    let paged = Rebuilder::new(app.pool.clone(), TaskViews::paged(2), "paged");
    let id = paged.start().await.expect("started").job().job_id;
    let ended = wait_until(Duration::from_secs(60), "the paged job to end", || async {
        let job = paged.status(id).await.expect("status");
        (job.state != JobState::Running).then_some(job)
    })
    .await;
    assert_eq!(ended.state, JobState::Succeeded, "{ended:?}");
    assert_eq!((ended.done, ended.total), (5, Some(5)));
    assert_eq!(tasks(&app).await, live_tasks);
    assert_eq!(counts(&app).await, live_counts);
    // The service's own routes read the job too: one table, whichever instance ran it.
    assert_eq!(job(&app, &id.to_string()).await["state"], "succeeded");
}
