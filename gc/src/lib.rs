//! A concurrent mark-compact collector in the style of Android ART's CMC, as a library.
//!
//! The collector owns one moving space per heap, allocates by bumping a pointer, marks live
//! objects into side bitmaps and slides them to the bottom of the space, computing every new
//! address from the bitmaps (no forwarding word in objects). It never names a language type: a
//! language plugs in through the traits of [`binding`]. See `shared/design/collector.md` for the
//! design and the README for an overview.
//!
//! Layout: [`heap`] (allocation, when to collect), [`metadata`] (side bitmaps, chunk vector,
//! page tables), [`collector`] (mark, plan, forward, compact_page, the stop-the-world cycle,
//! the concurrent cycle in `collector::concurrent`, the verifier), [`fault`] (the SIGBUS
//! handler, the heap registry, the handler thread), [`safepoint`] (pause requests, stop and
//! resume, the native state), [`uffd`] (the userfaultfd layer), [`stats`] and [`histogram`]
//! (figures and their JSON), [`os`] (reservations, mremap, clocks).

pub mod address;
pub(crate) mod barrier;
pub mod binding;
pub mod collector;
pub mod config;
pub(crate) mod fatal;
pub mod fault;
pub mod heap;
pub mod histogram;
pub mod metadata;
pub mod mutator;
pub mod os;
pub mod safepoint;
pub mod stats;
mod step;
pub mod uffd;

pub use address::{Address, PAGE, WORD};
pub use binding::{ObjectModel, RootSet, SlotKind};
pub use config::{parse_size, FaultMode, GcMode, HeapConfig};
pub use heap::{Heap, HeapError, OutOfMemory};
pub use mutator::Mutator;
pub use safepoint::{MutatorState, Safepoints, StopGuard, ThreadControl};
pub use stats::GcStats;
