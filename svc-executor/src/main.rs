use std::process::ExitCode;

use svc_executor::config::{ExecutorConfig, SETTINGS};
use svc_executor::startup::Application;

#[tokio::main]
async fn main() -> ExitCode {
    if taskflow_platform::config::print_config_if_asked("svc-executor", &SETTINGS) {
        return ExitCode::SUCCESS;
    }
    let _telemetry = match taskflow_platform::telemetry::init("svc-executor") {
        Ok(guard) => guard,
        Err(error) => {
            eprintln!("svc-executor: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = async {
        let config = ExecutorConfig::from_env()?;
        Application::build(config).await?.run_until_stopped().await
    }
    .await;
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(error = format!("{error:#}"), "svc-executor stopped");
            ExitCode::FAILURE
        }
    }
}
