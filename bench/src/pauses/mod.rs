//! `bench pauses`: every workload under every collector mode, with each pause, stall and hiccup
//! recorded, then `report.md`, `results.json` and SVG plots in the output folder.
//!
//! Order of work: the machine's hiccup floor, a probe of each mode (refused modes are reported
//! as not available), the calibration of the generated programs, then the workloads one by one
//! with all modes back to back (the threads axis last, when the binary runs Lox threads), then
//! the JVM collectors (`--jvm`).

pub mod cells;
pub mod child;
pub mod gcstats;
pub mod hiccup;
pub mod hist;
pub mod jvm;
pub mod machine;
pub mod mmu;
pub mod modes;
pub mod plots;
pub mod report;
pub mod results;
pub mod safepoint;
pub mod table;
pub mod threads;
pub mod threads_report;
pub mod workloads;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use cells::{Cell, Measured, Outcome};
use modes::{Engine, Mode};
use workloads::{Calibration, Family, Workload, MB};

/// What the user asked for.
pub struct Options {
    pub quick: bool,
    pub lox: PathBuf,
    pub clox: Option<PathBuf>,
    pub jvm: bool,
    pub out: PathBuf,
    pub shared_dir: PathBuf,
    /// Only workloads whose name contains this.
    pub filter: Option<String>,
    /// Thread counts of the threads axis (none: no axis).
    pub threads: Vec<u32>,
}

/// A mode and whether this build (or machine) has it.
#[derive(Clone, Debug)]
pub struct ModeStatus {
    pub label: String,
    /// `lox`, `clox` or `jvm`.
    pub engine: &'static str,
    /// `None` when available, else why not.
    pub unavailable: Option<String>,
}

/// Everything one `bench pauses` run found.
pub struct Results {
    pub started: String,
    pub quick: bool,
    pub command: String,
    pub machine: machine::Machine,
    pub floor: Vec<u64>,
    pub modes: Vec<ModeStatus>,
    pub workloads: Vec<Workload>,
    pub calibrations: Vec<(Family, Calibration)>,
    pub cells: Vec<Cell>,
    pub seconds: f64,
    /// Why the threads axis was asked for but not run (the binary has no Lox threads).
    pub threads_unavailable: Option<String>,
}

impl Results {
    pub fn cell(&self, workload: &str, mode: &str) -> Option<&Cell> {
        self.cells
            .iter()
            .find(|c| c.workload == workload && c.mode == mode)
    }

    pub fn available(&self, mode: &str) -> bool {
        self.modes
            .iter()
            .any(|m| m.label == mode && m.unavailable.is_none())
    }
}

/// Live heap sizes of the GCBench program.
pub fn gcbench_sizes(quick: bool) -> Vec<u64> {
    let all = [16 * MB, 64 * MB, 256 * MB, 1024 * MB];
    all.into_iter()
        .filter(|&s| !quick || s <= 64 * MB)
        .collect()
}

pub fn graph_sizes(quick: bool) -> Vec<u64> {
    if quick {
        vec![64 * MB]
    } else {
        vec![64 * MB, 256 * MB]
    }
}

/// Whether `--filter` keeps the workload `name`.
fn selected(filter: Option<&str>, name: &str) -> bool {
    match filter {
        Some(f) => name.contains(f),
        None => true,
    }
}

/// The longest one run may take before it is killed and reported as timed out.
const RUN_LIMIT: Duration = Duration::from_secs(600);

fn create_dir(p: &Path) -> Result<(), String> {
    std::fs::create_dir_all(p).map_err(|e| format!("cannot create {}: {e}", p.display()))
}

