//! SVG plots of a run (plotters, SVG backend only): pause and fault-stall percentiles per mode,
//! max pause against live heap size (and against Lox threads, `threads_report.rs`), a per-cycle
//! timeline (every pause, and each cycle's
//! compaction span), and MMU curves with and without allocation stalls. Each plot is written
//! only when it has data; a plot that fails to draw is skipped with a warning, never fatal.

use std::path::Path;

use plotters::prelude::*;

use super::cells::Measured;
use super::hist::Durations;
use super::mmu::{Timeline, WINDOWS_NS};
use super::workloads::{Family, MB};
use super::Results;

const SIZE: (u32, u32) = (960, 600);
/// The timeline is taller: pauses above, cycle spans below.
const TIMELINE_SIZE: (u32, u32) = (960, 780);

/// Points of a line, in plot coordinates.
type Curve = Vec<(f64, f64)>;

/// Whether a plot was drawn (`false`: no data for it).
pub(super) type Plotted = Result<bool, Box<dyn std::error::Error>>;

/// A timeline series: label, colour index (mode), marker index (kind), points.
struct Marks {
    label: String,
    mode: usize,
    kind: usize,
    pts: Vec<(f64, f64)>,
}

pub(super) fn color(i: usize) -> RGBColor {
    const C: [RGBColor; 10] = [
        RGBColor(31, 119, 180),
        RGBColor(214, 39, 40),
        RGBColor(44, 160, 44),
        RGBColor(255, 127, 14),
        RGBColor(148, 103, 189),
        RGBColor(140, 86, 75),
        RGBColor(227, 119, 194),
        RGBColor(127, 127, 127),
        RGBColor(188, 189, 34),
        RGBColor(23, 190, 207),
    ];
    C[i % C.len()]
}

/// `p` percent as the x coordinate of a tail plot: -log10(1 - p/100), so 90 → 1, 99 → 2.
pub fn tail_x(p: f64) -> f64 {
    -(1.0 - p / 100.0).max(1e-9).log10()
}

/// The percentile shown at tail coordinate `x` (the inverse of [`tail_x`]), as a label.
pub fn tail_label(x: f64) -> String {
    let p = 100.0 * (1.0 - 10f64.powf(-x));
    let s = format!("{p:.4}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    format!("p{s}")
}

/// Measured runs of `workload` that have a pause record, in mode order.
fn runs<'a>(r: &'a Results, workload: &str) -> Vec<(&'a str, &'a Measured)> {
    r.modes
        .iter()
        .filter_map(|m| {
            let x = r.cell(workload, &m.label)?.measured()?;
            x.stats.as_ref()?;
            Some((m.label.as_str(), x))
        })
        .collect()
}

/// The percentile curve of one run on the tail axis, in ms, ending at the max: the max sits
/// at the resolution limit of the count (`1 - 1/n`), where it belongs.
fn tail_curve(d: &Durations) -> Vec<(f64, f64)> {
    let n = d.count();
    let mut pts: Vec<(f64, f64)> = d
        .percentile_curve()
        .into_iter()
        .map(|(p, ns)| {
            let at = if p >= 100.0 {
                tail_x(100.0 * (1.0 - 1.0 / n as f64))
            } else {
                tail_x(p)
            };
            (at, (ns as f64 / 1e6).max(1e-4))
        })
        .collect();
    // The max may land on the last percentile's x (n a power of ten): keep x increasing.
    for i in 1..pts.len() {
        if pts[i].0 <= pts[i - 1].0 {
            pts[i].0 = pts[i - 1].0 + 0.05;
        }
    }
    pts
}

fn percentiles(r: &Results, workload: &str, path: &Path) -> Plotted {
    // Our modes, one line per pause kind (mark and flip differ by orders of magnitude); other
    // collectors, one line for all their pauses.
    let mut series: Vec<(String, Vec<(f64, f64)>)> = Vec::new();
    for (m, x) in runs(r, workload) {
        let ours = r.modes.iter().any(|s| s.label == m && s.engine == "lox");
        let kinds = x.kinds();
        if ours && kinds.len() > 1 {
            for k in kinds {
                series.push((format!("{m} / {k}"), tail_curve(&x.pauses(Some(&k)))));
            }
        } else {
            series.push((m.to_string(), tail_curve(&x.pauses(None))));
        }
    }
    tail_plot(
        path,
        &format!("Pause time by percentile — {workload}"),
        "percentile (log scale of the tail); the last mark of a line is its max",
        "pause (ms, log scale)",
        series,
    )
}

