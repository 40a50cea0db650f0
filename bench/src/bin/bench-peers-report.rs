//! The table of `make bench-peers`: reads the JSON lines the runs wrote (bench/peers/river's
//! river-bench for River, bench/peers/temporal's temporal-bench for Temporal, bench-e2e --json and
//! bench/bench-peers.sh for TaskFlow) and prints one aligned table: a column per system (River,
//! Temporal, TaskFlow), then TaskFlow / River and TaskFlow / Temporal ratios. With `--json-out`,
//! also writes the table's numbers as one JSON object.
//!
//! Each system's lines, by `phase`: `latency` (100 tasks/s before the burst, with the CPU over
//! it), `throughput` (the burst), `latency_after_burst`, `single` (one task per request, 16 in
//! flight) and `pg`: snapshots of the WAL position, the databases' sizes, their xact_commit and
//! every user table's n_tup_ins/upd/del, taken when the pause starts (`idle_start`), before the
//! first submit (`before`), when the work was done (`settled`), once every backend has published
//! the run's counters (`flushed`, PEERS_SETTLE_SECS later; the system keeps running) and just
//! before the run after the burst (`idle_end`, the system idle since `flushed`). Commits and row
//! writes are flushed - before minus the idle rate (idle_end - flushed, per second) times the
//! seconds from settled to flushed; WAL and growth are settled - before. With
//! `--row-writes-out`, the row writes per task of every table of every system go there, largest
//! first.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use serde_json::{Value, json};

#[derive(Parser, Debug)]
#[command(about = "Table of `make bench-peers` from its JSON lines")]
struct Args {
    /// The JSON lines of the run (results.jsonl).
    results: PathBuf,
    /// 1-minute load average when the run started / ended (printed under the table).
    #[arg(long)]
    load_start: Option<String>,
    #[arg(long)]
    load_end: Option<String>,
    /// Also write the table as JSON here.
    #[arg(long)]
    json_out: Option<PathBuf>,
    /// Also write the row writes per task by table here.
    #[arg(long)]
    row_writes_out: Option<PathBuf>,
}

/// One system in one configuration: the objects of its runs.
#[derive(Default)]
struct Column {
    title: String,
    throughput: Option<Value>,
    latency: Option<Value>,
    after_burst: Option<Value>,
    single: Option<Value>,
    /// PostgreSQL snapshots by moment (idle_start, before, settled, flushed, idle_end).
    pg: BTreeMap<String, Value>,
}

/// Row writes of one table over the throughput run: inserted, updated, deleted.
type TableWrites = (String, [f64; 3]);

fn f(v: &Value, key: &str) -> Option<f64> {
    v.get(key).and_then(Value::as_f64)
}

