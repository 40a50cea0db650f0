use std::process::ExitCode;

use svc_scheduler::config::{SETTINGS, SchedulerConfig};
use svc_scheduler::startup::Application;

#[tokio::main]
async fn main() -> ExitCode {
    taskflow_platform::entry::run_service("svc-scheduler", &SETTINGS, || async {
        let config = SchedulerConfig::from_env()?;
        Application::build(config).await?.run_until_stopped().await
    })
    .await
}
