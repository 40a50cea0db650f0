//! svc-notify under many SSE clients (`make bench`, last part; `bench/bench-notify.sh`): how
//! many `GET /v1/stream` connections one instance holds, its memory per 1,000 clients, and the
//! fan-out latency of every (client, event) pair at a steady event rate.
//!
//! One tenant: its API key is announced on Kafka (`ApiKeyIssued`, as svc-tasks would), then a
//! few tasks are created and started. Per phase (`--clients`, e.g. 1000 then 10000):
//!
//! 1. open N streams (raw HTTP/1.1 over tokio sockets, chunked body and SSE parsed by
//!    `taskflow_bench::sse`, so the load generator stays light enough to hold 10,000 of them;
//!    `client.rs`) and wait for every `retry:`
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
//! `TASKFLOW_TOPIC_PREFIX`). Prints the report table on stdout (`report.rs`), progress on stderr.
//!
//! svc-notify's database is not read: what it ingested is its feed's position
//! (`GET /v1/notifications`), its memory, CPU and connections come from /proc.

use clap::Parser;

mod client;
mod notify;
mod phase;
mod report;

#[derive(Parser, Debug)]
#[command(about = "SSE clients one svc-notify holds, its memory, and fan-out latency")]
pub struct Args {
    /// Base URL of svc-notify, e.g. http://127.0.0.1:18196
    #[arg(long)]
    pub url: String,
    /// svc-notify's process id (memory and CPU are read from /proc).
    #[arg(long)]
    pub pid: u32,
    /// Clients per phase, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1000,10000")]
    pub clients: Vec<usize>,
    /// Events per second while measuring.
    #[arg(long, default_value_t = 200)]
    pub rate: u32,
    /// Seconds of measured events per phase.
    #[arg(long, default_value_t = 20)]
    pub duration_secs: u64,
    /// Events published (and delivered) before each measured run, not counted.
    #[arg(long, default_value_t = 100)]
    pub warmup_events: usize,
    /// Tasks the progress events are spread over.
    #[arg(long, default_value_t = 20)]
    pub tasks: usize,
    /// Streams being opened at once.
    #[arg(long, default_value_t = 200)]
    pub connect_concurrency: usize,
    /// After the last event is committed, how long clients may take to receive everything.
    #[arg(long, default_value_t = 15)]
    pub drain_secs: u64,
    /// After the clients hang up, how long svc-notify may take to close its side.
    #[arg(long, default_value_t = 45)]
    pub close_wait_secs: u64,
    /// Clock ticks per second of /proc/<pid>/stat (getconf CLK_TCK).
    #[arg(long, default_value_t = 100)]
    pub clk_tck: u64,
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
        let (notify, tasks) = notify::set_up(&args).await?;
        let mut phases = Vec::new();
        for &n in &args.clients {
            phases.push(phase::phase(&args, &notify, &tasks, clients.handle(), n).await?);
        }
        anyhow::Ok(phases)
    })?;
    print!("{}", report::report(&phases));
    Ok(())
}
