//! The workload set: the shared benchmark programs as they are, and our two GC-heavy programs
//! (`bench/lox/`) generated with their size baked in, since Lox has no argv.
//!
//! The size of a generated program is given as a live heap in bytes. How many nodes make that
//! many bytes depends on the runtime's object layout, which changes, so it is measured at run
//! time: two small runs under `--gc stw` give the bytes per unit (the slope of `last_live_bytes`)
//! and the fixed part, and the unit count for the asked size follows.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use super::child;
use super::gcstats;

pub const GCBENCH_SRC: &str = include_str!("../../lox/gcbench.lox");
pub const GRAPH_SRC: &str = include_str!("../../lox/graph.lox");

pub const MB: u64 = 1 << 20;

/// Least churn of GCBench: 1 GiB of garbage (a few seconds of allocation in Lox). The JVM twin
/// churns the same number of bytes.
pub const GCBENCH_MIN_CHURN_BYTES: u64 = 1 << 30;

/// Least mutation steps of the graph program (each leaves about 1.3 KB of garbage).
pub const GRAPH_MIN_STEPS: u64 = 400_000;

/// The family a workload belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    /// One of `shared/lox/benchmark/*.lox`.
    Shared,
    /// GCBench: long-lived trees plus a churn of short-lived ones.
    GcBench,
    /// A large graph mutated in place.
    Graph,
    /// GCBench's work split over several Lox threads (the threads axis, `threads.rs`).
    GcBenchThreads,
}

/// How a workload of the threads axis splits its work.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ThreadShare {
    /// Lox threads the work runs on (the main script only waits for them).
    pub threads: u32,
    /// Nodes all threads allocate together: the work the wall time is divided by.
    pub work_nodes: u64,
}

/// One program to run.
#[derive(Clone, Debug)]
pub struct Workload {
    pub name: String,
    pub family: Family,
    pub path: PathBuf,
    /// The live heap asked for (generated programs only).
    pub live_target: Option<u64>,
    /// `--heap-max` for lox (3x the live heap for generated programs).
    pub heap_max: Option<u64>,
    /// The parameter line prepended to the template.
    pub params: String,
    /// The threads axis only: how the work is split.
    pub threads: Option<ThreadShare>,
}

/// A generated program's size model: `live bytes = base + per_unit * units`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Calibration {
    pub base: f64,
    pub per_unit: f64,
}

impl Calibration {
    /// The line through two measurements `(units, live bytes)`.
    pub fn from_points(a: (u64, u64), b: (u64, u64)) -> Result<Calibration, String> {
        let (du, db) = (b.0 as f64 - a.0 as f64, b.1 as f64 - a.1 as f64);
        if du <= 0.0 || db <= 0.0 {
            return Err(format!(
                "calibration: live bytes did not grow with size ({a:?} -> {b:?})"
            ));
        }
        let per_unit = db / du;
        Ok(Calibration {
            base: a.1 as f64 - per_unit * a.0 as f64,
            per_unit,
        })
    }

    /// Units for `live` bytes (at least 1000, so that tiny targets still run).
    pub fn units_for(&self, live: u64) -> u64 {
        (((live as f64 - self.base.max(0.0)) / self.per_unit).max(1000.0)) as u64
    }
}

/// GCBench's churn for `live_nodes` nodes of `node_bytes`: four times the live part, at least
/// [`GCBENCH_MIN_CHURN_BYTES`].
pub fn churn_nodes(live_nodes: u64, node_bytes: f64) -> u64 {
    let floor = if node_bytes > 0.0 {
        (GCBENCH_MIN_CHURN_BYTES as f64 / node_bytes) as u64
    } else {
        0
    };
    (live_nodes * 4).max(floor)
}

