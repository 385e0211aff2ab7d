//! The child's resident set over time: sampled from `/proc/PID/status` (`VmRSS`) every
//! [`EVERY`] while it runs, and the rule that calls a run leaking.
//!
//! **Leak rule.** The steady part of a run is from its live set being built to its end, less
//! the first tenth (the heap settles on its trigger after the build). Split it into halves
//! and take in each the highest sample (the top of the collector's sawtooth: live heap plus
//! headroom plus, in concurrent mode, from-space while it compacts) and the lowest (after a
//! collection gave memory back). The run leaks when **both** grow from the first half to the
//! second by more than [`tolerance`] of the first half's: memory held for good raises the
//! floor and the peak alike, while one late spike raises only the peak. A slower leak is
//! invisible in a short run: over 60 s the rule sees about 1 MB/s and up, over 600 s a tenth
//! of that.

use std::time::Duration;

use crate::pauses::child::Running;

/// Sampling interval.
pub const EVERY: Duration = Duration::from_millis(100);

/// One sample: ns after the spawn, resident bytes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sample {
    pub t_ns: u64,
    pub bytes: u64,
}

/// `VmRSS` of a `/proc/PID/status` text, in bytes.
fn vm_rss(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Samples the child every [`EVERY`] until it exits (the watcher of
/// `child::run_watched`). A zombie has no `VmRSS`: such reads are skipped.
pub fn sample(child: &Running) -> Vec<Sample> {
    let path = format!("/proc/{}/status", child.pid);
    let mut out = Vec::new();
    loop {
        if let Some(bytes) = std::fs::read_to_string(&path)
            .ok()
            .as_deref()
            .and_then(vm_rss)
        {
            let t_ns = child.started.elapsed().as_nanos() as u64;
            out.push(Sample { t_ns, bytes });
        }
        if !child.sleep(EVERY) {
            return out;
        }
    }
}

/// Growth allowed between the halves: a tenth of the first half's figure, at least 64 MiB.
pub fn tolerance(first: u64) -> u64 {
    (first / 10).max(64 << 20)
}

/// The lowest and highest sample of one half.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Range {
    pub low: u64,
    pub high: u64,
}

/// What the leak rule saw.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Verdict {
    /// Fewer than [`MIN_SAMPLES_PER_HALF`] samples per half: not judged.
    TooShort,
    Steady {
        first: Range,
        second: Range,
    },
    Leak {
        first: Range,
        second: Range,
    },
}

/// Samples a half must hold for a verdict (2 s at the sampling interval).
pub const MIN_SAMPLES_PER_HALF: usize = 20;

fn range(samples: &[Sample]) -> Option<Range> {
    Some(Range {
        low: samples.iter().map(|s| s.bytes).min()?,
        high: samples.iter().map(|s| s.bytes).max()?,
    })
}

/// Applies the leak rule to the samples taken in `[from_ns, to_ns)` (the steady part before
/// its first tenth is dropped).
pub fn judge(samples: &[Sample], from_ns: u64, to_ns: u64) -> Verdict {
    let from = from_ns + to_ns.saturating_sub(from_ns) / 10;
    let mid = from + to_ns.saturating_sub(from) / 2;
    let half = |a: u64, b: u64| -> Vec<Sample> {
        samples
            .iter()
            .copied()
            .filter(|s| s.t_ns >= a && s.t_ns < b)
            .collect()
    };
    let (one, two) = (half(from, mid), half(mid, to_ns));
    if one.len() < MIN_SAMPLES_PER_HALF || two.len() < MIN_SAMPLES_PER_HALF {
        return Verdict::TooShort;
    }
    let (Some(first), Some(second)) = (range(&one), range(&two)) else {
        return Verdict::TooShort;
    };
    let grew = |a: u64, b: u64| b > a + tolerance(a);
    if grew(first.low, second.low) && grew(first.high, second.high) {
        Verdict::Leak { first, second }
    } else {
        Verdict::Steady { first, second }
    }
}

