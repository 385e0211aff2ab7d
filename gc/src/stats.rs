//! Collector statistics (design note §7) and their JSON form. The heap records into [`GcStats`]
//! as cycles run; the embedder reads `Heap::stats` or writes `Heap::stats_json` to the
//! `--gc-stats` file.
//!
//! Besides the totals: every pause (with its cycle), every allocation stall, one record per
//! cycle (its phases, its compaction span and who compacted its pages), and the fault-stall
//! histogram's buckets, each list capped so a stress run stays bounded. Recording is a push of
//! a small struct; all formatting happens in [`GcStats::to_json`].
//!
//! The JSON is these types' serde form (feature `serde`): their field names are the file's keys,
//! so these declarations are the one definition of the format, and a reader (the bench) reads a
//! file back into the same types with `String` names (the `Name` parameter). A reader of another
//! version's file gets zero or empty for a field that file lacks and skips an entry of an
//! optional list it cannot read; only `collector`, `cycles` and `pauses` are required.

#[cfg(feature = "serde")]
use serde::{Deserialize, Serialize};

/// Pauses kept individually; beyond this only the totals grow (a stress run collects on every
/// allocation and would otherwise keep millions of records). Allocation stalls and per-cycle
/// records are capped the same way.
pub const MAX_PAUSE_RECORDS: usize = 100_000;

/// One pause, from the request to the resume (monotonic ns), as whoever took it measured it.
#[derive(Clone, Debug)]
pub struct Pause {
    pub kind: &'static str,
    /// Start, relative to the heap's creation.
    pub start_ns: u64,
    /// Whole pause.
    pub ns: u64,
    /// Time-to-safepoint part of `ns`.
    pub ttsp_ns: u64,
}

/// A pause as kept in the statistics: the measurement and the collection it belongs to.
/// `Name` is how names are held: `&'static str` while the collector records (no allocation in
/// a pause), `String` in a reader of the file.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
pub struct PauseRecord<Name = &'static str> {
    pub kind: Name,
    pub start_ns: u64,
    pub ns: u64,
    #[cfg_attr(feature = "serde", serde(default))]
    pub ttsp_ns: u64,
    /// The cycle (1 for the first) whose pause this is; 0 for a pause that is no
    /// collection's (another thread stopped the mutator).
    #[cfg_attr(feature = "serde", serde(default))]
    pub cycle: u64,
}

/// One wait of a mutator for the collector to free memory.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
pub struct Stall {
    /// Start, relative to the heap's creation (as a pause's `start_ns`).
    pub start_ns: u64,
    pub ns: u64,
}

/// Count, total and maximum of some waits, and each wait (capped at [`MAX_PAUSE_RECORDS`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize), serde(default))]
pub struct StallSummary {
    pub count: u64,
    pub total_ns: u64,
    pub max_ns: u64,
    #[cfg_attr(feature = "serde", serde(deserialize_with = "lenient::list"))]
    pub list: Vec<Stall>,
    /// Waits counted but not kept in `list`.
    pub dropped: u64,
}

impl StallSummary {
    pub fn record(&mut self, start_ns: u64, ns: u64) {
        self.count += 1;
        self.total_ns += ns;
        self.max_ns = self.max_ns.max(ns);
        if self.list.len() < MAX_PAUSE_RECORDS {
            self.list.push(Stall { start_ns, ns });
        } else {
            self.dropped += 1;
        }
    }
}

