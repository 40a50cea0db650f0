//! A consumer's knobs, apart from the loop that reads them, so that a service can build them
//! without reading how a batch is run.

use std::time::Duration;

#[derive(Debug, Clone)]
pub struct ConsumerSettings {
    pub group_id: String,
    pub topics: Vec<String>,
    /// Most records handed to the handler at once.
    pub max_batch: usize,
    /// How long to wait for more records once one has arrived, when the previous batch was
    /// large (load is high, so waiting fills the batch); after a small batch only the records
    /// already fetched are taken, so a lone record is not delayed.
    pub batch_linger: Duration,
    /// Backoff between retries of a failing handler, doubling up to `retry_max`.
    pub retry_initial: Duration,
    pub retry_max: Duration,
}

impl ConsumerSettings {
    pub fn new(group_id: impl Into<String>, topics: Vec<String>) -> Self {
        Self {
            group_id: group_id.into(),
            topics,
            max_batch: 500,
            batch_linger: Duration::from_millis(10),
            retry_initial: Duration::from_millis(100),
            retry_max: Duration::from_secs(10),
        }
    }
}
