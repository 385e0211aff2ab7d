//! Thin wrappers over the memory system calls the collector uses. Nothing here knows about
//! objects; every function states which ranges it may touch.

pub mod clock;
pub mod remap;
pub mod reservation;