/// One collection cycle's timing and work. Times are ns; `start_ns` and `compaction_end_ns`
/// are relative to the heap's creation, the phase lengths are durations.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
pub struct CycleRecord {
    pub cycle: u64,
    /// Start of the cycle's first pause (at the collection request).
    pub start_ns: u64,
    /// Marking and planning: the concurrent `mark` pause, or the same phases inside a
    /// stop-the-world pause.
    #[cfg_attr(feature = "serde", serde(default))]
    pub mark_ns: u64,
    /// From the end of planning until compaction can start: the concurrent `flip` pause (roots,
    /// mremap, register), or in a stop-the-world pause roots, mremap and populating.
    #[cfg_attr(feature = "serde", serde(default))]
    pub flip_ns: u64,
    /// When the last page was compacted and the cycle finished. A concurrent cycle compacts
    /// from `start_ns + mark_ns + flip_ns` to here beside the mutator; in stop-the-world mode
    /// it is the end of the pause. `None` while a concurrent cycle is still running.
    pub compaction_end_ns: Option<u64>,
    #[cfg_attr(feature = "serde", serde(default))]
    pub live_bytes: u64,
    #[cfg_attr(feature = "serde", serde(default))]
    pub bytes_moved: u64,
    /// Pages compacted by the GC (thread) and by mutator faults in this cycle (so far, while
    /// it runs).
    #[cfg_attr(feature = "serde", serde(default))]
    pub pages_by_gc: u64,
    #[cfg_attr(feature = "serde", serde(default))]
    pub pages_by_mutator: u64,
}

impl CycleRecord {
    /// When compaction could start: the end of the flip.
    pub fn flip_end_ns(&self) -> u64 {
        self.start_ns
            .saturating_add(self.mark_ns)
            .saturating_add(self.flip_ns)
    }

    /// The compaction span `[flip end, compaction end)`, if the cycle finished.
    pub fn compaction_span(&self) -> Option<(u64, u64)> {
        let end = self.compaction_end_ns?;
        let start = self.flip_end_ns();
        Some((start.min(end), end))
    }
}

/// The running concurrent cycle's counters at its flip, to take per-cycle differences of the
/// cumulative counters.
#[derive(Copy, Clone, Debug)]
struct OpenCycle {
    cycle: u64,
    gc_pages_at_flip: u64,
    mutator_pages_at_flip: u64,
}

/// Percentiles of mutator fault stalls; in handler-thread mode timed by the handler.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize), serde(default))]
pub struct FaultStalls<Name = &'static str> {
    pub count: u64,
    pub p50_ns: u64,
    pub p90_ns: u64,
    pub p99_ns: u64,
    pub p999_ns: u64,
    pub max_ns: u64,
    pub total_ns: u64,
    /// Where stalls were timed: "faulting_thread" or "handler_thread".
    #[cfg_attr(feature = "serde", serde(rename = "measured_in"))]
    pub timed_in: Name,
    /// The histogram the stalls were recorded into: `(bucket upper bound ns, count)` of each
    /// non-empty bucket, increasing (buckets are at most 12.5% wide).
    #[cfg_attr(feature = "serde", serde(deserialize_with = "lenient::list"))]
    pub buckets: Vec<(u64, u64)>,
}

