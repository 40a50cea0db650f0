use std::process::ExitCode;

use svc_tasks::config::{CorsOrigins, SETTINGS, TasksConfig};
use svc_tasks::startup::Application;

#[tokio::main]
async fn main() -> ExitCode {
    taskflow_platform::entry::run_service("svc-tasks", &SETTINGS, || async {
        let config = TasksConfig::from_env()?;
        let cors = CorsOrigins::from_env()?;
        Application::build_with_cors(config, cors)
            .await?
            .run_until_stopped()
            .await
    })
    .await
}
