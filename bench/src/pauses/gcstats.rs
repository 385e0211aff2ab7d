//! The statistics `lox --gc-stats PATH` writes (design note §7), read into a struct. Missing
//! optional fields read as zero (or empty lists) so that an older or newer `lox` still reports
//! what it has; the fields every version writes (`collector`, `cycles`, `pauses`) are required.
//! A malformed entry of an optional list is skipped, not fatal.

use crate::json::{self, Value};

/// One stop-the-world pause.
#[derive(Clone, Debug, PartialEq)]
pub struct Pause {
    /// `stw` (a whole stop-the-world cycle), `mark`, `flip`, ... as the collector names it.
    pub kind: String,
    /// Start, ns from the heap's creation (about the process start).
    pub start_ns: u64,
    /// The whole pause, including its time to safepoint.
    pub ns: u64,
    /// Time to safepoint: from the request until every mutator stopped.
    pub ttsp_ns: u64,
    /// The collection cycle the pause belongs to; 0 for none (a stop requested by another
    /// thread, a JVM safepoint, or a `lox` that does not say).
    pub cycle: u64,
}

/// Mutator fault stalls as `lox` summarises them: percentiles, and the bucketed histogram it
/// recorded them into (it keeps no per-stall list: the SIGBUS handler cannot allocate).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FaultStalls {
    pub count: u64,
    pub p50_ns: u64,
    pub p90_ns: u64,
    pub p99_ns: u64,
    pub p999_ns: u64,
    pub max_ns: u64,
    pub total_ns: u64,
    /// `(bucket upper bound ns, count)`, increasing; empty from a `lox` that does not export it.
    pub buckets: Vec<(u64, u64)>,
    /// `faulting_thread` or `handler_thread`: where the stall was timed.
    pub measured_in: String,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct AllocStalls {
    pub count: u64,
    pub total_ns: u64,
    pub max_ns: u64,
    /// Each stall as `(start_ns, ns)`, start from the heap's creation; the collector keeps at
    /// most a fixed number of them.
    pub list: Vec<(u64, u64)>,
    /// Stalls counted but not listed.
    pub dropped: u64,
}

/// One collection cycle (`cycles_detail`). Times in ns; `start_ns` and `compaction_end_ns`
/// from the heap's creation.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CycleDetail {
    pub cycle: u64,
    pub start_ns: u64,
    /// Marking and planning (the concurrent `mark` pause).
    pub mark_ns: u64,
    /// Up to the start of compaction (the concurrent `flip` pause).
    pub flip_ns: u64,
    /// When compaction finished: in stop-the-world mode the end of the pause. `None` for a
    /// cycle still running when the statistics were written.
    pub compaction_end_ns: Option<u64>,
    pub live_bytes: u64,
    pub bytes_moved: u64,
    pub pages_by_gc: u64,
    pub pages_by_mutator: u64,
}

impl CycleDetail {
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

#[derive(Clone, Debug, Default, PartialEq)]
pub struct GcStats {
    pub collector: String,
    pub fault_mode: Option<String>,
    pub fallback_reason: Option<String>,
    pub cycles: u64,
    pub last_live_bytes: u64,
    pub pauses: Vec<Pause>,
    pub pauses_dropped: u64,
    pub cycles_detail: Vec<CycleDetail>,
    pub cycles_dropped: u64,
    pub pause_total_ns: u64,
    pub pause_max_ns: u64,
    pub gc_cpu_ns: u64,
    pub bytes_moved: u64,
    pub pages_compacted_by_gc: u64,
    pub pages_compacted_by_mutator: u64,
    pub uffd_move_pages: u64,
    pub uffd_copy_pages: u64,
    pub uffd_zeropage_pages: u64,
    pub fresh_page_faults: u64,
    pub fault_stalls: FaultStalls,
    pub alloc_stalls: AllocStalls,
    pub peak_heap_bytes: u64,
    pub peak_rss_bytes: u64,
}

fn num(v: &Value, key: &str) -> u64 {
    v.get(key).and_then(Value::as_u64).unwrap_or(0)
}

fn opt_str(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_string)
}

fn array<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v.get(key).and_then(Value::as_array).unwrap_or(&[])
}

/// `[[a, b], ...]` pairs of integers; malformed entries are skipped.
fn pairs(items: &[Value]) -> Vec<(u64, u64)> {
    items
        .iter()
        .filter_map(|p| match p.as_array()? {
            [a, b] => Some((a.as_u64()?, b.as_u64()?)),
            _ => None,
        })
        .collect()
}

/// `[{start_ns, ns}, ...]` as pairs; entries without both are skipped.
fn stall_list(items: &[Value]) -> Vec<(u64, u64)> {
    items
        .iter()
        .filter_map(|s| Some((s.get("start_ns")?.as_u64()?, s.get("ns")?.as_u64()?)))
        .collect()
}