/// Everything the collector measured. `Name` as in [`PauseRecord`]; the collector's own
/// statistics are `GcStats` (names `&'static str`).
#[derive(Clone, Debug, Default)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
pub struct GcStats<Name = &'static str> {
    pub collector: Name,
    pub fault_mode: Option<Name>,
    pub fallback_reason: Option<String>,
    pub cycles: u64,
    /// Live bytes found by the last cycle (the heap's size right after it).
    #[cfg_attr(feature = "serde", serde(default))]
    pub last_live_bytes: u64,
    pub pauses: Vec<PauseRecord<Name>>,
    /// Pauses not kept in `pauses` (past [`MAX_PAUSE_RECORDS`]).
    #[cfg_attr(feature = "serde", serde(default))]
    pub pauses_dropped: u64,
    /// One record per cycle (capped at [`MAX_PAUSE_RECORDS`]); `cycles` counts them all.
    #[cfg_attr(feature = "serde", serde(default, deserialize_with = "lenient::list"))]
    pub cycles_detail: Vec<CycleRecord>,
    #[cfg_attr(feature = "serde", serde(default))]
    pub cycles_dropped: u64,
    #[cfg_attr(feature = "serde", serde(skip))]
    open_cycle: Option<OpenCycle>,
    #[cfg_attr(feature = "serde", serde(default))]
    pub pause_total_ns: u64,
    #[cfg_attr(feature = "serde", serde(default))]
    pub pause_max_ns: u64,
    /// CPU time spent collecting: the mutator's inside collections (pauses and waits
    /// excluded), which it adds here, plus the GC thread's `gc_thread_cpu_ns`.
    #[cfg_attr(feature = "serde", serde(default))]
    pub gc_cpu_ns: u64,
    /// CPU time of the GC thread and the marking helpers (concurrent mode), included in
    /// `gc_cpu_ns`; set through [`GcStats::set_gc_thread_cpu_ns`], which keeps that true.
    #[cfg_attr(feature = "serde", serde(default))]
    pub gc_thread_cpu_ns: u64,
    #[cfg_attr(feature = "serde", serde(default))]
    pub bytes_moved: u64,
    #[cfg_attr(feature = "serde", serde(default))]
    pub pages_compacted_by_gc: u64,
    #[cfg_attr(feature = "serde", serde(default))]
    pub pages_compacted_by_mutator: u64,
    #[cfg_attr(feature = "serde", serde(default))]
    pub uffd_move_pages: u64,
    #[cfg_attr(feature = "serde", serde(default))]
    pub uffd_copy_pages: u64,
    #[cfg_attr(feature = "serde", serde(default))]
    pub uffd_zeropage_pages: u64,
    #[cfg_attr(feature = "serde", serde(default))]
    pub fresh_page_faults: u64,
    /// From-space pages reused as the GC thread's scratch pages (design note §2.5).
    #[cfg_attr(feature = "serde", serde(default))]
    pub pages_recycled: u64,
    /// Mutator faults that waited for a page another thread was compacting, and faults that
    /// found their page already installed (diagnostics of the fault path).
    #[cfg_attr(feature = "serde", serde(default))]
    pub fault_waits: u64,
    #[cfg_attr(feature = "serde", serde(default))]
    pub spurious_faults: u64,
    #[cfg_attr(feature = "serde", serde(default))]
    pub mutator_fault_stalls: FaultStalls<Name>,
    #[cfg_attr(feature = "serde", serde(default))]
    pub allocation_stalls: StallSummary,
    /// Collections run because an allocation would have taken the heap past its limit
    /// (`collector/limit.rs`): near the limit, one per such collection.
    #[cfg_attr(feature = "serde", serde(default))]
    pub limit_collections: u64,
    /// Allocations refused with out-of-memory.
    #[cfg_attr(feature = "serde", serde(default))]
    pub out_of_memory: u64,
    #[cfg_attr(feature = "serde", serde(default))]
    pub peak_heap_bytes: u64,
    #[cfg_attr(feature = "serde", serde(default))]
    pub peak_rss_bytes: u64,
}

impl GcStats {
    pub fn new(collector: &'static str) -> Self {
        GcStats {
            collector,
            mutator_fault_stalls: FaultStalls {
                timed_in: "faulting_thread",
                ..FaultStalls::default()
            },
            ..GcStats::default()
        }
    }

    /// Records pause `p` of cycle `cycle` (0: not a collection's pause).
    pub fn record_pause(&mut self, cycle: u64, p: Pause) {
        self.pause_total_ns += p.ns;
        self.pause_max_ns = self.pause_max_ns.max(p.ns);
        if self.pauses.len() < MAX_PAUSE_RECORDS {
            self.pauses.push(PauseRecord {
                kind: p.kind,
                start_ns: p.start_ns,
                ns: p.ns,
                ttsp_ns: p.ttsp_ns,
                cycle,
            });
        } else {
            self.pauses_dropped += 1;
        }
    }

    /// Records a finished cycle (stop-the-world: it ends with its pause).
    pub fn record_cycle(&mut self, c: CycleRecord) {
        if self.cycles_detail.len() < MAX_PAUSE_RECORDS {
            self.cycles_detail.push(c);
        } else {
            self.cycles_dropped += 1;
        }
    }

