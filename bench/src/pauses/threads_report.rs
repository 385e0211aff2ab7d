//! The threads axis in the report, in `results.json` and in a plot: per mode and thread count,
//! every pause (all kinds) at p50/p99/max, time to safepoint at p50/p99/max, the fault stalls
//! of all threads (count, p50, p99), and throughput (wall time per node of work, and the
//! speed-up over one thread). The runs themselves are ordinary cells (`threads.rs`).

use std::path::Path;

use plotters::prelude::*;
use serde::Serialize;

use super::cells::Measured;
use super::hist::Summary;
use super::plots::{color, Plotted};
use super::table::{fmt_ms, fmt_ratio, Table, DASH};
use super::workloads::MB;
use super::Results;

/// One measured run of the axis.
pub struct Point<'a> {
    pub mode: &'a str,
    pub threads: u32,
    pub workload: &'a str,
    pub work_nodes: u64,
    pub measured: &'a Measured,
}

/// The axis's runs that finished with the collector's statistics, by mode (report order),
/// then thread count.
pub fn points(r: &Results) -> Vec<Point<'_>> {
    let mut out = Vec::new();
    for m in &r.modes {
        let mut row: Vec<Point<'_>> = r
            .workloads
            .iter()
            .filter_map(|w| {
                let share = w.threads?;
                let x = r.cell(&w.name, &m.label)?.measured()?;
                x.stats.as_ref()?;
                Some(Point {
                    mode: m.label.as_str(),
                    threads: share.threads,
                    workload: w.name.as_str(),
                    work_nodes: share.work_nodes,
                    measured: x,
                })
            })
            .collect();
        row.sort_by_key(|p| p.threads);
        out.extend(row);
    }
    out
}

/// A point's figures, as `results.json` holds them (`threads_axis`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Entry {
    pub mode: String,
    pub threads: u32,
    pub workload: String,
    /// Every pause, all kinds.
    pub pauses: Summary,
    /// Time to safepoint of every pause: from the request to the last thread stopped.
    pub ttsp: Summary,
    /// All threads' fault stalls, rebuilt from the collector's buckets (upper bounds).
    pub fault_stalls: Summary,
    pub wall_ns: u64,
    pub work_nodes: u64,
    /// Wall time per node of work.
    pub ns_per_node: Option<f64>,
    /// Wall time of the one-thread run of the same mode over this one's.
    pub speedup: Option<f64>,
}

pub fn entries(r: &Results) -> Vec<Entry> {
    let pts = points(r);
    pts.iter()
        .map(|p| {
            let x = p.measured;
            let one = pts
                .iter()
                .find(|q| q.mode == p.mode && q.threads == 1)
                .map(|q| q.measured.wall_ns);
            Entry {
                mode: p.mode.to_string(),
                threads: p.threads,
                workload: p.workload.to_string(),
                pauses: x.pause_summary(),
                ttsp: x.ttsp(None).summary(),
                fault_stalls: x.fault_stall_summary(),
                wall_ns: x.wall_ns,
                work_nodes: p.work_nodes,
                ns_per_node: (p.work_nodes > 0).then(|| x.wall_ns as f64 / p.work_nodes as f64),
                speedup: one
                    .filter(|_| x.wall_ns > 0)
                    .map(|o| o as f64 / x.wall_ns as f64),
            }
        })
        .collect()
}

pub fn table(r: &Results) -> Table {
    let mut t = Table::new(
        &[
            "mode",
            "threads",
            "pauses",
            "p50",
            "p99",
            "max",
            "TTSP p50",
            "TTSP p99",
            "TTSP max",
            "fault stalls",
            "fault p50",
            "fault p99",
            "wall s",
            "ns / node",
            "speed-up",
        ],
        2,
    );
    for e in entries(r) {
        let f = &e.fault_stalls;
        let stalled = |v: Option<u64>| if f.count > 0 { fmt_ms(v) } else { DASH.into() };
        t.row(vec![
            e.mode.clone(),
            e.threads.to_string(),
            e.pauses.count.to_string(),
            fmt_ms(e.pauses.p50_ns),
            fmt_ms(e.pauses.p99_ns),
            fmt_ms(e.pauses.max_ns),
            fmt_ms(e.ttsp.p50_ns),
            fmt_ms(e.ttsp.p99_ns),
            fmt_ms(e.ttsp.max_ns),
            f.count.to_string(),
            stalled(f.p50_ns),
            stalled(f.p99_ns),
            format!("{:.2}", e.wall_ns as f64 / 1e9),
            e.ns_per_node
                .map_or_else(|| DASH.into(), |v| format!("{v:.1}")),
            fmt_ratio(e.speedup),
        ]);
    }
    t
}