/// Runs everything and writes the report. `Ok(false)` when some run failed.
pub fn execute(opts: &Options) -> Result<bool, String> {
    let t0 = Instant::now();
    let programs = opts.out.join("programs");
    let runs = opts.out.join("runs");
    create_dir(&programs)?;
    create_dir(&runs)?;
    let started = machine::now_utc();
    let machine = machine::Machine::detect();
    eprintln!("bench: {} — {}", machine.cpu, machine.summary());

    let floor_secs = if opts.quick { 3.0 } else { 10.0 };
    eprintln!("bench: hiccup floor ({floor_secs} s, the meter alone)");
    let floor = hiccup::floor(floor_secs);

    let mut modes = Vec::new();
    let mut lox_modes: Vec<&Mode> = Vec::new();
    for m in &modes::LOX_MODES {
        let Engine::Lox(flags) = &m.engine else {
            continue;
        };
        let status = modes::probe(&opts.lox, flags, &runs);
        if let Err(e) = &status {
            eprintln!("bench: mode {} not available in this build: {e}", m.label);
        } else {
            lox_modes.push(m);
        }
        modes.push(ModeStatus {
            label: m.label.into(),
            engine: "lox",
            unavailable: status.err(),
        });
    }
    if lox_modes.first().map(|m| m.label) != Some("stw") {
        return Err("lox does not run `--gc stw`: nothing to measure against".into());
    }
    if let Some(c) = &opts.clox {
        modes.push(ModeStatus {
            label: modes::CLOX.label.into(),
            engine: "clox",
            unavailable: (!c.is_file()).then(|| format!("{} does not exist", c.display())),
        });
    }

    let mut calibrations = Vec::new();
    let mut workloads = workloads::shared(&opts.shared_dir)?;
    for (family, sizes) in [
        (Family::GcBench, gcbench_sizes(opts.quick)),
        (Family::Graph, graph_sizes(opts.quick)),
    ] {
        let wanted = |s: &u64| {
            let name = format!("{}_{}mb", family.stem(), s / MB);
            selected(opts.filter.as_deref(), &name)
        };
        let sizes: Vec<u64> = sizes.into_iter().filter(wanted).collect();
        if sizes.is_empty() {
            continue;
        }
        eprintln!("bench: calibrating {} (bytes per unit)", family.stem());
        let cal = workloads::calibrate(&opts.lox, family, &programs)?;
        eprintln!(
            "bench: {}: {:.1} bytes per unit + {:.1} MB",
            family.stem(),
            cal.per_unit,
            cal.base / MB as f64
        );
        for s in sizes {
            workloads.push(workloads::generated(family, s, &cal, &programs)?);
        }
        calibrations.push((family, cal));
    }
    workloads.retain(|w| selected(opts.filter.as_deref(), &w.name));
    let threads_unavailable =
        add_threads_axis(opts, &programs, &runs, &mut calibrations, &mut workloads)?;

    let clox = opts
        .clox
        .as_ref()
        .filter(|c| c.is_file())
        .map(PathBuf::as_path);
    let mut cells = Vec::new();
    let mut all_ok = true;
    for w in &workloads {
        let mut reference: Option<String> = None;
        for m in &lox_modes {
            let Engine::Lox(flags) = &m.engine else {
                continue;
            };
            let stem = runs.join(format!("{}.{}", w.name, m.label));
            let outcome = match w.threads {
                Some(_) => threads::run(&opts.lox, flags, w, &stem, &mut reference),
                None => run_lox(&opts.lox, flags, w, &stem, &mut reference),
            };
            all_ok &= !matches!(outcome, Outcome::Failed(_));
            progress(&w.name, m.label, &outcome);
            cells.push(Cell {
                workload: w.name.clone(),
                mode: m.label.into(),
                outcome,
            });
        }
        // clox has no threads.
        if let Some(c) = clox.filter(|_| w.threads.is_none()) {
            let stem = runs.join(format!("{}.clox", w.name));
            let outcome = run_clox(c, w, &stem, reference.as_deref());
            progress(&w.name, "clox", &outcome);
            cells.push(Cell {
                workload: w.name.clone(),
                mode: "clox".into(),
                outcome,
            });
        }
    }

    if opts.jvm {
        run_jvms(opts, &runs, &mut modes, &mut cells);
    }

    let results = Results {
        started,
        quick: opts.quick,
        command: std::env::args().collect::<Vec<_>>().join(" "),
        machine,
        floor,
        modes,
        workloads,
        calibrations,
        cells,
        seconds: t0.elapsed().as_secs_f64(),
        threads_unavailable,
    };
    let write = |name: &str, text: String| {
        let p = opts.out.join(name);
        std::fs::write(&p, text).map_err(|e| format!("cannot write {}: {e}", p.display()))
    };
    write("results.json", results::to_json(&results)?)?;
    let plots = plots::write_all(&results, &opts.out);
    write("report.md", report::render(&results, &plots))?;
    eprintln!(
        "bench: wrote {}/report.md, results.json and {} plots in {:.0} s",
        opts.out.display(),
        plots.len(),
        results.seconds
    );
    Ok(all_ok)
}

