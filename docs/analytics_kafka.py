"""TaskFlow's task topics into DuckDB with a stock Kafka client (confluent-kafka for Python and
its own schema-registry client): nothing from the TaskFlow repository is needed to run it.

    python analytics_kafka.py --group analytics.NAME [--from beginning|latest|RFC 3339 time] [--db FILE]

Reads taskflow.tasks.requests.v1 and taskflow.execution.lifecycle.v1 (behind
TASKFLOW_TOPIC_PREFIX, if set) up to the end they had when it started, decodes every record
through the registry (the writer's schema is named by the id in each record) and appends one row
per record to the table `events` (topic, partition, offset, event_type, event as JSON: uuids as
text, times as epoch milliseconds, as `taskflow tap` prints them), then commits the group's
position. The group is `analytics.NAME`; without --from the next run continues where this one
stopped (with none committed yet: the beginning). Like `taskflow tap`, it is assigned partitions
instead of joining a group rebalance, so it never takes partitions from a service.
"""
import argparse
import datetime
import json
import os
import sys
import uuid

import duckdb
from confluent_kafka import OFFSET_BEGINNING, OFFSET_END, Consumer, TopicPartition
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.serialization import MessageField, SerializationContext

TOPICS = ["taskflow.tasks.requests.v1", "taskflow.execution.lifecycle.v1"]


def as_json(value):
    """The JSON the tap prints for a decoded field: uuids as text, times as epoch millis."""
    if isinstance(value, datetime.datetime):
        return int(value.timestamp() * 1000)
    if isinstance(value, uuid.UUID):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


def start_offsets(consumer, partitions, start):
    """Where each partition is read from: the group's committed offset unless --from says."""
    if start is None:
        committed = consumer.committed(partitions, timeout=10)
        return [TopicPartition(p.topic, p.partition, p.offset if p.offset >= 0 else OFFSET_BEGINNING)
                for p in committed]
    if start in ("beginning", "latest"):
        offset = OFFSET_BEGINNING if start == "beginning" else OFFSET_END
        return [TopicPartition(p.topic, p.partition, offset) for p in partitions]
    at = datetime.datetime.fromisoformat(start.replace("Z", "+00:00"))
    millis = int(at.timestamp() * 1000)
    found = consumer.offsets_for_times(
        [TopicPartition(p.topic, p.partition, millis) for p in partitions], timeout=10)
    # -1: nothing at or after that time yet.
    return [TopicPartition(p.topic, p.partition, p.offset if p.offset >= 0 else OFFSET_END)
            for p in found]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--group", required=True,
                        help="NAME or analytics.NAME: the consumer group is analytics.NAME")
    parser.add_argument("--from", dest="start", help="beginning, latest or an RFC 3339 time")
    parser.add_argument("--db", default="analytics.duckdb", help="DuckDB database file")
    args = parser.parse_args()
    name = args.group.removeprefix("analytics.")
    if not name or not all(c.isascii() and (c.isalnum() or c in "-_.") for c in name):
        parser.error("--group: a name of letters, digits, '-', '_' and '.'")
    group = f"analytics.{name}"  # never a service's group

    prefix = os.environ.get("TASKFLOW_TOPIC_PREFIX", "")
    topics = [prefix + t for t in TOPICS]
    registry = SchemaRegistryClient({"url": os.environ["SCHEMA_REGISTRY_URL"], "timeout": 10})
    deserialize = AvroDeserializer(registry)
    consumer = Consumer({
        "bootstrap.servers": os.environ["KAFKA_BOOTSTRAP_SERVERS"],
        "group.id": group,
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
    })

    partitions = [TopicPartition(t, p)
                  for t in topics
                  for p in consumer.list_topics(t, timeout=10).topics[t].partitions]
    # The end as it is now: what this run reads up to.
    ends = {(p.topic, p.partition): consumer.get_watermark_offsets(p, timeout=10)[1]
            for p in partitions}
    starts = start_offsets(consumer, partitions, args.start)
    position = {}
    for p in starts:
        low, high = consumer.get_watermark_offsets(p, timeout=10)
        if p.offset == OFFSET_BEGINNING:
            position[(p.topic, p.partition)] = low
        elif p.offset == OFFSET_END:
            position[(p.topic, p.partition)] = ends[(p.topic, p.partition)]
        else:
            position[(p.topic, p.partition)] = max(p.offset, low)
    pending = {tp for tp, at in position.items() if at < ends[tp]}
    consumer.assign([TopicPartition(t, p, position[(t, p)]) for (t, p) in pending])

    db = duckdb.connect(args.db)
    db.execute("""CREATE TABLE IF NOT EXISTS events (
        topic VARCHAR, "partition" INTEGER, "offset" BIGINT, event_type VARCHAR, event JSON)""")
    read = unreadable = 0
    while pending:
        rows = []
        for msg in consumer.consume(num_messages=1000, timeout=1.0):
            if msg.error():
                raise SystemExit(f"analytics_kafka: {msg.error()}")
            tp = (msg.topic(), msg.partition())
            headers = dict(msg.headers() or [])
            event_type = headers.get("event_type", b"").decode() or None
            try:
                record = deserialize(msg.value(), SerializationContext(msg.topic(), MessageField.VALUE))
                event = json.dumps(record, default=as_json)
            except Exception as error:  # not a readable TaskFlow event: kept, without its fields
                print(f"analytics_kafka: {msg.topic()}/{msg.partition()}@{msg.offset()}: {error}",
                      file=sys.stderr)
                event, unreadable = None, unreadable + 1
            rows.append((msg.topic(), msg.partition(), msg.offset(), event_type, event))
            position[tp] = msg.offset() + 1
            if position[tp] >= ends[tp]:
                pending.discard(tp)
        if rows:
            db.begin()
            db.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?)", rows)
            db.commit()
            read += len(rows)
            # The group moves on only after the rows are in DuckDB: a crash in between reads
            # them again (at-least-once, like every TaskFlow reader; dedupe by event_id).
            consumer.commit(offsets=[TopicPartition(t, p, o) for (t, p), o in position.items()],
                            asynchronous=False)
    # Partitions with nothing new are committed too, so the next run starts from here.
    consumer.commit(offsets=[TopicPartition(t, p, o) for (t, p), o in position.items()],
                    asynchronous=False)
    consumer.close()
    db.close()
    print(f"analytics_kafka: {read} records from {len(topics)} topics into {args.db} "
          f"(group {group}{f', {unreadable} unreadable' if unreadable else ''})",
          file=sys.stderr)


if __name__ == "__main__":
    main()
