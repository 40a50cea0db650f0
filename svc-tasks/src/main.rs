//! svc-tasks: the task submission API. Only the crate exists so far (see the issue tracker); running it says so
//! and exits non-zero rather than pretending to serve.

use std::process::ExitCode;

fn main() -> ExitCode {
    let _telemetry = match taskflow_platform::telemetry::init("svc-tasks") {
        Ok(guard) => guard,
        Err(error) => {
            eprintln!("svc-tasks: {error}");
            return ExitCode::FAILURE;
        }
    };
    tracing::error!("svc-tasks is not implemented yet");
    ExitCode::FAILURE
}