impl Column {
    fn tp(&self, key: &str) -> Option<f64> {
        self.throughput.as_ref().and_then(|v| f(v, key))
    }
    fn lat(&self, key: &str) -> Option<f64> {
        self.latency.as_ref().and_then(|v| f(v, key))
    }
    fn after(&self, key: &str) -> Option<f64> {
        self.after_burst.as_ref().and_then(|v| f(v, key))
    }
    /// CPU per task over the latency run (s per 1,000 tasks = ms per task): TaskFlow until
    /// every service caught up, as in the throughput run's second CPU row.
    fn cpu_ms_at_rate(&self) -> Option<f64> {
        self.lat("cpu_settled_s_per_1000")
            .or_else(|| self.lat("cpu_s_per_1000"))
    }
    /// How much of the idle interval (flushed -> idle_end) the span settled -> flushed is: the
    /// idle system's commits and row writes over the first, times this, are not the run's.
    fn idle_share(&self) -> Option<f64> {
        let (flushed, idle_end) = (self.at_ms("flushed")?, self.at_ms("idle_end")?);
        (idle_end > flushed).then_some(self.idle_secs()? * 1000.0 / (idle_end - flushed))
    }
    /// Seconds from settled to flushed: the idle span inside the counters of the run.
    fn idle_secs(&self) -> Option<f64> {
        Some((self.at_ms("flushed")? - self.at_ms("settled")?).max(0.0) / 1000.0)
    }
    fn at_ms(&self, at: &str) -> Option<f64> {
        self.snapshot(at).and_then(|s| f(s, "unix_ms"))
    }
    /// The run's commits: flushed - before (TaskFlow: bench-e2e's reading before its first
    /// request), minus the load generator's own and the idle system's.
    fn commits(&self) -> Option<f64> {
        let c = |at: &str| self.snapshot(at).and_then(|s| f(s, "commits"));
        let before = self.tp("commits_before").or_else(|| c("before"))?;
        let idle = (c("idle_end")? - c("flushed")?) * self.idle_share()?;
        Some(c("flushed")? - before - self.tp("own_commits").unwrap_or(0.0) - idle)
    }
    fn commits_per_task(&self) -> Option<f64> {
        Some(self.commits()? / self.tasks()?)
    }
    /// The idle system's commits subtracted above.
    fn idle_commits(&self) -> Option<f64> {
        let c = |at: &str| self.snapshot(at).and_then(|s| f(s, "commits"));
        Some((c("idle_end")? - c("flushed")?) * self.idle_share()?)
    }
    fn tasks(&self) -> Option<f64> {
        self.tp("tasks").map(|t| t.max(1.0))
    }
    /// CPU until every service caught up (TaskFlow's followers); River has none, so its
    /// completion is the moment.
    fn cpu_settled(&self) -> Option<f64> {
        self.tp("cpu_settled_s_per_1000")
            .or_else(|| self.tp("cpu_s_per_1000"))
    }
    fn snapshot(&self, at: &str) -> Option<&Value> {
        self.pg.get(at)
    }
    /// Every table's row writes over the run, largest first (tables without any left out):
    /// flushed - before, minus the idle system's (idle_end - flushed, times `idle_share`).
    fn table_writes(&self) -> Option<Vec<TableWrites>> {
        let before = self.snapshot("before")?.get("tables")?.as_object()?;
        let after = self.snapshot("flushed")?.get("tables")?.as_object()?;
        let idle_end = self.snapshot("idle_end")?.get("tables")?.as_object()?;
        let share = self.idle_share()?;
        let counts = |v: Option<&Value>| -> [f64; 3] {
            let mut c = [0.0; 3];
            if let Some(a) = v.and_then(Value::as_array) {
                for (slot, x) in c.iter_mut().zip(a) {
                    *slot = x.as_f64().unwrap_or(0.0);
                }
            }
            c
        };
        let mut rows: Vec<TableWrites> = after
            .iter()
            .map(|(table, v)| {
                let (a, b, e) = (
                    counts(Some(v)),
                    counts(before.get(table)),
                    counts(idle_end.get(table)),
                );
                let run = |i: usize| a[i] - b[i] - (e[i] - a[i]) * share;
                (table.clone(), [run(0), run(1), run(2)])
            })
            .filter(|(_, c)| c.iter().any(|x| *x != 0.0))
            .collect();
        rows.sort_by(|x, y| {
            let total = |c: &[f64; 3]| c.iter().sum::<f64>();
            total(&y.1).total_cmp(&total(&x.1)).then(x.0.cmp(&y.0))
        });
        Some(rows)
    }
    fn row_writes_per_task(&self) -> Option<f64> {
        let total: f64 = self
            .table_writes()?
            .iter()
            .map(|(_, c)| c.iter().sum::<f64>())
            .sum();
        Some(total / self.tasks()?)
    }
    fn wal_bytes(&self, from: &str, to: &str) -> Option<f64> {
        Some(f(self.snapshot(to)?, "wal_lsn")? - f(self.snapshot(from)?, "wal_lsn")?)
    }
    fn wal_per_task(&self) -> Option<f64> {
        Some(self.wal_bytes("before", "settled")? / self.tasks()?)
    }
    /// The cluster's WAL rate while this system idled in the pause before the run (kB/s): what
    /// the rest of the cluster and the system's idle loops write, for judging the row above.
    fn idle_wal_kb_per_s(&self) -> Option<f64> {
        let secs = (f(self.snapshot("before")?, "unix_ms")?
            - f(self.snapshot("idle_start")?, "unix_ms")?)
            / 1000.0;
        (secs > 0.0).then_some(self.wal_bytes("idle_start", "before")? / secs / 1000.0)
    }
    fn growth_mb_per_1000(&self) -> Option<f64> {
        let size = |at: &str| -> Option<f64> {
            let sizes = self.snapshot(at)?.get("db_bytes")?.as_object()?;
            Some(sizes.values().filter_map(Value::as_f64).sum())
        };
        Some((size("settled")? - size("before")?) / 1e6 / self.tasks()? * 1000.0)
    }
}

