//! svc-executor: the task runner. Only the crate exists so far (see the issue tracker); running it says so
//! and exits non-zero rather than pretending to serve.

use std::process::ExitCode;

fn main() -> ExitCode {
    let _telemetry = match taskflow_platform::telemetry::init("svc-executor") {
        Ok(guard) => guard,
        Err(error) => {
            eprintln!("svc-executor: {error}");
            return ExitCode::FAILURE;
        }
    };
    tracing::error!("svc-executor is not implemented yet");
    ExitCode::FAILURE
}
