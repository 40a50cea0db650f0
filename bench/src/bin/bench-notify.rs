//! svc-notify under many SSE clients (`make bench`, last part; `bench/bench-notify.sh`): how
//! many `GET /v1/stream` connections one instance holds, its memory per 1,000 clients, and the
//! fan-out latency of every (client, event) pair at a steady event rate.
//!
//! One tenant: its API key is announced on Kafka (`ApiKeyIssued`, as svc-tasks would), then a
//! few tasks are created and started. Per phase (`--clients`, e.g. 1000 then 10000):
//!
//! 1. open N streams (raw HTTP/1.1 over tokio sockets, chunked body and SSE parsed here, so the
//!    load generator stays light enough to hold 10,000 of them) and wait for every `retry:`
//!    preamble (svc-notify subscribed the client before it started the response);
//! 2. read svc-notify's VmRSS (`/proc/<pid>/status`) before connecting and once all are open;
//! 3. publish `TaskProgressUpdated` events at `--rate` per second for `--duration-secs` (after a
//!    short warm-up that is not measured), each with `occurred_at` = the moment it is published;
//! 4. every client stamps each event with the system clock when its bytes were read, and per
//!    (client, event) two latencies are kept: from `recorded_at` (svc-notify's ingest
//!    transaction start, at or before the commit that wakes the fan-out: a slightly pessimistic
//!    commit -> client) and from `occurred_at` (publish -> client, Kafka and ingest included);
//! 5. every client must receive every event exactly once and in order: what is missing, late
//!    past the drain time, duplicated, or any stream svc-notify ended is reported;
//! 6. the clients hang up, and the phase waits until svc-notify has closed its side of every
//!    connection (its descriptors, `/proc/<pid>/fd` against `/proc/net`), so the next phase
//!    starts clean.
//!
//! The clients run on two threads of their own, publishing on another, so a busy client side
//! does not slow the event rate; but they share the machine with svc-notify, Kafka and
//! PostgreSQL, and a starved client reads late: the machine's CPU use is reported with them.
//!
//! Everything runs on one machine, so all times are one clock. Kafka settings come from the
//! environment like the services' (`KAFKA_BOOTSTRAP_SERVERS`, `SCHEMA_REGISTRY_URL`,
//! `TASKFLOW_TOPIC_PREFIX`). Prints the report table on stdout, progress on stderr.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use clap::Parser;
use hdrhistogram::Histogram;
use sha2::{Digest, Sha256};
use taskflow_platform::{EventCodec, EventProducer, KafkaSettings, RegistrySettings};
use taskflow_schemas::{
    ApiKeyIssued, Event, EventMeta, Priority, TaskCreated, TaskProgressUpdated, TaskStarted,
};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::{Semaphore, watch};
use uuid::Uuid;

#[derive(Parser, Debug)]
#[command(about = "SSE clients one svc-notify holds, its memory, and fan-out latency")]
struct Args {
    /// Base URL of svc-notify, e.g. http://127.0.0.1:18196
    #[arg(long)]
    url: String,
    /// svc-notify's process id (memory and CPU are read from /proc).
    #[arg(long)]
    pid: u32,
    /// Clients per phase, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1000,10000")]
    clients: Vec<usize>,
    /// Events per second while measuring.
    #[arg(long, default_value_t = 200)]
    rate: u32,
    /// Seconds of measured events per phase.
    #[arg(long, default_value_t = 20)]
    duration_secs: u64,
    /// Events published (and delivered) before each measured run, not counted.
    #[arg(long, default_value_t = 100)]
    warmup_events: usize,
    /// Tasks the progress events are spread over.
    #[arg(long, default_value_t = 20)]
    tasks: usize,
    /// Streams being opened at once.
    #[arg(long, default_value_t = 200)]
    connect_concurrency: usize,
    /// After the last event is committed, how long clients may take to receive everything.
    #[arg(long, default_value_t = 15)]
    drain_secs: u64,
    /// After the clients hang up, how long svc-notify may take to close its side.
    #[arg(long, default_value_t = 45)]
    close_wait_secs: u64,
    /// Clock ticks per second of /proc/<pid>/stat (getconf CLK_TCK).
    #[arg(long, default_value_t = 100)]
    clk_tck: u64,
}

/// What every client of a phase shares: which sequence numbers are measured, the event times
/// (filled by whichever client reads an event first), the latency histograms.
struct Shared {
    request: Vec<u8>,
    /// Measured: base < seq <= base + count.
    base: AtomicI64,
    count: AtomicI64,
    recorded_us: Vec<AtomicI64>,
    occurred_us: Vec<AtomicI64>,
    hists: Mutex<Hists>,
    opened: AtomicUsize,
    failed: AtomicUsize,
    /// Measured (client, event) pairs not yet received by a client still open.
    outstanding: AtomicI64,
}

