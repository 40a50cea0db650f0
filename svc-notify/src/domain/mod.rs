//! What svc-notify decides, with no I/O: how an event moves a task's live view and what a
//! person is told about it (`fold`), and what a stream token says and whether it holds (`token`).

pub mod fold;
pub mod refold;
pub mod token;

pub use fold::{Draft, TaskState, fold};
/// The one definition every service uses, from `taskflow-schemas`.
pub use taskflow_schemas::TaskStatus;
