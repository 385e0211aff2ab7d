//! The statistics `lox --gc-stats PATH` writes (design note §7), read into the collector's own
//! types (`gc::stats`, the one definition of the file's format) with names as `String`. Fields
//! a file lacks read as zero or empty lists, so that an older or newer `lox` still reports what
//! it has; `collector`, `cycles` and `pauses` are required. A JVM run's figures, rebuilt from
//! its logs, are held in the same types.

pub use gc::stats::{Stall, StallSummary};

pub type GcStats = gc::stats::GcStats<String>;
pub type Pause = gc::stats::PauseRecord<String>;

/// Parses the text of a `--gc-stats` file.
pub fn parse(text: &str) -> Result<GcStats, String> {
    serde_json::from_str(text).map_err(|e| format!("gc stats: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use gc::stats::CycleRecord;

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
        assert_eq!(s.mutator_fault_stalls.p99_ns, 200);
        assert_eq!(s.mutator_fault_stalls.timed_in, "faulting_thread");
        assert_eq!(s.allocation_stalls.total_ns, 50);
        assert_eq!(s.peak_rss_bytes, 16384);
        // What this older sample lacks reads as empty.
        assert!(s.cycles_detail.is_empty() && s.allocation_stalls.list.is_empty());
        assert!(s.mutator_fault_stalls.buckets.is_empty());
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
        let f = &s.mutator_fault_stalls;
        assert_eq!((f.p999_ns, f.total_ns), (200, 400));
        assert_eq!(f.buckets, vec![(103, 2), (207, 1)]);
        let a = &s.allocation_stalls;
        let list: Vec<(u64, u64)> = a.list.iter().map(|s| (s.start_ns, s.ns)).collect();
        assert_eq!(list, vec![(20, 30), (70, 10)]);
        assert_eq!(a.dropped, 1);
    }

    #[test]
    fn required_fields_are_checked() {
        assert!(parse("{}").is_err());
        assert!(parse(r#"{"collector":"stw","cycles":0}"#).is_err());
        assert!(parse(r#"{"collector":"stw","cycles":0,"pauses":[{"kind":"stw"}]}"#).is_err());
        assert!(parse(r#"{"collector":"stw","cycles":0,"pauses":[]}"#).is_ok());
        let e = parse("not json").unwrap_err();
        assert!(e.starts_with("gc stats: "), "{e}");
    }

    /// The statistics the collector records, written as `lox` writes them and read back here.
    #[test]
    fn reads_what_the_collector_writes() {
        let mut st = gc::GcStats::new("concurrent");
        st.fault_mode = Some("sigbus");
        st.fallback_reason = Some("MOVE refused: \"EINVAL\"\n".into());
        st.cycles = 1;
        for (kind, start_ns) in [("initial", 10), ("remark", 40), ("flip", 60)] {
            st.record_pause(
                1,
                gc::stats::Pause {
                    kind,
                    start_ns,
                    ns: 5,
                    ttsp_ns: 1,
                },
            );
        }
        st.record_cycle(CycleRecord {
            cycle: 1,
            start_ns: 10,
            mark_ns: 40,
            flip_ns: 15,
            compaction_end_ns: Some(200),
            pages_by_gc: 7,
            ..CycleRecord::default()
        });
        st.allocation_stalls.record(100, 30);
        st.mutator_fault_stalls.buckets = vec![(2_047, 3)];
        st.set_gc_thread_cpu_ns(1_000);
        let json = st.to_json();
        let s = parse(&json).unwrap();
        assert_eq!(s.to_json(), json, "every field survives");
        assert_eq!(s.fallback_reason, st.fallback_reason);
        let kinds: Vec<&str> = s.pauses.iter().map(|p| p.kind.as_str()).collect();
        assert_eq!(kinds, ["initial", "remark", "flip"]);
        assert_eq!(s.cycles_detail[0].compaction_span(), Some((65, 200)));
        assert_eq!(
            s.allocation_stalls.list,
            [Stall {
                start_ns: 100,
                ns: 30
            }]
        );
        assert_eq!(s.gc_cpu_ns, 1_000);
    }
}