struct Hists {
    commit: Histogram<u64>,
    publish: Histogram<u64>,
}

/// Event time not parsed yet / not present in the event.
const UNKNOWN: i64 = 0;
const ABSENT: i64 = -1;

impl Shared {
    fn times(&self, i: usize, data: &[u8]) -> (i64, i64) {
        let recorded = self.recorded_us[i].load(Ordering::Acquire);
        if recorded != UNKNOWN {
            return (recorded, self.occurred_us[i].load(Ordering::Relaxed));
        }
        let recorded = field_time(data, b"\"recorded_at\":\"").unwrap_or(ABSENT);
        let occurred = field_time(data, b"\"occurred_at\":\"").unwrap_or(ABSENT);
        self.occurred_us[i].store(occurred, Ordering::Relaxed);
        self.recorded_us[i].store(recorded, Ordering::Release);
        (recorded, occurred)
    }

    fn measured(&self, seq: i64) -> Option<usize> {
        let count = self.count.load(Ordering::Acquire);
        let base = self.base.load(Ordering::Relaxed);
        (seq > base && seq <= base + count).then(|| (seq - base - 1) as usize)
    }
}

fn field_time(data: &[u8], field: &[u8]) -> Option<i64> {
    let at = data.windows(field.len()).position(|w| w == field)? + field.len();
    let len = data[at..].iter().position(|b| *b == b'"')?;
    let text = std::str::from_utf8(&data[at..at + len]).ok()?;
    Some(
        chrono::DateTime::parse_from_rfc3339(text)
            .ok()?
            .timestamp_micros(),
    )
}

fn now_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}

fn histogram() -> Histogram<u64> {
    // 1 µs .. 1 h, 3 significant digits.
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid histogram bounds")
}

/// What one client saw.
#[derive(Default)]
struct ClientStats {
    received: i64,
    duplicates: u64,
    out_of_order: u64,
    /// `data.reason` of an `event: end`, or why the stream broke off.
    ended: Option<String>,
    /// The stream never opened.
    error: Option<String>,
    last_seq: i64,
    samples: Vec<(i64, i64)>,
}

/// An HTTP/1.1 response carrying SSE, parsed incrementally.
#[derive(Default)]
struct SseParser {
    headers_done: bool,
    chunked: bool,
    status: u16,
    raw: Vec<u8>,
    chunk_left: usize,
    crlf_due: bool,
    text: Vec<u8>,
    opened: bool,
    finished: bool,
}

impl SseParser {
    /// Feeds bytes read at `now`; complete events update `stats`. Returns the number of
    /// measured events received.
    fn feed(&mut self, input: &[u8], now: i64, shared: &Shared, stats: &mut ClientStats) -> i64 {
        self.raw.extend_from_slice(input);
        if !self.headers_done {
            let Some(end) = find(&self.raw, b"\r\n\r\n") else {
                return 0;
            };
            let head = String::from_utf8_lossy(&self.raw[..end]).to_ascii_lowercase();
            self.status = head
                .split(' ')
                .nth(1)
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            self.chunked = head.contains("transfer-encoding: chunked");
            self.headers_done = true;
            self.raw.drain(..end + 4);
        }
        if self.status != 200 {
            return 0;
        }
        self.dechunk();
        let mut measured = 0;
        let mut start = 0;
        while let Some(end) = find(&self.text[start..], b"\n\n") {
            let block = &self.text[start..start + end];
            measured += Self::block(block, &mut self.opened, now, shared, stats);
            start += end + 2;
        }
        self.text.drain(..start);
        // A burst grows the buffers; 10,000 clients must not keep that much each.
        for buffer in [&mut self.raw, &mut self.text] {
            if buffer.capacity() > 8192 && buffer.len() <= 1024 {
                buffer.shrink_to(1024);
            }
        }
        measured
    }

    fn dechunk(&mut self) {
        if !self.chunked {
            self.text.append(&mut self.raw);
            return;
        }
        let mut at = 0;
        loop {
            if self.chunk_left == 0 {
                if self.crlf_due {
                    if self.raw.len() - at < 2 {
                        break;
                    }
                    at += 2;
                    self.crlf_due = false;
                }
                let Some(eol) = find(&self.raw[at..], b"\r\n") else {
                    break;
                };
                let line = String::from_utf8_lossy(&self.raw[at..at + eol]).into_owned();
                let size = line.split(';').next().unwrap_or("").trim();
                at += eol + 2;
                match usize::from_str_radix(size, 16) {
                    Ok(0) | Err(_) => {
                        self.finished = true;
                        break;
                    }
                    Ok(n) => self.chunk_left = n,
                }
            }
            let take = self.chunk_left.min(self.raw.len() - at);
            if take == 0 {
                break;
            }
            self.text.extend_from_slice(&self.raw[at..at + take]);
            at += take;
            self.chunk_left -= take;
            if self.chunk_left == 0 {
                self.crlf_due = true;
            }
        }
        self.raw.drain(..at);
    }