/// Mutator fault stalls by percentile, one line per mode that had any.
fn fault_stall_percentiles(r: &Results, workload: &str, path: &Path) -> Plotted {
    let series = runs(r, workload)
        .into_iter()
        .map(|(m, x)| {
            let timed = x
                .stats
                .as_ref()
                .map_or("", |s| s.mutator_fault_stalls.timed_in.as_str());
            let label = if timed.is_empty() {
                m.to_string()
            } else {
                format!("{m} (timed in {})", timed.replace('_', " "))
            };
            (label, tail_curve(&x.fault_stalls()))
        })
        .collect();
    tail_plot(
        path,
        &format!("Mutator fault stalls by percentile — {workload}"),
        "percentile (log scale of the tail); bucket upper bounds, the last mark is the exact max",
        "fault stall (ms, log scale)",
        series,
    )
}

/// A percentile plot on the tail axis, one line per series; `Ok(false)` when all are empty.
fn tail_plot(
    path: &Path,
    caption: &str,
    x_desc: &str,
    y_desc: &str,
    mut series: Vec<(String, Vec<(f64, f64)>)>,
) -> Plotted {
    series.retain(|(_, p)| !p.is_empty());
    if series.is_empty() {
        return Ok(false);
    }
    let ys = || series.iter().flat_map(|(_, p)| p.iter().map(|q| q.1));
    let xmax = series
        .iter()
        .flat_map(|(_, p)| p.iter().map(|q| q.0))
        .fold(1.0f64, f64::max)
        .ceil()
        .max(2.0);
    // Headroom above the data (two decades on the log axis) keeps the legend off the lines.
    let ymin = ys().fold(f64::INFINITY, f64::min) / 2.0;
    let ymax = ys().fold(0.0, f64::max) * 100.0;
    let root = SVGBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(caption, ("sans-serif", 22))
        .margin(15)
        .margin_right(40)
        .x_label_area_size(45)
        .y_label_area_size(70)
        .build_cartesian_2d(0f64..xmax, (ymin..ymax).log_scale())?;
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc(y_desc)
        .x_labels(xmax as usize + 1)
        .x_label_formatter(&|x| tail_label(*x))
        .draw()?;
    for (i, (m, pts)) in series.iter().enumerate() {
        let c = color(i);
        chart
            .draw_series(LineSeries::new(pts.iter().copied(), c.stroke_width(2)))?
            .label(m.as_str())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2)));
        chart.draw_series(pts.iter().map(|&p| Circle::new(p, 3, c.filled())))?;
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

