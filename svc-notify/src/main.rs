use std::process::ExitCode;

use svc_notify::config::{NotifyConfig, SETTINGS};
use svc_notify::startup::Application;

#[tokio::main]
async fn main() -> ExitCode {
    taskflow_platform::entry::run_service("svc-notify", &SETTINGS, || async {
        let config = NotifyConfig::from_env()?;
        Application::build(config).await?.run_until_stopped().await
    })
    .await
}
