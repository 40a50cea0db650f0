//! Events to and from Confluent-framed Avro (magic byte 0, 4-byte schema id, Avro binary),
//! through the schema registry. Subjects follow TopicRecordNameStrategy
//! (`<topic>-<record full name>`) so that several event types share one ordered topic.

use schema_registry_converter::async_impl::avro::{AvroDecoder, AvroEncoder};
use schema_registry_converter::async_impl::schema_registry::SrSettings;
use schema_registry_converter::error::SRCError;
use schema_registry_converter::schema_registry_common::{
    SchemaType, SubjectNameStrategy, SuppliedSchema,
};
use taskflow_schemas::{DecodeEventError, Event, EventKind, Topics};

use crate::config::RegistrySettings;

#[derive(Debug, thiserror::Error)]
pub enum EncodeError {
    #[error("event {kind:?} does not fit its own schema: {source}")]
    Shape {
        kind: EventKind,
        #[source]
        source: Box<apache_avro::Error>,
    },
    /// The registry refused the schema (incompatible) or could not be reached; the message
    /// is the registry client's, including the registry's own words when it gave some.
    #[error("schema registry refused or failed for subject {subject}: {message}")]
    Registry {
        subject: String,
        message: String,
        retryable: bool,
    },
}

/// Why a record could not be read. Only [`DecodeError::RegistryUnavailable`] is worth retrying:
/// the others describe the bytes themselves and will fail the same way next time.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("record has no value (tombstone)")]
    Empty,
    #[error(
        "record is not registry-framed Avro (expected magic byte 0 and a schema id; got {len} bytes starting {head:02x?})"
    )]
    NotFramed { len: usize, head: Vec<u8> },
    #[error("schema id {schema_id} is unknown to the registry or unusable: {message}")]
    UnknownSchema { schema_id: u32, message: String },
    #[error("record bytes do not match writer schema {schema_id}: {message}")]
    Corrupt { schema_id: u32, message: String },
    #[error("record written with schema {schema_id} is not a TaskFlow event: {source}")]
    NotAnEvent {
        schema_id: u32,
        #[source]
        source: DecodeEventError,
    },
    #[error("schema registry unavailable while resolving schema {schema_id}: {message}")]
    RegistryUnavailable { schema_id: u32, message: String },
}

impl DecodeError {
    pub fn is_retryable(&self) -> bool {
        matches!(self, DecodeError::RegistryUnavailable { .. })
    }
}

/// Shared by a service's producer and consumers; caches schema ids both ways.
pub struct EventCodec {
    encoder: AvroEncoder,
    decoder: AvroDecoder,
    topics: Topics,
}

impl EventCodec {
    pub fn new(registry: &RegistrySettings, topics: Topics) -> Self {
        Self {
            encoder: AvroEncoder::new(SrSettings::new(registry.url.clone())),
            decoder: AvroDecoder::new(SrSettings::new(registry.url.clone())),
            topics,
        }
    }

    pub fn topics(&self) -> &Topics {
        &self.topics
    }

    /// The topic `event` belongs on and its framed bytes. Registers the schema under the
    /// topic's subject on first use; the registry refuses it when incompatible.
    pub async fn encode(&self, event: &Event) -> Result<(String, Vec<u8>), EncodeError> {
        let topic = self.topics.name(event.kind().stream());
        let bytes = self.encode_to(&topic, event).await?;
        Ok((topic, bytes))
    }

    /// Framed bytes of `event` for `topic` (its subject is `<topic>-<record full name>`), for
    /// topics other than the event's own stream, such as a dead-letter topic.
    pub async fn encode_to(&self, topic: &str, event: &Event) -> Result<Vec<u8>, EncodeError> {
        let kind = event.kind();
        let value = event.to_avro().map_err(|source| EncodeError::Shape {
            kind,
            source: Box::new(source),
        })?;
        let strategy = subject_strategy(topic, kind);
        self.encoder
            .encode_value(value, &strategy)
            .await
            .map_err(|e| EncodeError::Registry {
                subject: format!("{topic}-{}", kind.full_name()),
                retryable: e.retriable,
                message: describe(&e),
            })
    }

    pub async fn decode(&self, payload: Option<&[u8]>) -> Result<Event, DecodeError> {
        let bytes = payload.ok_or(DecodeError::Empty)?;
        let schema_id = framed_schema_id(bytes)?;
        let decoded = self.decoder.decode(Some(bytes)).await.map_err(|e| {
            let message = describe(&e);
            if e.retriable || e.error.contains("failed with status 5") {
                // A registry that is down must not turn good records into poison; its 5xx
                // answers are transient too, though the client library calls them final.
                self.decoder.remove_errors_from_cache();
                DecodeError::RegistryUnavailable { schema_id, message }
            } else if e.error.starts_with("Could not transform bytes") {
                DecodeError::Corrupt { schema_id, message }
            } else {
                DecodeError::UnknownSchema { schema_id, message }
            }
        })?;
        let name = decoded.name.map(|n| n.fullname(None)).unwrap_or_default();
        Event::from_avro(&name, decoded.value)
            .map_err(|source| DecodeError::NotAnEvent { schema_id, source })
    }
}

fn subject_strategy(topic: &str, kind: EventKind) -> SubjectNameStrategy {
    SubjectNameStrategy::TopicRecordNameStrategyWithSchema(
        topic.to_owned(),
        SuppliedSchema::new(
            Some(kind.full_name()),
            SchemaType::Avro,
            kind.schema().to_owned(),
        ),
    )
}

/// Confluent framing: magic byte 0, then the schema id as a big-endian u32.
fn framed_schema_id(bytes: &[u8]) -> Result<u32, DecodeError> {
    match bytes {
        [0, a, b, c, d, ..] => Ok(u32::from_be_bytes([*a, *b, *c, *d])),
        _ => Err(DecodeError::NotFramed {
            len: bytes.len(),
            head: bytes.iter().take(8).copied().collect(),
        }),
    }
}

fn describe(e: &SRCError) -> String {
    match &e.cause {
        Some(cause) => format!("{}: {cause}", e.error),
        None => e.error.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn framing_is_checked_before_the_registry_is_asked() {
        assert!(matches!(
            framed_schema_id(b"garbage"),
            Err(DecodeError::NotFramed { len: 7, .. })
        ));
        assert!(matches!(
            framed_schema_id(&[0, 0, 0]),
            Err(DecodeError::NotFramed { len: 3, .. })
        ));
        assert_eq!(framed_schema_id(&[0, 0, 0, 1, 2, 9]).ok(), Some(258));
    }
}
