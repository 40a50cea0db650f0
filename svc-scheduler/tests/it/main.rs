//! svc-scheduler against the real PostgreSQL, Kafka and schema registry (`make test`). Each test
//! gets its own database, topic prefix and consumer group; it plays svc-tasks by publishing the
//! key events and reading the triggers topic.

mod docs;
mod helpers;
mod key_directory;
mod lifecycle;
mod overlap;
mod rebuild;
mod retention;
mod schedules;
mod startup;