impl Family {
    fn template(self) -> &'static str {
        match self {
            Family::GcBench => GCBENCH_SRC,
            Family::Graph => GRAPH_SRC,
            Family::GcBenchThreads => super::threads::TEMPLATE,
            Family::Shared => "",
        }
    }

    /// The parameter line for `units` live units. The mutation volume grows with the live
    /// size (so every size runs through several cycles) but has a floor, so that small heaps
    /// still give enough pauses for their percentiles to mean something.
    pub fn params(self, units: u64, bytes_per_unit: f64) -> String {
        match self {
            Family::GcBench => format!(
                "var LIVE_NODES = {units}; var CHURN_NODES = {};\n",
                churn_nodes(units, bytes_per_unit)
            ),
            Family::Graph => format!(
                "var VERTICES = {units}; var STEPS = {};\n",
                (units * 4).max(GRAPH_MIN_STEPS)
            ),
            // Its parameters depend on the thread count too: `threads::params`.
            Family::GcBenchThreads | Family::Shared => String::new(),
        }
    }

    /// Calibration parameters: the same shape but only enough mutation for one cycle after
    /// the live part is built (so `last_live_bytes` is the whole live part).
    fn calibration_params(self, units: u64) -> String {
        match self {
            Family::GcBench => format!(
                "var LIVE_NODES = {units}; var CHURN_NODES = {};\n",
                units * 2
            ),
            Family::Graph => format!("var VERTICES = {units}; var STEPS = {};\n", units * 2),
            // Sized with GCBench's calibration (the same nodes).
            Family::GcBenchThreads | Family::Shared => String::new(),
        }
    }

    fn calibration_sizes(self) -> (u64, u64) {
        match self {
            Family::GcBench => (100_000, 400_000),
            _ => (10_000, 40_000),
        }
    }

    pub fn stem(self) -> &'static str {
        match self {
            Family::GcBench => "gcbench",
            Family::Graph => "graph",
            Family::GcBenchThreads => "gcbench_threads",
            Family::Shared => "shared",
        }
    }
}

/// The program text: parameters, then the template.
pub fn program_text(family: Family, params: &str) -> String {
    format!(
        "// Generated by `bench pauses` from bench/lox/{}.lox.\n{params}{}",
        family.stem(),
        family.template()
    )
}

/// Measures the size model of `family` with two short runs of `lox --gc stw`.
pub fn calibrate(lox: &Path, family: Family, dir: &Path) -> Result<Calibration, String> {
    calibrate_program(
        lox,
        family.stem(),
        family.calibration_sizes(),
        |units| program_text(family, &family.calibration_params(units)),
        dir,
    )
}

/// Measures the size model of a generated program: `text(units)` is the program for that many
/// units, run under `lox --gc stw` at both `sizes`; it must end with a collection that sees
/// all of its live part (`last_live_bytes`).
pub fn calibrate_program(
    lox: &Path,
    stem: &str,
    sizes: (u64, u64),
    text: impl Fn(u64) -> String,
    dir: &Path,
) -> Result<Calibration, String> {
    let mut points = Vec::new();
    for units in [sizes.0, sizes.1] {
        let stem = dir.join(format!("calibrate-{stem}-{units}"));
        let prog = stem.with_extension("lox");
        let stats = stem.with_extension("json");
        std::fs::write(&prog, text(units))
            .map_err(|e| format!("cannot write {}: {e}", prog.display()))?;
        let mut cmd = Command::new(lox);
        cmd.args(["--gc", "stw", "--gc-stats"])
            .arg(&stats)
            .arg(&prog);
        let o = child::run(&mut cmd, &stem, Duration::from_secs(120))?;
        if !o.success() {
            return Err(format!("calibration run failed: {}", o.failure()));
        }
        let text = std::fs::read_to_string(&stats)
            .map_err(|e| format!("cannot read {}: {e}", stats.display()))?;
        points.push((units, gcstats::parse(&text)?.last_live_bytes));
    }
    Calibration::from_points(points[0], points[1])
}

