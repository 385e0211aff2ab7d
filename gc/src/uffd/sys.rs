//! The userfaultfd kernel ABI, written out by hand: the `repr(C)` argument structs, their flag
//! bits, and the ioctl request codes computed with the kernel's `_IOR`/`_IOWR` encoding.
//!
//! Owns: layout facts only. Every struct carries a compile-time size check against the kernel's
//! `sizeof`, and the request codes are unit-tested against the numbers the kernel headers give.
//! Must never: issue a system call, or hold a Rust reference to memory the kernel will move.
//! Addresses are plain `u64` fields, exactly as the kernel reads them.
//!
//! Facts from `<linux/userfaultfd.h>` (Linux 6.8+ for MOVE; the installed header predates MOVE,
//! so its numbers were checked against the running kernel: `UFFDIO_API` with no features
//! requested answers every supported feature bit, and `UFFDIO_REGISTER` answers the range ioctls,
//! where bit `_UFFDIO_MOVE` = 5 is set).

use std::mem::size_of;

/// The only API version there is.
pub const UFFD_API: u64 = 0xAA;
/// `userfaultfd(2)` flag: handle faults raised in user mode only (works without privilege).
pub const UFFD_USER_MODE_ONLY: libc::c_int = 1;

// Feature bits of `UffdioApi::features`.
pub const UFFD_FEATURE_PAGEFAULT_FLAG_WP: u64 = 1 << 0;
pub const UFFD_FEATURE_EVENT_FORK: u64 = 1 << 1;
pub const UFFD_FEATURE_EVENT_REMAP: u64 = 1 << 2;
pub const UFFD_FEATURE_EVENT_REMOVE: u64 = 1 << 3;
pub const UFFD_FEATURE_MISSING_HUGETLBFS: u64 = 1 << 4;
pub const UFFD_FEATURE_MISSING_SHMEM: u64 = 1 << 5;
pub const UFFD_FEATURE_EVENT_UNMAP: u64 = 1 << 6;
pub const UFFD_FEATURE_SIGBUS: u64 = 1 << 7;
pub const UFFD_FEATURE_THREAD_ID: u64 = 1 << 8;
pub const UFFD_FEATURE_MINOR_HUGETLBFS: u64 = 1 << 9;
pub const UFFD_FEATURE_MINOR_SHMEM: u64 = 1 << 10;
pub const UFFD_FEATURE_EXACT_ADDRESS: u64 = 1 << 11;
pub const UFFD_FEATURE_WP_HUGETLBFS_SHMEM: u64 = 1 << 12;
pub const UFFD_FEATURE_WP_UNPOPULATED: u64 = 1 << 13;
pub const UFFD_FEATURE_POISON: u64 = 1 << 14;
pub const UFFD_FEATURE_WP_ASYNC: u64 = 1 << 15;
pub const UFFD_FEATURE_MOVE: u64 = 1 << 16;

// Registration modes.
pub const UFFDIO_REGISTER_MODE_MISSING: u64 = 1 << 0;
pub const UFFDIO_REGISTER_MODE_WP: u64 = 1 << 1;
pub const UFFDIO_REGISTER_MODE_MINOR: u64 = 1 << 2;

// Mode bits of the filling ioctls.
pub const UFFDIO_COPY_MODE_DONTWAKE: u64 = 1 << 0;
pub const UFFDIO_COPY_MODE_WP: u64 = 1 << 1;
pub const UFFDIO_ZEROPAGE_MODE_DONTWAKE: u64 = 1 << 0;
pub const UFFDIO_MOVE_MODE_DONTWAKE: u64 = 1 << 0;
pub const UFFDIO_MOVE_MODE_ALLOW_SRC_HOLES: u64 = 1 << 1;

// Fault message events and page-fault flags.
pub const UFFD_EVENT_PAGEFAULT: u8 = 0x12;
pub const UFFD_EVENT_FORK: u8 = 0x13;
pub const UFFD_EVENT_REMAP: u8 = 0x14;
pub const UFFD_EVENT_REMOVE: u8 = 0x15;
pub const UFFD_EVENT_UNMAP: u8 = 0x16;
pub const UFFD_PAGEFAULT_FLAG_WRITE: u64 = 1 << 0;
pub const UFFD_PAGEFAULT_FLAG_WP: u64 = 1 << 1;
pub const UFFD_PAGEFAULT_FLAG_MINOR: u64 = 1 << 2;

