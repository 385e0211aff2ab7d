//! `bench throughput`: median wall times of every benchmark program under each interpreter,
//! their ratios against a baseline and the geometric mean of those ratios.
//!
//! The baseline is clox when it is given with one lox; with two lox binaries it is the first
//! (`--lox A --lox B` reports B/A). Fixed-time programs (`*_batch.lox`) are reported apart by
//! their score, and a program the baseline cannot run is reported apart without a ratio.

use std::path::{Path, PathBuf};

use crate::output;
use crate::run::{run, Run};
use crate::stats::{geomean, median, spread};

/// An interpreter under test.
pub struct Interp {
    pub label: String,
    pub path: PathBuf,
    pub args: Vec<String>,
}

/// What to measure.
pub struct Plan {
    pub programs: Vec<PathBuf>,
    /// Index 0 is the baseline when `ratios` is true.
    pub interps: Vec<Interp>,
    pub ratios: bool,
    pub runs: usize,
    pub batch_runs: usize,
}

/// Every `.lox` file in `dir`, sorted.
pub fn programs_in(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
    let mut v: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "lox"))
        .collect();
    v.sort();
    if v.is_empty() {
        return Err(format!("no .lox programs in {}", dir.display()));
    }
    Ok(v)
}

fn is_batch(program: &Path) -> bool {
    program
        .file_stem()
        .and_then(|s| s.to_str())
        .is_some_and(|s| s.ends_with("_batch"))
}

fn name(program: &Path) -> String {
    program.file_stem().map_or_else(
        || program.display().to_string(),
        |s| s.to_string_lossy().into_owned(),
    )
}

/// Per interpreter: its runs of one program.
type Measurements = Vec<Vec<Run>>;

fn measure(plan: &Plan, program: &Path, runs: usize) -> Measurements {
    let mut m: Measurements = plan.interps.iter().map(|_| Vec::new()).collect();
    // Interleave interpreters run by run, so slow drift of the machine hits all of them alike.
    // An interpreter that failed once is not run again on this program.
    for _ in 0..runs {
        for (k, interp) in plan.interps.iter().enumerate() {
            if failure(&m[k]).is_none() {
                m[k].push(run(&interp.path, &interp.args, program));
            }
        }
    }
    m
}

/// The first failure of an interpreter on a program, if any.
fn failure(runs: &[Run]) -> Option<&str> {
    runs.iter()
        .find_map(|r| r.status.as_ref().err().map(String::as_str))
}

