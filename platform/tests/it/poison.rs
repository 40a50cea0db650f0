use rdkafka::message::OwnedHeaders;
use taskflow_platform::dead_letter;
use taskflow_platform::registry::RegistryClient;
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
    // Cut inside the record (a cut at a field boundary could still read as a shorter record).
    let truncated = valid[..valid.len() / 2].to_vec();
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
    let consumer = bus.consumer(&group, vec![topic.clone()]);
    let (handler, mut recording) = recorder();
    let (stop, task) = spawn_consumer(consumer, handler);

    let delivered = receive(&mut recording.records, 1, "good record").await;
    let _ = stop.send(());
    task.await
        .expect("consumer task")
        .expect("consumer closed cleanly");
    assert_eq!(
        delivered[0].event, good,
        "the record behind the poison still arrives"
    );

    let parked = bus.read_raw(&dlq_topic, poison.len()).await;
    let reasons: Vec<&str> = parked
        .iter()
        .filter_map(|p| p.header(dead_letter::REASON))
        .collect();
    assert!(reasons[0].contains("not registry-framed"), "{}", reasons[0]);
    assert!(
        reasons[1].contains("unknown to the registry"),
        "{}",
        reasons[1]
    );
    assert!(
        reasons[2].contains("do not match writer schema"),
        "{}",
        reasons[2]
    );
    assert!(
        reasons[3].contains("not a TaskFlow event"),
        "{}",
        reasons[3]
    );
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
