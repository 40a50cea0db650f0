//! What a service's `main` does, written once: `--print-config`, telemetry, then the service's
//! own start (configuration from the environment, `Application::build`, `run_until_stopped`),
//! and the exit code.

use std::future::Future;
use std::process::ExitCode;

use crate::config::{Setting, print_config_if_asked};

/// Runs `service`: prints `settings` and exits 0 when asked (`--print-config`, before telemetry
/// starts); otherwise starts telemetry (a failure is said on stderr, exit 1), then awaits
/// `start`, which reads its configuration from the environment, builds the application and runs
/// it until it stops. An error is logged as "`<service>` stopped" and exits 1. The telemetry
/// guard lives until `start` has finished, so its spans are flushed.
pub async fn run_service<F, Fut>(
    service: &'static str,
    settings: &[&[Setting]],
    start: F,
) -> ExitCode
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    if print_config_if_asked(service, settings) {
        return ExitCode::SUCCESS;
    }
    let _telemetry = match crate::telemetry::init(service) {
        Ok(guard) => guard,
        Err(error) => {
            eprintln!("{service}: {error}");
            return ExitCode::FAILURE;
        }
    };
    match start().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(error = format!("{error:#}"), "{service} stopped");
            ExitCode::FAILURE
        }
    }
}
