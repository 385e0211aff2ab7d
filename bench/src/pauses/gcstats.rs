//! The statistics `lox --gc-stats PATH` writes (design note §7), read into a struct. Missing
//! optional fields read as zero so that an older or newer `lox` still reports what it has; the
//! fields every version writes (`collector`, `cycles`, `pauses`) are required.

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
}

/// Percentiles of mutator fault stalls as `lox` summarises them (it keeps no per-stall list).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FaultStalls {
    pub count: u64,
    pub p50_ns: u64,
    pub p90_ns: u64,
    pub p99_ns: u64,
    pub max_ns: u64,
    /// `faulting_thread` or `handler_thread`: where the stall was timed.
    pub measured_in: String,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct AllocStalls {
    pub count: u64,
    pub total_ns: u64,
    pub max_ns: u64,
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
            ttsp_ns: p.get("ttsp_ns").and_then(Value::as_u64).unwrap_or(0),
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
            max_ns: num(fs, "max_ns"),
            measured_in: opt_str(fs, "measured_in").unwrap_or_default(),
        },
        alloc_stalls: AllocStalls {
            count: num(al, "count"),
            total_ns: num(al, "total_ns"),
            max_ns: num(al, "max_ns"),
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
                ttsp_ns: 1
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
