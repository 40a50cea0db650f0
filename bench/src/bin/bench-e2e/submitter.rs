//! The client side of bench-e2e: sends `noop` tasks to svc-tasks (`POST /v1/tasks:batch`, or one
//! per `POST /v1/tasks`), `--concurrency` requests in flight or paced to a rate, noting when
//! each request was sent; and reads back `started_at` through `GET /v1/tasks`.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{DateTime, Utc};
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use serde::Deserialize;
use taskflow_bench::clock::now_us;
use taskflow_bench::submission::{NOOP_TASK, bearer, noop_batch};
use tokio::sync::Mutex;
use uuid::Uuid;

#[derive(Deserialize)]
struct BatchCreated {
    tasks: Vec<CreatedTask>,
}

#[derive(Deserialize)]
struct CreatedTask {
    id: Uuid,
}

/// A page of `GET /v1/tasks`.
#[derive(Deserialize)]
struct TaskPage {
    tasks: Vec<ListedTask>,
    next_cursor: Option<String>,
}

#[derive(Deserialize)]
struct ListedTask {
    id: Uuid,
    started_at: Option<DateTime<Utc>>,
}

pub struct Submitter {
    client: reqwest::Client,
    base: String,
    endpoint: String,
    auth: HeaderValue,
    body: String,
    /// Tasks per request.
    pub per_request: usize,
    single: bool,
}

pub struct Submitted {
    /// Task id and when its request was sent (µs since the epoch).
    pub tasks: Vec<(Uuid, i64)>,
    pub errors: BTreeMap<String, u64>,
    /// Largest delay of a paced request behind its schedule.
    pub late_max: Duration,
}

impl Submitter {
    /// For svc-tasks at `url` with the tenant's `key`: one task per request if `single`, else
    /// batches of `batch_size`; a connection kept per request in flight.
    pub fn new(
        url: &str,
        key: &str,
        single: bool,
        batch_size: usize,
        concurrency: usize,
    ) -> anyhow::Result<Self> {
        let base = url.trim_end_matches('/').to_owned();
        let (endpoint, body, per_request) = if single {
            (format!("{base}/v1/tasks"), NOOP_TASK.to_owned(), 1)
        } else {
            (
                format!("{base}/v1/tasks:batch"),
                noop_batch(batch_size),
                batch_size,
            )
        };
        Ok(Self {
            client: reqwest::Client::builder()
                .pool_max_idle_per_host(concurrency)
                .timeout(Duration::from_secs(60))
                .tcp_nodelay(true)
                .build()
                .context("HTTP client")?,
            base,
            endpoint,
            auth: bearer(key)?,
            body,
            per_request,
            single,
        })
    }

    /// Sends `total` tasks, `concurrency` requests in flight, paced to `rate` tasks/s when it is
    /// positive. Failed requests are counted, not retried.
    pub async fn submit(&self, total: usize, concurrency: usize, rate: f64) -> Submitted {
        let requests = total.div_ceil(self.per_request);
        let next = AtomicUsize::new(0);
        let out = Mutex::new(Submitted {
            tasks: Vec::with_capacity(total),
            errors: BTreeMap::new(),
            late_max: Duration::ZERO,
        });
        let start = Instant::now();
        let worker = async || {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= requests {
                    break;
                }
                let mut late = Duration::ZERO;
                if rate > 0.0 {
                    let due = start
                        + Duration::from_secs_f64((i * self.per_request) as f64 / rate.max(0.001));
                    tokio::time::sleep_until(due.into()).await;
                    late = Instant::now().saturating_duration_since(due);
                }
                let sent = now_us();
                let outcome = self.send().await;
                let mut out = out.lock().await;
                out.late_max = out.late_max.max(late);
                match outcome {
                    Ok(ids) => out.tasks.extend(ids.into_iter().map(|id| (id, sent))),
                    Err(kind) => *out.errors.entry(kind).or_default() += 1,
                }
            }
        };
        futures::future::join_all((0..concurrency.max(1)).map(|_| worker())).await;
        out.into_inner()
    }

    async fn send(&self) -> Result<Vec<Uuid>, String> {
        let response = self
            .client
            .post(&self.endpoint)
            .header(AUTHORIZATION, self.auth.clone())
            .header(CONTENT_TYPE, "application/json")
            .body(self.body.clone())
            .send()
            .await
            .map_err(|e| {
                if e.is_timeout() {
                    "timeout"
                } else {
                    "transport"
                }
                .to_owned()
            })?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(|_| "transport".to_owned())?;
        if !status.is_success() {
            return Err(status.as_str().to_owned());
        }
        let unreadable = |_| "unreadable 2xx body".to_owned();
        if self.single {
            let created: CreatedTask = serde_json::from_slice(&bytes).map_err(unreadable)?;
            Ok(vec![created.id])
        } else {
            let created: BatchCreated = serde_json::from_slice(&bytes).map_err(unreadable)?;
            Ok(created.tasks.into_iter().map(|t| t.id).collect())
        }
    }

    /// `started_at` of every task of the tenant as `GET /v1/tasks` shows it (µs since the epoch).
    pub async fn started_via_api(&self) -> anyhow::Result<HashMap<Uuid, i64>> {
        let mut started = HashMap::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut url = format!("{}/v1/tasks?limit=500", self.base);
            if let Some(c) = &cursor {
                anyhow::ensure!(
                    c.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '-'),
                    "unexpected cursor {c:?}"
                );
                url.push_str("&cursor=");
                url.push_str(c);
            }
            let response = self
                .client
                .get(&url)
                .header(AUTHORIZATION, self.auth.clone())
                .send()
                .await
                .context("GET /v1/tasks")?;
            let status = response.status();
            anyhow::ensure!(status.is_success(), "GET /v1/tasks answered {status}");
            let page: TaskPage = response.json().await.context("GET /v1/tasks body")?;
            for task in page.tasks {
                if let Some(at) = task.started_at {
                    started.insert(task.id, at.timestamp_micros());
                }
            }
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => return Ok(started),
            }
        }
    }
}