/// Runs the plan and prints the report. Returns false if any interpreter other than the
/// baseline failed a program, or printed different results.
pub fn execute(plan: &Plan) -> bool {
    let mut ok = true;
    let mut ratios = Vec::new();
    let mut apart: Vec<String> = Vec::new();
    let width = plan
        .programs
        .iter()
        .map(|p| name(p).len())
        .max()
        .unwrap_or(8)
        .max(8);

    print!("{:<width$}", "program");
    for i in &plan.interps {
        print!(" {:>12}", format!("{} (s)", i.label));
    }
    if plan.ratios {
        for i in &plan.interps[1..] {
            print!(" {:>12}", format!("{}/{}", i.label, plan.interps[0].label));
        }
    }
    // The spread of each interpreter's runs, (max - min) / median: how far apart the runs
    // behind a median were, so that a ratio can be read against the noise.
    for i in &plan.interps {
        print!(" {:>10}", format!("{} spread", i.label));
    }
    println!();

    for program in &plan.programs {
        let pname = name(program);
        if is_batch(program) {
            ok &= report_batch(plan, program, &pname, &mut apart);
            continue;
        }
        let m = measure(plan, program, plan.runs);
        let medians: Vec<Option<f64>> = m
            .iter()
            .map(|runs| {
                failure(runs)
                    .is_none()
                    .then(|| median(&runs.iter().map(|r| r.seconds).collect::<Vec<_>>()))
                    .flatten()
            })
            .collect();
        // A program the baseline cannot run has no ratio: report it apart.
        if plan.ratios {
            if let Some(why) = failure(&m[0]) {
                let times: Vec<String> = plan.interps[1..]
                    .iter()
                    .zip(medians[1..].iter().zip(&m[1..]))
                    .map(|(i, (t, runs))| match t {
                        Some(t) => format!("{} {t:.3} s", i.label),
                        None => format!(
                            "{} failed ({})",
                            i.label,
                            failure(runs).unwrap_or("no runs")
                        ),
                    })
                    .collect();
                apart.push(format!(
                    "{pname}: {}; {} failed ({why})",
                    times.join(", "),
                    plan.interps[0].label
                ));
                ok &= medians[1..].iter().all(Option::is_some);
                continue;
            }
        }
        print!("{pname:<width$}");
        for t in &medians {
            match t {
                Some(t) => print!(" {t:>12.3}"),
                None => print!(" {:>12}", "FAILED"),
            }
        }
        if plan.ratios {
            for (k, t) in medians.iter().enumerate().skip(1) {
                match (t, medians[0]) {
                    (Some(t), Some(base)) if base > 0.0 => {
                        print!(" {:>12.2}", t / base);
                        // The summary compares the first two interpreters only.
                        if k == 1 {
                            ratios.push(t / base);
                        }
                    }
                    _ => print!(" {:>12}", "-"),
                }
            }
        }
        for runs in &m {
            let times: Vec<f64> = runs.iter().map(|r| r.seconds).collect();
            match spread(&times) {
                Some(sp) => print!(" {:>9.1}%", sp * 100.0),
                None => print!(" {:>10}", "-"),
            }
        }
        println!();
        for (k, runs) in m.iter().enumerate() {
            if let Some(why) = failure(runs) {
                println!("  {} failed {pname}: {why}", plan.interps[k].label);
                ok = false;
            }
        }
        ok &= check_results_agree(plan, &m, &pname);
    }

    if plan.ratios && plan.interps.len() >= 2 {
        let (a, b) = (&plan.interps[0].label, &plan.interps[1].label);
        match geomean(&ratios) {
            Some(g) => println!(
                "geometric mean of {b}/{a} over {} programs: {g:.3}",
                ratios.len()
            ),
            None => println!("geometric mean of {b}/{a}: no program measured"),
        }
    }
    if !apart.is_empty() {
        println!("reported apart:");
        for line in &apart {
            println!("  {line}");
        }
    }
    ok
}

fn report_batch(plan: &Plan, program: &Path, pname: &str, apart: &mut Vec<String>) -> bool {
    let m = measure(plan, program, plan.batch_runs);
    let mut ok = true;
    let scores: Vec<Option<f64>> = m
        .iter()
        .map(|runs| {
            let s: Option<Vec<f64>> = runs
                .iter()
                .map(|r| {
                    r.status
                        .is_ok()
                        .then(|| output::batch_score(&r.stdout))
                        .flatten()
                })
                .collect();
            s.and_then(|s| median(&s))
        })
        .collect();
    let mut parts: Vec<String> = plan
        .interps
        .iter()
        .zip(&scores)
        .map(|(i, s)| match s {
            Some(s) => format!("{} {s}", i.label),
            None => format!("{} failed", i.label),
        })
        .collect();
    if plan.ratios {
        for (i, s) in plan.interps[1..].iter().zip(&scores[1..]) {
            if let (Some(s), Some(base)) = (s, scores[0]) {
                if base > 0.0 {
                    parts.push(format!(
                        "{}/{} {:.2}",
                        i.label,
                        plan.interps[0].label,
                        s / base
                    ));
                }
            }
        }
    }
    for (k, s) in scores.iter().enumerate() {
        if s.is_none() && (k > 0 || !plan.ratios) {
            ok = false;
        }
    }
    apart.push(format!(
        "{pname}: score (work done in its fixed time, higher is better): {}",
        parts.join(", ")
    ));
    ok
}

/// Two correct interpreters print the same results (timing lines aside).
fn check_results_agree(plan: &Plan, m: &Measurements, pname: &str) -> bool {
    let reference = m.iter().zip(&plan.interps).find_map(|(runs, i)| {
        runs.first()
            .filter(|r| r.status.is_ok())
            .map(|r| (output::results(&r.stdout), &i.label))
    });
    let Some((want, want_label)) = reference else {
        return true;
    };
    let mut ok = true;
    for (runs, i) in m.iter().zip(&plan.interps) {
        for r in runs.iter().filter(|r| r.status.is_ok()) {
            if output::results(&r.stdout) != want {
                println!(
                    "  {} printed different results from {want_label} on {pname}",
                    i.label
                );
                ok = false;
                break;
            }
        }
    }
    ok
}
