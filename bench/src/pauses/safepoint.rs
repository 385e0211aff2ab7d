//! Reading a JVM's pauses from its unified logging (JDK 17): `-Xlog:safepoint` gives every
//! safepoint (name, time to reach it, total) and `-Xlog:gc` gives ZGC's allocation stalls and
//! the GC cycle numbers. Lines look like
//!
//! ```text
//! [83356215ns][safepoint] Safepoint "ShenandoahInitMark", Time since last: 62600099 ns, Reaching safepoint: 78437 ns, Cleanup: 24687 ns, At safepoint: 32621 ns, Total: 135745 ns
//! [0.420s][info][gc] Allocation Stall (main) 90.539ms
//! [0.068s][info][gc] GC(0) Pause Young (Normal) (G1 Evacuation Pause) 10M->10M(200M) 17.723ms
//! ```
//!
//! The first decoration is the uptime (`uptimenanos` or `uptime`); a safepoint line is written
//! when the safepoint ends, so its start is that stamp less its total.

use super::gcstats::Pause;

/// The uptime decoration of a log line in ns, and the rest of the line after all decorations.
fn split_decorations(line: &str) -> Option<(u64, &str)> {
    let mut rest = line.trim_start();
    let mut stamp = None;
    while let Some(after) = rest.strip_prefix('[') {
        let close = after.find(']')?;
        let deco = &after[..close];
        if stamp.is_none() {
            stamp = parse_uptime(deco);
        }
        rest = &after[close + 1..];
    }
    Some((stamp?, rest.trim()))
}

fn parse_uptime(deco: &str) -> Option<u64> {
    if let Some(ns) = deco.strip_suffix("ns") {
        return ns.parse().ok();
    }
    if let Some(ms) = deco.strip_suffix("ms") {
        return ms.parse::<u64>().ok().map(|m| m * 1_000_000);
    }
    let s: f64 = deco.strip_suffix('s')?.parse().ok()?;
    (s.is_finite() && s >= 0.0).then(|| (s * 1e9).round() as u64)
}

/// The number before `" ns"` after `label: ` in a safepoint line.
fn field_ns(text: &str, label: &str) -> Option<u64> {
    let at = text.find(label)? + label.len();
    let tail = text[at..].trim_start_matches([':', ' ']);
    let end = tail
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(tail.len());
    tail[..end].parse().ok()
}

/// Every safepoint in a `-Xlog:safepoint` log, as pauses named by their VM operation.
pub fn parse_safepoints(log: &str) -> Vec<Pause> {
    let mut out = Vec::new();
    for line in log.lines() {
        let Some((stamp, text)) = split_decorations(line) else {
            continue;
        };
        let Some(rest) = text.strip_prefix("Safepoint \"") else {
            continue;
        };
        let Some(q) = rest.find('"') else { continue };
        let kind = rest[..q].to_string();
        let Some(total) = field_ns(rest, "Total") else {
            continue;
        };
        out.push(Pause {
            kind,
            start_ns: stamp.saturating_sub(total),
            ns: total,
            ttsp_ns: field_ns(rest, "Reaching safepoint").unwrap_or(0),
            cycle: 0,
        });
    }
    out
}

/// A duration like `90.539ms`, `1.2s` or `350us` in ns.
fn parse_duration(tok: &str) -> Option<u64> {
    let (num, scale) = if let Some(n) = tok.strip_suffix("ms") {
        (n, 1e6)
    } else if let Some(n) = tok.strip_suffix("us") {
        (n, 1e3)
    } else if let Some(n) = tok.strip_suffix("ns") {
        (n, 1.0)
    } else {
        (tok.strip_suffix('s')?, 1e9)
    };
    let v: f64 = num.parse().ok()?;
    (v.is_finite() && v >= 0.0).then(|| (v * scale).round() as u64)
}

/// What `-Xlog:gc` adds: ZGC's allocation stalls as `(start_ns, ns)` (the line is written when
/// the stall ends) and the number of GC cycles.
#[derive(Debug, Default, PartialEq)]
pub struct GcLog {
    pub allocation_stalls: Vec<(u64, u64)>,
    pub cycles: u64,
}

pub fn parse_gc_log(log: &str) -> GcLog {
    let mut g = GcLog::default();
    let mut highest: Option<u64> = None;
    for line in log.lines() {
        let Some((stamp, text)) = split_decorations(line) else {
            continue;
        };
        if let Some(rest) = text.strip_prefix("Allocation Stall") {
            if let Some(ns) = rest.split_whitespace().last().and_then(parse_duration) {
                g.allocation_stalls.push((stamp.saturating_sub(ns), ns));
            }
            continue;
        }
        if let Some(id) = text
            .strip_prefix("GC(")
            .and_then(|r| r.split(')').next())
            .and_then(|n| n.parse::<u64>().ok())
        {
            highest = Some(highest.map_or(id, |h| h.max(id)));
        }
    }
    g.cycles = highest.map_or(0, |h| h + 1);
    g
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safepoint_lines_in_both_time_formats() {
        let log = "\
[83356215ns][safepoint] Safepoint \"ShenandoahInitMark\", Time since last: 62600099 ns, Reaching safepoint: 78437 ns, Cleanup: 24687 ns, At safepoint: 32621 ns, Total: 135745 ns
[0.200s][info][safepoint] Safepoint \"ZMarkStart\", Time since last: 103466618 ns, Reaching safepoint: 96672 ns, Cleanup: 28283 ns, At safepoint: 21640 ns, Total: 146595 ns
[0.300s][info][safepoint] Application time: 0.1 seconds
garbage line
[12ns][safepoint] Safepoint \"Broken\", Time since last: 1 ns
";
        let p = parse_safepoints(log);
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].kind, "ShenandoahInitMark");
        assert_eq!(p[0].ns, 135_745);
        assert_eq!(p[0].ttsp_ns, 78_437);
        assert_eq!(p[0].start_ns, 83_356_215 - 135_745);
        assert_eq!(p[1].kind, "ZMarkStart");
        assert_eq!(p[1].start_ns, 200_000_000 - 146_595);
    }

    #[test]
    fn gc_log_stalls_and_cycles() {
        let log = "\
[0.077s][info][gc] Using The Z Garbage Collector
[0.420s][info][gc] Allocation Stall (main) 90.539ms
[0.429s][info][gc] Allocation Stall (main) 1.854ms
[0.429s][info][gc] GC(0) Garbage Collection (Warmup) 88M(44%)->200M(100%)
[83190424ns] GC(7) Concurrent reset 0.069ms
[1.0s][info][gc] GC(3) Pause Young (Normal) (G1 Evacuation Pause) 10M->10M(200M) 17.723ms
";
        let g = parse_gc_log(log);
        assert_eq!(
            g.allocation_stalls,
            vec![
                (420_000_000 - 90_539_000, 90_539_000),
                (429_000_000 - 1_854_000, 1_854_000)
            ]
        );
        assert_eq!(g.cycles, 8);
        assert_eq!(parse_gc_log("").cycles, 0);
    }

    #[test]
    fn durations_and_uptimes() {
        assert_eq!(parse_duration("1.5s"), Some(1_500_000_000));
        assert_eq!(parse_duration("350us"), Some(350_000));
        assert_eq!(parse_duration("7ns"), Some(7));
        assert_eq!(parse_duration("x"), None);
        assert_eq!(parse_duration("-1ms"), None);
        assert_eq!(parse_uptime("5ms"), Some(5_000_000));
        assert_eq!(parse_uptime("info"), None);
        assert_eq!(split_decorations("[unterminated"), None);
    }
}
