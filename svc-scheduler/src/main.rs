use std::process::ExitCode;

use svc_scheduler::config::{SETTINGS, SchedulerConfig};
use svc_scheduler::startup::Application;

#[tokio::main]
async fn main() -> ExitCode {
    if taskflow_platform::config::print_config_if_asked("svc-scheduler", &SETTINGS) {
        return ExitCode::SUCCESS;
    }
    let _telemetry = match taskflow_platform::telemetry::init("svc-scheduler") {
        Ok(guard) => guard,
        Err(error) => {
            eprintln!("svc-scheduler: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = async {
        let config = SchedulerConfig::from_env()?;
        Application::build(config).await?.run_until_stopped().await
    }
    .await;
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(error = format!("{error:#}"), "svc-scheduler stopped");
            ExitCode::FAILURE
        }
    }
}
