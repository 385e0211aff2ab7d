//! Concurrent compaction (design note §2.4-§2.7): the flip pause empties the heap into
//! from-space and registers it with userfaultfd; a GC thread compacts pages highest first and
//! installs them in batches with MOVE; mutators that touch a missing page resolve it through
//! `crate::fault`; the finish protocol retires fault handlers and unregisters.
//!
//! Files: `shared` (what the threads share), `cycle` (the mutator's side: pauses, reaping,
//! fresh pages, step mode), `gc_thread` (the compactor), `scratch` (where it builds pages),
//! `install` (MOVE runs, zero pages), `finish` (end of cycle).

pub mod cycle;
pub mod finish;
pub mod gc_thread;
pub mod install;
pub mod marking;
pub mod phases;
pub mod scratch;
pub mod shared;
