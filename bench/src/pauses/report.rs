//! `report.md`: the tables a reader of a pause benchmark looks for, rendered from [`Results`].
//! Times are in ms unless a column says otherwise; a dash is a figure that does not exist (no
//! pause of that kind, no clox run, a collector that does not report it).

use std::fmt::Write;

use super::cells::{Measured, Outcome};
use super::hist::{Durations, Summary};
use super::table::{fmt_mb, fmt_ms, fmt_pct, fmt_ratio, ratio, Table, DASH};
use super::workloads::{Family, MB};
use super::Results;

/// Done cells in report order: workloads as listed, modes as listed.
fn done(r: &Results) -> Vec<(&str, &str, &Measured)> {
    let mut out = Vec::new();
    for w in &r.workloads {
        for m in &r.modes {
            if let Some(Outcome::Done(x)) = r.cell(&w.name, &m.label).map(|c| &c.outcome) {
                out.push((w.name.as_str(), m.label.as_str(), x.as_ref()));
            }
        }
    }
    out
}

fn wall(r: &Results, workload: &str, mode: &str) -> Option<u64> {
    r.cell(workload, mode)
        .and_then(|c| c.measured())
        .map(|m| m.wall_ns)
}

fn pause_table(r: &Results) -> Table {
    let mut t = Table::new(
        &[
            "workload",
            "mode",
            "pauses",
            "p50",
            "p99",
            "p99.9",
            "max",
            "total",
            "MMU 10 ms",
            "MMU 100 ms",
            "MMU 100 ms with stalls",
            "hiccup p99",
            "hiccup max",
        ],
        2,
    );
    for (w, m, x) in done(r) {
        let h = x.hiccup_summary();
        if x.stats.is_none() {
            t.row(vec![
                w.into(),
                m.into(),
                "n/a".into(),
                DASH.into(),
                DASH.into(),
                DASH.into(),
                DASH.into(),
                DASH.into(),
                DASH.into(),
                DASH.into(),
                DASH.into(),
                fmt_ms(h.p99_ns),
                fmt_ms(h.max_ns),
            ]);
            continue;
        }
        let s = x.pause_summary();
        t.row(vec![
            w.into(),
            m.into(),
            s.count.to_string(),
            fmt_ms(s.p50_ns),
            fmt_ms(s.p99_ns),
            fmt_ms(s.p999_ns),
            fmt_ms(s.max_ns),
            fmt_ms(Some(s.total_ns)),
            fmt_pct(x.mmu(10_000_000)),
            fmt_pct(x.mmu(100_000_000)),
            fmt_pct(x.mmu_with_stalls(100_000_000)),
            fmt_ms(h.p99_ns),
            fmt_ms(h.max_ns),
        ]);
    }
    t
}

fn kind_table(r: &Results) -> Table {
    let mut t = Table::new(
        &[
            "workload", "mode", "kind", "pauses", "p50", "p99", "p99.9", "max", "TTSP p99",
            "TTSP max",
        ],
        3,
    );
    for (w, m, x) in done(r) {
        for k in x.kinds() {
            let s = x.pauses(Some(&k)).summary();
            let tt = x.ttsp(Some(&k)).summary();
            t.row(vec![
                w.into(),
                m.into(),
                k.clone(),
                s.count.to_string(),
                fmt_ms(s.p50_ns),
                fmt_ms(s.p99_ns),
                fmt_ms(s.p999_ns),
                fmt_ms(s.max_ns),
                fmt_ms(tt.p99_ns),
                fmt_ms(tt.max_ns),
            ]);
        }
    }
    t
}

