//! Uuids as their hyphenated text, which is what Avro's `uuid` logical type holds. apache-avro's
//! serializer is not human-readable by default, so plain `Uuid` would serialize as 16 raw bytes.

use serde::{Deserialize, Deserializer, Serializer};
use uuid::Uuid;

pub fn serialize<S: Serializer>(id: &Uuid, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(&id.hyphenated())
}

pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Uuid, D::Error> {
    Uuid::deserialize(deserializer)
}
