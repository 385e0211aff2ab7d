//! The corpus run: every file under `tests/lox/` plus the generated cases, in every GC mode,
//! in parallel, with one summary line per mode.
//!
//! Owns test discovery, the list of modes, scheduling and the report. A run fails when any test
//! fails in any mode.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::check;
use crate::expect::{self, Expectations};
use crate::generated::{self, Generated, Judgement};
use crate::process::{self, Outcome};

/// The GC modes every test runs in: the flags given to `lox` before the file.
pub const MODES: &[&[&str]] = &[
    &["--gc", "stw"],
    &["--gc", "stw", "--gc-stress", "--gc-verify"],
    &["--gc", "concurrent", "--gc-stress", "--gc-verify"],
    &[
        "--gc",
        "concurrent",
        "--gc-fault",
        "thread",
        "--gc-stress",
        "--gc-verify",
    ],
];

/// Default time limit of one run; `LOX_TEST_TIMEOUT` (seconds) overrides it.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);

/// How many of the slowest tests each mode's report names (to keep an eye on the suite's time).
const SLOWEST_SHOWN: usize = 5;

/// The corpus directory of this crate.
pub fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("lox")
}

/// Every `.lox` file under `dir`, sorted.
pub fn discover(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        for entry in std::fs::read_dir(&d)? {
            let path = entry?.path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "lox") {
                found.push(path);
            }
        }
    }
    found.sort();
    Ok(found)
}

enum Judge {
    Annotated(Expectations),
    Generated(fn(&Outcome) -> Vec<String>),
}

struct Case {
    /// Name in reports: path under the corpus, or `generated/NAME`.
    name: String,
    file: PathBuf,
    judge: Judge,
}

impl Case {
    fn flags(&self, mode: &[&str]) -> Vec<String> {
        let interval = match &self.judge {
            Judge::Annotated(e) => e.stress_interval,
            Judge::Generated(_) => None,
        };
        let mut flags: Vec<String> = mode
            .iter()
            .map(|f| match (*f, interval) {
                ("--gc-stress", Some(n)) => format!("--gc-stress={n}"),
                _ => f.to_string(),
            })
            .collect();
        if let Judge::Annotated(e) = &self.judge {
            flags.extend(e.flags.iter().cloned());
        }
        flags
    }

    fn judge(&self, o: &Outcome) -> Vec<String> {
        match &self.judge {
            Judge::Annotated(e) => check::judge(e, o),
            Judge::Generated(f) => f(o),
        }
    }
}

/// Options of a run.
pub struct Options {
    pub lox: PathBuf,
    /// Extra flags given to `lox` after the mode's.
    pub extra_flags: Vec<String>,
    /// Only tests whose name contains one of these (all when empty).
    pub filters: Vec<String>,
    pub jobs: usize,
    pub timeout: Duration,
}

impl Options {
    /// Defaults from the environment: `LOX_TEST_JOBS`, `LOX_TEST_TIMEOUT`.
    pub fn new(lox: PathBuf) -> Options {
        let env_num = |k: &str| std::env::var(k).ok().and_then(|v| v.parse::<u64>().ok());
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Options {
            lox,
            extra_flags: Vec::new(),
            filters: Vec::new(),
            jobs: env_num("LOX_TEST_JOBS").map_or(cores, |n| n.max(1) as usize),
            timeout: env_num("LOX_TEST_TIMEOUT").map_or(DEFAULT_TIMEOUT, Duration::from_secs),
        }
    }
}

/// Runs the corpus in every mode and prints the report. Returns true when everything passed.
pub fn run(opts: &Options) -> Result<bool, String> {
    let dir = corpus_dir();
    let scratch = std::env::temp_dir().join(format!("lox-tests-{}", std::process::id()));
    let cases = collect(&dir, &scratch, &opts.filters)?;
    let mut all_passed = true;
    let mut totals = (0, 0);
    for mode in MODES {
        let label = mode.join(" ");
        let start = Instant::now();
        let (passed, failed) = run_mode(&cases, mode, opts);
        println!(
            "corpus [{label}]: {passed} passed, {failed} failed ({:.1} s)",
            start.elapsed().as_secs_f64()
        );
        totals = (totals.0 + passed, totals.1 + failed);
        all_passed &= failed == 0;
    }
    println!("corpus total: {} passed, {} failed", totals.0, totals.1);
    if opts.filters.is_empty() {
        all_passed &= run_cli_checks(opts, &scratch);
    }
    let _ = std::fs::remove_dir_all(&scratch);
    Ok(all_passed)
}

