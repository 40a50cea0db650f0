//! What the load generators of `make bench` and `make bench-peers` share (bench-e2e,
//! bench-notify, bench-submit): latency histograms and how the reports print them, the /proc
//! readings of CPU time and memory, the clock in microseconds, the task submissions they send,
//! and the SSE framing bench-notify's clients parse. Each binary keeps only what is its own.

pub mod clock;
pub mod cpu_probe;
pub mod environment;
pub mod latency;
pub mod numbers;
pub mod procfs;
pub mod sse;
pub mod submission;
