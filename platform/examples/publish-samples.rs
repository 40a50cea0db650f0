//! Publishes one event of every type under a topic prefix and prints them as JSON lines, so a
//! client that knows nothing of this repository can be checked against them
//! (`checks/foreign-client-check.sh`).

use std::sync::Arc;

use taskflow_platform::codec::EventCodec;
use taskflow_platform::topic_admin::ensure_topics;
use taskflow_platform::{EventProducer, KafkaSettings, RegistrySettings};
use taskflow_schemas::Topics;
use taskflow_schemas::samples::one_of_each;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let prefix = std::env::args().nth(1).unwrap_or_default();
    let mut kafka = KafkaSettings::from_env()?;
    kafka.topics = Topics::new(prefix);
    let registry = RegistrySettings::from_env()?;
    ensure_topics(&kafka, &[]).await?;
    let codec = Arc::new(EventCodec::new(&registry, kafka.topics.clone()));
    let producer = EventProducer::new(&kafka, codec)?;
    for event in one_of_each() {
        producer.publish(&event).await?;
        let value = event.to_avro()?;
        let fields: serde_json::Value = match value {
            apache_avro::types::Value::Record(fields) => fields
                .into_iter()
                .map(|(k, v)| (k, serde_json::Value::try_from(v).unwrap_or_default()))
                .collect(),
            other => anyhow::bail!("unexpected avro shape {other:?}"),
        };
        println!(
            "{}",
            serde_json::json!({
                "topic": kafka.topics.name(event.kind().stream()),
                "record": event.kind().full_name(),
                "fields": fields,
            })
        );
    }
    Ok(())
}
