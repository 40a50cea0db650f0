use std::process::ExitCode;

use svc_notify::config::{NotifyConfig, SETTINGS};
use svc_notify::startup::Application;

#[tokio::main]
async fn main() -> ExitCode {
    if taskflow_platform::config::print_config_if_asked("svc-notify", &SETTINGS) {
        return ExitCode::SUCCESS;
    }
    let _telemetry = match taskflow_platform::telemetry::init("svc-notify") {
        Ok(guard) => guard,
        Err(error) => {
            eprintln!("svc-notify: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = async {
        let config = NotifyConfig::from_env()?;
        Application::build(config).await?.run_until_stopped().await
    }
    .await;
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(error = format!("{error:#}"), "svc-notify stopped");
            ExitCode::FAILURE
        }
    }
}
