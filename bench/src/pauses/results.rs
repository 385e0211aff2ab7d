//! `results.json`: the raw figures of a run — every pause of every run (as `[start_ns, ns,
//! ttsp_ns, cycle]` per kind), every allocation stall, every cycle, the fault-stall buckets,
//! the collector's counters, the summaries the report prints — so that anything in the report
//! can be recomputed or plotted differently.

use crate::json::{num_or_null, obj, Value};

use super::cells::{Measured, Outcome};
use super::gcstats::{CycleDetail, GcStats};
use super::hist::Summary;
use super::mmu::Timeline;
use super::Results;

fn n(x: u64) -> Value {
    Value::Num(x as f64)
}

fn opt_n(x: Option<u64>) -> Value {
    num_or_null(x.map(|v| v as f64))
}

fn s(x: &str) -> Value {
    Value::Str(x.into())
}

pub fn summary(x: &Summary) -> Value {
    obj([
        ("count", n(x.count)),
        ("p50_ns", opt_n(x.p50_ns)),
        ("p99_ns", opt_n(x.p99_ns)),
        ("p999_ns", opt_n(x.p999_ns)),
        ("max_ns", opt_n(x.max_ns)),
        ("total_ns", n(x.total_ns)),
    ])
}

fn stats(st: &GcStats) -> Value {
    obj([
        ("collector", s(&st.collector)),
        (
            "fault_mode",
            st.fault_mode.as_deref().map_or(Value::Null, s),
        ),
        (
            "fallback_reason",
            st.fallback_reason.as_deref().map_or(Value::Null, s),
        ),
        ("cycles", n(st.cycles)),
        ("last_live_bytes", n(st.last_live_bytes)),
        ("pauses_dropped", n(st.pauses_dropped)),
        ("pause_total_ns", n(st.pause_total_ns)),
        ("pause_max_ns", n(st.pause_max_ns)),
        ("gc_cpu_ns", n(st.gc_cpu_ns)),
        ("bytes_moved", n(st.bytes_moved)),
        ("pages_compacted_by_gc", n(st.pages_compacted_by_gc)),
        (
            "pages_compacted_by_mutator",
            n(st.pages_compacted_by_mutator),
        ),
        ("uffd_move_pages", n(st.uffd_move_pages)),
        ("uffd_copy_pages", n(st.uffd_copy_pages)),
        ("uffd_zeropage_pages", n(st.uffd_zeropage_pages)),
        ("fresh_page_faults", n(st.fresh_page_faults)),
        (
            "mutator_fault_stalls",
            obj([
                ("count", n(st.fault_stalls.count)),
                ("p50_ns", n(st.fault_stalls.p50_ns)),
                ("p90_ns", n(st.fault_stalls.p90_ns)),
                ("p99_ns", n(st.fault_stalls.p99_ns)),
                ("p999_ns", n(st.fault_stalls.p999_ns)),
                ("max_ns", n(st.fault_stalls.max_ns)),
                ("total_ns", n(st.fault_stalls.total_ns)),
                ("measured_in", s(&st.fault_stalls.measured_in)),
                (
                    "buckets_upper_ns_count",
                    Value::Arr(
                        st.fault_stalls
                            .buckets
                            .iter()
                            .map(|&(u, c)| Value::Arr(vec![n(u), n(c)]))
                            .collect(),
                    ),
                ),
            ]),
        ),
        (
            "allocation_stalls",
            obj([
                ("count", n(st.alloc_stalls.count)),
                ("total_ns", n(st.alloc_stalls.total_ns)),
                ("max_ns", n(st.alloc_stalls.max_ns)),
                ("listed", n(st.alloc_stalls.list.len() as u64)),
                ("dropped", n(st.alloc_stalls.dropped)),
            ]),
        ),
        (
            "cycles_detail",
            Value::Arr(st.cycles_detail.iter().map(cycle).collect()),
        ),
        ("cycles_dropped", n(st.cycles_dropped)),
        ("peak_heap_bytes", n(st.peak_heap_bytes)),
        ("peak_rss_bytes", n(st.peak_rss_bytes)),
    ])
}

fn cycle(c: &CycleDetail) -> Value {
    obj([
        ("cycle", n(c.cycle)),
        ("start_ns", n(c.start_ns)),
        ("mark_ns", n(c.mark_ns)),
        ("flip_ns", n(c.flip_ns)),
        ("compaction_end_ns", opt_n(c.compaction_end_ns)),
        ("live_bytes", n(c.live_bytes)),
        ("bytes_moved", n(c.bytes_moved)),
        ("pages_by_gc", n(c.pages_by_gc)),
        ("pages_by_mutator", n(c.pages_by_mutator)),
    ])
}

fn curve(t: &Timeline) -> Value {
    Value::Arr(
        t.curve()
            .into_iter()
            .map(|(w, u)| Value::Arr(vec![n(w), Value::Num(u)]))
            .collect(),
    )
}