    /// Records a concurrent cycle at its flip; its compaction end and page counts come with
    /// [`GcStats::update_open_cycle`] and [`GcStats::close_cycle`]. `gc_pages` and
    /// `mutator_pages` are the cumulative page counters at the flip.
    pub fn open_cycle(&mut self, c: CycleRecord, gc_pages: u64, mutator_pages: u64) {
        self.open_cycle = Some(OpenCycle {
            cycle: c.cycle,
            gc_pages_at_flip: gc_pages,
            mutator_pages_at_flip: mutator_pages,
        });
        self.record_cycle(c);
    }

    /// The open cycle's record, if it was kept.
    fn open_record(&mut self) -> Option<(OpenCycle, &mut CycleRecord)> {
        let open = self.open_cycle?;
        let rec = self.cycles_detail.last_mut()?;
        (rec.cycle == open.cycle).then_some((open, rec))
    }

    /// Brings the open cycle's page counts up to the cumulative counters `gc_pages` and
    /// `mutator_pages`.
    pub fn update_open_cycle(&mut self, gc_pages: u64, mutator_pages: u64) {
        if let Some((open, rec)) = self.open_record() {
            rec.pages_by_gc = gc_pages.saturating_sub(open.gc_pages_at_flip);
            rec.pages_by_mutator = mutator_pages.saturating_sub(open.mutator_pages_at_flip);
        }
    }

    /// The open cycle finished compacting at `end_ns` (relative to the heap's creation).
    pub fn close_cycle(&mut self, end_ns: u64, gc_pages: u64, mutator_pages: u64) {
        self.update_open_cycle(gc_pages, mutator_pages);
        if let Some((_, rec)) = self.open_record() {
            rec.compaction_end_ns = Some(end_ns);
        }
        self.open_cycle = None;
    }

    /// Sets the GC thread's CPU time so far (`ns`, cumulative), keeping `gc_cpu_ns` its total
    /// with the mutator's part.
    pub fn set_gc_thread_cpu_ns(&mut self, ns: u64) {
        self.gc_cpu_ns = self
            .gc_cpu_ns
            .saturating_sub(self.gc_thread_cpu_ns)
            .saturating_add(ns);
        self.gc_thread_cpu_ns = ns;
    }

    pub fn note_heap_bytes(&mut self, bytes: usize) {
        self.peak_heap_bytes = self.peak_heap_bytes.max(bytes as u64);
    }
}

#[cfg(feature = "serde")]
impl<Name: Serialize> GcStats<Name> {
    /// The statistics as one JSON object (the `--gc-stats` file).
    pub fn to_json(&self) -> String {
        // Serializing cannot fail: every field is a number, a string, or a list or struct of
        // them (serde_json fails only on non-string map keys and on failing Serialize impls).
        serde_json::to_string(self).unwrap_or_else(|e| unreachable!("statistics as JSON: {e}"))
    }
}

/// Reading lists leniently: an entry that does not read is skipped, so that a file from
/// another version of the collector still yields the entries this one understands.
#[cfg(feature = "serde")]
mod lenient {
    use serde::de::{Deserializer, IgnoredAny};
    use serde::Deserialize;

    /// An entry of a list: read, or anything else (consumed and dropped).
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Entry<T> {
        Read(T),
        Unreadable(IgnoredAny),
    }

