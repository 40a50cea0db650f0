//! svc-notify against the real PostgreSQL, Kafka and schema registry (`make test`). Each test
//! gets its own database, topic prefix and consumer group, and plays svc-tasks and the executor
//! itself by publishing their events.

mod append_only;
mod docs;
mod helpers;
mod key_directory;
mod rebuild;
mod redelivery;
mod refusals;
mod resume;
mod streams;
mod walls;
mod websocket;
