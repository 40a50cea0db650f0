//! Reading topics from outside the services: a consumer that is assigned partitions (it joins
//! no group rebalance, so it never takes partitions from a service), starts where asked, and
//! either stops at the end the topics had when it started or follows them.
//!
//! Its group id is `analytics.<name>` when the user names one (offsets are committed there, so
//! the next run resumes) or `taskflow-cli.<random>` otherwise (nothing is ever committed, so
//! the broker keeps no trace of it). Never a service's group.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{Headers, Message, OwnedMessage};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use serde_json::{Value, json};
use taskflow_platform::{EventCodec, RegistrySettings};
use taskflow_schemas::{Event, Topics};
use uuid::Uuid;

use crate::config::Settings;
use crate::error::usage;

const METADATA_TIMEOUT: Duration = Duration::from_secs(10);
/// Without --follow, a reader that gets nothing for this long while partitions are still short
/// of their end reports it instead of hanging.
const STALL: Duration = Duration::from_secs(30);
/// A named group's position is committed at least this often while reading.
const COMMIT_EVERY: Duration = Duration::from_secs(1);

/// Where reading starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartAt {
    Beginning,
    Latest,
    /// Milliseconds since the epoch: the first record at or after it.
    Time(i64),
    /// The group's committed position, or the beginning where it has none.
    Committed,
}

impl StartAt {
    pub fn parse(text: &str) -> anyhow::Result<StartAt> {
        match text {
            "beginning" | "earliest" => Ok(StartAt::Beginning),
            "latest" | "end" => Ok(StartAt::Latest),
            other => DateTime::parse_from_rfc3339(other)
                .map(|t| StartAt::Time(t.timestamp_millis()))
                .map_err(|_| {
                    usage(format!(
                        "--from {other:?}: beginning, latest, or an RFC 3339 time (2026-01-31T09:00:00Z)"
                    ))
                }),
        }
    }
}

/// A partition to read, from `start` to (without --follow) `end`, its high watermark at start.
#[derive(Debug, Clone)]
pub struct Partition {
    pub topic: String,
    pub partition: i32,
    pub start: i64,
    pub end: i64,
}

pub struct Reader {
    consumer: StreamConsumer,
    follow: bool,
    commits: bool,
    /// Partitions not yet read to their end, with that end.
    remaining: HashMap<(String, i32), i64>,
    /// Next offset to commit, per partition (named groups only).
    positions: BTreeMap<(String, i32), i64>,
    last_commit: tokio::time::Instant,
}

/// A consumer for `group` (`analytics.<name>`), or an ephemeral one.
pub fn consumer(
    settings: &Settings,
    group: Option<&str>,
) -> anyhow::Result<(StreamConsumer, bool)> {
    let (group_id, named) = match group {
        Some(name) => {
            let name = name.strip_prefix("analytics.").unwrap_or(name);
            if name.is_empty()
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
            {
                return Err(usage(format!(
                    "--group {name:?}: a name of letters, digits, '-', '_' and '.'; the group is analytics.<name>"
                )));
            }
            (format!("analytics.{name}"), true)
        }
        None => (format!("taskflow-cli.{}", Uuid::new_v4().simple()), false),
    };
    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", settings.kafka()?)
        .set("group.id", &group_id)
        .set("client.id", "taskflow-cli")
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("enable.partition.eof", "true")
        .set("auto.offset.reset", "earliest")
        .create()
        .context("creating the Kafka consumer")?;
    Ok((consumer, named))
}

/// Every topic on the cluster.
pub fn topic_names(consumer: &StreamConsumer) -> anyhow::Result<Vec<String>> {
    let metadata = consumer
        .fetch_metadata(None, METADATA_TIMEOUT)
        .context("asking Kafka for its topics")?;
    Ok(metadata
        .topics()
        .iter()
        .map(|t| t.name().to_owned())
        .collect())
}

fn partitions_of(consumer: &StreamConsumer, topic: &str) -> anyhow::Result<Vec<i32>> {
    let metadata = consumer
        .fetch_metadata(Some(topic), METADATA_TIMEOUT)
        .with_context(|| format!("asking Kafka about {topic}"))?;
    let partitions: Vec<i32> = metadata
        .topics()
        .iter()
        .filter(|t| t.name() == topic && t.error().is_none())
        .flat_map(|t| t.partitions().iter().map(|p| p.id()))
        .collect();
    if partitions.is_empty() {
        return Err(usage(format!("no topic {topic} on this Kafka cluster")));
    }
    Ok(partitions)
}