/// Every `.lox` program of the shared benchmark folder except the fixed-time `*_batch` ones
/// (they run for a set time and report a score, not a duration).
pub fn shared(dir: &Path) -> Result<Vec<Workload>, String> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "lox"))
        .filter(|p| {
            !p.file_stem()
                .is_some_and(|s| s.to_string_lossy().ends_with("_batch"))
        })
        .collect();
    paths.sort();
    Ok(paths
        .into_iter()
        .map(|p| Workload {
            name: p
                .file_stem()
                .map_or_else(String::new, |s| s.to_string_lossy().into_owned()),
            family: Family::Shared,
            path: p,
            live_target: None,
            heap_max: None,
            params: String::new(),
            threads: None,
        })
        .collect())
}

/// A generated workload of `live` bytes, written into `dir`.
pub fn generated(
    family: Family,
    live: u64,
    cal: &Calibration,
    dir: &Path,
) -> Result<Workload, String> {
    let name = format!("{}_{}mb", family.stem(), live / MB);
    let params = family.params(cal.units_for(live), cal.per_unit);
    let path = dir.join(format!("{name}.lox"));
    std::fs::write(&path, program_text(family, &params))
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(Workload {
        name,
        family,
        path,
        live_target: Some(live),
        heap_max: Some(3 * live),
        params,
        threads: None,
    })
}

/// `--heap-max` argument for a byte count (whole MiB).
pub fn size_arg(bytes: u64) -> String {
    format!("{}M", bytes.div_ceil(MB))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calibration_line() {
        let c = Calibration::from_points((100, 2_000), (300, 6_000)).unwrap();
        assert_eq!(c.per_unit, 20.0);
        assert_eq!(c.base, 0.0);
        assert_eq!(c.units_for(200_000), 10_000);
        let d = Calibration::from_points((100_000, 18_000_000), (400_000, 66_000_000)).unwrap();
        assert_eq!(d.per_unit, 160.0);
        assert_eq!(d.base, 2_000_000.0);
        assert_eq!(d.units_for(2_000_000 + 160 * 5_000), 5_000);
        // Never below the floor, never from a line that does not grow.
        assert_eq!(d.units_for(0), 1000);
        assert!(Calibration::from_points((100, 5), (300, 5)).is_err());
        assert!(Calibration::from_points((300, 5), (100, 9)).is_err());
    }

    #[test]
    fn generated_programs_carry_their_parameters() {
        let t = program_text(Family::GcBench, &Family::GcBench.params(1234, 1024.0));
        assert!(t.contains("var LIVE_NODES = 1234; var CHURN_NODES = 1048576;"));
        let big = Family::GcBench.params(10_000_000, 1024.0);
        assert_eq!(
            big,
            "var LIVE_NODES = 10000000; var CHURN_NODES = 40000000;\n"
        );
        assert!(t.contains("class Node"));
        let g = program_text(Family::Graph, &Family::Graph.params(10, 1.0));
        assert!(g.contains("var VERTICES = 10; var STEPS = 400000;"));
        assert!(Family::Graph
            .params(200_000, 1.0)
            .contains("var STEPS = 800000;"));
        assert_eq!(churn_nodes(5, 0.0), 20);
        assert!(g.contains("class Vertex"));
        // The templates use the parameters they are given and define nothing of the same name.
        let defines = |src: &str, name: &str| {
            src.lines()
                .any(|l| l.trim_start().starts_with(&format!("var {name}")))
        };
        assert!(!defines(GCBENCH_SRC, "LIVE_NODES") && !defines(GCBENCH_SRC, "CHURN_NODES"));
        assert!(!defines(GRAPH_SRC, "VERTICES") && !defines(GRAPH_SRC, "STEPS"));
        assert!(defines(&t, "LIVE_NODES"));
    }

    #[test]
    fn sizes_for_heap_max() {
        assert_eq!(size_arg(3 * 64 * MB), "192M");
        assert_eq!(size_arg(MB + 1), "2M");
    }
}