// ioctl numbers (the `nr` part of the request code); also the bit positions in the `ioctls`
// masks the kernel answers to UFFDIO_API and UFFDIO_REGISTER.
pub const NR_REGISTER: u32 = 0x00;
pub const NR_UNREGISTER: u32 = 0x01;
pub const NR_WAKE: u32 = 0x02;
pub const NR_COPY: u32 = 0x03;
pub const NR_ZEROPAGE: u32 = 0x04;
pub const NR_MOVE: u32 = 0x05;
pub const NR_WRITEPROTECT: u32 = 0x06;
pub const NR_CONTINUE: u32 = 0x07;
pub const NR_POISON: u32 = 0x08;
pub const NR_API: u32 = 0x3F;

/// The ioctl "type" byte of every userfaultfd request.
pub const UFFDIO: u32 = 0xAA;

/// `struct uffdio_api`: the handshake. `features` is in/out; `ioctls` is written by the kernel.
#[repr(C)]
#[derive(Copy, Clone, Debug, Default)]
pub struct UffdioApi {
    pub api: u64,
    pub features: u64,
    pub ioctls: u64,
}

/// `struct uffdio_range`: a page-aligned `[start, start + len)`.
#[repr(C)]
#[derive(Copy, Clone, Debug, Default)]
pub struct UffdioRange {
    pub start: u64,
    pub len: u64,
}

/// `struct uffdio_register`: `ioctls` is written by the kernel (the range ioctls available).
#[repr(C)]
#[derive(Copy, Clone, Debug, Default)]
pub struct UffdioRegister {
    pub range: UffdioRange,
    pub mode: u64,
    pub ioctls: u64,
}

/// `struct uffdio_copy`: `copy` is written by the kernel (bytes copied, or `-errno`).
#[repr(C)]
#[derive(Copy, Clone, Debug, Default)]
pub struct UffdioCopy {
    pub dst: u64,
    pub src: u64,
    pub len: u64,
    pub mode: u64,
    pub copy: i64,
}

/// `struct uffdio_zeropage`: `zeropage` is written by the kernel (bytes mapped, or `-errno`).
#[repr(C)]
#[derive(Copy, Clone, Debug, Default)]
pub struct UffdioZeropage {
    pub range: UffdioRange,
    pub mode: u64,
    pub zeropage: i64,
}

/// `struct uffdio_move`: `move` (here `moved`) is written by the kernel (bytes moved, or
/// `-errno`).
#[repr(C)]
#[derive(Copy, Clone, Debug, Default)]
pub struct UffdioMove {
    pub dst: u64,
    pub src: u64,
    pub len: u64,
    pub mode: u64,
    pub moved: i64,
}

/// The page-fault arm of `uffd_msg.arg` (`feat.ptid` is set only with FEATURE_THREAD_ID).
#[repr(C)]
#[derive(Copy, Clone, Debug, Default)]
pub struct UffdMsgPagefault {
    pub flags: u64,
    pub address: u64,
    pub ptid: u32,
}

/// `uffd_msg.arg`: which arm is valid depends on `event`. Only page faults are used here; the
/// raw words cover the other events' layouts (fork, remap, remove, unmap).
#[repr(C)]
#[derive(Copy, Clone)]
pub union UffdMsgArg {
    pub pagefault: UffdMsgPagefault,
    pub raw: [u64; 3],
}

/// `struct uffd_msg` (packed in C, but its natural layout has no padding, so `repr(C)` with
/// 8-byte alignment gives the same offsets and size).
#[repr(C)]
#[derive(Copy, Clone)]
pub struct UffdMsg {
    pub event: u8,
    pub reserved1: u8,
    pub reserved2: u16,
    pub reserved3: u32,
    pub arg: UffdMsgArg,
}

impl UffdMsg {
    pub const fn zeroed() -> UffdMsg {
        UffdMsg {
            event: 0,
            reserved1: 0,
            reserved2: 0,
            reserved3: 0,
            arg: UffdMsgArg { raw: [0; 3] },
        }
    }
}

// Sizes the kernel's `sizeof` gives (checked with gcc against the installed header; uffdio_move
// has the same five-word layout as uffdio_copy).
const _: () = assert!(size_of::<UffdioApi>() == 24);
const _: () = assert!(size_of::<UffdioRange>() == 16);
const _: () = assert!(size_of::<UffdioRegister>() == 32);
const _: () = assert!(size_of::<UffdioCopy>() == 40);
const _: () = assert!(size_of::<UffdioZeropage>() == 32);
const _: () = assert!(size_of::<UffdioMove>() == 40);
const _: () = assert!(size_of::<UffdMsg>() == 32);
const _: () = assert!(std::mem::offset_of!(UffdMsg, arg) == 8);
const _: () = assert!(std::mem::offset_of!(UffdioCopy, copy) == 32);
const _: () = assert!(std::mem::offset_of!(UffdioMove, moved) == 32);
const _: () = assert!(std::mem::offset_of!(UffdioZeropage, zeropage) == 24);