/// The report's section on the axis: its table, or why it did not run.
pub fn section(r: &Results) -> String {
    let title = format!(
        "Threads (GCBench, {} MB live in all)",
        super::threads::LIVE / MB
    );
    if let Some(why) = &r.threads_unavailable {
        return format!("\n## {title}\n\nNot available in this build: {why}\n");
    }
    let t = table(r);
    if t.is_empty() {
        return String::new();
    }
    format!(
        "\n## {title}\n\n\
         GCBench's work split over N Lox threads (`bench/lox/gcbench_threads.lox`): each thread \
         keeps its share of the long-lived trees and churns its share of the short-lived ones; \
         the main script waits in `join`. Times in ms. Pauses: every pause, all kinds. TTSP: \
         time to safepoint, from the pause request to the last thread stopped (part of the \
         pause). Fault stalls: all threads' together, bucket upper bounds. ns / node: wall time \
         per node allocated (lower is faster); speed-up: wall time with 1 thread over wall time \
         with N, same mode. The goal: pause p99 ≤ 1 ms with 2 threads; with more runnable \
         threads than cores, a descheduled thread makes the time to safepoint long.\n\n{}",
        t.render()
    )
}

/// One line of the plot: one figure of one mode against the thread count.
struct Line {
    label: String,
    mode: usize,
    /// Index into the plot's figures: the marker and the dash.
    figure: usize,
    /// (log2 of the thread count, ms).
    pts: Vec<(f64, f64)>,
}

