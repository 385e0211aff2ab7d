//! `results.json`: the raw figures of a run, so that anything in the report can be recomputed or
//! plotted differently. Per run: the summaries the report prints (pauses overall and by kind,
//! MMU curves, stalls) and the collector's statistics as `lox --gc-stats` wrote them (every
//! pause, cycle and listed allocation stall, the fault-stall buckets, the counters; rebuilt from
//! the logs for a JVM). The structs below are the file's shape.

use serde::{Serialize, Serializer};

use super::cells::{Measured, Outcome};
use super::gcstats::GcStats;
use super::hist::{Durations, Summary};
use super::machine::Machine;
use super::threads_report;
use super::Results;

#[derive(Serialize)]
struct File<'a> {
    started: &'a str,
    quick: bool,
    command: &'a str,
    seconds: f64,
    machine: &'a Machine,
    /// The hiccup meter on the idle machine, before any run.
    hiccup_floor: Summary,
    modes: Vec<ModeEntry<'a>>,
    calibrations: Vec<CalibrationEntry>,
    workloads: Vec<WorkloadEntry<'a>>,
    runs: Vec<Run<'a>>,
    /// The threads axis, one entry per mode and thread count (`threads_report::Entry`).
    threads_axis: Vec<threads_report::Entry>,
    /// Why the threads axis was asked for but not run.
    threads_unavailable: Option<&'a str>,
}

#[derive(Serialize)]
struct ModeEntry<'a> {
    label: &'a str,
    engine: &'a str,
    available: bool,
    reason: Option<&'a str>,
}

#[derive(Serialize)]
struct CalibrationEntry {
    family: &'static str,
    bytes_per_unit: f64,
    base_bytes: f64,
}

#[derive(Serialize)]
struct WorkloadEntry<'a> {
    name: &'a str,
    family: &'static str,
    path: String,
    live_target_bytes: Option<u64>,
    heap_max_bytes: Option<u64>,
    params: &'a str,
    /// The threads axis only: Lox threads and the nodes they allocate in all.
    #[serde(skip_serializing_if = "Option::is_none")]
    threads: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    work_nodes: Option<u64>,
}

/// A workload under a mode: `status` (`ok`, `failed`, `not_available`) and what goes with it.
#[derive(Serialize)]
struct Run<'a> {
    workload: &'a str,
    mode: &'a str,
    #[serde(flatten)]
    outcome: RunOutcome<'a>,
}

#[derive(Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
enum RunOutcome<'a> {
    NotAvailable { reason: &'a str },
    Failed { reason: &'a str },
    Ok(Box<Figures<'a>>),
}

#[derive(Serialize)]
struct Figures<'a> {
    wall_ns: u64,
    user_ns: u64,
    sys_ns: u64,
    max_rss_bytes: u64,
    hiccups: Summary,
    /// Absent for clox, whose collector reports nothing.
    #[serde(flatten)]
    collector: Option<CollectorFigures<'a>>,
}

#[derive(Serialize)]
struct CollectorFigures<'a> {
    pauses: Summary,
    /// Kind → its figures, kinds in order of first appearance.
    #[serde(serialize_with = "as_map")]
    by_kind: Vec<(String, KindFigures)>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mmu_window_ns_utilization: Option<Vec<(u64, f64)>>,
    /// Allocation stalls counted as lost time too; absent when some stalls' times are unknown.
    #[serde(skip_serializing_if = "Option::is_none")]
    mmu_with_stalls_window_ns_utilization: Option<Vec<(u64, f64)>>,
    allocation_stalls: Summary,
    /// Rebuilt from the collector's buckets: upper bounds (see stats.mutator_fault_stalls).
    fault_stalls: Summary,
    stats: &'a GcStats,
}

#[derive(Serialize)]
struct KindFigures {
    pauses: Summary,
    ttsp: Summary,
}

/// `(key, value)` pairs as a JSON object, in their order.
fn as_map<S: Serializer, V: Serialize>(pairs: &[(String, V)], s: S) -> Result<S::Ok, S::Error> {
    s.collect_map(pairs.iter().map(|(k, v)| (k, v)))
}

fn collector_figures(m: &Measured) -> Option<CollectorFigures<'_>> {
    let stats = m.stats.as_ref()?;
    let by_kind = m
        .kinds()
        .into_iter()
        .map(|k| {
            let figures = KindFigures {
                pauses: m.pauses(Some(&k)).summary(),
                ttsp: m.ttsp(Some(&k)).summary(),
            };
            (k, figures)
        })
        .collect();
    Some(CollectorFigures {
        pauses: m.pause_summary(),
        by_kind,
        mmu_window_ns_utilization: m.timeline().map(|t| t.curve()),
        mmu_with_stalls_window_ns_utilization: m.blocked_timeline().map(|t| t.curve()),
        allocation_stalls: m.alloc_stalls().summary(),
        fault_stalls: m.fault_stall_summary(),
        stats,
    })
}

