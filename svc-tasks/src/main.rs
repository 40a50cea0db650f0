use std::process::ExitCode;

use svc_tasks::config::{CorsOrigins, SETTINGS, TasksConfig};
use svc_tasks::startup::Application;

#[tokio::main]
async fn main() -> ExitCode {
    if taskflow_platform::config::print_config_if_asked("svc-tasks", &SETTINGS) {
        return ExitCode::SUCCESS;
    }
    let _telemetry = match taskflow_platform::telemetry::init("svc-tasks") {
        Ok(guard) => guard,
        Err(error) => {
            eprintln!("svc-tasks: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = async {
        let config = TasksConfig::from_env()?;
        let cors = CorsOrigins::from_env()?;
        Application::build_with_cors(config, cors)
            .await?
            .run_until_stopped()
            .await
    }
    .await;
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(error = format!("{error:#}"), "svc-tasks stopped");
            ExitCode::FAILURE
        }
    }
}