/// `pauses-vs-threads.svg`: pause p99 and max and time-to-safepoint p99 against the thread
/// count, one colour per mode.
pub fn plot(r: &Results, path: &Path) -> Plotted {
    type Pick = fn(&Entry) -> Option<u64>;
    const FIGURES: [(&str, Pick); 3] = [
        ("pause p99", |e| e.pauses.p99_ns),
        ("pause max", |e| e.pauses.max_ns),
        ("TTSP p99", |e| e.ttsp.p99_ns),
    ];
    let entries = entries(r);
    let mut modes: Vec<&str> = Vec::new();
    for e in &entries {
        if !modes.contains(&e.mode.as_str()) {
            modes.push(&e.mode);
        }
    }
    let mut series: Vec<Line> = Vec::new();
    for (mi, m) in modes.iter().enumerate() {
        for (fi, (name, pick)) in FIGURES.iter().enumerate() {
            let pts: Vec<(f64, f64)> = entries
                .iter()
                .filter(|e| e.mode == *m)
                // A log axis has no zero (stop-the-world mode records no time to safepoint).
                .filter_map(|e| {
                    let ns = pick(e).filter(|&ns| ns > 0)?;
                    Some((f64::from(e.threads).log2(), ns as f64 / 1e6))
                })
                .collect();
            if !pts.is_empty() {
                series.push(Line {
                    label: format!("{m} / {name}"),
                    mode: mi,
                    figure: fi,
                    pts,
                });
            }
        }
    }
    let xs = || series.iter().flat_map(|s| s.pts.iter().map(|p| p.0));
    if series.is_empty() || xs().fold(0.0, f64::max) <= 0.0 {
        return Ok(false);
    }
    let ys = || series.iter().flat_map(|s| s.pts.iter().map(|p| p.1));
    let (xmin, xmax) = (
        xs().fold(f64::INFINITY, f64::min) - 0.3,
        xs().fold(0.0, f64::max) + 0.3,
    );
    // Headroom above the data (two decades on the log axis) keeps the legend off the lines.
    let ymin = ys().fold(f64::INFINITY, f64::min) / 2.0;
    let ymax = ys().fold(0.0, f64::max) * 100.0;
    let root = SVGBackend::new(path, (960, 600)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "Pauses and time to safepoint against Lox threads (GCBench)",
            ("sans-serif", 22),
        )
        .margin(15)
        .margin_right(40)
        .x_label_area_size(45)
        .y_label_area_size(70)
        .build_cartesian_2d(xmin..xmax, (ymin..ymax).log_scale())?;
    chart
        .configure_mesh()
        .x_labels(((xmax - xmin).ceil() as usize + 1).max(2))
        .x_label_formatter(&|x| {
            if (x - x.round()).abs() < 1e-6 && *x >= 0.0 {
                format!("{:.0}", 2f64.powf(x.round()))
            } else {
                String::new()
            }
        })
        .x_desc("Lox threads (log scale); solid: pauses, dashed: time to safepoint")
        .y_desc("ms (log scale)")
        .draw()?;
    for Line {
        label,
        mode,
        figure,
        pts,
    } in &series
    {
        let c = color(*mode);
        let style = c.stroke_width(2);
        let line = if *figure == 2 {
            chart.draw_series(DashedLineSeries::new(pts.iter().copied(), 6, 4, style))?
        } else {
            chart.draw_series(LineSeries::new(pts.iter().copied(), style))?
        };
        line.label(label.as_str())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
        let figure = *figure;
        chart.draw_series(
            pts.iter()
                .map(move |&p| -> DynElement<SVGBackend, (f64, f64)> {
                    match figure {
                        0 => Circle::new(p, 4, c.filled()).into_dyn(),
                        1 => TriangleMarker::new(p, 5, c.filled()).into_dyn(),
                        _ => Cross::new(p, 4, c.stroke_width(2)).into_dyn(),
                    }
                }),
        )?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pauses::cells::{Cell, Outcome};
    use crate::pauses::workloads::{Family, ThreadShare, Workload};
    use crate::pauses::{gcstats, report};

    /// A `--gc-stats` file as `lox` writes it for one concurrent cycle, every pause waiting
    /// `ttsp_us` for the last thread, 100 fault stalls of all threads.
    fn concurrent_stats(ttsp_us: u64) -> String {
        format!(
            r#"{{"collector":"concurrent","fault_mode":"sigbus","cycles":1,
              "pauses":[{{"kind":"initial","start_ns":1000000,"ns":120000,"ttsp_ns":{t},"cycle":1}},
                        {{"kind":"remark","start_ns":5000000,"ns":80000,"ttsp_ns":{t},"cycle":1}},
                        {{"kind":"flip","start_ns":9000000,"ns":400000,"ttsp_ns":{t},"cycle":1}}],
              "mutator_fault_stalls":{{"count":100,"p50_ns":2000,"p90_ns":2000,"p99_ns":12000,
                                      "max_ns":12000,"total_ns":300000,
                                      "measured_in":"faulting_thread",
                                      "buckets":[[2047,90],[12287,10]]}}}}"#,
            t = ttsp_us * 1000
        )
    }

    const STW_STATS: &str = r#"{"collector":"stw","cycles":1,
        "pauses":[{"kind":"stw","start_ns":1000000,"ns":20000000,"ttsp_ns":0,"cycle":1}]}"#;

    fn done(stats: &str, wall_ns: u64) -> Outcome {
        Outcome::Done(Box::new(Measured {
            wall_ns,
            user_ns: wall_ns,
            sys_ns: 0,
            max_rss_bytes: 0,
            stats: Some(gcstats::parse(stats).unwrap()),
            hiccups: vec![],
            has_gc_cpu: true,
            stalls: vec![],
        }))
    }

    /// The report's sample plus the threads axis at 1 and 2 threads (one run failed).
    fn with_axis() -> Results {
        let mut r = report::tests::sample_results();
        for t in [2, 1] {
            r.workloads.push(Workload {
                name: format!("gcbench_16mb_t{t}"),
                family: Family::GcBenchThreads,
                path: format!("/x/t{t}.lox").into(),
                live_target: Some(16 * MB),
                heap_max: Some(48 * MB),
                params: format!("var THREADS = {t};"),
                threads: Some(ThreadShare {
                    threads: t,
                    work_nodes: 1_000_000,
                }),
            });
        }
        let cell = |w: &str, m: &str, outcome| Cell {
            workload: w.into(),
            mode: m.into(),
            outcome,
        };
        r.cells.extend([
            cell("gcbench_16mb_t1", "stw", done(STW_STATS, 3_000_000_000)),
            cell(
                "gcbench_16mb_t1",
                "concurrent-sigbus",
                done(&concurrent_stats(50), 2_000_000_000),
            ),
            cell("gcbench_16mb_t2", "stw", Outcome::Failed("boom".into())),
            cell(
                "gcbench_16mb_t2",
                "concurrent-sigbus",
                done(&concurrent_stats(300), 1_250_000_000),
            ),
        ]);
        r
    }

    #[test]
    fn one_row_per_mode_and_thread_count() {
        let r = with_axis();
        let text = table(&r).render();
        let rows: Vec<&str> = text.lines().skip(2).collect();
        assert_eq!(
            rows,
            [
                "| stw | 1 | 1 | 20.0 | 20.0 | 20.0 | 0 | 0 | 0 | 0 | – | – | 3.00 | 3000.0 | 1.00× |",
                "| concurrent-sigbus | 1 | 3 | 0.120 | 0.400 | 0.400 | 0.050 | 0.050 | 0.050 | 100 \
                 | 0.0020 | 0.012 | 2.00 | 2000.0 | 1.00× |",
                "| concurrent-sigbus | 2 | 3 | 0.120 | 0.400 | 0.400 | 0.300 | 0.300 | 0.300 | 100 \
                 | 0.0020 | 0.012 | 1.25 | 1250.0 | 1.60× |",
            ]
        );
        // Into the report, after the live-size axis.
        let full = report::render(&r, &[]);
        let at = full
            .find("## Threads (GCBench, 16 MB live in all)")
            .unwrap();
        assert!(at > full.find("## Pause against live heap size").unwrap());
        assert!(full.contains(rows[2]));
        assert!(full.contains("- gcbench_16mb_t2 / stw: boom"));
    }

    #[test]
    fn entries_reach_results_json() {
        let r = with_axis();
        let e = entries(&r);
        assert_eq!(e.len(), 3);
        assert_eq!((e[2].mode.as_str(), e[2].threads), ("concurrent-sigbus", 2));
        assert_eq!(e[2].ns_per_node, Some(1250.0));
        assert_eq!(e[2].speedup, Some(1.6));
        assert_eq!(e[2].fault_stalls.count, 100);
        let v: serde_json::Value =
            serde_json::from_str(&crate::pauses::results::to_json(&r).unwrap()).unwrap();
        let axis = &v["threads_axis"];
        assert_eq!(axis.as_array().unwrap().len(), 3);
        assert_eq!(axis[1]["workload"], "gcbench_16mb_t1");
        assert_eq!(axis[1]["ttsp"]["count"], 3);
        assert_eq!(axis[2]["wall_ns"], 1_250_000_000u64);
        assert_eq!(v["threads_unavailable"], serde_json::Value::Null);
        let w = v["workloads"].as_array().unwrap();
        assert_eq!(w[2]["threads"], 2);
        assert_eq!(w[2]["work_nodes"], 1_000_000);
        assert!(w[0].get("threads").is_none());
    }

    #[test]
    fn an_axis_that_could_not_run_says_why() {
        let mut r = report::tests::sample_results();
        assert_eq!(section(&r), "", "not asked for: no section");
        r.threads_unavailable = Some("exit 70: Undefined variable 'Thread'.".into());
        assert_eq!(
            section(&r),
            "\n## Threads (GCBench, 16 MB live in all)\n\n\
             Not available in this build: exit 70: Undefined variable 'Thread'.\n"
        );
        assert!(report::render(&r, &[]).contains("Not available in this build"));
    }

    #[test]
    fn the_plot_is_drawn_when_there_are_points() {
        let dir = std::env::temp_dir().join(format!("bench-threads-plot-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("pauses-vs-threads.svg");
        assert!(!plot(&report::tests::sample_results(), &path).unwrap());
        assert!(plot(&with_axis(), &path).unwrap());
        let svg = std::fs::read_to_string(&path).unwrap();
        assert!(svg.contains("concurrent-sigbus / TTSP p99"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
