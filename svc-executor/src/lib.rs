//! svc-executor: runs tasks. Only the handlers exist so far (issue 4 is in progress).

pub mod handlers;