/// The command-line checks ([`crate::cli`]): one summary line, failures listed.
fn run_cli_checks(opts: &Options, scratch: &Path) -> bool {
    if let Err(e) = std::fs::create_dir_all(scratch) {
        println!("cli: cannot create {}: {e}", scratch.display());
        return false;
    }
    let checks = crate::cli::checks(&opts.lox, scratch);
    let failed: Vec<_> = checks.iter().filter(|(_, f)| !f.is_empty()).collect();
    for (name, fails) in &failed {
        println!("FAIL [cli] {name}");
        for f in fails {
            println!("     {f}");
        }
    }
    println!(
        "cli: {} passed, {} failed",
        checks.len() - failed.len(),
        failed.len()
    );
    failed.is_empty()
}

fn collect(dir: &Path, scratch: &Path, filters: &[String]) -> Result<Vec<Case>, String> {
    let wanted =
        |name: &str| filters.is_empty() || filters.iter().any(|f| name.contains(f.as_str()));
    let files = discover(dir).map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
    let mut cases = Vec::new();
    for file in files {
        let name = file
            .strip_prefix(dir)
            .unwrap_or(&file)
            .display()
            .to_string();
        if !wanted(&name) {
            continue;
        }
        let source =
            std::fs::read(&file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
        if let Some(exp) = expect::parse(&source) {
            cases.push(Case {
                name,
                file,
                judge: Judge::Annotated(exp),
            });
        }
    }
    let generated: Vec<Generated> = generated::cases()
        .into_iter()
        .filter(|g| wanted(&format!("generated/{}", g.name)))
        .collect();
    if !generated.is_empty() {
        std::fs::create_dir_all(scratch)
            .map_err(|e| format!("cannot create {}: {e}", scratch.display()))?;
    }
    for g in generated {
        let file = scratch.join(g.name);
        std::fs::write(&file, &g.source)
            .map_err(|e| format!("cannot write {}: {e}", file.display()))?;
        let judge = match g.judge {
            Judgement::ByCode(f) => Judge::Generated(f),
            Judgement::Annotated => Judge::Annotated(
                expect::parse(&g.source)
                    .ok_or_else(|| format!("generated/{} is marked nontest", g.name))?,
            ),
        };
        cases.push(Case {
            name: format!("generated/{}", g.name),
            file,
            judge,
        });
    }
    Ok(cases)
}

/// Runs every case in one mode on `opts.jobs` threads; prints each failure as it completes.
fn run_mode(cases: &[Case], mode: &[&str], opts: &Options) -> (usize, usize) {
    let next = AtomicUsize::new(0);
    let results = Mutex::new((0usize, 0usize));
    let timings = Mutex::new(Vec::new());
    let label = mode.join(" ");
    std::thread::scope(|s| {
        for _ in 0..opts.jobs.min(cases.len()).max(1) {
            s.spawn(|| loop {
                let k = next.fetch_add(1, Ordering::Relaxed);
                let Some(case) = cases.get(k) else { break };
                let mut flags = case.flags(mode);
                flags.extend(opts.extra_flags.iter().cloned());
                let fails = match process::run(&opts.lox, &flags, &case.file, opts.timeout) {
                    Ok(outcome) => {
                        let mut t = timings.lock().unwrap_or_else(|p| p.into_inner());
                        t.push((outcome.elapsed, case.name.as_str()));
                        drop(t);
                        case.judge(&outcome)
                    }
                    Err(e) => vec![format!("cannot run {}: {e}", opts.lox.display())],
                };
                let mut r = results.lock().unwrap_or_else(|p| p.into_inner());
                if fails.is_empty() {
                    r.0 += 1;
                } else {
                    r.1 += 1;
                    // Printed under the lock so reports of parallel failures do not interleave.
                    println!("FAIL [{label}] {}", case.name);
                    for f in &fails {
                        println!("     {f}");
                    }
                }
            });
        }
    });
    let mut timings = timings.into_inner().unwrap_or_else(|p| p.into_inner());
    timings.sort_by_key(|t| std::cmp::Reverse(t.0));
    let slowest: Vec<String> = timings
        .iter()
        .take(SLOWEST_SHOWN)
        .map(|(t, name)| format!("{name} {:.2} s", t.as_secs_f64()))
        .collect();
    if !slowest.is_empty() {
        println!("slowest [{label}]: {}", slowest.join(", "));
    }
    results.into_inner().unwrap_or_else(|p| p.into_inner())
}
