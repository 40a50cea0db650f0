//! The projections rebuilt from the log: `POST /v1/admin/projections/rebuild` restores
//! `schedules` and `occurrences` from the outbox (and the runs' endings), while the service
//! serves and the firer fires, no instant twice.

use std::collections::HashSet;
use std::time::Duration;

use chrono::Utc;
use diesel::sql_types::{Jsonb, Text};
use diesel_async::RunQueryDsl;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use taskflow_platform::db::{self, DbPool};
use taskflow_schemas::samples::sample_meta;
use taskflow_schemas::{EventMeta, ScheduledTaskRefused, TaskCompleted};
use uuid::Uuid;

use crate::helpers::{ADMIN_TOKEN, TestScheduler, TestTenant, wait_until};

const REBUILD: &str = "/v1/admin/projections/rebuild";

#[derive(diesel::QueryableByName)]
struct Row {
    #[diesel(sql_type = Jsonb)]
    row: Value,
}

/// Every row of `table` as JSON, in key order.
async fn rows(pool: &DbPool, query: &str) -> Vec<Value> {
    let mut conn = pool.get().await.expect("connection");
    diesel::sql_query(query)
        .load::<Row>(&mut conn)
        .await
        .expect("rows")
        .into_iter()
        .map(|r| r.row)
        .collect()
}

async fn schedules(pool: &DbPool) -> Vec<Value> {
    rows(
        pool,
        "SELECT to_jsonb(s) AS row FROM schedules s ORDER BY id",
    )
    .await
}

async fn occurrences(pool: &DbPool) -> Vec<Value> {
    rows(
        pool,
        "SELECT to_jsonb(o) AS row FROM occurrences o ORDER BY schedule_id, nominal_time",
    )
    .await
}

fn of(rows: &[Value], field: &str, id: &str) -> Vec<Value> {
    rows.iter().filter(|r| r[field] == id).cloned().collect()
}

fn without(rows: &[Value], field: &str, ids: &[&str]) -> Vec<Value> {
    rows.iter()
        .filter(|r| !ids.iter().any(|id| r[field] == *id))
        .cloned()
        .collect()
}

/// (schedule, instant) pairs the log decided more than once: should be none.
async fn decided_twice(pool: &DbPool) -> Vec<String> {
    #[derive(diesel::QueryableByName)]
    struct Twice {
        #[diesel(sql_type = Text)]
        instant: String,
    }
    let mut conn = pool.get().await.expect("connection");
    diesel::sql_query(
        "SELECT (body->>'schedule_id') || ' ' || coalesce(body->>'fire_time', body->>'nominal_time') AS instant \
         FROM outbox WHERE event_type IN ('ScheduledTaskTriggered', 'ScheduleOccurrenceSkipped') \
         GROUP BY 1 HAVING count(*) > 1",
    )
    .load::<Twice>(&mut conn)
    .await
    .expect("instants")
    .into_iter()
    .map(|t| t.instant)
    .collect()
}