    pub fn list<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
    where
        D: Deserializer<'de>,
        T: Deserialize<'de>,
    {
        let entries = Vec::<Entry<T>>::deserialize(d)?;
        Ok(entries
            .into_iter()
            .filter_map(|e| match e {
                Entry::Read(t) => Some(t),
                Entry::Unreadable(_) => None,
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocation_stalls_are_listed_and_capped() {
        let mut a = StallSummary::default();
        a.record(100, 20);
        a.record(500, 30);
        assert_eq!(
            a.list,
            vec![
                Stall {
                    start_ns: 100,
                    ns: 20
                },
                Stall {
                    start_ns: 500,
                    ns: 30
                }
            ]
        );
        for i in 0..MAX_PAUSE_RECORDS as u64 {
            a.record(1000 + i, 1);
        }
        assert_eq!(a.list.len(), MAX_PAUSE_RECORDS);
        assert_eq!(a.dropped, 2);
        assert_eq!(a.count, MAX_PAUSE_RECORDS as u64 + 2);
        assert_eq!(a.total_ns, 50 + MAX_PAUSE_RECORDS as u64);
        assert_eq!(a.max_ns, 30);
    }

    #[test]
    fn cycles_record_their_spans_and_page_counts() {
        let mut s = GcStats::new("concurrent");
        let c1 = CycleRecord {
            cycle: 1,
            start_ns: 1_000,
            mark_ns: 300,
            flip_ns: 20,
            compaction_end_ns: None,
            live_bytes: 4096,
            bytes_moved: 4096,
            ..CycleRecord::default()
        };
        s.open_cycle(c1, 10, 4);
        s.update_open_cycle(12, 5);
        assert_eq!(s.cycles_detail[0].pages_by_gc, 2);
        assert_eq!(s.cycles_detail[0].compaction_span(), None);
        s.close_cycle(9_000, 15, 7);
        // Later counter updates belong to no open cycle and change nothing.
        s.update_open_cycle(100, 100);
        let c = &s.cycles_detail[0];
        assert_eq!((c.pages_by_gc, c.pages_by_mutator), (5, 3));
        assert_eq!(c.compaction_end_ns, Some(9_000));
        assert_eq!(c.flip_end_ns(), 1_320);
        assert_eq!(c.compaction_span(), Some((1_320, 9_000)));
        // A span never starts after its end, whatever the figures say.
        let odd = CycleRecord {
            start_ns: 50,
            mark_ns: 10,
            compaction_end_ns: Some(55),
            ..CycleRecord::default()
        };
        assert_eq!(odd.compaction_span(), Some((55, 55)));
    }

    #[test]
    fn cycle_records_are_capped_and_a_dropped_open_cycle_is_ignored() {
        let mut s = GcStats::new("concurrent");
        for c in 1..=MAX_PAUSE_RECORDS as u64 {
            s.record_cycle(CycleRecord {
                cycle: c,
                ..CycleRecord::default()
            });
        }
        let next = MAX_PAUSE_RECORDS as u64 + 1;
        s.open_cycle(
            CycleRecord {
                cycle: next,
                ..CycleRecord::default()
            },
            0,
            0,
        );
        s.close_cycle(77, 5, 5);
        assert_eq!(s.cycles_dropped, 1);
        let last = s.cycles_detail.last().unwrap();
        assert_eq!(
            (last.cycle, last.compaction_end_ns, last.pages_by_gc),
            (next - 1, None, 0)
        );
    }

    #[test]
    fn gc_cpu_time_includes_the_gc_thread() {
        let mut s = GcStats::new("concurrent");
        s.gc_cpu_ns += 10; // the mutator's part, as the collector adds it
        s.set_gc_thread_cpu_ns(5);
        assert_eq!((s.gc_cpu_ns, s.gc_thread_cpu_ns), (15, 5));
        // The thread's figure is cumulative: setting it again replaces its part.
        s.set_gc_thread_cpu_ns(8);
        s.gc_cpu_ns += 2;
        assert_eq!((s.gc_cpu_ns, s.gc_thread_cpu_ns), (20, 8));
    }

    /// The JSON form: the shape other tools read (README, "Statistics").
    #[cfg(feature = "serde")]
    mod json {
        use super::*;

        fn pause(kind: &'static str, start_ns: u64, ns: u64) -> Pause {
            Pause {
                kind,
                start_ns,
                ns,
                ttsp_ns: 0,
            }
        }

        /// `j` parsed: a syntax error fails the test.
        fn parsed(j: &str) -> serde_json::Value {
            serde_json::from_str(j).unwrap_or_else(|e| panic!("{e}: {j}"))
        }

        #[test]
        fn has_every_field_in_order() {
            let j = GcStats::new("stw").to_json();
            let v = parsed(&j);
            let expected = [
                "collector",
                "fault_mode",
                "fallback_reason",
                "cycles",
                "last_live_bytes",
                "pauses",
                "pauses_dropped",
                "cycles_detail",
                "cycles_dropped",
                "pause_total_ns",
                "pause_max_ns",
                "gc_cpu_ns",
                "gc_thread_cpu_ns",
                "bytes_moved",
                "pages_compacted_by_gc",
                "pages_compacted_by_mutator",
                "uffd_move_pages",
                "uffd_copy_pages",
                "uffd_zeropage_pages",
                "fresh_page_faults",
                "pages_recycled",
                "fault_waits",
                "spurious_faults",
                "mutator_fault_stalls",
                "allocation_stalls",
                "limit_collections",
                "out_of_memory",
                "peak_heap_bytes",
                "peak_rss_bytes",
            ];
            let mut keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
            let mut sorted = expected.to_vec();
            keys.sort_unstable();
            sorted.sort_unstable();
            assert_eq!(keys, sorted);
            // In this order (serde_json's map sorts its keys, the text does not).
            let at = |k: &str| j.find(&format!("\"{k}\":")).unwrap();
            assert!(expected.windows(2).all(|w| at(w[0]) < at(w[1])), "{j}");
            assert!(j.starts_with("{\"collector\":\"stw\",\"fault_mode\":null,"));
            assert!(j.contains("\"cycles_detail\":[],\"cycles_dropped\":0,"));
            assert!(j.contains("\"p999_ns\":0,\"max_ns\":0,\"total_ns\":0,"));
            assert!(j.contains("\"measured_in\":\"faulting_thread\",\"buckets\":[]}"));
            assert!(j.ends_with("\"peak_rss_bytes\":0}"));
        }

        #[test]
        fn escapes_strings_and_lists_pauses() {
            let mut s = GcStats::new("stw");
            s.fallback_reason = Some("no \"uffd\"\n\\\u{1}".into());
            s.cycles = 2;
            s.record_pause(2, pause("stw", 5, 7));
            let j = s.to_json();
            assert!(
                j.contains(r#""fallback_reason":"no \"uffd\"\n\\\u0001""#),
                "{j}"
            );
            assert!(j.contains(
                "\"pauses\":[{\"kind\":\"stw\",\"start_ns\":5,\"ns\":7,\"ttsp_ns\":0,\"cycle\":2}]"
            ));
            let v = parsed(&j);
            assert_eq!(v["fallback_reason"], "no \"uffd\"\n\\\u{1}");
        }

        #[test]
        fn allocation_stalls() {
            let mut s = GcStats::new("concurrent");
            s.allocation_stalls.record(100, 20);
            s.allocation_stalls.record(500, 30);
            let j = s.to_json();
            assert!(j.contains(
                "\"allocation_stalls\":{\"count\":2,\"total_ns\":50,\"max_ns\":30,\"list\":\
                 [{\"start_ns\":100,\"ns\":20},{\"start_ns\":500,\"ns\":30}],\"dropped\":0}"
            ));
            parsed(&j);
        }

        #[test]
        fn fault_stall_percentiles_and_buckets() {
            let mut s = GcStats::new("concurrent");
            let f = &mut s.mutator_fault_stalls;
            f.count = 3;
            f.p50_ns = 10;
            f.p999_ns = 60;
            f.max_ns = 60;
            f.total_ns = 80;
            f.buckets = vec![(11, 2), (63, 1)];
            f.timed_in = "handler_thread";
            let j = s.to_json();
            assert!(
                j.contains(
                    "\"mutator_fault_stalls\":{\"count\":3,\"p50_ns\":10,\"p90_ns\":0,\
                     \"p99_ns\":0,\"p999_ns\":60,\"max_ns\":60,\"total_ns\":80,\
                     \"measured_in\":\"handler_thread\",\"buckets\":[[11,2],[63,1]]},"
                ),
                "{j}"
            );
            parsed(&j);
        }

        #[test]
        fn cycles_with_an_open_one_as_null() {
            let mut s = GcStats::new("concurrent");
            s.record_cycle(CycleRecord {
                cycle: 1,
                start_ns: 1_000,
                mark_ns: 300,
                flip_ns: 20,
                compaction_end_ns: Some(9_000),
                live_bytes: 4096,
                bytes_moved: 4096,
                pages_by_gc: 5,
                pages_by_mutator: 3,
            });
            s.open_cycle(
                CycleRecord {
                    cycle: 2,
                    ..CycleRecord::default()
                },
                0,
                0,
            );
            let j = s.to_json();
            assert!(
                j.contains(
                    "\"cycles_detail\":[{\"cycle\":1,\"start_ns\":1000,\"mark_ns\":300,\
                     \"flip_ns\":20,\"compaction_end_ns\":9000,\"live_bytes\":4096,\
                     \"bytes_moved\":4096,\"pages_by_gc\":5,\"pages_by_mutator\":3},\
                     {\"cycle\":2,\"start_ns\":0,\"mark_ns\":0,\"flip_ns\":0,\
                     \"compaction_end_ns\":null,"
                ),
                "{j}"
            );
            parsed(&j);
        }

        /// What the collector writes reads back, with `String` names, to the same JSON.
        #[test]
        fn reads_back_what_it_writes() {
            let mut s = GcStats::new("concurrent");
            s.fault_mode = Some("sigbus");
            s.fallback_reason = Some("UFFDIO_MOVE: \"EINVAL\"".into());
            s.cycles = 1;
            s.record_pause(1, pause("initial", 10, 4));
            s.record_pause(0, pause("native", 30, 2));
            s.open_cycle(
                CycleRecord {
                    cycle: 1,
                    start_ns: 10,
                    ..CycleRecord::default()
                },
                0,
                0,
            );
            s.close_cycle(90, 3, 1);
            s.allocation_stalls.record(40, 6);
            s.mutator_fault_stalls.buckets = vec![(1_023, 7)];
            s.set_gc_thread_cpu_ns(11);
            let j = s.to_json();
            let back: GcStats<String> = serde_json::from_str(&j).unwrap();
            assert_eq!(back.to_json(), j);
            assert_eq!(back.pauses[1].kind, "native");
            assert_eq!(back.cycles_detail[0].compaction_span(), Some((10, 90)));
        }

        #[test]
        fn reading_tolerates_missing_fields_and_unreadable_entries() {
            let old: GcStats<String> =
                serde_json::from_str(r#"{"collector":"stw","cycles":0,"pauses":[]}"#).unwrap();
            assert_eq!((old.gc_cpu_ns, old.fault_mode), (0, None));
            let odd: GcStats<String> = serde_json::from_str(
                r#"{"collector":"stw","cycles":1,"pauses":[],"future_field":[1],
                    "cycles_detail":[{"start_ns":1},{"cycle":1,"start_ns":2}],
                    "mutator_fault_stalls":{"buckets":[[1,2],[5],"x",[3,4]]}}"#,
            )
            .unwrap();
            assert_eq!(odd.cycles_detail.len(), 1);
            assert_eq!(odd.mutator_fault_stalls.buckets, vec![(1, 2), (3, 4)]);
            for required in [
                r#"{"cycles":0,"pauses":[]}"#,
                r#"{"collector":"stw","pauses":[]}"#,
                r#"{"collector":"stw","cycles":0}"#,
                r#"{"collector":"stw","cycles":0,"pauses":[{"kind":"stw","ns":1}]}"#,
            ] {
                assert!(
                    serde_json::from_str::<GcStats<String>>(required).is_err(),
                    "{required}"
                );
            }
        }
    }
}