fn measured(m: &Measured) -> Vec<(String, Value)> {
    let mut v: Vec<(String, Value)> = vec![
        ("wall_ns".into(), n(m.wall_ns)),
        ("user_ns".into(), n(m.user_ns)),
        ("sys_ns".into(), n(m.sys_ns)),
        ("max_rss_bytes".into(), n(m.max_rss_bytes)),
        ("hiccups".into(), summary(&m.hiccup_summary())),
    ];
    let Some(st) = &m.stats else {
        return v;
    };
    v.push(("pauses".into(), summary(&m.pause_summary())));
    let by_kind = m
        .kinds()
        .into_iter()
        .map(|k| {
            let list = st
                .pauses
                .iter()
                .filter(|p| p.kind == k)
                .map(|p| Value::Arr(vec![n(p.start_ns), n(p.ns), n(p.ttsp_ns), n(p.cycle)]))
                .collect();
            let entry = obj([
                ("pauses", summary(&m.pauses(Some(&k)).summary())),
                ("ttsp", summary(&m.ttsp(Some(&k)).summary())),
                ("list_start_ns_ns_ttsp_ns_cycle", Value::Arr(list)),
            ]);
            (k, entry)
        })
        .collect();
    v.push(("by_kind".into(), Value::Obj(by_kind)));
    if let Some(t) = m.timeline() {
        v.push(("mmu_window_ns_utilization".into(), curve(&t)));
    }
    if let Some(t) = m.blocked_timeline() {
        v.push(("mmu_with_stalls_window_ns_utilization".into(), curve(&t)));
    }
    v.push((
        "allocation_stalls".into(),
        summary(&m.alloc_stalls().summary()),
    ));
    // Rebuilt from the collector's buckets: upper bounds (see stats.mutator_fault_stalls).
    v.push(("fault_stalls".into(), summary(&m.fault_stall_summary())));
    if !m.stalls.is_empty() {
        let list = m
            .stalls
            .iter()
            .map(|&(start, ns)| Value::Arr(vec![n(start), n(ns)]))
            .collect();
        v.push(("allocation_stall_list_start_ns_ns".into(), Value::Arr(list)));
    }
    v.push(("stats".into(), stats(st)));
    v
}

pub fn to_json(r: &Results) -> Value {
    let modes = r
        .modes
        .iter()
        .map(|m| {
            obj([
                ("label", s(&m.label)),
                ("engine", s(m.engine)),
                ("available", Value::Bool(m.unavailable.is_none())),
                ("reason", m.unavailable.as_deref().map_or(Value::Null, s)),
            ])
        })
        .collect();
    let workloads = r
        .workloads
        .iter()
        .map(|w| {
            obj([
                ("name", s(&w.name)),
                ("family", s(w.family.stem())),
                ("path", s(&w.path.display().to_string())),
                ("live_target_bytes", opt_n(w.live_target)),
                ("heap_max_bytes", opt_n(w.heap_max)),
                ("params", s(w.params.trim())),
            ])
        })
        .collect();
    let cals = r
        .calibrations
        .iter()
        .map(|(f, c)| {
            obj([
                ("family", s(f.stem())),
                ("bytes_per_unit", Value::Num(c.per_unit)),
                ("base_bytes", Value::Num(c.base)),
            ])
        })
        .collect();
    let runs = r
        .cells
        .iter()
        .map(|c| {
            let mut m: Vec<(String, Value)> = vec![
                ("workload".into(), s(&c.workload)),
                ("mode".into(), s(&c.mode)),
            ];
            match &c.outcome {
                Outcome::NotAvailable(why) => {
                    m.push(("status".into(), s("not_available")));
                    m.push(("reason".into(), s(why)));
                }
                Outcome::Failed(why) => {
                    m.push(("status".into(), s("failed")));
                    m.push(("reason".into(), s(why)));
                }
                Outcome::Done(x) => {
                    m.push(("status".into(), s("ok")));
                    m.extend(measured(x));
                }
            }
            Value::Obj(m)
        })
        .collect();
    let floor = super::hist::Durations::from_values(r.floor.iter().copied()).summary();
    obj([
        ("started", s(&r.started)),
        ("quick", Value::Bool(r.quick)),
        ("command", s(&r.command)),
        ("seconds", Value::Num(r.seconds)),
        (
            "machine",
            obj([
                ("cpu", s(&r.machine.cpu)),
                ("cores", n(r.machine.cores as u64)),
                ("mem_bytes", n(r.machine.mem_bytes)),
                ("kernel", s(&r.machine.kernel)),
                ("load_at_start", s(&r.machine.load)),
            ]),
        ),
        ("hiccup_floor", summary(&floor)),
        ("modes", Value::Arr(modes)),
        ("calibrations", Value::Arr(cals)),
        ("workloads", Value::Arr(workloads)),
        ("runs", Value::Arr(runs)),
    ])
}