fn max_vs_live(r: &Results, path: &Path) -> Plotted {
    let sizes: Vec<(&str, u64)> = r
        .workloads
        .iter()
        .filter(|w| w.family == Family::GcBench)
        .filter_map(|w| w.live_target.map(|l| (w.name.as_str(), l)))
        .collect();
    let mut series: Vec<(String, Vec<(f64, f64)>)> = Vec::new();
    for m in &r.modes {
        let mut by_kind: Vec<(String, Vec<(f64, f64)>)> = Vec::new();
        for (w, live) in &sizes {
            let Some(x) = r.cell(w, &m.label).and_then(|c| c.measured()) else {
                continue;
            };
            for k in x.kinds() {
                let Some(max) = x.pauses(Some(&k)).summary().max_ns else {
                    continue;
                };
                let pt = (
                    (*live as f64 / MB as f64).log2(),
                    (max as f64 / 1e6).max(1e-3),
                );
                match by_kind.iter_mut().find(|(kk, _)| *kk == k) {
                    Some((_, v)) => v.push(pt),
                    None => by_kind.push((k, vec![pt])),
                }
            }
        }
        // A JVM names a dozen safepoint kinds: it is one line, all its safepoints.
        if m.engine == "jvm" {
            let mut all = Vec::new();
            for (w, live) in &sizes {
                let max = r
                    .cell(w, &m.label)
                    .and_then(|c| c.measured())
                    .and_then(|x| x.pauses(None).summary().max_ns);
                if let Some(max) = max {
                    all.push((
                        (*live as f64 / MB as f64).log2(),
                        (max as f64 / 1e6).max(1e-3),
                    ));
                }
            }
            by_kind = vec![("all safepoints".into(), all)];
        }
        for (k, v) in by_kind {
            series.push((format!("{} / {k}", m.label), v));
        }
    }
    if series.is_empty() || sizes.len() < 2 {
        return Ok(false);
    }
    // x is log2 of the live MB, labelled in MB: one tick per doubling.
    let (xmin, xmax) = (
        (sizes[0].1 as f64 / MB as f64).log2() - 0.5,
        (sizes[sizes.len() - 1].1 as f64 / MB as f64).log2() + 0.5,
    );
    let ys = series.iter().flat_map(|(_, v)| v.iter().map(|p| p.1));
    // Headroom above the data (two decades on the log axis) keeps the legend off the lines.
    let ymin = ys.clone().fold(f64::INFINITY, f64::min) / 2.0;
    let ymax = ys.fold(0.0, f64::max) * 100.0;
    let root = SVGBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "Longest pause against live heap (GCBench)",
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
            if (x - x.round()).abs() < 1e-6 {
                format!("{:.0}", 2f64.powf(x.round()))
            } else {
                String::new()
            }
        })
        .x_desc("live heap (MB, log scale)")
        .y_desc("max pause (ms, log scale)")
        .draw()?;
    for (i, (label, pts)) in series.iter().enumerate() {
        let c = color(i);
        chart
            .draw_series(LineSeries::new(pts.iter().copied(), c.stroke_width(2)))?
            .label(label.as_str())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2)));
        chart.draw_series(pts.iter().map(|&p| Circle::new(p, 4, c.filled())))?;
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

/// One mode's row of the cycle panel: its pauses and its cycles' compaction spans, in s.
struct Row {
    label: String,
    mode: usize,
    pauses: Vec<(f64, f64)>,
    compaction: Vec<(f64, f64)>,
}

/// `[s, e)` widened to at least `min` so that a span shorter than a pixel still shows.
fn visible(s: f64, e: f64, min: f64) -> (f64, f64) {
    (s, e.max(s + min))
}