fn title(system: &str, config: &str) -> String {
    match system {
        "river" => format!("River {config}"),
        "temporal" => format!("Temporal {config}"),
        "taskflow" => format!("TaskFlow {config}"),
        other => format!("{other} {config}"),
    }
}

/// Where a system's column goes: River default, River tuned, Temporal default, Temporal tuned,
/// then TaskFlow (and anything unknown).
const RIVER_DEFAULT: u8 = 0;
const RIVER_TUNED: u8 = 1;
const TEMPORAL_DEFAULT: u8 = 2;
const TEMPORAL_TUNED: u8 = 3;
const TASKFLOW: u8 = 4;

fn column_order(system: &str, config: &str) -> u8 {
    match (system, config) {
        ("river", "default") => RIVER_DEFAULT,
        ("river", _) => RIVER_TUNED,
        ("temporal", "default") => TEMPORAL_DEFAULT,
        ("temporal", _) => TEMPORAL_TUNED,
        _ => TASKFLOW,
    }
}

/// The ratio columns: TaskFlow over each peer column present (none without TaskFlow).
fn ratio_columns(present: &[u8]) -> Vec<(&'static str, u8)> {
    if !present.contains(&TASKFLOW) {
        return Vec::new();
    }
    [
        ("TaskFlow/River default", RIVER_DEFAULT),
        ("TaskFlow/River tuned", RIVER_TUNED),
        ("TaskFlow/Temporal default", TEMPORAL_DEFAULT),
        ("TaskFlow/Temporal tuned", TEMPORAL_TUNED),
    ]
    .into_iter()
    .filter(|(_, o)| present.contains(o))
    .collect()
}

fn number(v: Option<f64>) -> String {
    match v {
        None => "-".to_owned(),
        Some(x) if x.abs() >= 1000.0 => format!("{x:.0}"),
        Some(x) if x.abs() >= 100.0 => format!("{x:.0}"),
        Some(x) if x.abs() >= 10.0 => format!("{x:.1}"),
        Some(x) if x.abs() >= 1.0 => format!("{x:.2}"),
        Some(x) => format!("{x:.3}"),
    }
}