/// The highest sample taken in `[from_ns, to_ns)`.
pub fn highest_in(samples: &[Sample], from_ns: u64, to_ns: u64) -> Option<u64> {
    samples
        .iter()
        .filter(|s| s.t_ns >= from_ns && s.t_ns < to_ns)
        .map(|s| s.bytes)
        .max()
}

/// Samples as CSV (`seconds,rss_mib`), for plotting by hand.
pub fn csv(samples: &[Sample]) -> String {
    let mut out = String::from("seconds,rss_mib\n");
    for s in samples {
        out.push_str(&format!(
            "{:.3},{:.1}\n",
            s.t_ns as f64 / 1e9,
            s.bytes as f64 / (1u64 << 20) as f64
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;

    /// A sawtooth between `low` and `low + 200 MiB` every 2 s, drifting up by `drift` bytes
    /// per second, sampled every 100 ms for `secs` seconds.
    fn sawtooth(secs: u64, low: u64, drift: u64) -> Vec<Sample> {
        (0..secs * 10)
            .map(|i| {
                let t_ns = i * 100_000_000;
                let phase = i % 20;
                Sample {
                    t_ns,
                    bytes: low + phase * 10 * MIB + drift * i / 10,
                }
            })
            .collect()
    }

    #[test]
    fn reads_vm_rss() {
        let status = "Name:\tlox\nVmPeak:\t  9000 kB\nVmRSS:\t  12020 kB\nThreads:\t2\n";
        assert_eq!(vm_rss(status), Some(12020 * 1024));
        assert_eq!(vm_rss("Name:\tzombie\n"), None);
    }

    #[test]
    fn a_steady_sawtooth_is_no_leak() {
        let s = sawtooth(60, 300 * MIB, 0);
        assert!(matches!(
            judge(&s, 0, 60_000_000_000),
            Verdict::Steady { .. }
        ));
        // A single late spike raises the peak, not the floor.
        let mut spiky = s.clone();
        spiky[500].bytes = 2000 * MIB;
        assert!(matches!(
            judge(&spiky, 0, 60_000_000_000),
            Verdict::Steady { .. }
        ));
    }

    #[test]
    fn a_steady_climb_is_a_leak() {
        // 5 MiB/s over 60 s: the halves are ~27 s apart, ~135 MiB, above 64 MiB.
        let s = sawtooth(60, 300 * MIB, 5 * MIB);
        match judge(&s, 0, 60_000_000_000) {
            Verdict::Leak { first, second } => {
                assert!(second.low > first.low + 64 * MIB);
                assert!(second.high > first.high + 64 * MIB);
            }
            v => panic!("not a leak: {v:?}"),
        }
        // 1 MiB/s stays inside the tolerance of a 60 s run.
        let slow = sawtooth(60, 300 * MIB, MIB);
        assert!(matches!(
            judge(&slow, 0, 60_000_000_000),
            Verdict::Steady { .. }
        ));
    }

    #[test]
    fn samples_before_the_window_and_short_runs() {
        // The build climbs for 10 s; the window starts after it.
        let mut s: Vec<Sample> = (0..100)
            .map(|i| Sample {
                t_ns: i * 100_000_000,
                bytes: i * 5 * MIB,
            })
            .collect();
        s.extend(sawtooth(60, 500 * MIB, 0).into_iter().map(|x| Sample {
            t_ns: x.t_ns + 10_000_000_000,
            ..x
        }));
        assert!(matches!(
            judge(&s, 10_000_000_000, 70_000_000_000),
            Verdict::Steady { .. }
        ));
        assert_eq!(judge(&s, 0, 3_000_000_000), Verdict::TooShort);
        assert_eq!(highest_in(&s, 0, 1_000_000_000), Some(45 * MIB));
        assert_eq!(highest_in(&s, 0, 0), None);
    }

    #[test]
    fn tolerance_has_a_floor() {
        assert_eq!(tolerance(100 * MIB), 64 * MIB);
        assert_eq!(tolerance(2000 * MIB), 200 * MIB);
        assert!(csv(&sawtooth(1, MIB, 0)).starts_with("seconds,rss_mib\n0.000,1.0\n"));
    }
}
