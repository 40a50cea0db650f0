//! svc-executor against the real PostgreSQL, Kafka and schema registry (`make test`). Each test
//! gets its own database, topic prefix and consumer group; it plays svc-tasks by publishing
//! TaskCreated and TaskCancelRequested, and reads the executor's database (executions, attempts,
//! the outbox of the events it announces).

mod append_only;
mod cancellation;
mod crashes;
mod delayed;
mod helpers;
mod prepared;
mod rebuild;
mod retention;
mod retries;
mod takeover;
mod timeouts;