fn stall_table(r: &Results) -> Table {
    let mut t = Table::new(
        &[
            "workload",
            "mode",
            "fault stalls",
            "p50",
            "p99",
            "p99.9",
            "max",
            "timed in",
            "alloc stalls",
            "alloc total",
            "alloc p99",
            "alloc max",
        ],
        2,
    );
    for (w, m, x) in done(r) {
        let Some(st) = &x.stats else { continue };
        let f = &st.mutator_fault_stalls;
        let hist = x.fault_stall_summary();
        // From the exported buckets when there are any; else the collector's own percentiles
        // (an older lox: no p99.9). The max is always the collector's exact one.
        let (fp50, fp99, fp999, fmax) = if f.count == 0 {
            (None, None, None, None)
        } else if hist.count > 0 {
            (hist.p50_ns, hist.p99_ns, hist.p999_ns, Some(f.max_ns))
        } else {
            (Some(f.p50_ns), Some(f.p99_ns), None, Some(f.max_ns))
        };
        let a = &st.allocation_stalls;
        let listed = x.alloc_stalls().summary();
        t.row(vec![
            w.into(),
            m.into(),
            f.count.to_string(),
            fmt_ms(fp50),
            fmt_ms(fp99),
            fmt_ms(fp999),
            fmt_ms(fmax),
            if f.count > 0 {
                f.timed_in.replace('_', " ")
            } else {
                DASH.into()
            },
            a.count.to_string(),
            fmt_ms(Some(a.total_ns)),
            fmt_ms(listed.p99_ns),
            fmt_ms((a.count > 0).then_some(a.max_ns)),
        ]);
    }
    t
}

/// Per-cycle figures: how long compaction ran after the flip and who compacted the pages.
fn cycle_table(r: &Results) -> Table {
    let mut t = Table::new(
        &[
            "workload",
            "mode",
            "cycles listed",
            "compaction p50",
            "compaction max",
            "pages by GC",
            "pages by mutator",
            "by mutator",
        ],
        2,
    );
    for (w, m, x) in done(r) {
        let Some(st) = &x.stats else { continue };
        if st.cycles_detail.is_empty() {
            continue;
        }
        let spans = Durations::from_values(
            st.cycles_detail
                .iter()
                .filter_map(|c| c.compaction_span())
                .map(|(a, b)| b - a),
        )
        .summary();
        let gc: u64 = st.cycles_detail.iter().map(|c| c.pages_by_gc).sum();
        let mutator: u64 = st.cycles_detail.iter().map(|c| c.pages_by_mutator).sum();
        let listed = st.cycles_detail.len() as u64;
        t.row(vec![
            w.into(),
            m.into(),
            if st.cycles_dropped > 0 {
                format!("{listed} of {}", listed + st.cycles_dropped)
            } else {
                listed.to_string()
            },
            fmt_ms(spans.p50_ns),
            fmt_ms(spans.max_ns),
            gc.to_string(),
            mutator.to_string(),
            fmt_pct((gc + mutator > 0).then(|| mutator as f64 / (gc + mutator) as f64)),
        ]);
    }
    t
}

fn cost_table(r: &Results) -> Table {
    let mut t = Table::new(
        &[
            "workload",
            "mode",
            "wall s",
            "time / stw",
            "time / clox",
            "CPU s",
            "GC CPU s",
            "cycles",
            "MB moved",
            "live MB",
            "peak heap MB",
            "peak RSS MB",
        ],
        2,
    );
    for (w, m, x) in done(r) {
        let st = x.stats.as_ref();
        let wl = Some(x.wall_ns);
        t.row(vec![
            w.into(),
            m.into(),
            format!("{:.2}", x.wall_ns as f64 / 1e9),
            fmt_ratio(ratio(wl, wall(r, w, "stw"))),
            fmt_ratio(ratio(wl, wall(r, w, "clox"))),
            format!("{:.2}", (x.user_ns + x.sys_ns) as f64 / 1e9),
            st.filter(|_| x.has_gc_cpu).map_or_else(
                || DASH.into(),
                |s| format!("{:.2}", s.gc_cpu_ns as f64 / 1e9),
            ),
            st.map_or_else(|| DASH.into(), |s| s.cycles.to_string()),
            st.filter(|_| x.has_gc_cpu)
                .map_or_else(|| DASH.into(), |s| fmt_mb(Some(s.bytes_moved))),
            // A JVM's live size is the one it was sized for, not a measurement.
            st.map_or_else(
                || DASH.into(),
                |s| {
                    let mb = fmt_mb(Some(s.last_live_bytes));
                    if x.has_gc_cpu {
                        mb
                    } else {
                        format!("≈{mb}")
                    }
                },
            ),
            st.filter(|_| x.has_gc_cpu)
                .map_or_else(|| DASH.into(), |s| fmt_mb(Some(s.peak_heap_bytes))),
            fmt_mb(Some(x.max_rss_bytes)),
        ]);
    }
    t
}

