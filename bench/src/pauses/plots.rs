//! SVG plots of a run (plotters, SVG backend only): pause percentiles per mode, max pause
//! against live heap size, a timeline of every pause, and MMU curves. Each plot is written
//! only when it has data; a plot that fails to draw is skipped with a warning, never fatal.

use std::path::Path;

use plotters::prelude::*;

use super::cells::Measured;
use super::hist::Durations;
use super::mmu::WINDOWS_NS;
use super::workloads::{Family, MB};
use super::Results;

const SIZE: (u32, u32) = (960, 600);

/// Whether a plot was drawn (`false`: no data for it).
type Plotted = Result<bool, Box<dyn std::error::Error>>;

/// A timeline series: label, colour index (mode), marker index (kind), points.
struct Marks {
    label: String,
    mode: usize,
    kind: usize,
    pts: Vec<(f64, f64)>,
}

fn color(i: usize) -> RGBColor {
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
        .caption(
            format!("Pause time by percentile — {workload}"),
            ("sans-serif", 22),
        )
        .margin(15)
        .margin_right(40)
        .x_label_area_size(45)
        .y_label_area_size(70)
        .build_cartesian_2d(0f64..xmax, (ymin..ymax).log_scale())?;
    chart
        .configure_mesh()
        .x_desc("percentile (log scale of the tail); the last mark of a line is its max")
        .y_desc("pause (ms, log scale)")
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

fn timeline(r: &Results, workload: &str, path: &Path) -> Plotted {
    // Our collector's modes only (the JVMs' runs have other lengths and a dozen safepoint
    // kinds): one colour per mode, one marker shape per pause kind.
    let mut series: Vec<Marks> = Vec::new();
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
    }
    if series.iter().all(|s| s.pts.is_empty()) {
        return Ok(false);
    }
    let all = series.iter().flat_map(|s| s.pts.iter());
    let xmax = all.clone().map(|p| p.0).fold(0.1, f64::max) * 1.05;
    // Log scale: a 0.1 ms flip and a 100 ms mark must both be readable. Headroom for the legend.
    let ymin = all
        .clone()
        .map(|p| p.1)
        .fold(f64::INFINITY, f64::min)
        .max(1e-4)
        / 2.0;
    let ymax = all.map(|p| p.1).fold(0.001, f64::max) * 30.0;
    let root = SVGBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!("Every pause of our collector over time — {workload}"),
            ("sans-serif", 22),
        )
        .margin(15)
        .margin_right(40)
        .x_label_area_size(45)
        .y_label_area_size(70)
        .build_cartesian_2d(0f64..xmax, (ymin..ymax).log_scale())?;
    chart
        .configure_mesh()
        .x_desc("time since the process started (s)")
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
    root.present()?;
    Ok(true)
}

fn mmu(r: &Results, workload: &str, path: &Path) -> Plotted {
    let series: Vec<(&str, Vec<(f64, f64)>)> = runs(r, workload)
        .into_iter()
        .filter_map(|(m, x)| {
            let t = x.timeline()?;
            Some((
                m,
                t.curve()
                    .into_iter()
                    .map(|(w, u)| (w as f64 / 1e6, u))
                    .collect(),
            ))
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
        .x_desc("window (ms)")
        .y_desc("MMU")
        .draw()?;
    for (i, (m, pts)) in series.iter().enumerate() {
        let c = color(i);
        chart
            .draw_series(LineSeries::new(pts.iter().copied(), c.stroke_width(2)))?
            .label(*m)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2)));
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
    for w in &generated {
        attempt(format!("percentiles-{w}.svg"), &|p| percentiles(r, w, p));
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