async fn admin(
    app: &TestScheduler,
    method: Method,
    path: &str,
    token: Option<&str>,
) -> (StatusCode, Value) {
    let mut request = app.http.request(method, app.url(path));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("request");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn ok(
    app: &TestScheduler,
    tenant: &TestTenant,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> Value {
    let (status, answer) = app.call(tenant, method, path, body.as_ref()).await;
    assert!(status.is_success(), "{path}: {status} {answer}");
    answer
}

async fn next_instant_is_null(app: &TestScheduler, tenant: &TestTenant, id: &str) -> Option<()> {
    let (_, schedule) = app
        .call(tenant, Method::GET, &format!("/v1/schedules/{id}"), None)
        .await;
    schedule["next_instant"].is_null().then_some(())
}

#[tokio::test(flavor = "multi_thread")]
async fn the_projections_rebuild_from_the_log_while_the_service_serves_and_fires() {
    let app = TestScheduler::spawn().await;
    let tenant = app.tenant().await;
    let pool = db::pool(&app.config.database_url, 2).expect("pool");
    let now = Utc::now();
    let at = |seconds: i64| (now + chrono::Duration::seconds(seconds)).to_rfc3339();

    // Schedules that end within seconds, so their rows settle and can be compared whole.
    let a = ok(
        &app,
        &tenant,
        Method::POST,
        "/v1/schedules",
        Some(json!({
        "name": "  every second  ", "task": {"type": "noop", "priority": "HIGH"},
        "spec": {"every": "PT1S"}, "overlap": "allow_all", "end_at": at(5)})),
    )
    .await;
    let b = ok(
        &app,
        &tenant,
        Method::POST,
        "/v1/schedules",
        Some(json!({
        "name": "skips", "task": {"type": "noop"}, "spec": {"every": "PT2S"},
        "start_at": at(-10), "end_at": at(5), "jitter": "PT0.5S"})),
    )
    .await;
    let c = ok(
        &app,
        &tenant,
        Method::POST,
        "/v1/schedules",
        Some(json!({
        "name": "cron", "task": {"type": "noop"}, "spec": {"cron": "* * * * * *"},
        "overlap": "allow_all", "end_at": at(9)})),
    )
    .await;
    let d = ok(
        &app,
        &tenant,
        Method::POST,
        "/v1/schedules",
        Some(json!({
        "name": "deleted", "task": {"type": "noop"}, "spec": {"every": "PT1H"}})),
    )
    .await;
    let e = ok(
        &app,
        &tenant,
        Method::POST,
        "/v1/schedules",
        Some(json!({
        "name": "once", "task": {"type": "noop"}, "spec": {"at": at(1)}})),
    )
    .await;
    // One that keeps firing, before and after the rebuild.
    let f = ok(
        &app,
        &tenant,
        Method::POST,
        "/v1/schedules",
        Some(json!({
        "name": "forever", "task": {"type": "noop"}, "spec": {"every": "PT1S"},
        "overlap": "allow_all"})),
    )
    .await;
    let id = |s: &Value| s["id"].as_str().expect("id").to_owned();
    let (a, b, c, d, e, f) = (id(&a), id(&b), id(&c), id(&d), id(&e), id(&f));

    ok(
        &app,
        &tenant,
        Method::PATCH,
        &format!("/v1/schedules/{d}"),
        Some(json!({"spec": {"every": "PT2H"}})),
    )
    .await;
    ok(
        &app,
        &tenant,
        Method::DELETE,
        &format!("/v1/schedules/{d}"),
        None,
    )
    .await;
    ok(
        &app,
        &tenant,
        Method::POST,
        &format!("/v1/schedules/{b}/backfill"),
        Some(json!({"from": at(-10), "to": at(-1)})),
    )
    .await;
    ok(
        &app,
        &tenant,
        Method::POST,
        &format!("/v1/schedules/{a}/trigger"),
        None,
    )
    .await;
    wait_until(
        Duration::from_secs(30),
        "the cron schedule to fire",
        || async { (app.occurrences(&tenant, &c).await.len() >= 2).then_some(()) },
    )
    .await;
    ok(
        &app,
        &tenant,
        Method::POST,
        &format!("/v1/schedules/{c}/pause"),
        Some(json!({"note": "a moment"})),
    )
    .await;
    let paused_at = Utc::now();
    wait_until(
        Duration::from_secs(10),
        "two instants to pass while paused",
        || async { (Utc::now() - paused_at >= chrono::Duration::seconds(2)).then_some(()) },
    )
    .await;
    ok(
        &app,
        &tenant,
        Method::POST,
        &format!("/v1/schedules/{c}/resume"),
        None,
    )
    .await;

    // svc-tasks' answers: one run ended, one trigger refused.
    let runs = wait_until(
        Duration::from_secs(30),
        "two runs of the first schedule",
        || async {
            let runs: Vec<Value> = app
                .occurrences(&tenant, &a)
                .await
                .into_iter()
                .filter(|o| o["outcome"] == "triggered")
                .collect();
            (runs.len() >= 2).then_some(runs)
        },
    )
    .await;
    let task = |o: &Value| {
        o["task_id"]
            .as_str()
            .expect("task")
            .parse::<Uuid>()
            .expect("uuid")
    };
    let ended = TaskCompleted {
        meta: EventMeta {
            tenant_id: tenant.id,
            ..sample_meta()
        },
        task_id: task(&runs[0]),
        attempt: 1,
        result_json: Some("{}".into()),
        duration_ms: 3,
    };
    let refused = ScheduledTaskRefused {
        meta: EventMeta {
            tenant_id: tenant.id,
            ..sample_meta()
        },
        schedule_id: a.parse().expect("uuid"),
        fire_time: chrono::DateTime::parse_from_rfc3339(
            runs[1]["nominal_time"].as_str().expect("time"),
        )
        .expect("time")
        .timestamp_millis(),
        task_id: task(&runs[1]),
        reason: "tenant over its quota".into(),
    };
    app.producer
        .publish(&ended.into())
        .await
        .expect("published");
    app.producer
        .publish(&refused.into())
        .await
        .expect("published");
    for schedule in [&a, &b, &c, &e] {
        wait_until(
            Duration::from_secs(60),
            "the bounded schedules to end",
            || next_instant_is_null(&app, &tenant, schedule),
        )
        .await;
    }
    wait_until(
        Duration::from_secs(30),
        "svc-tasks' answers applied",
        || async {
            let rows = app.occurrences(&tenant, &a).await;
            (rows
                .iter()
                .any(|o| o["task_ended"] == true && o["outcome"] == "triggered")
                && rows.iter().any(|o| o["outcome"] == "refused"))
            .then_some(())
        },
    )
    .await;

    let schedules_before = schedules(&pool).await;
    let occurrences_before = occurrences(&pool).await;
    assert_eq!(schedules_before.len(), 5, "d is deleted");
    let mut conn = pool.get().await.expect("connection");
    svc_scheduler::store::wipe_projections(&mut conn)
        .await
        .expect("wiped");
    assert!(schedules(&pool).await.is_empty());

    // Created after the wipe: fires throughout the rebuild and is refolded while it does.
    let g = ok(
        &app,
        &tenant,
        Method::POST,
        "/v1/schedules",
        Some(json!({
        "name": "during", "task": {"type": "noop"}, "spec": {"every": "PT1S"},
        "overlap": "allow_all"})),
    )
    .await;
    let g = id(&g);

    // Hold the job's first page back (it waits for the runs' endings lock, before it locks any
    // schedule) to watch the service while the job runs.
    diesel::sql_query("SELECT pg_advisory_lock_shared(29539, 1)")
        .execute(&mut conn)
        .await
        .expect("held");

    assert_eq!(
        admin(&app, Method::POST, REBUILD, None).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        admin(&app, Method::POST, REBUILD, Some("not-the-token"))
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    let response = app
        .http
        .post(app.url(REBUILD))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let location = response.headers()["location"]
        .to_str()
        .expect("location")
        .to_owned();
    let job: Value = response.json().await.expect("job");
    assert_eq!(
        (job["state"].as_str(), job["unit"].as_str()),
        (Some("running"), Some("schedules"))
    );
    assert_eq!(
        location,
        format!("{REBUILD}/{}", job["job_id"].as_str().expect("id"))
    );
    let (status, again) = admin(&app, Method::POST, REBUILD, Some(ADMIN_TOKEN)).await;
    assert_eq!(
        (status, &again["job_id"]),
        (StatusCode::ACCEPTED, &job["job_id"]),
        "the running job"
    );
    assert_eq!(
        admin(&app, Method::GET, &location, None).await.0,
        StatusCode::UNAUTHORIZED
    );

    // Meanwhile the service answers and the firer fires.
    let fired_before = app.occurrences(&tenant, &g).await.len();
    wait_until(
        Duration::from_secs(30),
        "the firer to fire during the rebuild",
        || async { (app.occurrences(&tenant, &g).await.len() >= fired_before + 2).then_some(()) },
    )
    .await;
    let (status, _) = app.call(&tenant, Method::GET, "/v1/schedules", None).await;
    assert_eq!(status, StatusCode::OK);
    let (_, running) = admin(&app, Method::GET, &location, Some(ADMIN_TOKEN)).await;
    assert_eq!(running["state"], "running", "{running}");

    diesel::sql_query("SELECT pg_advisory_unlock_shared(29539, 1)")
        .execute(&mut conn)
        .await
        .expect("released");
    let done = wait_until(
        Duration::from_secs(60),
        "the rebuild to succeed",
        || async {
            let (_, job) = admin(&app, Method::GET, &location, Some(ADMIN_TOKEN)).await;
            assert_ne!(job["state"], "failed", "{job}");
            (job["state"] == "succeeded").then_some(job)
        },
    )
    .await;
    assert_eq!(
        (done["total"].as_i64(), done["done"].as_i64()),
        (Some(7), Some(7)),
        "{done}"
    );

    // Every column of the settled schedules and their occurrences, as they were.
    let schedules_after = schedules(&pool).await;
    let occurrences_after = occurrences(&pool).await;
    let moving = [f.as_str(), g.as_str()];
    assert_eq!(
        without(&schedules_after, "id", &moving),
        without(&schedules_before, "id", &moving)
    );
    assert_eq!(
        without(&occurrences_after, "schedule_id", &moving),
        without(&occurrences_before, "schedule_id", &moving)
    );
    assert!(
        of(&schedules_after, "id", &d).is_empty(),
        "deleted stays deleted"
    );
    // The one that kept firing: what it had, and its settings, as they were.
    let f_after = of(&occurrences_after, "schedule_id", &f);
    for occurrence in of(&occurrences_before, "schedule_id", &f) {
        assert!(f_after.contains(&occurrence), "{occurrence} restored");
    }
    let settings = |rows: &[Value]| {
        let mut row = of(rows, "id", &f).remove(0);
        for moved in ["next_nominal", "next_fire_at"] {
            row.as_object_mut().expect("row").remove(moved);
        }
        row
    };
    assert_eq!(settings(&schedules_after), settings(&schedules_before));

    // Both go on from where the log left them: each instant once, none left out.
    for schedule in [&f, &g] {
        let before = app.occurrences(&tenant, schedule).await.len();
        let rows = wait_until(
            Duration::from_secs(30),
            "firing after the rebuild",
            || async {
                let rows = app.occurrences(&tenant, schedule).await;
                (rows.len() >= before + 2).then_some(rows)
            },
        )
        .await;
        let instants: Vec<i64> = rows
            .iter()
            .map(|o| {
                chrono::DateTime::parse_from_rfc3339(o["nominal_time"].as_str().expect("time"))
                    .expect("time")
                    .timestamp_millis()
            })
            .collect();
        let distinct: HashSet<i64> = instants.iter().copied().collect();
        assert_eq!(distinct.len(), instants.len());
        let (first, last) = (
            instants.iter().min().expect("some"),
            instants.iter().max().expect("some"),
        );
        assert_eq!(
            ((last - first) / 1000 + 1) as usize,
            instants.len(),
            "a run every second, none left out"
        );
    }
    assert_eq!(decided_twice(&pool).await, Vec::<String>::new());
}
