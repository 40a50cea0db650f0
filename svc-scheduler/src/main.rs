//! svc-scheduler: delayed and cron tasks. Only the crate exists so far (see the issue tracker); running it says so
//! and exits non-zero rather than pretending to serve.

use std::process::ExitCode;

fn main() -> ExitCode {
    let _telemetry = match taskflow_platform::telemetry::init("svc-scheduler") {
        Ok(guard) => guard,
        Err(error) => {
            eprintln!("svc-scheduler: {error}");
            return ExitCode::FAILURE;
        }
    };
    tracing::error!("svc-scheduler is not implemented yet");
    ExitCode::FAILURE
}