    fn block(
        block: &[u8],
        opened: &mut bool,
        now: i64,
        shared: &Shared,
        stats: &mut ClientStats,
    ) -> i64 {
        let (mut id, mut event, mut data): (Option<i64>, &[u8], &[u8]) = (None, b"message", b"");
        for line in block.split(|b| *b == b'\n') {
            if let Some(v) = line.strip_prefix(b"id: ") {
                id = std::str::from_utf8(v).ok().and_then(|s| s.parse().ok());
            } else if let Some(v) = line.strip_prefix(b"event: ") {
                event = v;
            } else if let Some(v) = line.strip_prefix(b"data: ") {
                data = v;
            } else if line.starts_with(b"retry:") {
                *opened = true;
            }
        }
        match event {
            b"task" => {
                let Some(seq) = id else { return 0 };
                if seq <= stats.last_seq {
                    stats.duplicates += 1;
                    return 0;
                }
                if stats.last_seq > 0 && seq != stats.last_seq + 1 {
                    stats.out_of_order += 1;
                }
                stats.last_seq = seq;
                let Some(i) = shared.measured(seq) else {
                    return 0;
                };
                let (recorded, occurred) = shared.times(i, data);
                stats.received += 1;
                stats.samples.push((
                    if recorded > 0 { now - recorded } else { ABSENT },
                    if occurred > 0 { now - occurred } else { ABSENT },
                ));
                if stats.samples.len() >= 64 {
                    flush(shared, &mut stats.samples);
                }
                1
            }
            b"end" => {
                stats.ended = Some(String::from_utf8_lossy(data).into_owned());
                0
            }
            _ => 0,
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn flush(shared: &Shared, samples: &mut Vec<(i64, i64)>) {
    let mut hists = shared.hists.lock().unwrap_or_else(PoisonError::into_inner);
    for &(commit, publish) in samples.iter() {
        if commit >= 0 {
            hists.commit.saturating_record(commit.max(1) as u64);
        }
        if publish >= 0 {
            hists.publish.saturating_record(publish.max(1) as u64);
        }
    }
    samples.clear();
}

/// One SSE client: opens the stream (holding a permit of `gate` until it is open), then reads
/// until `stop` or the end of the stream.
async fn client(
    shared: Arc<Shared>,
    addr: String,
    gate: Arc<Semaphore>,
    mut stop: watch::Receiver<bool>,
) -> ClientStats {
    let mut stats = ClientStats::default();
    let mut parser = SseParser::default();
    let permit = gate.acquire_owned().await.ok();
    let opened = tokio::time::timeout(Duration::from_secs(60), async {
        let mut stream = TcpStream::connect(&addr).await?;
        stream.set_nodelay(true)?;
        stream.write_all(&shared.request).await?;
        while !parser.opened {
            stream.readable().await?;
            let mut buf = [0u8; 4096];
            match stream.try_read(&mut buf) {
                Ok(0) => return Err(std::io::Error::other("closed before the stream opened")),
                Ok(n) => {
                    parser.feed(&buf[..n], now_us(), &shared, &mut stats);
                    if parser.headers_done && parser.status != 200 {
                        let body = String::from_utf8_lossy(&parser.raw).into_owned();
                        return Err(std::io::Error::other(format!(
                            "HTTP {}: {}",
                            parser.status,
                            body.chars().take(200).collect::<String>()
                        )));
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
        }
        Ok(stream)
    })
    .await;
    drop(permit);
    let stream = match opened {
        Ok(Ok(stream)) => stream,
        Ok(Err(error)) => {
            stats.error = Some(error.to_string());
            shared.failed.fetch_add(1, Ordering::AcqRel);
            return stats;
        }
        Err(_) => {
            stats.error = Some("not open within 60 s".into());
            shared.failed.fetch_add(1, Ordering::AcqRel);
            return stats;
        }
    };
    shared.opened.fetch_add(1, Ordering::AcqRel);
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            ready = stream.readable() => {
                if let Err(error) = ready {
                    stats.ended.get_or_insert(error.to_string());
                    break;
                }
            }
        }
        // A stack buffer, not one per client: 10,000 idle clients hold no read buffers.
        let mut buf = [0u8; 16 * 1024];
        match stream.try_read(&mut buf) {
            Ok(0) => {
                stats.ended.get_or_insert("closed by svc-notify".into());
                break;
            }
            Ok(n) => {
                let got = parser.feed(&buf[..n], now_us(), &shared, &mut stats);
                if got > 0 {
                    shared.outstanding.fetch_sub(got, Ordering::AcqRel);
                }
                if parser.finished {
                    stats.ended.get_or_insert("response ended".into());
                    break;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => {
                stats.ended.get_or_insert(e.to_string());
                break;
            }
        }
    }
    if stats.ended.is_some() {
        // Nothing more will come to this one: do not wait for it.
        let count = shared.count.load(Ordering::Acquire);
        shared
            .outstanding
            .fetch_sub((count - stats.received).max(0), Ordering::AcqRel);
    }
    flush(&shared, &mut stats.samples);
    stats
}

// --- svc-notify's side: /proc and the HTTP API ---------------------------------------------------

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// utime + stime of a process, in clock ticks.
fn cpu_ticks(pid: &str) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after_comm = stat.rsplit_once(") ").map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after_comm.split(' ').collect();
    // Fields 14 and 15 overall are 12 and 13 after "pid (comm)".
    let field = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    field(11) + field(12)
}

/// (busy, total) clock ticks of every CPU of the machine, from /proc/stat.
fn machine_ticks() -> (u64, u64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let ticks: Vec<u64> = stat
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    let total: u64 = ticks.iter().take(8).sum();
    // idle and iowait
    let idle = ticks.get(3).copied().unwrap_or(0) + ticks.get(4).copied().unwrap_or(0);
    (total.saturating_sub(idle), total)
}

/// Client connections svc-notify still holds on `port`: its socket descriptors that are neither
/// its other sockets (listener, database, Kafka, Unix) nor closed by svc-notify. A connection the
/// client hung up on counts until svc-notify closes the descriptor, even once the kernel has
/// dropped the connection itself (after a reset it is in no table of /proc/net).
fn held_connections(pid: u32, port: u16) -> usize {
    let local = format!(":{port:04X}");
    let mut other = std::collections::HashSet::new();
    for (table, inode_field) in [
        ("tcp", 9),
        ("tcp6", 9),
        ("udp", 9),
        ("udp6", 9),
        ("unix", 6),
    ] {
        let text = std::fs::read_to_string(format!("/proc/net/{table}")).unwrap_or_default();
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            // tcp: local_address is the 2nd field, st the 4th (0A LISTEN).
            let client = table == "tcp"
                && fields.get(1).is_some_and(|a| a.ends_with(&local))
                && fields.get(3).is_some_and(|st| *st != "0A");
            if !client && let Some(inode) = fields.get(inode_field) {
                other.insert((*inode).to_owned());
            }
        }
    }
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return 0;
    };
    fds.filter_map(Result::ok)
        .filter_map(|fd| std::fs::read_link(fd.path()).ok())
        .filter_map(|target| {
            let target = target.to_string_lossy().into_owned();
            Some(
                target
                    .strip_prefix("socket:[")?
                    .strip_suffix(']')?
                    .to_owned(),
            )
        })
        .filter(|inode| !other.contains(inode))
        .count()
}

struct Notify {
    http: reqwest::Client,
    url: String,
    key: String,
    producer: EventProducer,
    tenant: Uuid,
}

impl Notify {
    async fn status(&self, path: &str) -> Option<(reqwest::StatusCode, serde_json::Value)> {
        let response = self
            .http
            .get(format!("{}{path}", self.url))
            .bearer_auth(&self.key)
            .send()
            .await
            .ok()?;
        let status = response.status();
        Some((status, response.json().await.unwrap_or_default()))
    }

    async fn latest_seq(&self) -> Option<i64> {
        let (_, page) = self.status("/v1/notifications?limit=1").await?;
        page["latest_seq"].as_i64()
    }

    /// Waits until the feed numbered `seq` notifications.
    async fn seq_reaches(&self, seq: i64, within: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + within;
        loop {
            let latest = self.latest_seq().await;
            if latest.is_some_and(|l| l >= seq) {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("svc-notify's feed is at {latest:?} after {within:?}, expected {seq}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn meta(&self) -> EventMeta {
        EventMeta::new(
            chrono::Utc::now().timestamp_millis(),
            "bench-notify",
            self.tenant,
            "bench-notify",
        )
    }

    async fn publish(&self, events: &[Event]) -> anyhow::Result<()> {
        for result in self.producer.publish_all(events).await {
            result.context("publishing to Kafka")?;
        }
        Ok(())
    }

    fn progress(&self, task_id: Uuid, n: usize) -> Event {
        TaskProgressUpdated {
            meta: self.meta(),
            task_id,
            attempt: 1,
            percent: i32::try_from(n % 100).unwrap_or(0),
            message: Some("bench".into()),
        }
        .into()
    }

    /// Publishes `n` progress events over the tasks at `rate` per second, each stamped when it
    /// is sent; returns how many failed.
    async fn paced(&self, tasks: &[Uuid], n: usize, rate: u32) -> usize {
        let gap = Duration::from_secs(1) / rate.max(1);
        let start = tokio::time::Instant::now();
        let mut sends = Vec::with_capacity(n);
        for i in 0..n {
            tokio::time::sleep_until(start + gap * u32::try_from(i).unwrap_or(u32::MAX)).await;
            let event = self.progress(tasks[i % tasks.len()], i / tasks.len());
            let producer = self.producer.clone();
            sends.push(tokio::spawn(async move { producer.publish(&event).await }));
        }
        let mut failed = 0;
        for send in sends {
            if !matches!(send.await, Ok(Ok(_))) {
                failed += 1;
            }
        }
        failed
    }
}

// --- one phase -----------------------------------------------------------------------------------

struct Phase {
    clients: usize,
    opened: usize,
    open_errors: BTreeMap<String, usize>,
    connect_secs: f64,
    rss_idle: u64,
    rss_open: u64,
    rss_traffic: u64,
    rss_closed: u64,
    bench_rss: u64,
    expected_events: usize,
    publish_failed: usize,
    publish_secs: f64,
    delivered: i64,
    clients_short: usize,
    ended: BTreeMap<String, usize>,
    duplicates: u64,
    out_of_order: u64,
    drain_secs: f64,
    commit: Histogram<u64>,
    publish: Histogram<u64>,
    ingest: Histogram<u64>,
    no_times: usize,
    notify_cpu: f64,
    notify_cpu_secs: f64,
    bench_cpu: f64,
    machine_busy: f64,
    held_before: usize,
    held_open: usize,
    held_after: usize,
    close_secs: f64,
}

async fn phase(
    args: &Args,
    notify: &Notify,
    tasks: &[Uuid],
    clients: &tokio::runtime::Handle,
    n: usize,
) -> anyhow::Result<Phase> {
    let addr = args
        .url
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap_or_default()
        .to_owned();
    let port: u16 = addr
        .rsplit_once(':')
        .and_then(|(_, p)| p.parse().ok())
        .context("--url needs an explicit port")?;
    let measured = usize::try_from(u64::from(args.rate) * args.duration_secs)?;
    let request = format!(
        "GET /v1/stream HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {}\r\nAccept: text/event-stream\r\nUser-Agent: bench-notify\r\n\r\n",
        notify.key
    );
    let shared = Arc::new(Shared {
        request: request.into_bytes(),
        base: AtomicI64::new(0),
        count: AtomicI64::new(0),
        recorded_us: (0..measured).map(|_| AtomicI64::new(UNKNOWN)).collect(),
        occurred_us: (0..measured).map(|_| AtomicI64::new(UNKNOWN)).collect(),
        hists: Mutex::new(Hists {
            commit: histogram(),
            publish: histogram(),
        }),
        opened: AtomicUsize::new(0),
        failed: AtomicUsize::new(0),
        outstanding: AtomicI64::new(0),
    });
    let pid = args.pid;
    let held_before = held_connections(pid, port);
    let rss_idle = rss_kib(pid);

    eprintln!(
        "[bench-notify] {n} clients: opening streams ({} at a time)",
        args.connect_concurrency
    );
    let (stop_tx, stop_rx) = watch::channel(false);
    let gate = Arc::new(Semaphore::new(args.connect_concurrency.max(1)));
    let started = Instant::now();
    let handles: Vec<_> = (0..n)
        .map(|_| {
            clients.spawn(client(
                shared.clone(),
                addr.clone(),
                gate.clone(),
                stop_rx.clone(),
            ))
        })
        .collect();
    let mut last_report = Instant::now();
    loop {
        let (opened, failed) = (
            shared.opened.load(Ordering::Acquire),
            shared.failed.load(Ordering::Acquire),
        );
        if opened + failed >= n {
            break;
        }
        if last_report.elapsed() > Duration::from_secs(5) {
            eprintln!(
                "[bench-notify]   {opened} open, {failed} failed after {:.0?}",
                started.elapsed()
            );
            last_report = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let connect_secs = started.elapsed().as_secs_f64();
    let opened = shared.opened.load(Ordering::Acquire);
    eprintln!(
        "[bench-notify]   {opened} of {n} open in {connect_secs:.1}s; warming up with {} events",
        args.warmup_events
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_open = rss_kib(pid);
    let held_open = held_connections(pid, port);

    // Warm-up: not measured (the measured window starts after the feed has told it).
    let before = notify.latest_seq().await.context("GET /v1/notifications")?;
    let failed = notify.paced(tasks, args.warmup_events, args.rate).await;
    anyhow::ensure!(failed == 0, "{failed} warm-up events not published");
    let warm = before + i64::try_from(args.warmup_events)?;
    notify.seq_reaches(warm, Duration::from_secs(60)).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let base = notify.latest_seq().await.context("GET /v1/notifications")?;
    shared.base.store(base, Ordering::Relaxed);
    shared
        .count
        .store(i64::try_from(measured)?, Ordering::Release);
    let still_open = i64::try_from(opened)?;
    shared
        .outstanding
        .store(still_open * i64::try_from(measured)?, Ordering::Release);

    eprintln!(
        "[bench-notify]   publishing {measured} events at {}/s ({}s)",
        args.rate, args.duration_secs
    );
    let (notify_cpu0, bench_cpu0) = (cpu_ticks(&pid.to_string()), cpu_ticks("self"));
    let machine0 = machine_ticks();
    let t_publish = Instant::now();
    let publish_failed = notify.paced(tasks, measured, args.rate).await;
    let publish_secs = t_publish.elapsed().as_secs_f64();
    let expected_events = measured - publish_failed;
    let last = base + i64::try_from(expected_events)?;
    notify
        .seq_reaches(last, Duration::from_secs(args.drain_secs.max(60)))
        .await?;
    let committed = Instant::now();
    let drain_deadline = committed + Duration::from_secs(args.drain_secs);
    while shared.outstanding.load(Ordering::Acquire) > 0 && Instant::now() < drain_deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let drain_secs = committed.elapsed().as_secs_f64();
    let cpu_secs = t_publish.elapsed().as_secs_f64();
    let (notify_cpu1, bench_cpu1) = (cpu_ticks(&pid.to_string()), cpu_ticks("self"));
    let machine1 = machine_ticks();
    let share =
        |t0: u64, t1: u64| 100.0 * t1.saturating_sub(t0) as f64 / args.clk_tck as f64 / cpu_secs;
    let rss_traffic = rss_kib(pid);
    let bench_rss = rss_kib(std::process::id());

    let _ = stop_tx.send(true);
    let mut results = Vec::with_capacity(n);
    for handle in handles {
        results.push(handle.await.context("a client panicked")?);
    }
    // Every client's socket is closed now: wait until svc-notify has closed its side too, so
    // the next phase starts clean.
    let closing = Instant::now();
    let close_wait = Duration::from_secs(args.close_wait_secs);
    let mut held_after = held_connections(pid, port);
    while held_after > held_before && closing.elapsed() < close_wait {
        tokio::time::sleep(Duration::from_millis(250)).await;
        held_after = held_connections(pid, port);
    }
    let close_secs = closing.elapsed().as_secs_f64();
    let rss_closed = rss_kib(pid);

    let mut open_errors = BTreeMap::new();
    let mut ended = BTreeMap::new();
    let (mut delivered, mut duplicates, mut out_of_order, mut clients_short) = (0, 0, 0, 0);
    let expected_per_client = i64::try_from(expected_events)?;
    for stats in &results {
        if let Some(error) = &stats.error {
            *open_errors.entry(error.clone()).or_insert(0) += 1;
            continue;
        }
        delivered += stats.received;
        duplicates += stats.duplicates;
        out_of_order += stats.out_of_order;
        if stats.received < expected_per_client {
            clients_short += 1;
        }
        if let Some(reason) = &stats.ended {
            *ended.entry(reason.clone()).or_insert(0) += 1;
        }
    }
    let mut ingest = histogram();
    let mut no_times = 0;
    for i in 0..expected_events {
        let recorded = shared.recorded_us[i].load(Ordering::Acquire);
        let occurred = shared.occurred_us[i].load(Ordering::Relaxed);
        if recorded > 0 && occurred > 0 {
            ingest.saturating_record((recorded - occurred).max(1) as u64);
        } else {
            no_times += 1;
        }
    }
    let hists = shared.hists.lock().unwrap_or_else(PoisonError::into_inner);
    Ok(Phase {
        clients: n,
        opened,
        open_errors,
        connect_secs,
        rss_idle,
        rss_open,
        rss_traffic,
        rss_closed,
        bench_rss,
        expected_events,
        publish_failed,
        publish_secs,
        delivered,
        clients_short,
        ended,
        duplicates,
        out_of_order,
        drain_secs,
        commit: hists.commit.clone(),
        publish: hists.publish.clone(),
        ingest,
        no_times,
        notify_cpu: share(notify_cpu0, notify_cpu1),
        notify_cpu_secs: notify_cpu1.saturating_sub(notify_cpu0) as f64 / args.clk_tck as f64,
        machine_busy: {
            let (busy, total) = (
                machine1.0.saturating_sub(machine0.0),
                machine1.1.saturating_sub(machine0.1),
            );
            100.0 * busy as f64 / total.max(1) as f64
        },
        bench_cpu: share(bench_cpu0, bench_cpu1),
        held_before,
        held_open,
        held_after,
        close_secs,
    })
}

// --- set-up and report ---------------------------------------------------------------------------

async fn set_up(args: &Args) -> anyhow::Result<(Notify, Vec<Uuid>)> {
    let kafka = KafkaSettings::from_env().context("Kafka settings")?;
    let registry = RegistrySettings::from_env().context("registry settings")?;
    let codec = Arc::new(EventCodec::new(&registry, kafka.topics.clone()));
    let producer = EventProducer::new(&kafka, codec).context("Kafka producer")?;
    let notify = Notify {
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()?,
        url: args.url.trim_end_matches('/').to_owned(),
        key: format!("tfk_{}", Uuid::new_v4().simple()),
        producer,
        tenant: Uuid::new_v4(),
    };
    let hash: String = Sha256::digest(notify.key.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    notify
        .publish(&[ApiKeyIssued {
            meta: notify.meta(),
            key_id: Uuid::now_v7(),
            key_sha256: hash,
            key_prefix: notify.key[..10].to_owned(),
        }
        .into()])
        .await?;
    let deadline = Instant::now() + Duration::from_secs(60);
    while !matches!(notify.status("/v1/overview").await, Some((s, _)) if s.is_success()) {
        if Instant::now() > deadline {
            bail!("svc-notify did not learn the bench key within 60 s (ApiKeyIssued consumed?)");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let tasks: Vec<Uuid> = (0..args.tasks.max(1)).map(|_| Uuid::now_v7()).collect();
    let created: Vec<Event> = tasks
        .iter()
        .map(|&task_id| {
            TaskCreated {
                meta: notify.meta(),
                task_id,
                task_type: "bench".into(),
                priority: Priority::Normal,
                payload_json: "{}".into(),
                max_attempts: 1,
                timeout_ms: 3_600_000,
                labels: BTreeMap::from([("bench".into(), "notify".into())]),
                idempotency_key: None,
                schedule_id: None,
                run_at: None,
            }
            .into()
        })
        .collect();
    notify.publish(&created).await?;
    let started: Vec<Event> = tasks
        .iter()
        .map(|&task_id| {
            TaskStarted {
                meta: notify.meta(),
                task_id,
                attempt: 1,
                instance: "bench-notify".into(),
            }
            .into()
        })
        .collect();
    notify.publish(&started).await?;
    notify
        .seq_reaches(2 * i64::try_from(tasks.len())?, Duration::from_secs(60))
        .await?;
    Ok((notify, tasks))
}

fn mib(kib: u64) -> String {
    format!("{:.1}", kib as f64 / 1024.0)
}

fn ms(h: &Histogram<u64>, q: f64) -> String {
    if h.is_empty() {
        return "-".into();
    }
    let v = if q >= 1.0 {
        h.max()
    } else {
        h.value_at_quantile(q)
    };
    format!("{:.1}", v as f64 / 1000.0)
}

fn triple(h: &Histogram<u64>) -> String {
    format!("{} / {} / {}", ms(h, 0.5), ms(h, 0.99), ms(h, 1.0))
}

fn thousands(n: i64) -> String {
    let digits = n.abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

fn report(phases: &[Phase]) -> String {
    let mut rows: Vec<(&str, Vec<String>)> = Vec::new();
    let mut row = |label: &'static str, f: &dyn Fn(&Phase) -> String| {
        rows.push((label, phases.iter().map(f).collect()));
    };
    row("streams open / asked", &|p| {
        format!("{} / {}", p.opened, p.clients)
    });
    row("time to open all (s)", &|p| {
        format!("{:.1}", p.connect_secs)
    });
    row("svc-notify RSS before (MiB)", &|p| mib(p.rss_idle));
    row("svc-notify RSS all open (MiB)", &|p| mib(p.rss_open));
    row("  per 1,000 clients (MiB)", &|p| {
        let grown = p.rss_open.saturating_sub(p.rss_idle) as f64;
        format!("{:.1}", grown / 1024.0 / p.opened.max(1) as f64 * 1000.0)
    });
    row("svc-notify RSS after events (MiB)", &|p| mib(p.rss_traffic));
    row("  per 1,000 clients (MiB)", &|p| {
        let grown = p.rss_traffic.saturating_sub(p.rss_idle) as f64;
        format!("{:.1}", grown / 1024.0 / p.opened.max(1) as f64 * 1000.0)
    });
    row("svc-notify RSS after close (MiB)", &|p| mib(p.rss_closed));
    row("events (published/s)", &|p| {
        format!(
            "{} ({:.0}/s)",
            p.expected_events,
            p.expected_events as f64 / p.publish_secs
        )
    });
    row("delivered / expected", &|p| {
        let expected = (p.expected_events * p.opened) as i64;
        format!(
            "{} / {} ({:.2}%)",
            thousands(p.delivered),
            thousands(expected),
            100.0 * p.delivered as f64 / expected.max(1) as f64
        )
    });
    row("clients missing events", &|p| p.clients_short.to_string());
    row("streams ended by svc-notify", &|p| {
        p.ended.values().sum::<usize>().to_string()
    });
    row("duplicates / out of order", &|p| {
        format!("{} / {}", p.duplicates, p.out_of_order)
    });
    row("commit->client p50/p99/max ms", &|p| triple(&p.commit));
    row("publish->client p50/p99/max ms", &|p| triple(&p.publish));
    row("publish->commit p50/p99/max ms", &|p| triple(&p.ingest));
    row("drain after last commit (s)", &|p| {
        format!("{:.1}", p.drain_secs)
    });
    row("CPU svc-notify / bench (% of a core)", &|p| {
        format!("{:.0} / {:.0}", p.notify_cpu, p.bench_cpu)
    });
    row("  svc-notify CPU per delivery (us)", &|p| {
        format!("{:.2}", p.notify_cpu_secs * 1e6 / p.delivered.max(1) as f64)
    });
    row("  machine busy (% of all cores)", &|p| {
        format!("{:.0}", p.machine_busy)
    });
    row("bench client RSS (MiB)", &|p| mib(p.bench_rss));
    row("client connections held before/open/after", &|p| {
        format!("{} / {} / {}", p.held_before, p.held_open, p.held_after)
    });
    row("  hang-up -> all closed by svc-notify (s)", &|p| {
        if p.held_after > p.held_before {
            format!("not in {:.0}", p.close_secs)
        } else {
            format!("{:.1}", p.close_secs)
        }
    });
    let label_width = rows.iter().map(|(l, _)| l.len()).max().unwrap_or(0);
    let widths: Vec<usize> = (0..phases.len())
        .map(|i| {
            rows.iter()
                .map(|(_, v)| v[i].len())
                .chain([phases[i].clients.to_string().len() + 8])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = format!("{:label_width$}", "");
    for (p, w) in phases.iter().zip(&widths) {
        out.push_str(&format!(
            "  {:>w$}",
            format!("{} clients", thousands(p.clients as i64))
        ));
    }
    out.push('\n');
    for (label, values) in &rows {
        out.push_str(&format!("{label:label_width$}"));
        for (v, w) in values.iter().zip(&widths) {
            out.push_str(&format!("  {v:>w$}"));
        }
        out.push('\n');
    }
    let mut notes = Vec::new();
    for p in phases {
        for (error, count) in &p.open_errors {
            notes.push(format!(
                "{} clients: {count} streams did not open: {error}",
                p.clients
            ));
        }
        for (reason, count) in &p.ended {
            notes.push(format!(
                "{} clients: {count} streams ended early: {reason}",
                p.clients
            ));
        }
        if p.publish_failed > 0 {
            notes.push(format!(
                "{} clients: {} events not acknowledged by Kafka (not expected)",
                p.clients, p.publish_failed
            ));
        }
        if p.no_times > 0 {
            notes.push(format!(
                "{} clients: {} events without recorded_at/occurred_at or never received",
                p.clients, p.no_times
            ));
        }
    }
    if !notes.is_empty() {
        out.push('\n');
        for note in notes {
            out.push_str(&note);
            out.push('\n');
        }
    }
    out
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    anyhow::ensure!(
        args.rate > 0 && args.duration_secs > 0,
        "--rate and --duration-secs must be positive"
    );
    anyhow::ensure!(!args.clients.is_empty(), "--clients is empty");
    // The clients get two threads of their own; publishing and control run on a third, so a
    // busy client side does not slow the event rate down.
    let clients = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("sse-client")
        .enable_all()
        .build()?;
    let control = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let phases = control.block_on(async {
        let (notify, tasks) = set_up(&args).await?;
        let mut phases = Vec::new();
        for &n in &args.clients {
            phases.push(phase(&args, &notify, &tasks, clients.handle(), n).await?);
        }
        anyhow::Ok(phases)
    })?;
    print!("{}", report(&phases));
    Ok(())
}