fn ratio(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) if b != 0.0 => Some(a / b),
        _ => None,
    }
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let text = std::fs::read_to_string(&args.results)
        .with_context(|| format!("reading {}", args.results.display()))?;
    let mut columns: BTreeMap<(u8, String), Column> = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let v: Value = serde_json::from_str(line)
            .with_context(|| format!("{}:{}: not JSON", args.results.display(), i + 1))?;
        let system = v["system"].as_str().unwrap_or("?").to_owned();
        let config = v["config"].as_str().unwrap_or("").to_owned();
        let order = column_order(&system, &config);
        let key = (order, format!("{system}/{config}"));
        match v["phase"].as_str() {
            Some("pg") => {
                let column = columns.entry(key).or_insert_with(|| Column {
                    title: title(&system, &config),
                    ..Column::default()
                });
                if let Some(at) = v["at"].as_str() {
                    column.pg.insert(at.to_owned(), v["snapshot"].clone());
                }
            }
            Some(phase @ ("throughput" | "latency" | "latency_after_burst" | "single")) => {
                let column = columns.entry(key).or_insert_with(|| Column {
                    title: title(&system, &config),
                    ..Column::default()
                });
                let slot = match phase {
                    "throughput" => &mut column.throughput,
                    "latency" => &mut column.latency,
                    "latency_after_burst" => &mut column.after_burst,
                    _ => &mut column.single,
                };
                *slot = Some(v);
            }
            _ => {}
        }
    }
    anyhow::ensure!(
        !columns.is_empty(),
        "no results in {}",
        args.results.display()
    );
    let cols: Vec<&Column> = columns.values().collect();
    let by_order = |order: u8| {
        columns
            .iter()
            .find(|((o, _), _)| *o == order)
            .map(|(_, c)| c)
    };
    let taskflow = by_order(TASKFLOW);
    let present: Vec<u8> = columns.keys().map(|(o, _)| *o).collect();

    type Metric = (&'static str, fn(&Column) -> Option<f64>);
    let metrics: [Metric; 18] = [
        ("throughput: first submit -> all completed (tasks/s)", |c| {
            c.tp("tasks_per_s")
        }),
        (
            "  TaskFlow executor / Temporal worker: all done (tasks/s)",
            |c| c.tp("done_per_s"),
        ),
        ("submit/insert while working (tasks/s)", |c| {
            c.tp("submit_per_s")
        }),
        ("single submissions, 16 in flight (tasks/s)", |c| {
            c.single.as_ref().and_then(|v| f(v, "submit_per_s"))
        }),
        ("CPU s per 1,000 tasks, all processes", |c| {
            c.tp("cpu_s_per_1000")
        }),
        (
            "CPU s per 1,000 tasks, until every service caught up",
            Column::cpu_settled,
        ),
        (
            "CPU ms per task at 100 tasks/s (single submissions)",
            Column::cpu_ms_at_rate,
        ),
        ("PostgreSQL commits per task", Column::commits_per_task),
        (
            "PostgreSQL row writes per task (ins+upd+del)",
            Column::row_writes_per_task,
        ),
        ("WAL bytes per task (whole cluster)", Column::wal_per_task),
        (
            "  cluster WAL while idle before the run (kB/s)",
            Column::idle_wal_kb_per_s,
        ),
        (
            "database growth per 1,000 tasks (MB)",
            Column::growth_mb_per_1000,
        ),
        ("submit -> started p50 at 100 tasks/s (ms)", |c| {
            c.lat("p50_ms")
        }),
        ("submit -> started p99 at 100 tasks/s (ms)", |c| {
            c.lat("p99_ms")
        }),
        ("  (samples)", |c| c.lat("measured")),
        (
            "submit -> started p50 at 100 tasks/s, 30 s after the burst (ms)",
            |c| c.after("p50_ms"),
        ),
        (
            "submit -> started p99 at 100 tasks/s, 30 s after the burst (ms)",
            |c| c.after("p99_ms"),
        ),
        ("  (samples after the burst)", |c| c.after("measured")),
    ];

    let label_width = metrics.iter().map(|(l, _)| l.len()).max().unwrap_or(0);
    let width = cols
        .iter()
        .map(|c| c.title.len())
        .max()
        .unwrap_or(10)
        .max(12);
    let mut out = String::new();
    let mut header = format!("{:<label_width$}", "");
    for c in &cols {
        let _ = write!(header, "  {:>width$}", c.title);
    }
    let ratio_titles: Vec<(&str, Option<&Column>)> = ratio_columns(&present)
        .into_iter()
        .map(|(t, o)| (t, by_order(o)))
        .collect();
    let ratio_width = ratio_titles.iter().map(|(t, _)| t.len()).max().unwrap_or(0);
    for (t, _) in &ratio_titles {
        let _ = write!(header, "  {t:>ratio_width$}");
    }
    let _ = writeln!(out, "{header}");
    let _ = writeln!(out, "{}", "-".repeat(header.len()));
    let mut table_json = serde_json::Map::new();
    for (label, get) in &metrics {
        let mut line = format!("{label:<label_width$}");
        let mut row = serde_json::Map::new();
        for c in &cols {
            let v = get(c);
            let _ = write!(line, "  {:>width$}", number(v));
            row.insert(c.title.clone(), json!(v));
        }
        for (t, r) in &ratio_titles {
            if let (Some(r), Some(tf)) = (r, taskflow) {
                let x = if label.starts_with("  ") {
                    None
                } else {
                    ratio(get(tf), get(r))
                };
                let shown = x.map_or("-".to_owned(), |x| format!("{}x", number(Some(x))));
                let _ = write!(line, "  {shown:>ratio_width$}");
                row.insert(t.to_string(), json!(x));
            }
        }
        let _ = writeln!(out, "{}", line.trim_end());
        table_json.insert(label.trim().to_owned(), Value::Object(row));
    }

    let _ = writeln!(out);
    // CPU seconds per 1,000 tasks (= ms per task) of each process in the run's object, under key.
    let by_process = |run: &Value, key: &str| -> String {
        let tasks = f(run, "tasks").unwrap_or(1.0).max(1.0);
        let parts: Vec<String> = run[key]
            .as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| format!("{k} {}", number(v.as_f64().map(|s| s / tasks * 1000.0))))
                    .collect()
            })
            .unwrap_or_default();
        parts.join(", ")
    };
    let _ = writeln!(
        out,
        "CPU seconds per 1,000 tasks by process (throughput run):"
    );
    for c in &cols {
        let Some(tp) = &c.throughput else { continue };
        let _ = writeln!(out, "  {:<width$}  {}", c.title, by_process(tp, "cpu_s"));
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "CPU ms per task by process at 100 tasks/s (latency run before the burst; TaskFlow until every service caught up):"
    );
    for c in &cols {
        let Some(lat) = &c.latency else { continue };
        let key = if lat.get("cpu_settled_s").is_some() {
            "cpu_settled_s"
        } else {
            "cpu_s"
        };
        let _ = writeln!(out, "  {:<width$}  {}", c.title, by_process(lat, key));
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "PostgreSQL row writes per task by table (throughput run; largest first):"
    );
    let mut writes_text = String::new();
    let mut writes_json = serde_json::Map::new();
    for c in &cols {
        let (Some(rows), Some(tasks)) = (c.table_writes(), c.tasks()) else {
            continue;
        };
        let _ = writeln!(writes_text, "{}", c.title);
        let _ = writeln!(
            writes_text,
            "  {:<40} {:>8} {:>8} {:>8} {:>8}",
            "table", "ins", "upd", "del", "total"
        );
        let mut sums = [0.0; 3];
        let mut table_rows = Vec::new();
        for (table, counts) in &rows {
            let per: Vec<f64> = counts.iter().map(|x| x / tasks).collect();
            for (s, x) in sums.iter_mut().zip(&per) {
                *s += x;
            }
            let _ = writeln!(
                writes_text,
                "  {:<40} {:>8.3} {:>8.3} {:>8.3} {:>8.3}",
                table,
                per[0],
                per[1],
                per[2],
                per.iter().sum::<f64>()
            );
            table_rows.push(json!({"table": table, "ins": per[0], "upd": per[1], "del": per[2]}));
        }
        let _ = writeln!(
            writes_text,
            "  {:<40} {:>8.3} {:>8.3} {:>8.3} {:>8.3}",
            "all tables",
            sums[0],
            sums[1],
            sums[2],
            sums.iter().sum::<f64>()
        );
        writes_json.insert(c.title.clone(), Value::Array(table_rows));
        let top: Vec<String> = rows
            .iter()
            .take(6)
            .map(|(t, counts)| format!("{t} {}", number(Some(counts.iter().sum::<f64>() / tasks))))
            .collect();
        let _ = writeln!(out, "  {:<width$}  {}", c.title, top.join(", "));
    }
    let _ = writeln!(out, "  (every table: row-writes.txt)");
    let _ = writeln!(out);
    let _ = writeln!(out, "Runs:");
    for c in &cols {
        if let Some(tp) = &c.throughput {
            let _ = writeln!(
                out,
                "  {:<width$}  throughput: {} of {} tasks completed in {:.1} s, batches of {}, {} in flight{}",
                c.title,
                f(tp, "completed").unwrap_or(0.0),
                f(tp, "tasks").unwrap_or(0.0),
                f(tp, "secs").unwrap_or(0.0),
                f(tp, "batch").unwrap_or(0.0),
                f(tp, "inflight").unwrap_or(0.0),
                tp.get("settings")
                    .and_then(Value::as_object)
                    .map(|s| {
                        let kv: Vec<String> = s
                            .iter()
                            .map(|(k, v)| format!("{k} {}", v.as_str().unwrap_or("?")))
                            .collect();
                        format!("; {}", kv.join(", "))
                    })
                    .unwrap_or_default()
            );
        }
        if let Some(lat) = &c.latency {
            let _ = writeln!(
                out,
                "  {:<width$}  latency: {} of {} tasks measured at {}/s, p90 {} ms, max {} ms, schedule slip max {} ms; {}",
                "",
                f(lat, "measured").unwrap_or(0.0),
                f(lat, "tasks").unwrap_or(0.0),
                f(lat, "rate").unwrap_or(0.0),
                number(f(lat, "p90_ms")),
                number(f(lat, "max_ms")),
                number(f(lat, "late_max_ms")),
                lat["definition"].as_str().unwrap_or("")
            );
        }
        if let Some(after) = &c.after_burst {
            let gap = match (f(after, "start_unix_ms"), c.tp("last_completion_unix_ms")) {
                (Some(a), Some(b)) => format!("{:.1} s", (a - b) / 1000.0),
                _ => "?".to_owned(),
            };
            let _ = writeln!(
                out,
                "  {:<width$}  after the burst: {} of {} tasks measured at {}/s from {gap} after the last completion, p90 {} ms, max {} ms",
                "",
                f(after, "measured").unwrap_or(0.0),
                f(after, "tasks").unwrap_or(0.0),
                f(after, "rate").unwrap_or(0.0),
                number(f(after, "p90_ms")),
                number(f(after, "max_ms")),
            );
        }
        if let Some(single) = &c.single {
            let _ = writeln!(
                out,
                "  {:<width$}  single submissions: {} tasks, {} in flight, in {:.1} s",
                "",
                f(single, "tasks").unwrap_or(0.0),
                f(single, "inflight").unwrap_or(0.0),
                f(single, "submit_secs").unwrap_or(0.0),
            );
        }
        if let (Some(commits), Some(secs)) = (c.idle_commits(), c.idle_secs()) {
            let _ = writeln!(
                out,
                "  {:<width$}  commits and row writes: what the idle system did in the {secs:.1} s after the run subtracted ({} commits)",
                "",
                number(Some(commits)),
            );
        }
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "ratio = TaskFlow / River or Temporal: above 1 is better for throughput and submissions, worse for CPU, commits, row writes, WAL, growth and latency."
    );
    let _ = writeln!(
        out,
        "WAL is the whole cluster's (pg_current_wal_lsn), so whatever else writes to it while a system runs counts too; the idle row shows how much that was before the run."
    );
    if let (Some(a), Some(b)) = (&args.load_start, &args.load_end) {
        let _ = writeln!(
            out,
            "1-minute load average: {a} at the start, {b} at the end."
        );
    }
    print!("{out}");

    if let Some(path) = &args.row_writes_out {
        let head = "PostgreSQL row writes per task by table over the throughput run \
                    (pg_stat_user_tables n_tup_ins/upd/del, once every backend published them \
                    after the run minus before the first submit, minus the idle system's, \
                    divided by the tasks; largest first)\n\n";
        std::fs::write(path, format!("{head}{writes_text}"))
            .with_context(|| format!("writing {}", path.display()))?;
    }

    if let Some(path) = &args.json_out {
        let summary = json!({
            "table": table_json,
            "row_writes_per_task_by_table": writes_json,
            "load_average_1m": {"start": args.load_start, "end": args.load_end},
        });
        std::fs::write(path, format!("{summary:#}\n"))
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{
        Column, RIVER_DEFAULT, RIVER_TUNED, TASKFLOW, TEMPORAL_DEFAULT, TEMPORAL_TUNED,
        column_order, json, ratio_columns, title,
    };

    #[test]
    fn columns_go_river_then_temporal_then_taskflow() {
        let mut systems = [
            ("taskflow", "make up"),
            ("temporal", "tuned"),
            ("river", "tuned"),
            ("temporal", "default"),
            ("river", "default"),
        ];
        systems.sort_by_key(|(s, c)| column_order(s, c));
        let titles: Vec<String> = systems.iter().map(|(s, c)| title(s, c)).collect();
        assert_eq!(
            titles,
            [
                "River default",
                "River tuned",
                "Temporal default",
                "Temporal tuned",
                "TaskFlow make up"
            ]
        );
    }

    #[test]
    fn ratios_are_taskflow_over_each_peer_present() {
        let all = [
            RIVER_DEFAULT,
            RIVER_TUNED,
            TEMPORAL_DEFAULT,
            TEMPORAL_TUNED,
            TASKFLOW,
        ];
        let titles = |present: &[u8]| -> Vec<&str> {
            ratio_columns(present).into_iter().map(|(t, _)| t).collect()
        };
        assert_eq!(
            titles(&all),
            [
                "TaskFlow/River default",
                "TaskFlow/River tuned",
                "TaskFlow/Temporal default",
                "TaskFlow/Temporal tuned"
            ]
        );
        assert_eq!(
            titles(&[TEMPORAL_TUNED, TASKFLOW]),
            ["TaskFlow/Temporal tuned"]
        );
        // The peers alone: nothing to divide.
        assert!(titles(&[TEMPORAL_DEFAULT, TEMPORAL_TUNED]).is_empty());
    }

    fn column() -> Column {
        let mut c = Column {
            throughput: Some(json!({"tasks": 1000, "own_commits": 50})),
            ..Column::default()
        };
        let snap = |wal: u64, ms: u64, size: u64, commits: u64, tables: serde_json::Value| json!({"unix_ms": ms, "wal_lsn": wal, "db_bytes": {"a": size, "b": 1000}, "commits": commits, "tables": tables});
        c.pg.insert("idle_start".into(), snap(0, 0, 0, 0, json!({})));
        c.pg.insert(
            "before".into(),
            snap(
                20_000,
                10_000,
                5_000_000,
                100,
                json!({"s.t": [10, 5, 0], "s.u": [1, 1, 1]}),
            ),
        );
        c.pg.insert(
            "settled".into(),
            snap(2_020_000, 20_000, 7_000_000, 0, json!({})),
        );
        // 11 s after settled, then 22 s of idling: half of the idle counts come off.
        c.pg.insert(
            "flushed".into(),
            snap(
                2_100_000,
                31_000,
                7_000_000,
                1200,
                json!({"s.t": [2010, 1005, 0], "s.u": [1, 1, 2], "s.v": [0, 0, 500]}),
            ),
        );
        c.pg.insert(
            "idle_end".into(),
            snap(
                2_200_000,
                53_000,
                7_100_000,
                1400,
                json!({"s.t": [2010, 1005, 0], "s.u": [1, 1, 4], "s.v": [0, 0, 500]}),
            ),
        );
        c
    }

    #[test]
    fn row_writes_are_flushed_minus_before_minus_idle_largest_first() {
        let c = column();
        assert_eq!(c.idle_share(), Some(0.5));
        let rows = c.table_writes().expect("the snapshots are there");
        // s.u: one delete in the 11 s after the run, at the idle rate: none of the run's.
        assert_eq!(
            rows,
            vec![
                ("s.t".to_owned(), [2000.0, 1000.0, 0.0]),
                ("s.v".to_owned(), [0.0, 0.0, 500.0]),
            ]
        );
        assert_eq!(c.row_writes_per_task(), Some(3.5));
    }

    #[test]
    fn commits_leave_out_the_generators_and_the_idle_systems() {
        let c = column();
        // 1200 - 100 - 50 own - (1400 - 1200) * 0.5 idle.
        assert_eq!(c.commits(), Some(950.0));
        assert_eq!(c.idle_commits(), Some(100.0));
        assert_eq!(c.commits_per_task(), Some(0.95));
    }

    #[test]
    fn wal_and_growth_are_settled_minus_before() {
        let c = column();
        assert_eq!(c.wal_per_task(), Some(2000.0));
        assert_eq!(c.growth_mb_per_1000(), Some(2.0));
        // 20,000 bytes over the 10 s pause.
        assert_eq!(c.idle_wal_kb_per_s(), Some(2.0));
    }

    #[test]
    fn without_snapshots_the_rows_are_empty() {
        let c = Column::default();
        assert_eq!(c.row_writes_per_task(), None);
        assert_eq!(c.wal_per_task(), None);
        assert_eq!(c.growth_mb_per_1000(), None);
        assert_eq!(c.commits_per_task(), None);
    }
}
