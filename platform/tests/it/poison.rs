use rdkafka::message::OwnedHeaders;
use taskflow_platform::dead_letter::{self, DeadLetters};
use taskflow_platform::registry::RegistryClient;
use taskflow_platform::{ConsumerSettings, EventConsumer};
use taskflow_schemas::Stream;
use taskflow_schemas::samples::one_of_each;

use crate::helpers::{TestBus, receive, recorder, spawn_consumer};

/// A record in a schema the registry knows but that is not a TaskFlow event.
async fn foreign_record(bus: &TestBus) -> Vec<u8> {
    let schema = r#"{"type":"record","name":"Other","namespace":"com.example","fields":[{"name":"n","type":"long"}]}"#;
    let id = RegistryClient::new(&bus.registry)
        .register(&format!("it-{}-foreign-value", bus.id), schema)
        .await
        .expect("registered");
    let parsed = apache_avro::Schema::parse_str(schema).expect("schema");
    let value =
        apache_avro::types::Value::Record(vec![("n".into(), apache_avro::types::Value::Long(7))]);
    let mut bytes = vec![0];
    bytes.extend(id.to_be_bytes());
    bytes.extend(
        apache_avro::writer::datum::GenericDatumWriter::builder(&parsed)
            .build()
            .and_then(|w| w.write_value_to_vec(value))
            .expect("datum"),
    );
    bytes
}

#[tokio::test(flavor = "multi_thread")]
async fn undecodable_records_are_dead_lettered_and_the_partition_keeps_flowing() {
    let bus = TestBus::start().await;
    let topic = bus.kafka.topics.name(Stream::TaskRequests);
    let good = one_of_each().remove(0);
    let key = good.key().to_string();
    let (_, valid) = bus.codec.encode(&good).await.expect("encoded");
    let truncated = valid[..valid.len() - 8].to_vec();
    let unknown_schema = [0u8, 0x7f, 0xff, 0xff, 0xfe, 2, 4, 6].to_vec();
    let poison = [
        b"definitely not avro".to_vec(),
        unknown_schema,
        truncated,
        foreign_record(&bus).await,
    ];
    // One key: every record lands on one partition, in this order, the good one last.
    for bytes in &poison {
        bus.producer
            .send_raw(&topic, Some(key.as_bytes()), bytes, OwnedHeaders::new())
            .await
            .expect("sent");
    }
    bus.producer.publish(&good).await.expect("published");

    let group = bus.group("poison");
    let dlq_topic = bus.kafka.topics.dead_letter(&group);
    let consumer = EventConsumer::new(
        &bus.kafka,
        bus.codec.clone(),
        ConsumerSettings::new(&group, vec![topic.clone()]),
    )
    .expect("consumer");
    let (mut handler, mut recording) = recorder();
    handler.dead_letters = Some(DeadLetters::new(
        bus.producer.clone(),
        dlq_topic.clone(),
        group.clone(),
    ));
    let (stop, task) = spawn_consumer(consumer, handler);

    let errors = receive(&mut recording.poison, poison.len(), "poison records").await;
    let delivered = receive(&mut recording.records, 1, "good record").await;
    let _ = stop.send(());
    task.await
        .expect("consumer task")
        .expect("consumer closed cleanly");

    assert!(errors[0].starts_with("NotFramed"), "{}", errors[0]);
    assert!(errors[1].starts_with("UnknownSchema"), "{}", errors[1]);
    assert!(errors[2].starts_with("Corrupt"), "{}", errors[2]);
    assert!(errors[3].starts_with("NotAnEvent"), "{}", errors[3]);
    assert_eq!(delivered[0].event, good);

    let parked = bus.read_raw(&dlq_topic, poison.len()).await;
    for (original, parked) in poison.iter().zip(&parked) {
        assert_eq!(&parked.payload, original, "dead letter keeps the bytes");
        assert_eq!(parked.key.as_deref(), Some(key.as_bytes()));
        assert_eq!(
            parked.header(dead_letter::SOURCE_TOPIC),
            Some(topic.as_str())
        );
        assert!(
            parked
                .header(dead_letter::REASON)
                .is_some_and(|r| !r.is_empty())
        );
    }
}
