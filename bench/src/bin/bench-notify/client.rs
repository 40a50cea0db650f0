//! The SSE clients of one phase: each opens `GET /v1/stream` on a raw tokio socket (so that
//! 10,000 of them stay light), stamps every event with the clock when its bytes were read, and
//! checks it got every measured event once and in order. What the clients share (the event
//! times, the histograms) is in `Shared`.

use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use hdrhistogram::Histogram;
use taskflow_bench::clock::now_us;
use taskflow_bench::latency::{histogram, record_us};
use taskflow_bench::sse::{SseEvent, SseParser};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::{Semaphore, watch};

/// What every client of a phase shares: which sequence numbers are measured, the event times
/// (filled by whichever client reads an event first), the latency histograms.
pub struct Shared {
    pub request: Vec<u8>,
    /// Measured: base < seq <= base + count.
    pub base: AtomicI64,
    pub count: AtomicI64,
    pub recorded_us: Vec<AtomicI64>,
    pub occurred_us: Vec<AtomicI64>,
    pub hists: Mutex<Hists>,
    pub opened: AtomicUsize,
    pub failed: AtomicUsize,
    /// Measured (client, event) pairs not yet received by a client still open.
    pub outstanding: AtomicI64,
}

pub struct Hists {
    pub commit: Histogram<u64>,
    pub publish: Histogram<u64>,
}

/// Event time not parsed yet / not present in the event.
const UNKNOWN: i64 = 0;
const ABSENT: i64 = -1;

impl Shared {
    /// For clients sending `request`, `measured` events to come.
    pub fn new(request: Vec<u8>, measured: usize) -> anyhow::Result<Self> {
        Ok(Self {
            request,
            base: AtomicI64::new(0),
            count: AtomicI64::new(0),
            recorded_us: (0..measured).map(|_| AtomicI64::new(UNKNOWN)).collect(),
            occurred_us: (0..measured).map(|_| AtomicI64::new(UNKNOWN)).collect(),
            hists: Mutex::new(Hists {
                commit: histogram()?,
                publish: histogram()?,
            }),
            opened: AtomicUsize::new(0),
            failed: AtomicUsize::new(0),
            outstanding: AtomicI64::new(0),
        })
    }

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

/// What one client saw.
#[derive(Default)]
pub struct ClientStats {
    pub received: i64,
    pub duplicates: u64,
    pub out_of_order: u64,
    /// `data.reason` of an `event: end`, or why the stream broke off.
    pub ended: Option<String>,
    /// The stream never opened.
    pub error: Option<String>,
    last_seq: i64,
    samples: Vec<(i64, i64)>,
}

/// Takes one event of a client's stream into `stats`; returns 1 if it was a measured event.
fn receive(event: SseEvent<'_>, now: i64, shared: &Shared, stats: &mut ClientStats) -> i64 {
    match event.event {
        b"task" => {
            let Some(seq) = event.id else { return 0 };
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
            let (recorded, occurred) = shared.times(i, event.data);
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
            stats.ended = Some(String::from_utf8_lossy(event.data).into_owned());
            0
        }
        _ => 0,
    }
}

fn flush(shared: &Shared, samples: &mut Vec<(i64, i64)>) {
    let mut hists = shared.hists.lock().unwrap_or_else(PoisonError::into_inner);
    for &(commit, publish) in samples.iter() {
        if commit >= 0 {
            record_us(&mut hists.commit, commit);
        }
        if publish >= 0 {
            record_us(&mut hists.publish, publish);
        }
    }
    samples.clear();
}

/// One SSE client: opens the stream (holding a permit of `gate` until it is open), then reads
/// until `stop` or the end of the stream.
pub async fn client(
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
        while !parser.opened() {
            stream.readable().await?;
            let mut buf = [0u8; 4096];
            match stream.try_read(&mut buf) {
                Ok(0) => return Err(std::io::Error::other("closed before the stream opened")),
                Ok(n) => {
                    let now = now_us();
                    parser.feed(&buf[..n], |e| {
                        receive(e, now, &shared, &mut stats);
                    });
                    if let Some(status) = parser.status().filter(|s| *s != 200) {
                        let body = String::from_utf8_lossy(parser.error_body()).into_owned();
                        return Err(std::io::Error::other(format!(
                            "HTTP {}: {}",
                            status,
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
                let now = now_us();
                let mut got = 0;
                parser.feed(&buf[..n], |e| got += receive(e, now, &shared, &mut stats));
                if got > 0 {
                    shared.outstanding.fetch_sub(got, Ordering::AcqRel);
                }
                if parser.finished() {
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
