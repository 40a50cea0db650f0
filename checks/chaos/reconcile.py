"""After a chaos run: read what the topics carry with a stock client (confluent-kafka's Avro
deserializer, writer schemas from the registry) and what the services' databases hold, for the
run's tenant (judge.py checks the promises on it), and tell when the stack has settled. Nothing
here uses TaskFlow's code."""
import os
import uuid
from collections import Counter

import psycopg
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.serialization import MessageField, SerializationContext

from judge import LIFECYCLE, REQUESTS, TRIGGERS, Facts

SERVICE_GROUPS = ("svc-tasks", "svc-executor", "svc-notify", "svc-scheduler")
DATABASES = {"svc-tasks": "DATABASE_URL_TASKS", "svc-executor": "DATABASE_URL_EXECUTOR",
             "svc-notify": "DATABASE_URL_NOTIFY", "svc-scheduler": "DATABASE_URL_SCHEDULER"}


def connect(service):
    return psycopg.connect(os.environ[DATABASES[service]], autocommit=True, connect_timeout=5)


# --- the stack settled? ---------------------------------------------------------------------------

def outbox_backlog():
    """Unpublished outbox rows per service database."""
    backlog = {}
    for service in DATABASES:
        with connect(service) as db:
            backlog[service] = db.execute("SELECT count(*) FROM outbox_unpublished").fetchone()[0]
    return backlog


def consumer_lag():
    """Records not yet committed by each service's group, summed over the partitions it reads."""
    bootstrap = os.environ["KAFKA_BOOTSTRAP_SERVERS"]
    admin = AdminClient({"bootstrap.servers": bootstrap})
    probe = Consumer({"bootstrap.servers": bootstrap, "group.id": f"chaos-lag-{uuid.uuid4()}", "enable.auto.commit": False})
    lag = {}
    try:
        from confluent_kafka import ConsumerGroupTopicPartitions
        for group in SERVICE_GROUPS:
            result = admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(group)])[group].result(timeout=15)
            total = 0
            for tp in result.topic_partitions:
                if tp.topic.startswith("taskflow.deadletter") or tp.offset < 0:
                    continue
                _, high = probe.get_watermark_offsets(TopicPartition(tp.topic, tp.partition), timeout=10)
                total += max(0, high - tp.offset)
            lag[group] = total
    finally:
        probe.close()
    return lag


def unfinished_tasks(tenant_id):
    with connect("svc-tasks") as db:
        return db.execute("SELECT count(*) FROM tasks WHERE tenant_id = %s AND status NOT IN ('completed', 'failed', 'cancelled')",
                          (tenant_id,)).fetchone()[0]


# --- what the topics carry ----------------------------------------------------------------------

def read_topics(tenant_id, since_ms):
    """Every record of the tenant on the task and trigger topics since since_ms, in each
    partition's order: [(topic, partition, offset, event_type, record)]."""
    registry = SchemaRegistryClient({"url": os.environ["SCHEMA_REGISTRY_URL"], "timeout": 10})
    deserialize = AvroDeserializer(registry)
    consumer = Consumer({"bootstrap.servers": os.environ["KAFKA_BOOTSTRAP_SERVERS"],
                         "group.id": f"chaos-reconcile-{uuid.uuid4()}", "enable.auto.commit": False})
    try:
        wanted, ends = [], {}
        for topic in (REQUESTS, LIFECYCLE, TRIGGERS):
            partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
            starts = consumer.offsets_for_times([TopicPartition(topic, p, since_ms) for p in partitions], timeout=10)
            for tp in starts:
                _, high = consumer.get_watermark_offsets(TopicPartition(topic, tp.partition), timeout=10)
                start = tp.offset if tp.offset >= 0 else high
                if start < high:
                    wanted.append(TopicPartition(topic, tp.partition, start))
                    ends[(topic, tp.partition)] = high
        consumer.assign(wanted)
        records = []
        while ends:
            message = consumer.poll(5.0)
            if message is None:
                continue
            if message.error():
                raise RuntimeError(f"reading {message.topic()}: {message.error()}")
            where = (message.topic(), message.partition())
            if where in ends and message.offset() >= ends[where] - 1:
                del ends[where]
            record = deserialize(message.value(), SerializationContext(message.topic(), MessageField.VALUE))
            if str(record["tenant_id"]) != tenant_id:
                continue
            event_type = dict(message.headers() or []).get("event_type", b"").decode() or guess_type(record)
            records.append((message.topic(), message.partition(), message.offset(), event_type, record))
        return records
    finally:
        consumer.close()


def guess_type(record):
    fields = set(record)
    for name, marker in (("TaskCreated", "payload_json"), ("TaskStarted", "instance"), ("TaskProgressUpdated", "percent"),
                         ("TaskCompleted", "result_json"), ("TaskFailed", "final")):
        if marker in fields:
            return name
    return "?"


def gather(tenant_id, since_ms):
    records = read_topics(tenant_id, since_ms)
    with connect("svc-tasks") as db:
        tasks = {str(r[0]): r[1:] for r in db.execute(
            "SELECT id, status, attempts, max_attempts, idempotency_key FROM tasks WHERE tenant_id = %s", (tenant_id,))}
        tasks_outbox = [(str(r[0]), r[1]) for r in db.execute(
            "SELECT event_id, event_type FROM outbox WHERE destination IS NULL AND body->>'tenant_id' = %s", (tenant_id,))]
    with connect("svc-executor") as db:
        executor_outbox = [(str(r[0]), r[1], r[2], r[3]) for r in db.execute(
            "SELECT event_id, event_type, body->>'task_id', (body->>'final')::boolean FROM outbox "
            "WHERE destination IS NULL AND body->>'tenant_id' = %s", (tenant_id,))]
        executions = {str(r[0]): (r[1], r[2]) for r in db.execute(
            "SELECT task_id, state, attempt FROM executions WHERE tenant_id = %s", (tenant_id,))}
        taken_over = db.execute("SELECT count(*) FROM attempt_interruptions JOIN executions USING (task_id) "
                                "WHERE tenant_id = %s AND outcome = 'lost'", (tenant_id,)).fetchone()[0]
        released = Counter({str(r[0]): r[1] for r in db.execute(
            "SELECT task_id, count(*) FROM attempt_interruptions JOIN executions USING (task_id) "
            "WHERE tenant_id = %s AND outcome = 'released' GROUP BY task_id", (tenant_id,))})
    with connect("svc-notify") as db:
        notified_endings = Counter(str(r[0]) for r in db.execute(
            "SELECT task_id FROM notifications WHERE tenant_id = %s AND status IN ('completed', 'failed', 'cancelled')",
            (tenant_id,)))
    with connect("svc-scheduler") as db:
        scheduler_outbox = [(str(r[0]), r[1]) for r in db.execute(
            "SELECT event_id, event_type FROM outbox WHERE destination IS NULL AND body->>'tenant_id' = %s", (tenant_id,))]
    return Facts(records, tasks, tasks_outbox, executor_outbox, executions, notified_endings, scheduler_outbox,
                 taken_over, released)