/// Topic names the user may type: full names, base names behind the prefix, or short names.
pub fn resolve_topic(topics: &Topics, name: &str) -> String {
    use taskflow_schemas::Stream;
    let stream = match name {
        "requests" | "tasks" => Some(Stream::TaskRequests),
        "lifecycle" | "execution" => Some(Stream::TaskExecution),
        "triggers" | "scheduler" => Some(Stream::ScheduleTriggers),
        "keys" | "tenants" => Some(Stream::TenantKeys),
        "states" | "task-states" => Some(Stream::TaskStates),
        "schedules" | "schedule-lifecycle" => Some(Stream::ScheduleLifecycle),
        "schedule-states" => Some(Stream::ScheduleStates),
        base => Stream::ALL.into_iter().find(|s| s.base_name() == base),
    };
    match stream {
        Some(s) => topics.name(s),
        None => name.to_owned(),
    }
}

/// Resolves where each partition of `topics` starts and ends, and assigns them.
pub fn start(
    consumer: StreamConsumer,
    topics: &[String],
    at: StartAt,
    follow: bool,
    commits: bool,
) -> anyhow::Result<Reader> {
    let mut plan = Vec::new();
    for topic in topics {
        for partition in partitions_of(&consumer, topic)? {
            let (low, high) = consumer
                .fetch_watermarks(topic, partition, METADATA_TIMEOUT)
                .with_context(|| format!("reading the watermarks of {topic}/{partition}"))?;
            plan.push(Partition {
                topic: topic.clone(),
                partition,
                start: low,
                end: high,
            });
        }
    }
    let mut query = TopicPartitionList::new();
    match at {
        StartAt::Beginning => {}
        StartAt::Latest => plan.iter_mut().for_each(|p| p.start = p.end),
        StartAt::Time(ms) => {
            for p in &plan {
                query
                    .add_partition_offset(&p.topic, p.partition, Offset::Offset(ms))
                    .context("building the offset query")?;
            }
            let found = consumer
                .offsets_for_times(query, METADATA_TIMEOUT)
                .context("asking Kafka for offsets by time")?;
            for p in &mut plan {
                p.start = match found
                    .find_partition(&p.topic, p.partition)
                    .map(|e| e.offset())
                {
                    Some(Offset::Offset(o)) => o,
                    // No record at or after that time.
                    _ => p.end,
                };
            }
        }
        StartAt::Committed => {
            for p in &plan {
                query.add_partition(&p.topic, p.partition);
            }
            let committed = consumer
                .committed_offsets(query, METADATA_TIMEOUT)
                .context("reading the group's committed offsets")?;
            for p in &mut plan {
                if let Some(Offset::Offset(o)) = committed
                    .find_partition(&p.topic, p.partition)
                    .map(|e| e.offset())
                {
                    // Retention may have removed what the group had not read yet.
                    p.start = o.clamp(p.start, p.end);
                }
            }
        }
    }
    let mut assignment = TopicPartitionList::new();
    for p in &plan {
        assignment
            .add_partition_offset(&p.topic, p.partition, Offset::Offset(p.start))
            .context("building the assignment")?;
    }
    consumer
        .assign(&assignment)
        .context("assigning partitions")?;
    // A named group records where every partition stands, also those it reads nothing from,
    // so that its next run resumes there rather than at their beginning.
    let positions = if commits {
        plan.iter()
            .map(|p| ((p.topic.clone(), p.partition), p.start))
            .collect()
    } else {
        BTreeMap::new()
    };
    let remaining = plan
        .iter()
        .filter(|p| p.start < p.end)
        .map(|p| ((p.topic.clone(), p.partition), p.end))
        .collect();
    Ok(Reader {
        consumer,
        follow,
        commits,
        remaining,
        positions,
        last_commit: tokio::time::Instant::now(),
    })
}

