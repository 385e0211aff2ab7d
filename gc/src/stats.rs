//! Collector statistics (design note §7) and their JSON form, written by hand (no serde). The
//! heap records into [`GcStats`] as cycles run; the embedder reads `Heap::stats` or writes
//! `Heap::stats_json` to the `--gc-stats` file.
//!
//! Besides the totals: every pause (with its cycle), every allocation stall, one record per
//! cycle (its phases, its compaction span and who compacted its pages), and the fault-stall
//! histogram's buckets, each list capped so a stress run stays bounded. Recording is a push of
//! a small struct; all formatting happens in [`GcStats::to_json`].

use std::fmt::Write;

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
#[derive(Clone, Debug)]
pub struct PauseRecord {
    /// The cycle (1 for the first) whose pause this is; 0 for a pause that is no
    /// collection's (another thread stopped the mutator).
    pub cycle: u64,
    pub kind: &'static str,
    pub start_ns: u64,
    pub ns: u64,
    pub ttsp_ns: u64,
}

/// One wait of a mutator for the collector to free memory.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Stall {
    /// Start, relative to the heap's creation (as a pause's `start_ns`).
    pub start_ns: u64,
    pub ns: u64,
}

/// Count, total and maximum of some waits, and each wait (capped at [`MAX_PAUSE_RECORDS`]).
#[derive(Clone, Debug, Default)]
pub struct StallSummary {
    pub count: u64,
    pub total_ns: u64,
    pub max_ns: u64,
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
pub struct CycleRecord {
    pub cycle: u64,
    /// Start of the cycle's first pause (at the collection request).
    pub start_ns: u64,
    /// Marking and planning: the concurrent `mark` pause, or the same phases inside a
    /// stop-the-world pause.
    pub mark_ns: u64,
    /// From the end of planning until compaction can start: the concurrent `flip` pause (roots,
    /// mremap, register), or in a stop-the-world pause roots, mremap and populating.
    pub flip_ns: u64,
    /// When the last page was compacted and the cycle finished. A concurrent cycle compacts
    /// from `start_ns + mark_ns + flip_ns` to here beside the mutator; in stop-the-world mode
    /// it is the end of the pause. `None` while a concurrent cycle is still running.
    pub compaction_end_ns: Option<u64>,
    pub live_bytes: u64,
    pub bytes_moved: u64,
    /// Pages compacted by the GC (thread) and by mutator faults in this cycle (so far, while
    /// it runs).
    pub pages_by_gc: u64,
    pub pages_by_mutator: u64,
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
#[derive(Clone, Debug, Default)]
pub struct FaultStalls {
    pub count: u64,
    pub p50_ns: u64,
    pub p90_ns: u64,
    pub p99_ns: u64,
    pub p999_ns: u64,
    pub max_ns: u64,
    pub total_ns: u64,
    /// The histogram the stalls were recorded into: `(bucket upper bound ns, count)` of each
    /// non-empty bucket, increasing (buckets are at most 12.5% wide).
    pub buckets: Vec<(u64, u64)>,
    /// Where stalls were timed: "faulting_thread" or "handler_thread".
    pub timed_in: &'static str,
}

#[derive(Clone, Debug)]
pub struct GcStats {
    pub collector: &'static str,
    pub fault_mode: Option<&'static str>,
    pub fallback_reason: Option<String>,
    pub cycles: u64,
    /// Live bytes found by the last cycle (the heap's size right after it).
    pub last_live_bytes: u64,
    pub pauses: Vec<PauseRecord>,
    /// Pauses not kept in `pauses` (past [`MAX_PAUSE_RECORDS`]).
    pub pauses_dropped: u64,
    /// One record per cycle (capped at [`MAX_PAUSE_RECORDS`]); `cycles` counts them all.
    pub cycles_detail: Vec<CycleRecord>,
    pub cycles_dropped: u64,
    open_cycle: Option<OpenCycle>,
    pub pause_total_ns: u64,
    pub pause_max_ns: u64,
    /// CPU time of the mutator inside collections (pauses and waits excluded).
    pub gc_cpu_ns: u64,
    /// CPU time of the GC thread (concurrent mode).
    pub gc_thread_cpu_ns: u64,
    pub bytes_moved: u64,
    pub pages_compacted_by_gc: u64,
    pub pages_compacted_by_mutator: u64,
    pub uffd_move_pages: u64,
    pub uffd_copy_pages: u64,
    pub uffd_zeropage_pages: u64,
    pub fresh_page_faults: u64,
    /// Mutator faults that waited for a page another thread was compacting, and faults that
    /// found their page already installed (diagnostics of the fault path).
    pub fault_waits: u64,
    pub spurious_faults: u64,
    /// From-space pages reused as the GC thread's scratch pages (design note §2.5).
    pub pages_recycled: u64,
    pub mutator_fault_stalls: FaultStalls,
    pub allocation_stalls: StallSummary,
    pub peak_heap_bytes: u64,
    pub peak_rss_bytes: u64,
}

impl GcStats {
    pub fn new(collector: &'static str) -> Self {
        GcStats {
            collector,
            fault_mode: None,
            fallback_reason: None,
            cycles: 0,
            last_live_bytes: 0,
            pauses: Vec::new(),
            pauses_dropped: 0,
            cycles_detail: Vec::new(),
            cycles_dropped: 0,
            open_cycle: None,
            pause_total_ns: 0,
            pause_max_ns: 0,
            gc_cpu_ns: 0,
            gc_thread_cpu_ns: 0,
            bytes_moved: 0,
            pages_compacted_by_gc: 0,
            pages_compacted_by_mutator: 0,
            uffd_move_pages: 0,
            uffd_copy_pages: 0,
            uffd_zeropage_pages: 0,
            fresh_page_faults: 0,
            pages_recycled: 0,
            fault_waits: 0,
            spurious_faults: 0,
            mutator_fault_stalls: FaultStalls {
                timed_in: "faulting_thread",
                ..FaultStalls::default()
            },
            allocation_stalls: StallSummary::default(),
            peak_heap_bytes: 0,
            peak_rss_bytes: 0,
        }
    }