fn timeline(r: &Results, workload: &str, path: &Path) -> Plotted {
    // Our collector's modes only (the JVMs' runs have other lengths and a dozen safepoint
    // kinds): one colour per mode, one marker shape per pause kind.
    let mut series: Vec<Marks> = Vec::new();
    let mut rows: Vec<Row> = Vec::new();
    let ours = runs(r, workload)
        .into_iter()
        .filter(|(m, _)| r.modes.iter().any(|s| s.label == *m && s.engine == "lox"));
    for (mi, (m, x)) in ours.enumerate() {
        let Some(st) = &x.stats else { continue };
        for (ki, k) in x.kinds().iter().enumerate() {
            let pts = st
                .pauses
                .iter()
                .filter(|p| p.kind == *k)
                .map(|p| (p.start_ns as f64 / 1e9, p.ns as f64 / 1e6))
                .collect();
            series.push(Marks {
                label: format!("{m} / {k}"),
                mode: mi,
                kind: ki,
                pts,
            });
        }
        let s = |ns: u64| ns as f64 / 1e9;
        rows.push(Row {
            label: m.to_string(),
            mode: mi,
            pauses: st
                .pauses
                .iter()
                .map(|p| (s(p.start_ns), s(p.start_ns + p.ns)))
                .collect(),
            compaction: st
                .cycles_detail
                .iter()
                .filter_map(|c| c.compaction_span())
                .map(|(a, b)| (s(a), s(b)))
                .collect(),
        });
    }
    if series.iter().all(|s| s.pts.is_empty()) {
        return Ok(false);
    }
    let all = series.iter().flat_map(|s| s.pts.iter());
    let span_end = rows
        .iter()
        .flat_map(|r| r.compaction.iter().map(|c| c.1))
        .fold(0.0, f64::max);
    let xmax = all.clone().map(|p| p.0).fold(0.1, f64::max).max(span_end) * 1.05;
    // Log scale: a 0.1 ms flip and a 100 ms mark must both be readable. Headroom for the legend.
    let ymin = all
        .clone()
        .map(|p| p.1)
        .fold(f64::INFINITY, f64::min)
        .max(1e-4)
        / 2.0;
    let ymax = all.map(|p| p.1).fold(0.001, f64::max) * 30.0;
    let root = SVGBackend::new(path, TIMELINE_SIZE).into_drawing_area();
    root.fill(&WHITE)?;
    let split = TIMELINE_SIZE.1 as i32 * 64 / 100;
    let (top, bottom) = root.split_vertically(split);
    // Both panels share the x axis: the same label area widths keep them aligned.
    let label_w: i32 = 130;
    let mut chart = ChartBuilder::on(&top)
        .caption(
            format!("Every pause and cycle of our collector over time — {workload}"),
            ("sans-serif", 22),
        )
        .margin(15)
        .margin_right(40)
        .x_label_area_size(30)
        .y_label_area_size(label_w)
        .build_cartesian_2d(0f64..xmax, (ymin..ymax).log_scale())?;
    chart
        .configure_mesh()
        .y_desc("pause (ms, log scale)")
        .draw()?;
    for Marks {
        label,
        mode,
        kind,
        pts,
    } in &series
    {
        let c = color(*mode);
        // A stem from the axis to the pause, so overlapping runs stay readable.
        chart.draw_series(
            pts.iter()
                .map(|&(t, ms)| PathElement::new(vec![(t, ymin), (t, ms)], c.mix(0.4))),
        )?;
        let shape = *kind % 3;
        let marks = pts
            .iter()
            .map(move |&p| -> DynElement<SVGBackend, (f64, f64)> {
                match shape {
                    0 => Circle::new(p, 3, c.filled()).into_dyn(),
                    1 => TriangleMarker::new(p, 5, c.filled()).into_dyn(),
                    _ => Cross::new(p, 4, c.stroke_width(2)).into_dyn(),
                }
            });
        chart.draw_series(marks)?.label(label.as_str()).legend(
            move |(x, y)| -> DynElement<SVGBackend, (i32, i32)> {
                match shape {
                    0 => Circle::new((x + 10, y), 4, c.filled()).into_dyn(),
                    1 => TriangleMarker::new((x + 10, y), 5, c.filled()).into_dyn(),
                    _ => Cross::new((x + 10, y), 4, c.stroke_width(2)).into_dyn(),
                }
            },
        );
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()?;

    // Below: one row per mode, its pauses (solid, upper band) and each cycle's compaction from
    // the end of its flip to the end of compaction (light, lower band; in stop-the-world mode
    // that lies inside the pause).
    let n = rows.len().max(1) as f64;
    let mut lanes = ChartBuilder::on(&bottom)
        .margin(15)
        .margin_top(5)
        .margin_right(40)
        .x_label_area_size(45)
        .y_label_area_size(label_w)
        .build_cartesian_2d(0f64..xmax, 0f64..n)?;
    lanes
        .configure_mesh()
        .disable_y_mesh()
        .light_line_style(TRANSPARENT)
        .y_labels(0)
        .x_desc("time since the process started (s); per mode: pauses (solid) above, compaction from flip end to compaction end (light) below")
        .draw()?;
    let px = xmax / f64::from(TIMELINE_SIZE.0);
    for (i, row) in rows.iter().enumerate() {
        let c = color(row.mode);
        // Row 0 at the top.
        let y0 = n - 1.0 - i as f64;
        lanes.draw_series(row.compaction.iter().map(|&(a, b)| {
            let (a, b) = visible(a, b, px);
            Rectangle::new([(a, y0 + 0.15), (b, y0 + 0.45)], c.mix(0.35).filled())
        }))?;
        lanes.draw_series(row.pauses.iter().map(|&(a, b)| {
            let (a, b) = visible(a, b, px);
            Rectangle::new([(a, y0 + 0.55), (b, y0 + 0.85)], c.filled())
        }))?;
        // Backend coordinates are the whole image's: draw the name on the root area.
        let (x, y) = lanes.backend_coord(&(0.0, y0 + 0.5));
        root.draw(&Text::new(
            row.label.clone(),
            (x - label_w + 5, y - 7),
            ("sans-serif", 13).into_font().color(&c),
        ))?;
    }
    root.present()?;
    Ok(true)
}

fn mmu(r: &Results, workload: &str, path: &Path) -> Plotted {
    let curve = |t: Timeline| -> Vec<(f64, f64)> {
        t.curve()
            .into_iter()
            .map(|(w, u)| (w as f64 / 1e6, u))
            .collect()
    };
    // Per run: pauses only, and (dashed) pauses plus allocation stalls when there were any.
    let series: Vec<(&str, Curve, Option<Curve>)> = runs(r, workload)
        .into_iter()
        .filter_map(|(m, x)| {
            let plain = curve(x.timeline()?);
            let stalled = x
                .blocked_timeline()
                .filter(|_| !x.stalls.is_empty())
                .map(curve);
            Some((m, plain, stalled))
        })
        .collect();
    if series.is_empty() {
        return Ok(false);
    }
    let root = SVGBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE)?;
    let (wmin, wmax) = (
        WINDOWS_NS[0] as f64 / 1e6,
        WINDOWS_NS[WINDOWS_NS.len() - 1] as f64 / 1e6,
    );
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!("Minimum mutator utilization — {workload}"),
            ("sans-serif", 22),
        )
        .margin(15)
        .margin_right(40)
        .x_label_area_size(45)
        .y_label_area_size(70)
        .build_cartesian_2d((wmin..wmax).log_scale(), 0f64..1.0)?;
    chart
        .configure_mesh()
        .x_desc("window (ms); dashed: allocation stalls counted as lost time too")
        .y_desc("MMU")
        .draw()?;
    for (i, (m, pts, stalled)) in series.iter().enumerate() {
        let c = color(i);
        chart
            .draw_series(LineSeries::new(pts.iter().copied(), c.stroke_width(2)))?
            .label(*m)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2)));
        if let Some(st) = stalled {
            chart
                .draw_series(DashedLineSeries::new(
                    st.iter().copied(),
                    6,
                    4,
                    c.stroke_width(2),
                ))?
                .label(format!("{m} with allocation stalls"))
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 8, y)], c.stroke_width(2))
                });
        }
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(true)
}