/// The threads axis's workloads (the thread counts `--filter` keeps), sized with GCBench's
/// calibration (measured here if the live-size axis did not need it). Returns why the axis
/// cannot run when the binary has no Lox threads.
fn add_threads_axis(
    opts: &Options,
    programs: &Path,
    runs: &Path,
    calibrations: &mut Vec<(Family, Calibration)>,
    list: &mut Vec<Workload>,
) -> Result<Option<String>, String> {
    let counts: Vec<u32> = opts
        .threads
        .iter()
        .copied()
        .filter(|&t| selected(opts.filter.as_deref(), &threads::name(t)))
        .collect();
    if counts.is_empty() {
        return Ok(None);
    }
    if let Err(why) = threads::probe(&opts.lox, runs) {
        eprintln!("bench: threads axis not available in this build: {why}");
        return Ok(Some(why));
    }
    let cal = match calibrations.iter().find(|(f, _)| *f == Family::GcBench) {
        Some((_, c)) => *c,
        None => {
            eprintln!("bench: calibrating gcbench (bytes per unit) for the threads axis");
            let c = workloads::calibrate(&opts.lox, Family::GcBench, programs)?;
            eprintln!(
                "bench: gcbench: {:.1} bytes per unit + {:.1} MB",
                c.per_unit,
                c.base / MB as f64
            );
            calibrations.push((Family::GcBench, c));
            c
        }
    };
    for t in counts {
        list.push(threads::workload(t, &cal, programs)?);
    }
    Ok(None)
}

fn progress(workload: &str, mode: &str, o: &Outcome) {
    match o {
        Outcome::NotAvailable(why) => eprintln!("  {workload:<18} {mode:<18} not available: {why}"),
        Outcome::Failed(why) => eprintln!("  {workload:<18} {mode:<18} FAILED: {why}"),
        Outcome::Done(m) => {
            let s = m.pause_summary();
            eprintln!(
                "  {workload:<18} {mode:<18} {:7.2} s  {:5} pauses  max {:>9}  rss {:>6.0} MB",
                m.wall_ns as f64 / 1e9,
                s.count,
                table::fmt_ms(s.max_ns),
                m.max_rss_bytes as f64 / MB as f64
            );
        }
    }
}

