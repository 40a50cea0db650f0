//! Pure rules of svc-tasks: no I/O, no clocks, no database. Callers pass time and ids in.

pub mod api_key;
pub mod catalog;
pub mod quota;
pub mod run_at;
pub mod submission;
pub mod task;
pub mod text;
pub mod trigger;

pub use task::{
    ApplyError, CancelRefused, TaskStatus, TaskView, apply, decide_cancel, fold, state_of,
};
