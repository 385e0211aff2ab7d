//! Mutator faults during concurrent compaction (design note §2.6, §4.2, §4.3): the process-wide
//! table of heap ranges, the SIGBUS handler that resolves a fault on the faulting thread, its
//! scratch-page pool, and the handler thread of the alternative fault mode.

pub mod handler_thread;
pub mod pool;
pub mod registry;
pub mod sigbus;
