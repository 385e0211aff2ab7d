//! The JVM comparison (`--jvm`): bench/java/GCBench.java, compiled at run time, under each
//! collector of the installed JDK with a fixed heap of 3x the live size; pauses come from
//! `-Xlog:safepoint`, ZGC's allocation stalls and the cycle count from `-Xlog:gc`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use super::cells::{Measured, Outcome};
use super::gcstats::{GcStats, Stall, StallSummary};
use super::hiccup;
use super::workloads::churn_nodes;
use super::{child, safepoint};

pub const SOURCE: &str = include_str!("../../java/GCBench.java");

/// A JVM collector.
pub struct Collector {
    pub label: &'static str,
    pub flag: &'static str,
    /// Bytes of a two-reference object: 24 with compressed oops; ZGC (JDK 17) has none, so 32.
    pub node_bytes: u64,
}

pub const COLLECTORS: [Collector; 4] = [
    Collector {
        label: "jvm-zgc",
        flag: "-XX:+UseZGC",
        node_bytes: 32,
    },
    Collector {
        label: "jvm-shenandoah",
        flag: "-XX:+UseShenandoahGC",
        node_bytes: 24,
    },
    Collector {
        label: "jvm-g1",
        flag: "-XX:+UseG1GC",
        node_bytes: 24,
    },
    Collector {
        label: "jvm-parallel",
        flag: "-XX:+UseParallelGC",
        node_bytes: 24,
    },
];

/// Whether `java` and `javac` are on PATH.
pub fn installed() -> bool {
    let ok = |p: &str| {
        Command::new(p)
            .arg("-version")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    ok("java") && ok("javac")
}

/// Writes and compiles GCBench.java into `dir`; returns the class path.
pub fn compile(dir: &Path) -> Result<PathBuf, String> {
    let cp = dir.join("java");
    std::fs::create_dir_all(&cp).map_err(|e| format!("cannot create {}: {e}", cp.display()))?;
    let src = cp.join("GCBench.java");
    std::fs::write(&src, SOURCE).map_err(|e| format!("cannot write {}: {e}", src.display()))?;
    let mut cmd = Command::new("javac");
    cmd.arg("-d").arg(&cp).arg(&src);
    let o = child::run(&mut cmd, &cp.join("javac"), Duration::from_secs(120))?;
    if !o.success() {
        return Err(format!("javac failed: {}", o.failure()));
    }
    Ok(cp)
}

/// Whether this JDK has the collector (`java -XX:+UseX -version`).
pub fn probe(c: &Collector, scratch: &Path) -> Result<(), String> {
    let mut cmd = Command::new("java");
    cmd.args([c.flag, "-version"]);
    let o = child::run(&mut cmd, &scratch.join(c.label), Duration::from_secs(60))?;
    if o.success() {
        Ok(())
    } else {
        Err(o
            .stderr
            .lines()
            .next()
            .unwrap_or("refused")
            .trim()
            .to_string())
    }
}

/// Nodes for `live` bytes under `c` (every object, nodes and chain links, has two references).
pub fn live_nodes(c: &Collector, live: u64) -> u64 {
    live / c.node_bytes
}

/// Runs GCBench at `live` bytes under `c`; logs go to `stem.*`.
pub fn run(c: &Collector, classpath: &Path, live: u64, stem: &Path, limit: Duration) -> Outcome {
    let nodes = live_nodes(c, live);
    let heap = format!("-Xmx{}m", (3 * live).div_ceil(1 << 20));
    let heap_min = format!("-Xms{}m", (3 * live).div_ceil(1 << 20));
    let sp_log = stem.with_extension("safepoint.log");
    let gc_log = stem.with_extension("gc.log");
    let mut cmd = Command::new("java");
    cmd.arg(c.flag)
        .arg(&heap_min)
        .arg(&heap)
        .arg(format!(
            "-Xlog:safepoint:file={}:uptimenanos",
            sp_log.display()
        ))
        .arg(format!("-Xlog:gc:file={}:uptimenanos", gc_log.display()))
        .arg("-cp")
        .arg(classpath)
        .arg("GCBench")
        .arg(nodes.to_string())
        .arg(churn_nodes(nodes, c.node_bytes as f64).to_string());
    let meter = hiccup::Meter::start();
    let r = child::run(&mut cmd, stem, limit);
    let hiccups = meter.stop();
    let o = match r {
        Ok(o) => o,
        Err(e) => return Outcome::Failed(e),
    };
    if !o.success() {
        return Outcome::Failed(o.failure());
    }
    if o.stdout.lines().next() != Some("true") {
        return Outcome::Failed("the long-lived trees did not check out".into());
    }
    let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
    let pauses = safepoint::parse_safepoints(&read(&sp_log));
    let gc = safepoint::parse_gc_log(&read(&gc_log));
    let stalls = StallSummary {
        count: gc.allocation_stalls.len() as u64,
        total_ns: gc.allocation_stalls.iter().map(|s| s.1).sum(),
        max_ns: gc.allocation_stalls.iter().map(|s| s.1).max().unwrap_or(0),
        list: gc
            .allocation_stalls
            .iter()
            .map(|&(start_ns, ns)| Stall { start_ns, ns })
            .collect(),
        dropped: 0,
    };
    // Built field by field: the collector's type keeps private bookkeeping.
    let mut stats = GcStats::default();
    stats.collector = c.label.into();
    stats.cycles = gc.cycles;
    stats.last_live_bytes = nodes * c.node_bytes;
    stats.pause_total_ns = pauses.iter().map(|p| p.ns).sum();
    stats.pause_max_ns = pauses.iter().map(|p| p.ns).max().unwrap_or(0);
    stats.pauses = pauses;
    stats.allocation_stalls = stalls;
    stats.peak_rss_bytes = o.max_rss_bytes;
    Outcome::Done(Box::new(Measured {
        wall_ns: o.wall_ns,
        user_ns: o.user_ns,
        sys_ns: o.sys_ns,
        max_rss_bytes: o.max_rss_bytes,
        stats: Some(stats),
        hiccups,
        has_gc_cpu: false,
        stalls: gc.allocation_stalls,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heap_sizing() {
        assert_eq!(live_nodes(&COLLECTORS[0], 64 << 20), (64 << 20) / 32);
        assert_eq!(live_nodes(&COLLECTORS[2], 48), 2);
        assert!(SOURCE.contains("public final class GCBench"));
    }
}
