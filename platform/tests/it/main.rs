//! Integration tests against the real Kafka, schema registry and PostgreSQL started by
//! `make up` (run them with `make test`, which sources `.taskflow/dev.env`).

mod compatibility;
mod external_topics;
mod helpers;
mod internal_events;
mod keys;
mod outbox_log;
mod poison;
mod rebuild;
mod relay;
mod round_trip;
