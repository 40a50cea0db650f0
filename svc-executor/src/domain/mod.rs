//! Pure rules of the executor: backoff and what an attempt's outcome leads to.

pub mod backoff;
pub mod outcome;
