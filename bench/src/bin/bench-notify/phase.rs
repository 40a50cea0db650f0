//! One phase of the bench: open N streams, read svc-notify's memory, publish the measured
//! events, wait for the clients to drain, hang up, and wait until svc-notify has closed its side
//! of every connection so the next phase starts clean.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, PoisonError};
use std::time::{Duration, Instant};

use anyhow::Context;
use hdrhistogram::Histogram;
use taskflow_bench::latency::{histogram, record};
use taskflow_bench::procfs::{cpu_ticks, held_connections, machine_ticks, rss_kib};
use tokio::sync::{Semaphore, watch};
use uuid::Uuid;

use crate::Args;
use crate::client::{Shared, client};
use crate::notify::Notify;

/// What one phase measured.
pub struct Phase {
    pub clients: usize,
    pub opened: usize,
    pub open_errors: BTreeMap<String, usize>,
    pub connect_secs: f64,
    pub rss_idle: u64,
    pub rss_open: u64,
    pub rss_traffic: u64,
    pub rss_closed: u64,
    pub bench_rss: u64,
    pub expected_events: usize,
    pub publish_failed: usize,
    pub publish_secs: f64,
    pub delivered: i64,
    pub clients_short: usize,
    pub ended: BTreeMap<String, usize>,
    pub duplicates: u64,
    pub out_of_order: u64,
    pub drain_secs: f64,
    pub commit: Histogram<u64>,
    pub publish: Histogram<u64>,
    pub ingest: Histogram<u64>,
    pub no_times: usize,
    pub notify_cpu: f64,
    pub notify_cpu_secs: f64,
    pub bench_cpu: f64,
    pub machine_busy: f64,
    pub held_before: usize,
    pub held_open: usize,
    pub held_after: usize,
    pub close_secs: f64,
}

/// One phase with `n` clients: open them, measure, hang up and wait until svc-notify let go.
pub async fn phase(
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
    let shared = Arc::new(Shared::new(request.into_bytes(), measured)?);
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
    let mut ingest = histogram()?;
    let mut no_times = 0;
    for i in 0..expected_events {
        let recorded = shared.recorded_us[i].load(Ordering::Acquire);
        let occurred = shared.occurred_us[i].load(Ordering::Relaxed);
        if recorded > 0 && occurred > 0 {
            record(&mut ingest, occurred, recorded);
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
