"""Reads TaskFlow records with confluent-kafka's stock Avro deserializer and compares them with
what the Rust producer says it wrote (one JSON line per record in argv[1])."""
import json
import os
import sys
import time

from confluent_kafka import Consumer
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.serialization import MessageField, SerializationContext


def main(samples_path):
    expected = [json.loads(line) for line in open(samples_path) if line.strip()]
    # A request timeout: without one, httpx waits forever on a registry connection that stopped
    # answering (seen once as a CI run hung in this check); with it, the client retries.
    registry = SchemaRegistryClient({"url": os.environ["SCHEMA_REGISTRY_URL"], "timeout": 10})
    for sample in expected:
        subject = f"{sample['topic']}-{sample['record']}"
        latest = registry.get_latest_version(subject)
        schema = json.loads(latest.schema.schema_str)
        assert f"{schema['namespace']}.{schema['name']}" == sample["record"], subject
    deserialize = AvroDeserializer(registry)  # writer schema looked up by the id in each record

    topics = sorted({s["topic"] for s in expected})
    consumer = Consumer({
        "bootstrap.servers": os.environ["KAFKA_BOOTSTRAP_SERVERS"],
        "group.id": f"foreign-check-{os.getpid()}",
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
    })
    consumer.subscribe(topics)
    seen = {}
    deadline = time.time() + 60
    while len(seen) < len(expected) and time.time() < deadline:
        msg = consumer.poll(0.5)
        if msg is None or msg.error():
            continue
        ctx = SerializationContext(msg.topic(), MessageField.VALUE)
        record = deserialize(msg.value(), ctx)
        seen[str(record["event_id"])] = (msg.topic(), record)
    consumer.close()

    missing = [s for s in expected if s["fields"]["event_id"] not in seen]
    if missing:
        sys.exit(f"foreign-client-check: {len(missing)} of {len(expected)} records not read")
    for sample in expected:
        topic, record = seen[sample["fields"]["event_id"]]
        assert topic == sample["topic"], (topic, sample["topic"])
        for field in ("correlation_id", "producer", "tenant_id"):
            assert str(record[field]) == str(sample["fields"][field]), (field, record, sample)
    print(f"foreign-client-check: confluent-kafka read and decoded {len(expected)} records "
          f"of {len(set(s['record'] for s in expected))} event types from {len(topics)} topics "
          f"(Kafka {os.environ['KAFKA_BOOTSTRAP_SERVERS']}, registry {os.environ['SCHEMA_REGISTRY_URL']})")


if __name__ == "__main__":
    main(sys.argv[1])