/// Max and p99 per (mode, kind) at each GCBench size, and the largest/smallest ratio: the
/// flatness claim (a pause that does not grow with the heap).
fn flatness_table(r: &Results) -> Option<Table> {
    let sizes: Vec<(&str, u64)> = r
        .workloads
        .iter()
        .filter(|w| w.family == Family::GcBench)
        .filter_map(|w| w.live_target.map(|l| (w.name.as_str(), l)))
        .collect();
    if sizes.len() < 2 {
        return None;
    }
    let mut header: Vec<String> = vec!["mode".into(), "kind".into(), "figure".into()];
    header.extend(sizes.iter().map(|(_, l)| format!("{} MB", l / MB)));
    let (small, large) = (sizes[0], sizes[sizes.len() - 1]);
    header.push(format!("{} MB / {} MB", large.1 / MB, small.1 / MB));
    let hdr: Vec<&str> = header.iter().map(String::as_str).collect();
    let mut t = Table::new(&hdr, 3);
    for m in &r.modes {
        // Our modes by pause kind; a JVM (a dozen safepoint kinds) as all its safepoints.
        let mut kinds: Vec<Option<String>> = Vec::new();
        if m.engine == "jvm" {
            kinds.push(None);
        } else {
            for (w, _) in &sizes {
                if let Some(x) = r.cell(w, &m.label).and_then(|c| c.measured()) {
                    for k in x.kinds() {
                        if !kinds.contains(&Some(k.clone())) {
                            kinds.push(Some(k));
                        }
                    }
                }
            }
        }
        for k in kinds {
            let summaries = |work: bool| -> Vec<Summary> {
                sizes
                    .iter()
                    .map(|(w, _)| {
                        r.cell(w, &m.label)
                            .and_then(|c| c.measured())
                            .filter(|x| x.stats.is_some())
                            .map_or_else(Summary::default, |x| {
                                if work {
                                    x.work(k.as_deref()).summary()
                                } else {
                                    x.pauses(k.as_deref()).summary()
                                }
                            })
                    })
                    .collect()
            };
            let (per, work) = (summaries(false), summaries(true));
            if per.iter().all(|s| s.count == 0) {
                continue;
            }
            let k = k.unwrap_or_else(|| "all safepoints".into());
            type Pick = fn(&Summary) -> Option<u64>;
            let rows: [(&str, &Vec<Summary>, Pick); 4] = [
                ("p50", &per, |s| s.p50_ns),
                ("p99", &per, |s| s.p99_ns),
                ("max", &per, |s| s.max_ns),
                ("work p99", &work, |s| s.p99_ns),
            ];
            for (label, per, pick) in rows {
                if m.engine == "jvm" && label == "work p99" {
                    continue;
                }
                let mut row = vec![m.label.clone(), k.clone(), label.to_string()];
                row.extend(per.iter().map(|s| fmt_ms(pick(s))));
                row.push(fmt_ratio(ratio(pick(&per[per.len() - 1]), pick(&per[0]))));
                t.row(row);
            }
        }
    }
    (!t.is_empty()).then_some(t)
}

fn live_table(r: &Results) -> Table {
    let mut t = Table::new(
        &[
            "workload",
            "parameters",
            "asked MB",
            "last live MB (stw)",
            "peak heap MB (stw)",
        ],
        2,
    );
    for w in r.workloads.iter().filter(|w| w.live_target.is_some()) {
        let st = r
            .cell(&w.name, "stw")
            .and_then(|c| c.measured())
            .and_then(|m| m.stats.as_ref());
        t.row(vec![
            w.name.clone(),
            format!("`{}`", w.params.trim()),
            fmt_mb(w.live_target),
            fmt_mb(st.map(|s| s.last_live_bytes)),
            fmt_mb(st.map(|s| s.peak_heap_bytes)),
        ]);
    }
    t
}