impl Reader {
    /// The next record, or `None` once every partition reached its end (without --follow).
    pub async fn next(&mut self) -> anyhow::Result<Option<OwnedMessage>> {
        loop {
            if !self.follow && self.remaining.is_empty() {
                return Ok(None);
            }
            let received = if self.follow {
                self.consumer.recv().await
            } else {
                match tokio::time::timeout(STALL, self.consumer.recv()).await {
                    Ok(r) => r,
                    Err(_) => {
                        let left: Vec<String> = self
                            .remaining
                            .iter()
                            .map(|((t, p), end)| format!("{t}/{p} (end {end})"))
                            .collect();
                        anyhow::bail!(
                            "no record for {STALL:?} while these partitions are short of their end: {}",
                            left.join(", ")
                        );
                    }
                }
            };
            match received {
                Ok(message) => {
                    let key = (message.topic().to_owned(), message.partition());
                    if self
                        .remaining
                        .get(&key)
                        .is_some_and(|end| message.offset() + 1 >= *end)
                    {
                        self.remaining.remove(&key);
                    }
                    return Ok(Some(message.detach()));
                }
                Err(KafkaError::PartitionEOF(_)) => self.at_eof()?,
                Err(e) => return Err(anyhow::Error::new(e).context("reading from Kafka")),
            }
        }
    }

    /// An end-of-partition event names the partition but not its topic: look at every position.
    fn at_eof(&mut self) -> anyhow::Result<()> {
        let positions = self.consumer.position().context("reading positions")?;
        for e in positions.elements() {
            if let Offset::Offset(at) = e.offset() {
                let key = (e.topic().to_owned(), e.partition());
                if self.remaining.get(&key).is_some_and(|end| at >= *end) {
                    self.remaining.remove(&key);
                }
            }
        }
        Ok(())
    }

    /// `message` has been handled: a named group moves past it (committed about every second).
    pub fn handled(&mut self, message: &OwnedMessage) -> anyhow::Result<()> {
        if !self.commits {
            return Ok(());
        }
        self.positions.insert(
            (message.topic().to_owned(), message.partition()),
            message.offset() + 1,
        );
        if self.last_commit.elapsed() >= COMMIT_EVERY {
            self.commit()?;
        }
        Ok(())
    }

    /// Commits the named group's position (nothing for an ephemeral reader).
    pub fn commit(&mut self) -> anyhow::Result<()> {
        self.last_commit = tokio::time::Instant::now();
        if !self.commits {
            return Ok(());
        }
        let mut tpl = TopicPartitionList::new();
        for ((topic, partition), offset) in &self.positions {
            tpl.add_partition_offset(topic, *partition, Offset::Offset(*offset))
                .context("building the commit")?;
        }
        self.consumer
            .commit(&tpl, CommitMode::Sync)
            .context("committing the group's position")?;
        Ok(())
    }
}

/// A record as one JSON object: where it sits, its key and headers, and the event decoded
/// through the registry (`error` instead when it is not a readable TaskFlow event).
pub async fn describe(codec: &EventCodec, message: &OwnedMessage) -> (Option<Event>, Value) {
    let headers: serde_json::Map<String, Value> = message
        .headers()
        .map(|h| {
            h.iter()
                .map(|h| {
                    let value = h
                        .value
                        .map(|v| Value::String(String::from_utf8_lossy(v).into_owned()))
                        .unwrap_or(Value::Null);
                    (h.key.to_owned(), value)
                })
                .collect()
        })
        .unwrap_or_default();
    let timestamp = message
        .timestamp()
        .to_millis()
        .and_then(DateTime::<Utc>::from_timestamp_millis)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
    let key = message
        .key()
        .map(|k| String::from_utf8_lossy(k).into_owned());
    let mut line = json!({
        "topic": message.topic(),
        "partition": message.partition(),
        "offset": message.offset(),
        "timestamp": timestamp,
        "key": key,
        "headers": headers,
    });
    let decoded = codec.decode(message.payload()).await;
    let event = match decoded {
        Ok(event) => {
            line["event_type"] = event.kind().name().into();
            line["event"] = event.to_json().unwrap_or(Value::Null);
            Some(event)
        }
        Err(error) => {
            line["event_type"] = headers
                .get(taskflow_platform::headers::EVENT_TYPE)
                .cloned()
                .unwrap_or(Value::Null);
            line["event"] = Value::Null;
            line["error"] = error.to_string().into();
            None
        }
    };
    (event, line)
}

pub fn codec(settings: &Settings) -> anyhow::Result<EventCodec> {
    Ok(EventCodec::new(
        &RegistrySettings {
            url: settings.registry()?,
        },
        settings.topics(),
    ))
}