fn cycle_list(items: &[Value]) -> Vec<CycleDetail> {
    items
        .iter()
        .filter_map(|c| {
            Some(CycleDetail {
                cycle: c.get("cycle")?.as_u64()?,
                start_ns: c.get("start_ns")?.as_u64()?,
                mark_ns: num(c, "mark_ns"),
                flip_ns: num(c, "flip_ns"),
                compaction_end_ns: c.get("compaction_end_ns").and_then(Value::as_u64),
                live_bytes: num(c, "live_bytes"),
                bytes_moved: num(c, "bytes_moved"),
                pages_by_gc: num(c, "pages_by_gc"),
                pages_by_mutator: num(c, "pages_by_mutator"),
            })
        })
        .collect()
}

/// Parses the text of a `--gc-stats` file.
pub fn parse(text: &str) -> Result<GcStats, String> {
    let v = json::parse(text)?;
    let collector = opt_str(&v, "collector").ok_or("gc stats: no \"collector\"")?;
    let cycles = v
        .get("cycles")
        .and_then(Value::as_u64)
        .ok_or("gc stats: no \"cycles\"")?;
    let list = v
        .get("pauses")
        .and_then(Value::as_array)
        .ok_or("gc stats: no \"pauses\" list")?;
    let mut pauses = Vec::with_capacity(list.len());
    for (i, p) in list.iter().enumerate() {
        let field = |k: &str| {
            p.get(k)
                .and_then(Value::as_u64)
                .ok_or_else(|| format!("gc stats: pause {i} has no \"{k}\""))
        };
        pauses.push(Pause {
            kind: opt_str(p, "kind").unwrap_or_else(|| "?".into()),
            start_ns: field("start_ns")?,
            ns: field("ns")?,
            ttsp_ns: num(p, "ttsp_ns"),
            cycle: num(p, "cycle"),
        });
    }
    let none = Value::Null;
    let fs = v.get("mutator_fault_stalls").unwrap_or(&none);
    let al = v.get("allocation_stalls").unwrap_or(&none);
    Ok(GcStats {
        collector,
        fault_mode: opt_str(&v, "fault_mode"),
        fallback_reason: opt_str(&v, "fallback_reason"),
        cycles,
        last_live_bytes: num(&v, "last_live_bytes"),
        pauses,
        pauses_dropped: num(&v, "pauses_dropped"),
        cycles_detail: cycle_list(array(&v, "cycles_detail")),
        cycles_dropped: num(&v, "cycles_dropped"),
        pause_total_ns: num(&v, "pause_total_ns"),
        pause_max_ns: num(&v, "pause_max_ns"),
        gc_cpu_ns: num(&v, "gc_cpu_ns"),
        bytes_moved: num(&v, "bytes_moved"),
        pages_compacted_by_gc: num(&v, "pages_compacted_by_gc"),
        pages_compacted_by_mutator: num(&v, "pages_compacted_by_mutator"),
        uffd_move_pages: num(&v, "uffd_move_pages"),
        uffd_copy_pages: num(&v, "uffd_copy_pages"),
        uffd_zeropage_pages: num(&v, "uffd_zeropage_pages"),
        fresh_page_faults: num(&v, "fresh_page_faults"),
        fault_stalls: FaultStalls {
            count: num(fs, "count"),
            p50_ns: num(fs, "p50_ns"),
            p90_ns: num(fs, "p90_ns"),
            p99_ns: num(fs, "p99_ns"),
            p999_ns: num(fs, "p999_ns"),
            max_ns: num(fs, "max_ns"),
            total_ns: num(fs, "total_ns"),
            buckets: pairs(array(fs, "buckets")),
            measured_in: opt_str(fs, "measured_in").unwrap_or_default(),
        },
        alloc_stalls: AllocStalls {
            count: num(al, "count"),
            total_ns: num(al, "total_ns"),
            max_ns: num(al, "max_ns"),
            list: stall_list(array(al, "list")),
            dropped: num(al, "dropped"),
        },
        peak_heap_bytes: num(&v, "peak_heap_bytes"),
        peak_rss_bytes: num(&v, "peak_rss_bytes"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"{"collector":"concurrent","fault_mode":"sigbus","fallback_reason":null,
      "cycles":2,"last_live_bytes":1000,
      "pauses":[{"kind":"mark","start_ns":10,"ns":5,"ttsp_ns":1},
                {"kind":"flip","start_ns":30,"ns":2,"ttsp_ns":0}],
      "pauses_dropped":0,"pause_total_ns":7,"pause_max_ns":5,"gc_cpu_ns":99,
      "bytes_moved":4096,"uffd_move_pages":3,
      "mutator_fault_stalls":{"count":4,"p50_ns":100,"p90_ns":150,"p99_ns":200,"max_ns":300,
                              "measured_in":"faulting_thread"},
      "allocation_stalls":{"count":1,"total_ns":50,"max_ns":50},
      "peak_heap_bytes":8192,"peak_rss_bytes":16384}"#;

    #[test]
    fn reads_every_field() {
        let s = parse(SAMPLE).unwrap();
        assert_eq!(s.collector, "concurrent");
        assert_eq!(s.fault_mode.as_deref(), Some("sigbus"));
        assert_eq!(s.fallback_reason, None);
        assert_eq!(s.cycles, 2);
        assert_eq!(s.pauses.len(), 2);
        assert_eq!(
            s.pauses[0],
            Pause {
                kind: "mark".into(),
                start_ns: 10,
                ns: 5,
                ttsp_ns: 1,
                cycle: 0,
            }
        );
        assert_eq!(s.pauses[1].kind, "flip");
        assert_eq!(s.gc_cpu_ns, 99);
        assert_eq!(s.uffd_move_pages, 3);
        assert_eq!(s.uffd_copy_pages, 0, "a missing counter reads as zero");
        assert_eq!(s.fault_stalls.p99_ns, 200);
        assert_eq!(s.fault_stalls.measured_in, "faulting_thread");
        assert_eq!(s.alloc_stalls.total_ns, 50);
        assert_eq!(s.peak_rss_bytes, 16384);
        // What this older sample lacks reads as empty.
        assert!(s.cycles_detail.is_empty() && s.alloc_stalls.list.is_empty());
        assert!(s.fault_stalls.buckets.is_empty());
    }

    const NEW_FIELDS: &str = r#"{"collector":"concurrent","cycles":2,
      "pauses":[{"kind":"mark","start_ns":10,"ns":5,"ttsp_ns":1,"cycle":1},
                {"kind":"flip","start_ns":15,"ns":2,"ttsp_ns":0,"cycle":1},
                {"kind":"safepoint","start_ns":90,"ns":1,"ttsp_ns":1,"cycle":0}],
      "cycles_detail":[{"cycle":1,"start_ns":10,"mark_ns":5,"flip_ns":2,"compaction_end_ns":40,
                        "live_bytes":100,"bytes_moved":100,"pages_by_gc":3,"pages_by_mutator":1},
                       {"cycle":2,"start_ns":50,"mark_ns":4,"flip_ns":1,"compaction_end_ns":null,
                        "live_bytes":100,"bytes_moved":100,"pages_by_gc":0,"pages_by_mutator":0},
                       {"start_ns":1}],
      "cycles_dropped":0,
      "mutator_fault_stalls":{"count":3,"p50_ns":100,"p90_ns":150,"p99_ns":200,"p999_ns":200,
                              "max_ns":190,"total_ns":400,"measured_in":"faulting_thread",
                              "buckets":[[103,2],[207,1],[5],"x"]},
      "allocation_stalls":{"count":3,"total_ns":60,"max_ns":30,
                           "list":[{"start_ns":20,"ns":30},{"start_ns":70,"ns":10},{"ns":1}],
                           "dropped":1}}"#;

    #[test]
    fn reads_cycles_stall_lists_and_buckets() {
        let s = parse(NEW_FIELDS).unwrap();
        assert_eq!(s.pauses[1].cycle, 1);
        assert_eq!(s.pauses[2].cycle, 0);
        // The entry without a cycle number is skipped.
        assert_eq!(s.cycles_detail.len(), 2);
        let c = &s.cycles_detail[0];
        assert_eq!(c.flip_end_ns(), 17);
        assert_eq!(c.compaction_span(), Some((17, 40)));
        assert_eq!((c.pages_by_gc, c.pages_by_mutator), (3, 1));
        assert_eq!(s.cycles_detail[1].compaction_end_ns, None);
        assert_eq!(s.cycles_detail[1].compaction_span(), None);
        let f = &s.fault_stalls;
        assert_eq!((f.p999_ns, f.total_ns), (200, 400));
        assert_eq!(f.buckets, vec![(103, 2), (207, 1)]);
        let a = &s.alloc_stalls;
        assert_eq!(a.list, vec![(20, 30), (70, 10)]);
        assert_eq!(a.dropped, 1);
    }

    #[test]
    fn required_fields_are_checked() {
        assert!(parse("{}").is_err());
        assert!(parse(r#"{"collector":"stw","cycles":0}"#).is_err());
        assert!(parse(r#"{"collector":"stw","cycles":0,"pauses":[{"kind":"stw"}]}"#).is_err());
        assert!(parse(r#"{"collector":"stw","cycles":0,"pauses":[]}"#).is_ok());
        assert!(parse("not json").is_err());
    }
}
