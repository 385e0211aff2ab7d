//! Thin wrappers over the memory system calls the collector uses. Nothing here knows about
//! objects; every function states which ranges it may touch.

pub mod reservation;
