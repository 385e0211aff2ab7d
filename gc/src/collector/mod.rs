//! The collector proper: marking, planning, the forwarding function, the per-page compaction
//! routine, the stop-the-world cycle and the verifier. Each file holds one step.

pub mod compact_page;
pub mod concurrent;
pub mod forward;
pub(crate) mod limit;
pub mod mark;
pub(crate) mod pause;
pub mod plan;
pub(crate) mod prologue;
pub(crate) mod state;
pub mod stw;
#[cfg(test)]
pub mod test_model;
pub mod verify;