fn section(o: &mut String, title: &str, intro: &str, t: &Table) {
    if t.is_empty() {
        return;
    }
    let _ = write!(o, "\n## {title}\n\n");
    if !intro.is_empty() {
        let _ = write!(o, "{intro}\n\n");
    }
    o.push_str(&t.render());
}

pub fn render(r: &Results, plots: &[String]) -> String {
    let mut o = String::new();
    let floor = Durations::from_values(r.floor.iter().copied()).summary();
    let _ = write!(
        o,
        "# GC pause benchmark\n\n\
         `{}` — {}{}, {:.0} s.\n\n\
         **Machine:** {} — {}. **Hiccup floor** (a thread sleeping 1 ms in a loop, alone before \
         the runs; the oversleep is the machine's own noise): p50 {} ms, p99 {} ms, max {} ms \
         over {} sleeps.\n",
        r.command,
        r.started,
        if r.quick { " (quick)" } else { "" },
        r.seconds,
        r.machine.cpu,
        r.machine.summary(),
        fmt_ms(floor.p50_ns),
        fmt_ms(floor.p99_ns),
        fmt_ms(floor.max_ns),
        floor.count
    );
    o.push_str("\n## Modes\n\n");
    for m in &r.modes {
        let _ = match &m.unavailable {
            None => writeln!(o, "- `{}` ({}): measured", m.label, m.engine),
            Some(why) => writeln!(
                o,
                "- `{}` ({}): **not available in this build** — {}",
                m.label, m.engine, why
            ),
        };
    }
    let fallbacks: Vec<String> = r
        .cells
        .iter()
        .filter_map(|c| {
            let why = c.measured()?.stats.as_ref()?.fallback_reason.as_ref()?;
            Some(format!(
                "- {} / {}: the collector fell back — {why}",
                c.workload, c.mode
            ))
        })
        .collect();
    if !fallbacks.is_empty() {
        o.push('\n');
        o.push_str(&fallbacks.join("\n"));
        o.push('\n');
    }
    if r.modes.iter().any(|m| m.engine == "clox") {
        o.push_str(
            "\nclox's collector is a stop-the-world mark-sweep that reports nothing: its pauses \
             cannot be seen from outside, only its wall time, CPU time and peak RSS (n/a in the \
             pause tables).\n",
        );
    }
    if r.modes.iter().any(|m| m.engine == "jvm") {
        o.push_str(
            "\nJVM pauses are the safepoints of `-Xlog:safepoint` (every stop of the Java threads, \
             named by VM operation); see the end of this report for how the comparison is made.\n",
        );
    }
    section(
        &mut o,
        "Pauses (all kinds)",
        "Times in ms. MMU: minimum mutator utilization, the smallest share of any window of that \
         length left to the program; \"with stalls\" also counts allocation stalls as lost time \
         (– where the collector counted stalls it did not list with their times). Hiccup: oversleep of the \
         1 ms meter thread during the run.",
        &pause_table(r),
    );
    section(
        &mut o,
        "Pauses by kind",
        "`stw` is a whole stop-the-world cycle. In concurrent mode: `initial` greys the roots and \
         turns the write barrier on, `remark` takes the barrier buffer and finishes marking \
         (within a budget; a cycle may take several), `flip` moves the heap aside before \
         concurrent compaction; marking itself runs beside the program. TTSP: time to \
         safepoint, part of the pause (the rest is the pause's work).",
        &kind_table(r),
    );
    if let Some(t) = flatness_table(r) {
        section(
            &mut o,
            "Pause against live heap size (GCBench)",
            "The goal: every concurrent pause ≤ 1 ms at every size, and flat: the p99 of pause \
             work (pause minus time to safepoint) at the largest heap within 1.25× (or 0.1 ms) \
             of the smallest's. Stop-the-world cycles grow with the heap.",
            &t,
        );
    }
    o.push_str(&super::threads_report::section(r));
    section(
        &mut o,
        "Stalls",
        "Fault stalls: a mutator waiting on a page not yet compacted (timed where the stats say). \
         The collector records them into a fixed histogram (the SIGBUS handler cannot allocate) \
         of log-linear buckets at most 12.5% wide; the harness records each bucket's count at \
         the bucket's upper bound (capped at the exact max) into an HDR histogram, so p50, p99 \
         and p99.9 are upper bounds, up to 12.5% above the true value; the max is exact. \
         Allocation stalls: a mutator waiting for the collector to free memory; total and max \
         cover every stall, p99 the ones listed (ms).",
        &stall_table(r),
    );
    section(
        &mut o,
        "Cycles",
        "Compaction: from the end of a cycle's flip to the end of its compaction, in ms — beside \
         the running program in concurrent mode, inside the pause in stop-the-world mode. Pages \
         compacted by the GC (thread) and by mutators resolving their own faults.",
        &cycle_table(r),
    );
    section(
        &mut o,
        "Cost",
        "Time ratios are wall-time ratios (lower is faster). CPU s is user + system time of the \
         whole process; GC CPU s is what the collector reports for itself.",
        &cost_table(r),
    );
    section(
        &mut o,
        "Live heap of the generated programs",
        "Sized from a calibration run (bytes per node measured with `--gc stw`), run with \
         `--heap-max` 3× the live size.",
        &live_table(r),
    );
    let failures: Vec<String> = r
        .cells
        .iter()
        .filter_map(|c| match &c.outcome {
            Outcome::Failed(why) => Some(format!("- {} / {}: {why}", c.workload, c.mode)),
            Outcome::NotAvailable(why) if r.available(&c.mode) => {
                Some(format!("- {} / {}: not run — {why}", c.workload, c.mode))
            }
            _ => None,
        })
        .collect();
    if !failures.is_empty() {
        o.push_str("\n## Runs that did not complete\n\n");
        o.push_str(&failures.join("\n"));
        o.push('\n');
    }
    if r.modes.iter().any(|m| m.engine == "jvm") {
        o.push_str(JVM_NOTE);
    }
    if !plots.is_empty() {
        o.push_str("\n## Plots\n\n");
        for p in plots {
            let _ = writeln!(o, "- [{p}]({p})");
        }
        o.push_str(PLOT_NOTE);
    }
    o
}