    /// Records pause `p` of cycle `cycle` (0: not a collection's pause).
    pub fn record_pause(&mut self, cycle: u64, p: Pause) {
        self.pause_total_ns += p.ns;
        self.pause_max_ns = self.pause_max_ns.max(p.ns);
        if self.pauses.len() < MAX_PAUSE_RECORDS {
            self.pauses.push(PauseRecord {
                cycle,
                kind: p.kind,
                start_ns: p.start_ns,
                ns: p.ns,
                ttsp_ns: p.ttsp_ns,
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

    pub fn note_heap_bytes(&mut self, bytes: usize) {
        self.peak_heap_bytes = self.peak_heap_bytes.max(bytes as u64);
    }

    /// The statistics as one JSON object.
    pub fn to_json(&self) -> String {
        let mut o = String::with_capacity(
            1024 + self.pauses.len() * 80
                + self.cycles_detail.len() * 220
                + self.allocation_stalls.list.len() * 40
                + self.mutator_fault_stalls.buckets.len() * 24,
        );
        o.push('{');
        field_str(&mut o, "collector", Some(self.collector));
        field_str(&mut o, "fault_mode", self.fault_mode);
        field_str(&mut o, "fallback_reason", self.fallback_reason.as_deref());
        field_num(&mut o, "cycles", self.cycles);
        field_num(&mut o, "last_live_bytes", self.last_live_bytes);
        o.push_str("\"pauses\":[");
        for (i, p) in self.pauses.iter().enumerate() {
            if i > 0 {
                o.push(',');
            }
            o.push('{');
            field_str(&mut o, "kind", Some(p.kind));
            field_num(&mut o, "start_ns", p.start_ns);
            field_num(&mut o, "ns", p.ns);
            field_num(&mut o, "ttsp_ns", p.ttsp_ns);
            field_num(&mut o, "cycle", p.cycle);
            close(&mut o, '}');
        }
        o.push_str("],");
        field_num(&mut o, "pauses_dropped", self.pauses_dropped);
        o.push_str("\"cycles_detail\":[");
        for (i, c) in self.cycles_detail.iter().enumerate() {
            if i > 0 {
                o.push(',');
            }
            o.push('{');
            field_num(&mut o, "cycle", c.cycle);
            field_num(&mut o, "start_ns", c.start_ns);
            field_num(&mut o, "mark_ns", c.mark_ns);
            field_num(&mut o, "flip_ns", c.flip_ns);
            field_opt_num(&mut o, "compaction_end_ns", c.compaction_end_ns);
            field_num(&mut o, "live_bytes", c.live_bytes);
            field_num(&mut o, "bytes_moved", c.bytes_moved);
            field_num(&mut o, "pages_by_gc", c.pages_by_gc);
            field_num(&mut o, "pages_by_mutator", c.pages_by_mutator);
            close(&mut o, '}');
        }
        o.push_str("],");
        field_num(&mut o, "cycles_dropped", self.cycles_dropped);
        field_num(&mut o, "pause_total_ns", self.pause_total_ns);
        field_num(&mut o, "pause_max_ns", self.pause_max_ns);
        field_num(&mut o, "gc_cpu_ns", self.gc_cpu_ns + self.gc_thread_cpu_ns);
        field_num(&mut o, "gc_thread_cpu_ns", self.gc_thread_cpu_ns);
        field_num(&mut o, "bytes_moved", self.bytes_moved);
        field_num(&mut o, "pages_compacted_by_gc", self.pages_compacted_by_gc);
        field_num(
            &mut o,
            "pages_compacted_by_mutator",
            self.pages_compacted_by_mutator,
        );
        field_num(&mut o, "uffd_move_pages", self.uffd_move_pages);
        field_num(&mut o, "uffd_copy_pages", self.uffd_copy_pages);
        field_num(&mut o, "uffd_zeropage_pages", self.uffd_zeropage_pages);
        field_num(&mut o, "fresh_page_faults", self.fresh_page_faults);
        field_num(&mut o, "pages_recycled", self.pages_recycled);
        field_num(&mut o, "fault_waits", self.fault_waits);
        field_num(&mut o, "spurious_faults", self.spurious_faults);
        let f = &self.mutator_fault_stalls;
        o.push_str("\"mutator_fault_stalls\":{");
        field_num(&mut o, "count", f.count);
        field_num(&mut o, "p50_ns", f.p50_ns);
        field_num(&mut o, "p90_ns", f.p90_ns);
        field_num(&mut o, "p99_ns", f.p99_ns);
        field_num(&mut o, "p999_ns", f.p999_ns);
        field_num(&mut o, "max_ns", f.max_ns);
        field_num(&mut o, "total_ns", f.total_ns);
        field_str(&mut o, "measured_in", Some(f.timed_in));
        o.push_str("\"buckets\":[");
        for (i, &(upper, n)) in f.buckets.iter().enumerate() {
            if i > 0 {
                o.push(',');
            }
            let _ = write!(o, "[{upper},{n}]");
        }
        o.push(']');
        o.push('}');
        o.push(',');
        let a = &self.allocation_stalls;
        o.push_str("\"allocation_stalls\":{");
        field_num(&mut o, "count", a.count);
        field_num(&mut o, "total_ns", a.total_ns);
        field_num(&mut o, "max_ns", a.max_ns);
        o.push_str("\"list\":[");
        for (i, st) in a.list.iter().enumerate() {
            if i > 0 {
                o.push(',');
            }
            let _ = write!(o, "{{\"start_ns\":{},\"ns\":{}}}", st.start_ns, st.ns);
        }
        o.push_str("],");
        field_num(&mut o, "dropped", a.dropped);
        close(&mut o, '}');
        o.push(',');
        field_num(&mut o, "peak_heap_bytes", self.peak_heap_bytes);
        field_num(&mut o, "peak_rss_bytes", self.peak_rss_bytes);
        close(&mut o, '}');
        o
    }
}

/// Replaces the trailing comma of the last field with `c`.
fn close(o: &mut String, c: char) {
    if o.ends_with(',') {
        o.pop();
    }
    o.push(c);
}

fn field_num(o: &mut String, name: &str, v: u64) {
    let _ = write!(o, "\"{name}\":{v},");
}

fn field_opt_num(o: &mut String, name: &str, v: Option<u64>) {
    match v {
        Some(v) => field_num(o, name, v),
        None => {
            let _ = write!(o, "\"{name}\":null,");
        }
    }
}

fn field_str(o: &mut String, name: &str, v: Option<&str>) {
    let _ = write!(o, "\"{name}\":");
    match v {
        None => o.push_str("null"),
        Some(s) => push_json_string(o, s),
    }
    o.push(',');
}

/// Appends `s` as a JSON string literal.
pub fn push_json_string(o: &mut String, s: &str) {
    o.push('"');
    for ch in s.chars() {
        match ch {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            '\r' => o.push_str("\\r"),
            '\t' => o.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(o, "\\u{:04x}", c as u32);
            }
            c => o.push(c),
        }
    }
    o.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Checks that brackets balance and no list or object ends with a comma.
    fn well_formed(j: &str) {
        assert!(
            !j.contains(",}") && !j.contains(",]") && !j.contains(",,"),
            "{j}"
        );
        let mut depth = 0i32;
        for c in j.chars() {
            match c {
                '{' | '[' => depth += 1,
                '}' | ']' => depth -= 1,
                _ => {}
            }
            assert!(depth >= 0, "{j}");
        }
        assert_eq!(depth, 0, "{j}");
    }

    fn pause(kind: &'static str, start_ns: u64, ns: u64) -> Pause {
        Pause {
            kind,
            start_ns,
            ns,
            ttsp_ns: 0,
        }
    }

    #[test]
    fn json_has_every_field_and_escapes_strings() {
        let mut s = GcStats::new("stw");
        s.fallback_reason = Some("no \"uffd\"\n".into());
        s.cycles = 2;
        s.record_pause(2, pause("stw", 5, 7));
        let j = s.to_json();
        assert!(j.starts_with("{\"collector\":\"stw\",\"fault_mode\":null,"));
        assert!(j.contains("\"fallback_reason\":\"no \\\"uffd\\\"\\n\""));
        assert!(j.contains(
            "\"pauses\":[{\"kind\":\"stw\",\"start_ns\":5,\"ns\":7,\"ttsp_ns\":0,\"cycle\":2}]"
        ));
        assert!(j.contains(
            "\"allocation_stalls\":{\"count\":0,\"total_ns\":0,\"max_ns\":0,\"list\":[],\
             \"dropped\":0}"
        ));
        assert!(j.contains("\"cycles_detail\":[],\"cycles_dropped\":0,"));
        assert!(j.contains("\"p999_ns\":0,\"max_ns\":0,\"total_ns\":0,"));
        assert!(j.contains("\"measured_in\":\"faulting_thread\",\"buckets\":[]}"));
        assert!(j.ends_with("\"peak_rss_bytes\":0}"));
        well_formed(&j);
    }

    #[test]
    fn allocation_stalls_are_listed_and_capped() {
        let mut a = StallSummary::default();
        a.record(100, 20);
        a.record(500, 30);
        let mut s = GcStats::new("concurrent");
        s.allocation_stalls = a.clone();
        let j = s.to_json();
        assert!(j.contains(
            "\"allocation_stalls\":{\"count\":2,\"total_ns\":50,\"max_ns\":30,\"list\":\
             [{\"start_ns\":100,\"ns\":20},{\"start_ns\":500,\"ns\":30}],\"dropped\":0}"
        ));
        well_formed(&j);
        for i in 0..MAX_PAUSE_RECORDS as u64 {
            a.record(1000 + i, 1);
        }
        assert_eq!(a.list.len(), MAX_PAUSE_RECORDS);
        assert_eq!(a.dropped, 2);
        assert_eq!(a.count, MAX_PAUSE_RECORDS as u64 + 2);
        assert_eq!(a.total_ns, 50 + MAX_PAUSE_RECORDS as u64);
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
                "\"mutator_fault_stalls\":{\"count\":3,\"p50_ns\":10,\"p90_ns\":0,\"p99_ns\":0,\
                 \"p999_ns\":60,\"max_ns\":60,\"total_ns\":80,\"measured_in\":\"handler_thread\",\
                 \"buckets\":[[11,2],[63,1]]},"
            ),
            "{j}"
        );
        well_formed(&j);
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
        let open = s.to_json();
        assert!(open.contains("\"compaction_end_ns\":null,"), "{open}");
        well_formed(&open);
        s.close_cycle(9_000, 15, 7);
        // Later counter updates belong to no open cycle and change nothing.
        s.update_open_cycle(100, 100);
        s.record_cycle(CycleRecord {
            cycle: 2,
            start_ns: 20_000,
            mark_ns: 10,
            flip_ns: 5,
            compaction_end_ns: Some(20_100),
            live_bytes: 1,
            bytes_moved: 1,
            pages_by_gc: 1,
            pages_by_mutator: 0,
        });
        let j = s.to_json();
        assert!(
            j.contains(
                "\"cycles_detail\":[{\"cycle\":1,\"start_ns\":1000,\"mark_ns\":300,\"flip_ns\":20,\
                 \"compaction_end_ns\":9000,\"live_bytes\":4096,\"bytes_moved\":4096,\
                 \"pages_by_gc\":5,\"pages_by_mutator\":3},{\"cycle\":2,"
            ),
            "{j}"
        );
        well_formed(&j);
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
}