fn figures(m: &Measured) -> Figures<'_> {
    Figures {
        wall_ns: m.wall_ns,
        user_ns: m.user_ns,
        sys_ns: m.sys_ns,
        max_rss_bytes: m.max_rss_bytes,
        hiccups: m.hiccup_summary(),
        collector: collector_figures(m),
    }
}

fn file(r: &Results) -> File<'_> {
    File {
        started: &r.started,
        quick: r.quick,
        command: &r.command,
        seconds: r.seconds,
        machine: &r.machine,
        hiccup_floor: Durations::from_values(r.floor.iter().copied()).summary(),
        modes: r
            .modes
            .iter()
            .map(|m| ModeEntry {
                label: &m.label,
                engine: m.engine,
                available: m.unavailable.is_none(),
                reason: m.unavailable.as_deref(),
            })
            .collect(),
        calibrations: r
            .calibrations
            .iter()
            .map(|(f, c)| CalibrationEntry {
                family: f.stem(),
                bytes_per_unit: c.per_unit,
                base_bytes: c.base,
            })
            .collect(),
        workloads: r
            .workloads
            .iter()
            .map(|w| WorkloadEntry {
                name: &w.name,
                family: w.family.stem(),
                path: w.path.display().to_string(),
                live_target_bytes: w.live_target,
                heap_max_bytes: w.heap_max,
                params: w.params.trim(),
                threads: w.threads.map(|t| t.threads),
                work_nodes: w.threads.map(|t| t.work_nodes),
            })
            .collect(),
        runs: r
            .cells
            .iter()
            .map(|c| Run {
                workload: &c.workload,
                mode: &c.mode,
                outcome: match &c.outcome {
                    Outcome::NotAvailable(why) => RunOutcome::NotAvailable { reason: why },
                    Outcome::Failed(why) => RunOutcome::Failed { reason: why },
                    Outcome::Done(m) => RunOutcome::Ok(Box::new(figures(m))),
                },
            })
            .collect(),
        threads_axis: threads_report::entries(r),
        threads_unavailable: r.threads_unavailable.as_deref(),
    }
}

/// The text of `results.json`.
pub fn to_json(r: &Results) -> Result<String, String> {
    let mut text = serde_json::to_string_pretty(&file(r))
        .map_err(|e| format!("results.json: cannot serialize: {e}"))?;
    text.push('\n');
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pauses::cells::Cell;
    use crate::pauses::{gcstats, report, workloads::MB};
    use serde_json::Value;

    #[test]
    fn every_run_with_its_status_and_figures() {
        let mut r = report::tests::sample_results();
        r.cells.push(Cell {
            workload: "gcbench_64mb".into(),
            mode: "concurrent-thread".into(),
            outcome: Outcome::NotAvailable("no uffd".into()),
        });
        let text = to_json(&r).unwrap();
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["quick"], true);
        assert!(v["machine"]["load_at_start"].is_string());
        assert_eq!(v["hiccup_floor"]["count"], 2);
        assert_eq!(v["modes"][2]["available"], false);
        assert_eq!(v["modes"][2]["reason"], "no uffd");
        assert_eq!(v["modes"][0]["reason"], Value::Null);
        assert_eq!(v["workloads"][1]["live_target_bytes"], 64 * MB);
        let runs = v["runs"].as_array().unwrap();
        assert_eq!(runs.len(), 7);

        let conc = &runs[1];
        assert_eq!(
            (&conc["mode"], &conc["status"]),
            (&"concurrent-sigbus".into(), &"ok".into())
        );
        assert_eq!(conc["pauses"]["count"], 2);
        assert_eq!(conc["by_kind"]["mark"]["pauses"]["count"], 1);
        assert_eq!(conc["by_kind"]["flip"]["ttsp"]["count"], 1);
        assert!(conc["mmu_window_ns_utilization"][0].is_array());
        // The collector's statistics as `lox` writes them, readable by the same reader.
        let stats = gcstats::parse(&conc["stats"].to_string()).unwrap();
        assert_eq!(stats.pauses[1].kind, "flip");
        // By kind in order of first appearance.
        assert!(text.find("\"mark\": {").unwrap() < text.find("\"flip\": {").unwrap());

        let clox = &runs[2];
        assert_eq!(clox["status"], "ok");
        assert_eq!(clox["wall_ns"], 2_000_000_000u64);
        assert!(clox.get("pauses").is_none() && clox.get("stats").is_none());
        assert_eq!(runs[5]["status"], "failed");
        assert_eq!(runs[5]["reason"], "boom");
        assert_eq!(runs[6]["status"], "not_available");
        assert_eq!(runs[6]["reason"], "no uffd");
    }
}
