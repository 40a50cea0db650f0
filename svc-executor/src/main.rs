use std::process::ExitCode;

use svc_executor::config::{ExecutorConfig, SETTINGS};
use svc_executor::startup::Application;

#[tokio::main]
async fn main() -> ExitCode {
    taskflow_platform::entry::run_service("svc-executor", &SETTINGS, || async {
        let config = ExecutorConfig::from_env()?;
        Application::build(config).await?.run_until_stopped().await
    })
    .await
}