// The generic Linux ioctl encoding (x86, arm, riscv; not mips/powerpc/sparc, which use other
// direction bits): nr in bits 0..8, type in 8..16, size in 16..30, direction in 30..32.
const IOC_NRSHIFT: u32 = 0;
const IOC_TYPESHIFT: u32 = 8;
const IOC_SIZESHIFT: u32 = 16;
const IOC_DIRSHIFT: u32 = 30;
const IOC_SIZEMASK: usize = (1 << 14) - 1;
/// Userland writes, the kernel reads.
const IOC_WRITE: u32 = 1;
/// Userland reads, the kernel writes.
const IOC_READ: u32 = 2;

/// `_IOC(dir, type, nr, size)`. A size that does not fit the 14-bit field fails const
/// evaluation.
pub const fn ioc(dir: u32, ty: u32, nr: u32, size: usize) -> libc::Ioctl {
    assert!(size <= IOC_SIZEMASK);
    ((dir << IOC_DIRSHIFT)
        | (ty << IOC_TYPESHIFT)
        | (nr << IOC_NRSHIFT)
        | ((size as u32) << IOC_SIZESHIFT)) as libc::Ioctl
}
/// `_IOR(type, nr, size)`.
pub const fn ior(ty: u32, nr: u32, size: usize) -> libc::Ioctl {
    ioc(IOC_READ, ty, nr, size)
}
/// `_IOWR(type, nr, size)`.
pub const fn iowr(ty: u32, nr: u32, size: usize) -> libc::Ioctl {
    ioc(IOC_READ | IOC_WRITE, ty, nr, size)
}

pub const UFFDIO_API: libc::Ioctl = iowr(UFFDIO, NR_API, size_of::<UffdioApi>());
pub const UFFDIO_REGISTER: libc::Ioctl = iowr(UFFDIO, NR_REGISTER, size_of::<UffdioRegister>());
// UNREGISTER and WAKE are _IOR although the kernel only reads them: a historical slip the
// kernel keeps for ABI stability.
pub const UFFDIO_UNREGISTER: libc::Ioctl = ior(UFFDIO, NR_UNREGISTER, size_of::<UffdioRange>());
pub const UFFDIO_WAKE: libc::Ioctl = ior(UFFDIO, NR_WAKE, size_of::<UffdioRange>());
pub const UFFDIO_COPY: libc::Ioctl = iowr(UFFDIO, NR_COPY, size_of::<UffdioCopy>());
pub const UFFDIO_ZEROPAGE: libc::Ioctl = iowr(UFFDIO, NR_ZEROPAGE, size_of::<UffdioZeropage>());
pub const UFFDIO_MOVE: libc::Ioctl = iowr(UFFDIO, NR_MOVE, size_of::<UffdioMove>());

#[cfg(test)]
mod tests {
    use super::*;

    /// The expected numbers were printed once by a C program including <linux/userfaultfd.h>
    /// (UFFDIO_MOVE from the same `_IOWR` macro over a 40-byte struct, nr 5).
    #[test]
    fn request_codes_match_the_kernel_headers() {
        assert_eq!(UFFDIO_API, 0xc018_aa3f);
        assert_eq!(UFFDIO_REGISTER, 0xc020_aa00);
        assert_eq!(UFFDIO_UNREGISTER, 0x8010_aa01);
        assert_eq!(UFFDIO_WAKE, 0x8010_aa02);
        assert_eq!(UFFDIO_COPY, 0xc028_aa03);
        assert_eq!(UFFDIO_ZEROPAGE, 0xc020_aa04);
        assert_eq!(UFFDIO_MOVE, 0xc028_aa05);
    }

    #[test]
    fn encoding_fields_land_where_the_kernel_reads_them() {
        let code = ioc(IOC_READ, 0x12, 0x34, 0x567) as u64;
        assert_eq!(code & 0xff, 0x34);
        assert_eq!((code >> 8) & 0xff, 0x12);
        assert_eq!((code >> 16) & 0x3fff, 0x567);
        assert_eq!(code >> 30, 2);
    }
}