const JVM_NOTE: &str = "
## How the JVM comparison is made

`bench/java/GCBench.java` is the same program as `bench/lox/gcbench.lox`: the same chain of \
depth-12 trees kept alive, the same churn of depth 4–10 trees built alternately top-down and \
bottom-up, as many bytes of them as the Lox run (four times the live size, at least 1 GiB). It runs on the installed JDK under each \
collector with a fixed heap (`-Xms` = `-Xmx` = 3× the live size) and default settings otherwise. \
The live size is the same number of **bytes**, not of objects: a JVM node is 24 bytes (32 under \
ZGC, which has no compressed pointers in JDK 17), a Lox node about 165, so the JVM traces about \
seven times as many objects per MB. Its pauses are all safepoints from `-Xlog:safepoint` (start = \
log stamp − total), its allocation stalls those ZGC logs in `-Xlog:gc`; Shenandoah's pacing delays \
and G1's or Parallel's are not logged as stalls (their allocation failures show as pauses). JIT \
compilation makes the JVM's wall time incomparable with an interpreter's: the time ratios are \
shown for completeness only; the pauses, stalls and MMU are the comparison.
";

const PLOT_NOTE: &str = "
How to read them: **percentiles-*.svg** plots the pause time (ms) at each percentile, one \
line per mode and pause kind (one per JVM collector), the pause axis logarithmic; the x axis is \
logarithmic in the tail (90, 99, 99.9 ...; the last mark is the max), so a flat line is a \
collector whose worst pauses are like its typical ones. **max-pause-vs-live.svg** plots the \
longest pause of each kind against the live heap (both axes logarithmic): a flat line is a pause \
independent of heap size, a line of slope 1 a pause proportional to it. **pauses-vs-threads.svg** \
plots pause p99 and max and time-to-safepoint p99 (dashed) of the threads axis against the number \
of Lox threads, one colour per mode. **fault-stalls-*.svg** \
plots mutator fault stalls by percentile, one line per mode that had any, on the same axes as \
the pause percentiles; the points are bucket upper bounds (at most 12.5% above the true value) \
and the last mark the exact max. **timeline-*.svg** shows every pause of our collector's runs at \
the time it happened (colour: mode; marker shape: pause kind) and, below, one row per mode: its \
pauses (solid) and each cycle's compaction from the end of its flip to the end of compaction \
(light) — concurrent compaction running beside the program, or inside the pause in \
stop-the-world mode. **mmu-*.svg** plots minimum mutator utilization against window length; a \
dashed line counts allocation stalls as lost time too.
";

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// Two workloads under stw, concurrent (with `mark` and `flip` pauses) and clox; one
    /// mode not available, one run failed.
    pub(in crate::pauses) fn sample_results() -> Results {
        use super::super::cells::{Cell, Measured, Outcome};
        use super::super::gcstats::{GcStats, Pause};
        use super::super::workloads::{Family, Workload};
        use super::super::ModeStatus;
        let w = |name: &str, live: u64| Workload {
            name: name.into(),
            family: Family::GcBench,
            path: format!("/x/{name}.lox").into(),
            live_target: Some(live),
            heap_max: Some(3 * live),
            params: "var LIVE_NODES = 1;".into(),
            threads: None,
        };
        let stats = |kinds: &[(&str, u64)]| {
            // Field by field: the collector's type keeps private bookkeeping.
            let mut s = GcStats::default();
            s.collector = "stw".into();
            s.cycles = kinds.len() as u64;
            s.last_live_bytes = 16 * MB;
            s.pauses = kinds
                .iter()
                .enumerate()
                .map(|(i, &(k, ns))| Pause {
                    kind: k.into(),
                    start_ns: i as u64 * 100_000_000,
                    ns,
                    ttsp_ns: 0,
                    cycle: i as u64 + 1,
                })
                .collect();
            s
        };
        let run = |kinds: &[(&str, u64)], wall_ns: u64| {
            Outcome::Done(Box::new(Measured {
                wall_ns,
                user_ns: wall_ns,
                sys_ns: 0,
                max_rss_bytes: 50 * MB,
                stats: Some(stats(kinds)),
                hiccups: vec![50_000, 70_000],
                has_gc_cpu: true,
                stalls: vec![],
            }))
        };
        let mode = |label: &str, engine: &'static str, why: Option<&str>| ModeStatus {
            label: label.into(),
            engine,
            unavailable: why.map(str::to_string),
        };
        let cell = |w: &str, m: &str, outcome| Cell {
            workload: w.into(),
            mode: m.into(),
            outcome,
        };
        let clox = Outcome::Done(Box::new(Measured {
            wall_ns: 2_000_000_000,
            user_ns: 0,
            sys_ns: 0,
            max_rss_bytes: MB,
            stats: None,
            hiccups: vec![],
            has_gc_cpu: false,
            stalls: vec![],
        }));
        Results {
            started: "today".into(),
            quick: true,
            command: "bench pauses".into(),
            machine: Default::default(),
            floor: vec![10_000, 20_000],
            modes: vec![
                mode("stw", "lox", None),
                mode("concurrent-sigbus", "lox", None),
                mode("concurrent-thread", "lox", Some("no uffd")),
                mode("clox", "clox", None),
            ],
            workloads: vec![w("gcbench_16mb", 16 * MB), w("gcbench_64mb", 64 * MB)],
            calibrations: vec![],
            cells: vec![
                cell(
                    "gcbench_16mb",
                    "stw",
                    run(&[("stw", 20_000_000)], 1_000_000_000),
                ),
                cell(
                    "gcbench_16mb",
                    "concurrent-sigbus",
                    run(&[("mark", 9_000_000), ("flip", 500_000)], 1_100_000_000),
                ),
                cell("gcbench_16mb", "clox", clox),
                cell(
                    "gcbench_64mb",
                    "stw",
                    run(&[("stw", 80_000_000)], 3_000_000_000),
                ),
                cell(
                    "gcbench_64mb",
                    "concurrent-sigbus",
                    run(&[("mark", 30_000_000), ("flip", 600_000)], 3_000_000_000),
                ),
                cell("gcbench_64mb", "clox", Outcome::Failed("boom".into())),
            ],
            seconds: 12.0,
            threads_unavailable: None,
        }
    }

    #[test]
    fn report_tables_are_well_formed() {
        let text = render(&sample_results(), &["a.svg".to_string()]);
        // Every row of a table has as many cells as its header.
        let mut width = None;
        for line in text.lines() {
            if !line.starts_with('|') {
                width = None;
                continue;
            }
            let cells = line.replace("\\|", "").matches('|').count();
            match width {
                None => width = Some(cells),
                Some(w) => assert_eq!(w, cells, "ragged row: {line}"),
            }
        }
        assert!(
            text.contains("`concurrent-thread` (lox): **not available in this build** — no uffd")
        );
        assert!(text.contains("| gcbench_16mb | concurrent-sigbus | flip | 1 |"));
        assert!(text.contains("- gcbench_64mb / clox: boom"));
        // Flatness: the flip pause grew from 0.5 to 0.6 ms, 1.20x.
        assert!(text.contains("| concurrent-sigbus | flip | max | 0.500 | 0.600 | 1.20× |"));
        assert!(text.contains("| concurrent-sigbus | flip | work p99 |"));
        // The clox row has no pause figures but a time ratio: stw took 1 s against clox's 2 s.
        assert!(text.contains("| gcbench_16mb | clox | n/a |"));
        assert!(text.contains("| gcbench_16mb | stw | 1.00 | 1.00× | 0.50× |"));
        assert!(text.contains("[a.svg](a.svg)"));
        assert!(!text.contains("How the JVM comparison"));
    }

    #[test]
    fn stalls_and_cycles_reach_the_report() {
        use super::super::gcstats::{Stall, StallSummary};
        use gc::stats::{CycleRecord, FaultStalls};
        let mut r = sample_results();
        let before = render(&r, &[]);
        // Without stalls the two MMU columns agree (the mark pause fills 9 of the worst 100 ms).
        assert!(before.contains("| 91.0% | 91.0% |"), "{before}");
        let c = r
            .cells
            .iter_mut()
            .find(|c| c.workload == "gcbench_16mb" && c.mode == "concurrent-sigbus")
            .unwrap();
        let Outcome::Done(x) = &mut c.outcome else {
            panic!("sample cell not done")
        };
        // A 20 ms stall right after the 9 ms mark pause.
        x.stalls = vec![(10_000_000, 20_000_000)];
        let st = x.stats.as_mut().unwrap();
        st.allocation_stalls = StallSummary {
            count: 1,
            total_ns: 20_000_000,
            max_ns: 20_000_000,
            list: vec![Stall {
                start_ns: 10_000_000,
                ns: 20_000_000,
            }],
            dropped: 0,
        };
        st.mutator_fault_stalls = FaultStalls {
            count: 10,
            max_ns: 150_000,
            buckets: vec![(12_287, 9), (163_839, 1)],
            timed_in: "faulting_thread".into(),
            ..FaultStalls::default()
        };
        st.cycles_detail = vec![CycleRecord {
            cycle: 1,
            start_ns: 0,
            mark_ns: 9_000_000,
            flip_ns: 500_000,
            compaction_end_ns: Some(29_500_000),
            pages_by_gc: 30,
            pages_by_mutator: 10,
            ..CycleRecord::default()
        }];
        let text = render(&r, &[]);
        assert!(text.contains("| 91.0% | 71.0% |"), "{text}");
        // Fault stalls from the buckets (the top one at the exact max), allocation stalls.
        assert!(
            text.contains(
                "| gcbench_16mb | concurrent-sigbus | 10 | 0.012 | 0.150 | 0.150 | 0.150 | \
                 faulting thread | 1 | 20.0 | 20.0 | 20.0 |"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "| gcbench_16mb | concurrent-sigbus | 1 | 20.0 | 20.0 | 30 | 10 | 25.0% |"
            ),
            "{text}"
        );
    }
}
