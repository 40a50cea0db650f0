//! CPU seconds of the processes a run is measured by (`bench-e2e --cpu-pid`,
//! `--pg-postmaster`): named processes, and the whole PostgreSQL cluster as one.

use std::collections::BTreeMap;

use anyhow::Context;

use crate::procfs::ProcStat;

/// CPU seconds of the named processes and of the PostgreSQL cluster, from /proc.
pub struct CpuProbe {
    pub named: Vec<(String, u32)>,
    pub postmaster: Option<u32>,
    pub ticks_per_sec: f64,
}

impl CpuProbe {
    /// CPU seconds so far per name; the cluster is `postgres`: the postmaster with the children
    /// it has reaped, plus every live child (a backend per connection, the background workers).
    pub fn snapshot(&self) -> anyhow::Result<BTreeMap<String, f64>> {
        let mut out = BTreeMap::new();
        for (name, pid) in &self.named {
            let stat = ProcStat::read(&pid.to_string())
                .with_context(|| format!("{name} (pid {pid}) is gone"))?;
            *out.entry(name.clone()).or_default() += stat.own_ticks as f64 / self.ticks_per_sec;
        }
        if let Some(pm) = self.postmaster {
            let stat = ProcStat::read(&pm.to_string())
                .with_context(|| format!("postmaster {pm} is gone"))?;
            let mut ticks = stat.own_ticks + stat.children_ticks;
            for entry in std::fs::read_dir("/proc")?.flatten() {
                let name = entry.file_name();
                let Some(pid) = name
                    .to_str()
                    .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
                else {
                    continue;
                };
                if let Some(child) = ProcStat::read(pid)
                    && child.ppid == pm
                    && pid != pm.to_string()
                {
                    ticks += child.own_ticks + child.children_ticks;
                }
            }
            out.insert("postgres".to_owned(), ticks as f64 / self.ticks_per_sec);
        }
        Ok(out)
    }
}
