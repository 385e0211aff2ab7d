//! A thin userfaultfd layer over libc: what the concurrent compactor needs from the kernel
//! (design note §2.4-§2.7, §4), and nothing that knows about objects.
//!
//! Files, one idea each:
//! - `sys`: the kernel ABI (structs, flag bits, request codes), checked against the kernel.
//! - `error`: [`Errno`], allocation-free errors.
//! - `features`: [`Features`], the feature set negotiated by the handshake.
//! - `fd`: [`Uffd`]: opening (always `UFFD_USER_MODE_ONLY`) and the `UFFDIO_API` handshake.
//! - `fill`: the resume loop over the kernel's partial-progress convention (COPY, ZEROPAGE,
//!   MOVE).
//! - `ops`: REGISTER (MISSING), UNREGISTER, WAKE, COPY, ZEROPAGE.
//! - `moving`: MOVE, its error contract, and the batch installer's fallbacks.
//! - `msg`: reading fault messages and waiting for them (handler-thread mode).
//! - `inject`: the fault-injection seam for the results the kernel will not give on demand.
//!
//! Rules for every caller:
//! 1. Every address given here is raw address space governed by the caller's protocol (a heap
//!    range, from-space, a scratch mapping) — never the address of a Rust object, and nothing a
//!    live Rust reference points into: these calls make pages appear, vanish (MOVE leaves
//!    zeroes behind) or fault.
//! 2. A kernel access to a missing page of a registered range is not a user-mode fault: the
//!    system call fails with EFAULT (design note §4.1). Never give a heap address to `read`,
//!    `write` or any other system call while the heap is registered.
//! 3. The operations used by the fault handler (`copy`, `zeropage`, `move_pages`,
//!    `install_pages`, `wake`) allocate nothing, take no lock and do not panic, so they may run
//!    in a signal handler.

mod error;
mod fd;
mod features;
mod fill;
pub mod inject;
mod moving;
mod msg;
mod ops;
pub mod sys;

pub use error::Errno;
pub use fd::{OpenError, OpenOptions, Uffd};
pub use features::Features;
pub use fill::{FillResult, FillStop};
pub use inject::{Injection, Injector};
pub use moving::{InstallReport, MoveFlags, MoveResult, MoveStop};
pub use msg::{FaultMsg, Ready};
pub use ops::{PageRange, RangeIoctls, Wake};
