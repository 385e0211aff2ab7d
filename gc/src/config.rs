//! Collector configuration, as the embedder (the `lox` CLI) sets it.

/// Which collector runs a cycle.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum GcMode {
    /// Mark, plan and compact inside one pause (design note §2.8).
    StopTheWorld,
    /// Mark and flip in pauses, then compact while the mutator runs (design note §2.4-§2.7):
    /// the heap is emptied into from-space and registered with userfaultfd; a GC thread
    /// compacts pages and mutators that touch a missing page resolve the fault as `fault` says.
    Concurrent { fault: FaultMode },
}

/// How a mutator's fault on a not-yet-compacted page is resolved (design note §2.6).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Default)]
pub enum FaultMode {
    /// The faulting thread gets SIGBUS and compacts the page itself (the default).
    #[default]
    Sigbus,
    /// A handler thread reads fault messages from the userfaultfd, resolves them and wakes
    /// the faulting thread (kept for comparison).
    Thread,
}

impl FaultMode {
    pub fn name(self) -> &'static str {
        match self {
            FaultMode::Sigbus => "sigbus",
            FaultMode::Thread => "thread",
        }
    }
}

impl GcMode {
    /// Concurrent compaction with SIGBUS fault handling.
    pub const CONCURRENT: GcMode = GcMode::Concurrent {
        fault: FaultMode::Sigbus,
    };

    pub fn name(self) -> &'static str {
        match self {
            GcMode::StopTheWorld => "stw",
            GcMode::Concurrent { .. } => "concurrent",
        }
    }

    /// The fault mode, for concurrent collection.
    pub fn fault_mode(self) -> Option<FaultMode> {
        match self {
            GcMode::StopTheWorld => None,
            GcMode::Concurrent { fault } => Some(fault),
        }
    }
}

/// Settings of one heap.
#[derive(Clone, Debug)]
pub struct HeapConfig {
    /// Most bytes the heap may hold after a full collection.
    pub max_bytes: usize,
    /// No collection is triggered by growth before this many bytes are in use.
    pub min_trigger_bytes: usize,
    /// After a cycle the next one starts when use reaches `live * growth_factor`.
    pub growth_factor: f64,
    /// `Some(n)`: also collect every `n` allocations (testing).
    pub stress_every: Option<u64>,
    /// Fingerprint the reachable graph before and after each cycle and check every reference.
    pub verify: bool,
    /// With `verify`: check only cycles 1, 1 + n, 1 + 2n, ... (1: every cycle). A check walks
    /// the whole heap inside a pause, too slow for every cycle of a large heap.
    pub verify_every: u64,
    /// One line per cycle on stderr.
    pub log: bool,
    pub mode: GcMode,
    /// Marking threads of a concurrent cycle (the GC thread and `gc_threads - 1` helpers that
    /// steal work from each other); see [`default_gc_threads`].
    pub gc_threads: usize,
    /// When concurrent mode falls back (design note §4.4), print one notice to stderr from
    /// the collector itself. Off by default: the embedder decides (see
    /// `Heap::fallback_notice`), because stray stderr breaks test corpora.
    pub print_fallback_notice: bool,
}

impl Default for HeapConfig {
    fn default() -> Self {
        HeapConfig {
            max_bytes: default_max_bytes(),
            min_trigger_bytes: 4 << 20,
            growth_factor: 2.0,
            stress_every: None,
            verify: false,
            verify_every: 1,
            log: false,
            mode: GcMode::StopTheWorld,
            gc_threads: default_gc_threads(),
            print_fallback_notice: false,
        }
    }
}

impl HeapConfig {
    /// Whether cycle `cycle` (numbered from 1) is verified.
    pub fn verifies(&self, cycle: u64) -> bool {
        self.verify
            && cycle
                .saturating_sub(1)
                .is_multiple_of(self.verify_every.max(1))
    }
}

/// One marking thread on a machine of up to 2 CPUs (a second marker would only take the
/// mutator's CPU), else half the CPUs, at most 8.
pub fn default_gc_threads() -> usize {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    if cpus <= 2 {
        1
    } else {
        (cpus / 2).min(8)
    }
}

/// A quarter of physical memory, at least 64 MiB.
pub fn default_max_bytes() -> usize {
    // SAFETY: sysconf has no memory-safety preconditions.
    let pages = unsafe { libc::sysconf(libc::_SC_PHYS_PAGES) };
    // SAFETY: as above.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if pages <= 0 || page <= 0 {
        return 1 << 30;
    }
    ((pages as usize).saturating_mul(page as usize) / 4).max(64 << 20)
}

/// Parses a size such as `512K`, `64M`, `2G` or a plain byte count.
pub fn parse_size(s: &str) -> Result<usize, String> {
    let s = s.trim();
    let (digits, mult) = match s.chars().last() {
        Some('k' | 'K') => (&s[..s.len() - 1], 1usize << 10),
        Some('m' | 'M') => (&s[..s.len() - 1], 1 << 20),
        Some('g' | 'G') => (&s[..s.len() - 1], 1 << 30),
        _ => (s, 1),
    };
    let n: usize = digits
        .parse()
        .map_err(|_| format!("invalid size '{s}' (expected a number with optional K, M or G)"))?;
    n.checked_mul(mult)
        .filter(|&b| b > 0)
        .ok_or_else(|| format!("invalid size '{s}'"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verification_every_nth_cycle() {
        let mut c = HeapConfig::default();
        assert!(!c.verifies(1), "off by default");
        c.verify = true;
        assert!((1..10).all(|n| c.verifies(n)));
        c.verify_every = 4;
        let checked: Vec<u64> = (1..=10).filter(|&n| c.verifies(n)).collect();
        assert_eq!(checked, [1, 5, 9]);
        c.verify_every = 0;
        assert!(c.verifies(2), "0 reads as every cycle");
    }

    #[test]
    fn sizes_parse_with_suffixes() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("8k"), Ok(8192));
        assert_eq!(parse_size("3M"), Ok(3 << 20));
        assert_eq!(parse_size("2G"), Ok(2 << 30));
        assert!(parse_size("0").is_err());
        assert!(parse_size("x").is_err());
        assert!(parse_size("99999999999999999999G").is_err());
    }
}