/// Runs `lox` on a workload. `reference` holds the result lines of the first mode; later modes
/// must print the same (a collector that corrupts the heap usually shows there first).
fn run_lox(
    lox: &Path,
    flags: &[&str],
    w: &Workload,
    stem: &Path,
    reference: &mut Option<String>,
) -> Outcome {
    let stats_path = stem.with_extension("stats.json");
    let _ = std::fs::remove_file(&stats_path);
    let mut cmd = Command::new(lox);
    cmd.args(flags);
    if let Some(h) = w.heap_max {
        cmd.arg("--heap-max").arg(workloads::size_arg(h));
    }
    cmd.arg("--gc-stats").arg(&stats_path).arg(&w.path);
    let meter = hiccup::Meter::start();
    let r = child::run(&mut cmd, stem, RUN_LIMIT);
    let hiccups = meter.stop();
    let o = match r {
        Ok(o) => o,
        Err(e) => return Outcome::Failed(e),
    };
    if o.exit == child::Exit::Code(64) {
        return Outcome::NotAvailable(o.failure());
    }
    if !o.success() {
        return Outcome::Failed(o.failure());
    }
    let lines = crate::output::results(&o.stdout).join("\n");
    match reference {
        None => *reference = Some(lines),
        Some(r) if *r != lines => {
            return Outcome::Failed("output differs from the first mode's".into())
        }
        Some(_) => {}
    }
    let stats = match std::fs::read_to_string(&stats_path)
        .map_err(|e| format!("no stats file: {e}"))
        .and_then(|t| gcstats::parse(&t))
    {
        Ok(s) => s,
        Err(e) => return Outcome::Failed(e),
    };
    Outcome::Done(Box::new(Measured {
        wall_ns: o.wall_ns,
        user_ns: o.user_ns,
        sys_ns: o.sys_ns,
        max_rss_bytes: o.max_rss_bytes,
        hiccups,
        has_gc_cpu: true,
        stalls: stats
            .allocation_stalls
            .list
            .iter()
            .map(|s| (s.start_ns, s.ns))
            .collect(),
        stats: Some(stats),
    }))
}

/// Runs clox on a workload: wall time, CPU and RSS only.
fn run_clox(clox: &Path, w: &Workload, stem: &Path, reference: Option<&str>) -> Outcome {
    let mut cmd = Command::new(clox);
    cmd.arg(&w.path);
    let meter = hiccup::Meter::start();
    let r = child::run(&mut cmd, stem, RUN_LIMIT);
    let hiccups = meter.stop();
    let o = match r {
        Ok(o) => o,
        Err(e) => return Outcome::Failed(e),
    };
    if !o.success() {
        // Not our failure: e.g. string_equality has more constants than clox allows.
        return Outcome::NotAvailable(format!("clox cannot run it ({})", o.failure()));
    }
    if reference.is_some_and(|r| r != crate::output::results(&o.stdout).join("\n")) {
        return Outcome::Failed("clox printed other results than lox".into());
    }
    Outcome::Done(Box::new(Measured {
        wall_ns: o.wall_ns,
        user_ns: o.user_ns,
        sys_ns: o.sys_ns,
        max_rss_bytes: o.max_rss_bytes,
        stats: None,
        hiccups,
        has_gc_cpu: false,
        stalls: Vec::new(),
    }))
}

fn run_jvms(opts: &Options, runs: &Path, modes: &mut Vec<ModeStatus>, cells: &mut Vec<Cell>) {
    if !jvm::installed() {
        eprintln!("bench: --jvm: java/javac not on PATH; skipped");
        for c in &jvm::COLLECTORS {
            modes.push(ModeStatus {
                label: c.label.into(),
                engine: "jvm",
                unavailable: Some("java is not on PATH".into()),
            });
        }
        return;
    }
    let cp = match jvm::compile(runs) {
        Ok(cp) => cp,
        Err(e) => {
            eprintln!("bench: --jvm: {e}");
            for c in &jvm::COLLECTORS {
                modes.push(ModeStatus {
                    label: c.label.into(),
                    engine: "jvm",
                    unavailable: Some(e.clone()),
                });
            }
            return;
        }
    };
    for c in &jvm::COLLECTORS {
        let status = jvm::probe(c, runs);
        let ok = status.is_ok();
        modes.push(ModeStatus {
            label: c.label.into(),
            engine: "jvm",
            unavailable: status.err(),
        });
        if !ok {
            continue;
        }
        for live in gcbench_sizes(opts.quick) {
            let name = format!("gcbench_{}mb", live / MB);
            if !selected(opts.filter.as_deref(), &name) {
                continue;
            }
            let stem = runs.join(format!("{name}.{}", c.label));
            let outcome = jvm::run(c, &cp, live, &stem, RUN_LIMIT);
            progress(&name, c.label, &outcome);
            cells.push(Cell {
                workload: name,
                mode: c.label.into(),
                outcome,
            });
        }
    }
}
