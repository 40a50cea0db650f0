use std::time::Duration;

use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use reqwest::StatusCode;

use crate::helpers::{TestApp, assert_problem, noop, wait_until};

async fn admin_sql(statement: &str) {
    let admin_url = std::env::var("DATABASE_URL_ADMIN").expect("admin url");
    let mut admin = AsyncPgConnection::establish(&admin_url)
        .await
        .expect("admin connection");
    diesel::sql_query(statement)
        .execute(&mut admin)
        .await
        .expect("admin statement");
}

/// The task database goes away: submissions get 503 problems with Retry-After and leave
/// nothing behind; when it is back, the service recovers without a restart.
#[tokio::test(flavor = "multi_thread")]
async fn a_lost_database_answers_503_and_recovers() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant().await;
    assert_eq!(
        app.submit(&tenant, &noop(), None).await.status(),
        StatusCode::CREATED
    );
    let database = app
        .config
        .database_url
        .rsplit('/')
        .next()
        .expect("db name")
        .to_owned();

    admin_sql(&format!(
        "ALTER DATABASE {database} ALLOW_CONNECTIONS false"
    ))
    .await;
    admin_sql(&format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{database}'"
    ))
    .await;
    let response = app.submit(&tenant, &noop(), None).await;
    assert!(response.headers().contains_key("retry-after"));
    assert_problem(response, StatusCode::SERVICE_UNAVAILABLE, "unavailable").await;
    let ready = app
        .http
        .get(app.url("/health/ready"))
        .send()
        .await
        .expect("ready");
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);

    admin_sql(&format!("ALTER DATABASE {database} ALLOW_CONNECTIONS true")).await;
    wait_until(
        Duration::from_secs(30),
        "submissions to succeed again",
        || async {
            (app.submit(&tenant, &noop(), None).await.status() == StatusCode::CREATED).then_some(())
        },
    )
    .await;
    assert_eq!(
        app.count("tasks").await,
        2,
        "the refused submission left nothing"
    );
    assert_eq!(app.task_outbox().await, 2);
}