/// Draws every plot into `out`; returns the file names written.
pub fn write_all(r: &Results, out: &Path) -> Vec<String> {
    let mut written = Vec::new();
    let mut attempt = |name: String, f: &dyn Fn(&Path) -> Plotted| match f(&out.join(&name)) {
        Ok(true) => written.push(name),
        Ok(false) => {}
        Err(e) => eprintln!("bench: plot {name} failed: {e}"),
    };
    let generated: Vec<String> = r
        .workloads
        .iter()
        .filter(|w| w.family != Family::Shared)
        .map(|w| w.name.clone())
        .collect();
    attempt("max-pause-vs-live.svg".into(), &|p| max_vs_live(r, p));
    attempt("pauses-vs-threads.svg".into(), &|p| {
        super::threads_report::plot(r, p)
    });
    for w in &generated {
        attempt(format!("percentiles-{w}.svg"), &|p| percentiles(r, w, p));
    }
    for w in &generated {
        attempt(format!("fault-stalls-{w}.svg"), &|p| {
            fault_stall_percentiles(r, w, p)
        });
    }
    for w in &generated {
        attempt(format!("mmu-{w}.svg"), &|p| mmu(r, w, p));
    }
    // A timeline for the largest GCBench and every graph run: enough to see cycles.
    let largest = r
        .workloads
        .iter()
        .filter(|w| w.family == Family::GcBench)
        .max_by_key(|w| w.live_target)
        .map(|w| w.name.clone());
    for w in largest.iter().chain(
        r.workloads
            .iter()
            .filter(|w| w.family == Family::Graph)
            .map(|w| &w.name),
    ) {
        attempt(format!("timeline-{w}.svg"), &|p| timeline(r, w, p));
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_axis() {
        assert!((tail_x(0.0) - 0.0).abs() < 1e-12);
        assert!((tail_x(90.0) - 1.0).abs() < 1e-9);
        assert!((tail_x(99.9) - 3.0).abs() < 1e-9);
        assert_eq!(tail_label(0.0), "p0");
        assert_eq!(tail_label(1.0), "p90");
        assert_eq!(tail_label(2.0), "p99");
        assert_eq!(tail_label(3.0), "p99.9");
        assert!(tail_x(100.0).is_finite());
    }
}
