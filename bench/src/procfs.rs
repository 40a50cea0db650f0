//! What the benches read from /proc about a process or the machine: CPU clock ticks
//! (`/proc/<pid>/stat`, `/proc/stat`), resident memory (`/proc/<pid>/status`) and the client
//! connections a server still holds (`/proc/<pid>/fd` against `/proc/net`). Linux only, like
//! the bench scripts. The parsers take the file's text, so they are tested on sample lines.

use std::collections::HashSet;

/// A process's CPU time in clock ticks (`getconf CLK_TCK` per second) and its parent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcStat {
    /// utime + stime.
    pub own_ticks: u64,
    /// cutime + cstime: of the children it has waited for.
    pub children_ticks: u64,
    pub ppid: u32,
}

impl ProcStat {
    /// Parses a `/proc/<pid>/stat` line.
    pub fn parse(line: &str) -> Option<Self> {
        // "pid (comm) state ppid ...": comm may hold spaces and parentheses.
        let rest = &line[line.rfind(')')? + 1..];
        let fields: Vec<&str> = rest.split_whitespace().collect();
        // fields[0] is field 3 (state): field k is fields[k - 3].
        let num = |k: usize| fields.get(k - 3).and_then(|v| v.parse::<u64>().ok());
        Some(Self {
            own_ticks: num(14)? + num(15)?,
            children_ticks: num(16)? + num(17)?,
            ppid: u32::try_from(num(4)?).ok()?,
        })
    }

    /// Reads `/proc/<pid>/stat` (`pid` may be `self`); `None` once the process is gone.
    pub fn read(pid: &str) -> Option<Self> {
        Self::parse(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
    }
}

/// utime + stime of a process in clock ticks; 0 once it is gone.
pub fn cpu_ticks(pid: &str) -> u64 {
    ProcStat::read(pid).map_or(0, |s| s.own_ticks)
}

/// CPU seconds this process has used.
pub fn own_cpu_secs(ticks_per_sec: f64) -> f64 {
    cpu_ticks("self") as f64 / ticks_per_sec
}

/// (busy, total) clock ticks of every CPU of the machine, from the `cpu` line of /proc/stat.
pub fn parse_machine_ticks(proc_stat: &str) -> (u64, u64) {
    let ticks: Vec<u64> = proc_stat
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal (guest time is inside user already).
    let total: u64 = ticks.iter().take(8).sum();
    let idle = ticks.get(3).copied().unwrap_or(0) + ticks.get(4).copied().unwrap_or(0);
    (total.saturating_sub(idle), total)
}

/// (busy, total) clock ticks of the machine now.
pub fn machine_ticks() -> (u64, u64) {
    parse_machine_ticks(&std::fs::read_to_string("/proc/stat").unwrap_or_default())
}

/// VmRSS in KiB from the text of `/proc/<pid>/status`.
pub fn parse_rss_kib(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Resident memory of a process in KiB; 0 once it is gone.
pub fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    parse_rss_kib(&status).unwrap_or(0)
}

/// Client connections a server still holds on `port`: its socket descriptors that are neither
/// its other sockets (listener, database, Kafka, Unix) nor closed by it. A connection the
/// client hung up on counts until the server closes the descriptor, even once the kernel has
/// dropped the connection itself (after a reset it is in no table of /proc/net).
pub fn held_connections(pid: u32, port: u16) -> usize {
    let local = format!(":{port:04X}");
    let mut other = HashSet::new();
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_line_with_parentheses_in_the_name() {
        let line = "4242 (tokio (rt) 1) S 17 4242 4242 0 -1 4194560 900 0 0 0 250 75 3 4 20 0 8 0 \
                    12345 100000000 2500 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n";
        assert_eq!(
            ProcStat::parse(line),
            Some(ProcStat {
                own_ticks: 325,
                children_ticks: 7,
                ppid: 17
            })
        );
        assert_eq!(ProcStat::parse("4242 (cut short) S 17 1 2"), None);
    }

    #[test]
    fn this_process_is_readable() {
        let me = ProcStat::read("self").expect("/proc/self/stat");
        assert!(me.ppid > 0);
        assert!(rss_kib(std::process::id()) > 0);
    }

    #[test]
    fn machine_ticks_leave_out_idle_and_iowait() {
        let text = "cpu  100 5 50 1000 20 3 2 1 7 0\ncpu0 50 2 25 500 10 1 1 0 3 0\n";
        // total = 100+5+50+1000+20+3+2+1 (guest is in user); busy = total - idle - iowait.
        assert_eq!(parse_machine_ticks(text), (161, 1181));
        assert_eq!(parse_machine_ticks(""), (0, 0));
    }

    #[test]
    fn rss_from_status() {
        let text = "Name:\tsvc-notify\nVmPeak:\t  900000 kB\nVmRSS:\t   51200 kB\nThreads:\t9\n";
        assert_eq!(parse_rss_kib(text), Some(51_200));
        assert_eq!(parse_rss_kib("Name:\tkthreadd\n"), None);
    }
}
