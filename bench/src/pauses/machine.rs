//! What the figures were measured on: CPU, core count, memory, kernel, load at the start, and
//! the date (from `/proc` and `date`, so that nothing beyond std is needed).

use std::process::Command;

#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Machine {
    pub cpu: String,
    pub cores: usize,
    pub mem_bytes: u64,
    pub kernel: String,
    /// The 1-minute load average when the run started: other tenants of a shared machine.
    #[serde(rename = "load_at_start")]
    pub load: String,
}

fn read(p: &str) -> String {
    std::fs::read_to_string(p).unwrap_or_default()
}

impl Machine {
    pub fn detect() -> Machine {
        let cpuinfo = read("/proc/cpuinfo");
        let cpu = cpuinfo
            .lines()
            .find(|l| l.starts_with("model name"))
            .and_then(|l| l.split_once(':'))
            .map_or_else(|| "unknown CPU".into(), |(_, v)| v.trim().to_string());
        let mem_kib = read("/proc/meminfo")
            .lines()
            .find(|l| l.starts_with("MemTotal:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
        Machine {
            cpu,
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            mem_bytes: mem_kib * 1024,
            kernel: read("/proc/sys/kernel/osrelease").trim().to_string(),
            load: read("/proc/loadavg")
                .split_whitespace()
                .next()
                .unwrap_or("?")
                .to_string(),
        }
    }

    pub fn summary(&self) -> String {
        format!(
            "{} cores, {:.0} GiB RAM, Linux {}, load {} at start",
            self.cores,
            self.mem_bytes as f64 / (1u64 << 30) as f64,
            self.kernel,
            self.load
        )
    }
}

/// The current UTC time as `YYYY-MM-DD HH:MM UTC` (`date` prints it; no clock crate needed).
pub fn now_utc() -> String {
    Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown date".into())
}
