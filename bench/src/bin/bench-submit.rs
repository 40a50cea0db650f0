//! Closed-loop load generator for `POST /v1/tasks` and `POST /v1/tasks:batch` (`make bench`).
//!
//! `--concurrency` workers each send `noop` submissions back to back for `--warmup-secs` plus
//! `--duration-secs`. Requests that complete inside the measured window count: their latency goes
//! into an HdrHistogram (2xx only), the rest are errors, counted by status. Prints one table row
//! (with `--header`, the header first); the error breakdown goes to stderr.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use hdrhistogram::Histogram;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use taskflow_bench::latency::{histogram, record_elapsed, us_as_ms};
use taskflow_bench::submission::{NOOP_TASK, bearer, noop_batch};

#[derive(Parser, Debug)]
#[command(about = "Sustained submission throughput and latency of svc-tasks")]
struct Args {
    /// Base URL of svc-tasks, e.g. http://127.0.0.1:18190
    #[arg(long)]
    url: String,
    /// Tenant API key, or several separated by commas (worker i uses key i mod n); without it,
    /// the environment variable BENCH_API_KEY (keeps it out of `ps`).
    #[arg(long)]
    key: Option<String>,
    /// Requests in flight (closed-loop workers).
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// Length of the measured window.
    #[arg(long, default_value_t = 15)]
    duration_secs: u64,
    /// Tasks per request: 1 uses POST /v1/tasks, more uses POST /v1/tasks:batch.
    #[arg(long, default_value_t = 1)]
    batch_size: usize,
    /// Load before the measured window starts (not counted).
    #[arg(long, default_value_t = 3)]
    warmup_secs: u64,
    /// Print the table header before the row.
    #[arg(long)]
    header: bool,
}

struct Window {
    start: Instant,
    end: Instant,
}

struct WorkerStats {
    latency_us: Histogram<u64>,
    errors: BTreeMap<String, u64>,
}

async fn worker(
    client: reqwest::Client,
    endpoint: String,
    auth: HeaderValue,
    body: String,
    window: std::sync::Arc<Window>,
) -> anyhow::Result<WorkerStats> {
    let mut stats = WorkerStats {
        latency_us: histogram()?,
        errors: BTreeMap::new(),
    };
    while Instant::now() < window.end {
        let sent = Instant::now();
        let outcome = client
            .post(&endpoint)
            .header(AUTHORIZATION, auth.clone())
            .header(CONTENT_TYPE, "application/json")
            .body(body.clone())
            .send()
            .await;
        // Read the whole body so the connection goes back to the pool.
        let status = match outcome {
            Ok(response) => {
                let status = response.status();
                response.bytes().await.map(|_| status)
            }
            Err(error) => Err(error),
        };
        let done = Instant::now();
        if done < window.start || done > window.end {
            continue;
        }
        match status {
            Ok(status) if status.is_success() => {
                record_elapsed(&mut stats.latency_us, done.duration_since(sent));
            }
            Ok(status) => *stats.errors.entry(status.as_str().to_owned()).or_default() += 1,
            Err(error) => {
                let kind = if error.is_timeout() {
                    "timeout"
                } else if error.is_connect() {
                    "connect"
                } else {
                    "transport"
                };
                *stats.errors.entry(kind.to_owned()).or_default() += 1;
            }
        }
    }
    Ok(stats)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    anyhow::ensure!(args.concurrency > 0, "--concurrency must be at least 1");
    anyhow::ensure!(
        (1..=1000).contains(&args.batch_size),
        "--batch-size must be 1 to 1000"
    );
    anyhow::ensure!(args.duration_secs > 0, "--duration-secs must be at least 1");

    let base = args.url.trim_end_matches('/');
    let (mode, endpoint) = if args.batch_size == 1 {
        ("single".to_owned(), format!("{base}/v1/tasks"))
    } else {
        (
            format!("batch{}", args.batch_size),
            format!("{base}/v1/tasks:batch"),
        )
    };
    let key = match args.key {
        Some(key) => key,
        None => std::env::var("BENCH_API_KEY").context("give --key or set BENCH_API_KEY")?,
    };
    let auths = key
        .split(',')
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .map(bearer)
        .collect::<anyhow::Result<Vec<_>>>()?;
    anyhow::ensure!(!auths.is_empty(), "no API key given");
    // Serialised once: one `noop` task, or a batch of them.
    let body = if args.batch_size == 1 {
        NOOP_TASK.to_owned()
    } else {
        noop_batch(args.batch_size)
    };
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency)
        .timeout(Duration::from_secs(30))
        .tcp_nodelay(true)
        .build()
        .context("HTTP client")?;

    let start = Instant::now() + Duration::from_secs(args.warmup_secs);
    let window = std::sync::Arc::new(Window {
        start,
        end: start + Duration::from_secs(args.duration_secs),
    });
    let workers: Vec<_> = (0..args.concurrency)
        .map(|i| {
            tokio::spawn(worker(
                client.clone(),
                endpoint.clone(),
                auths[i % auths.len()].clone(),
                body.clone(),
                window.clone(),
            ))
        })
        .collect();

    let mut latency_us = histogram()?;
    let mut errors: BTreeMap<String, u64> = BTreeMap::new();
    for handle in workers {
        let stats = handle.await.context("worker panicked")??;
        latency_us
            .add(&stats.latency_us)
            .context("merging histograms")?;
        for (status, n) in stats.errors {
            *errors.entry(status).or_default() += n;
        }
    }

    let secs = args.duration_secs as f64;
    let ok = latency_us.len();
    let failed: u64 = errors.values().sum();
    let requests_per_sec = ok as f64 / secs;
    let tasks_per_sec = requests_per_sec * args.batch_size as f64;
    if args.header {
        println!(
            "{:<10} {:>5} {:>9} {:>9} {:>8} {:>8} {:>8} {:>8} {:>7}",
            "mode", "conc", "req/s", "tasks/s", "p50 ms", "p95 ms", "p99 ms", "max ms", "errors"
        );
    }
    println!(
        "{:<10} {:>5} {:>9.1} {:>9.1} {:>8.1} {:>8.1} {:>8.1} {:>8.1} {:>7}",
        mode,
        args.concurrency,
        requests_per_sec,
        tasks_per_sec,
        us_as_ms(latency_us.value_at_quantile(0.50)),
        us_as_ms(latency_us.value_at_quantile(0.95)),
        us_as_ms(latency_us.value_at_quantile(0.99)),
        us_as_ms(latency_us.max()),
        failed,
    );
    if failed > 0 {
        let detail: Vec<String> = errors.iter().map(|(s, n)| format!("{s}: {n}")).collect();
        eprintln!(
            "bench-submit {mode} c={}: errors by status: {}",
            args.concurrency,
            detail.join(", ")
        );
    }
    Ok(())
}
