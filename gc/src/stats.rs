//! Collector statistics (design note §7) and their JSON form, written by hand (no serde). The
//! heap records into [`GcStats`] as cycles run; the embedder reads `Heap::stats` or writes
//! `Heap::stats_json` to the `--gc-stats` file.

use std::fmt::Write;

/// Pauses kept individually; beyond this only the totals grow (a stress run collects on every
/// allocation and would otherwise keep millions of records).
pub const MAX_PAUSE_RECORDS: usize = 100_000;

/// One pause, from the request to the resume (monotonic ns).
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

/// Count, total and maximum of some waits.
#[derive(Clone, Debug, Default)]
pub struct StallSummary {
    pub count: u64,
    pub total_ns: u64,
    pub max_ns: u64,
}

impl StallSummary {
    pub fn record(&mut self, ns: u64) {
        self.count += 1;
        self.total_ns += ns;
        self.max_ns = self.max_ns.max(ns);
    }
}

/// Percentiles of mutator fault stalls; in handler-thread mode timed by the handler.
#[derive(Clone, Debug, Default)]
pub struct FaultStalls {
    pub count: u64,
    pub p50_ns: u64,
    pub p90_ns: u64,
    pub p99_ns: u64,
    pub max_ns: u64,
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
    pub pauses: Vec<Pause>,
    /// Pauses not kept in `pauses` (past [`MAX_PAUSE_RECORDS`]).
    pub pauses_dropped: u64,
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

    pub fn record_pause(&mut self, p: Pause) {
        self.pause_total_ns += p.ns;
        self.pause_max_ns = self.pause_max_ns.max(p.ns);
        if self.pauses.len() < MAX_PAUSE_RECORDS {
            self.pauses.push(p);
        } else {
            self.pauses_dropped += 1;
        }
    }

    pub fn note_heap_bytes(&mut self, bytes: usize) {
        self.peak_heap_bytes = self.peak_heap_bytes.max(bytes as u64);
    }

    /// The statistics as one JSON object.
    pub fn to_json(&self) -> String {
        let mut o = String::with_capacity(512 + self.pauses.len() * 64);
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
            close(&mut o, '}');
        }
        o.push_str("],");
        field_num(&mut o, "pauses_dropped", self.pauses_dropped);
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
        field_num(&mut o, "max_ns", f.max_ns);
        field_str(&mut o, "measured_in", Some(f.timed_in));
        close(&mut o, '}');
        o.push(',');
        let a = &self.allocation_stalls;
        o.push_str("\"allocation_stalls\":{");
        field_num(&mut o, "count", a.count);
        field_num(&mut o, "total_ns", a.total_ns);
        field_num(&mut o, "max_ns", a.max_ns);
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

    #[test]
    fn json_has_every_field_and_escapes_strings() {
        let mut s = GcStats::new("stw");
        s.fallback_reason = Some("no \"uffd\"\n".into());
        s.cycles = 2;
        s.record_pause(Pause {
            kind: "stw",
            start_ns: 5,
            ns: 7,
            ttsp_ns: 0,
        });
        let j = s.to_json();
        assert!(j.starts_with("{\"collector\":\"stw\",\"fault_mode\":null,"));
        assert!(j.contains("\"fallback_reason\":\"no \\\"uffd\\\"\\n\""));
        assert!(j.contains("\"pauses\":[{\"kind\":\"stw\",\"start_ns\":5,\"ns\":7,\"ttsp_ns\":0}]"));
        assert!(j.contains("\"allocation_stalls\":{\"count\":0,\"total_ns\":0,\"max_ns\":0}"));
        assert!(j.ends_with("\"peak_rss_bytes\":0}"));
        assert!(!j.contains(",}") && !j.contains(",]"));
        let depth = j.chars().fold(0i32, |d, c| match c {
            '{' | '[' => d + 1,
            '}' | ']' => d - 1,
            _ => d,
        });
        assert_eq!(depth, 0);
    }
}
