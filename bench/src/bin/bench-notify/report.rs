//! The report of bench-notify: one row per measurement, one column per phase, as
//! bench/bench-notify.sh puts it under its header in the bench report.

use taskflow_bench::latency::p50_p99_max;
use taskflow_bench::numbers::{mib, thousands};

use crate::phase::Phase;

/// The table on stdout: a column per phase, then notes on anything that went wrong.
pub fn report(phases: &[Phase]) -> String {
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
    row("commit->client p50/p99/max ms", &|p| p50_p99_max(&p.commit));
    row("publish->client p50/p99/max ms", &|p| {
        p50_p99_max(&p.publish)
    });
    row("publish->commit p50/p99/max ms", &|p| {
        p50_p99_max(&p.ingest)
    });
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
