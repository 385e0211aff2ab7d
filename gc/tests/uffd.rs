//! The userfaultfd layer (`gc::uffd`) against the real kernel, no mocks: the handshake, the
//! handler-thread and SIGBUS fault modes, MOVE's contract path by path (EEXIST, ENOENT, EBUSY
//! from a real fork-shared page and from the injection seam, EAGAIN after partial progress from
//! the kernel and from the seam), COPY, ZEROPAGE, the non-root open, and EFAULT for a kernel
//! access to a missing page (design note §4.1).
//!
//! Tests that change process-wide state (a SIGBUS handler, the user id) run as child processes:
//! this binary re-executes itself with `GC_TEST_ROLE` naming one `child_role_*` test, which
//! does nothing unless that variable selects it.

mod child;

use gc::uffd::{
    Errno, FaultMsg, Features, FillStop, Injection, MoveFlags, MoveStop, OpenError, OpenOptions,
    PageRange, Uffd, Wake,
};
use gc::{Address, PAGE};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------------
// Test scaffolding: private anonymous mappings we own, and byte access through raw pointers.

/// A private anonymous read-write mapping without transparent huge pages, unmapped on drop.
struct Mapping {
    base: Address,
    len: usize,
}

impl Mapping {
    /// Not inherited by `fork`: the fork test must not make other tests' pages copy-on-write
    /// shared (their MOVEs would fail with EBUSY) — the reason the heap is `MADV_DONTFORK` too.
    fn new(pages: usize) -> Mapping {
        let m = Mapping::new_forkable(pages);
        // SAFETY: our own fresh mapping; advice changes no contents.
        let rc = unsafe { libc::madvise(m.base.as_mut_ptr(), m.len, libc::MADV_DONTFORK) };
        assert_eq!(rc, 0, "MADV_DONTFORK failed");
        m
    }
    /// Inherited by `fork` (copy-on-write shared with the child).
    fn new_forkable(pages: usize) -> Mapping {
        let len = pages * PAGE;
        // SAFETY: a fresh anonymous mapping at an address the kernel picks overlaps nothing.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        assert_ne!(p, libc::MAP_FAILED, "mmap failed");
        // SAFETY: `p..p+len` is the mapping just created; advice changes no contents.
        let rc = unsafe { libc::madvise(p, len, libc::MADV_NOHUGEPAGE) };
        assert_eq!(rc, 0, "MADV_NOHUGEPAGE failed");
        Mapping {
            base: Address::from_ptr(p),
            len,
        }
    }
    fn page(&self, i: usize) -> Address {
        assert!(i * PAGE < self.len);
        self.base.add(i * PAGE)
    }
    fn range(&self) -> PageRange {
        PageRange::new(self.base, self.len)
    }
    /// Fills page `i` with `tag`-derived bytes (populating it).
    fn fill(&self, i: usize, tag: u8) {
        for off in (0..PAGE).step_by(8) {
            poke(self.page(i).add(off), pattern(tag, off));
        }
    }
    /// Whether page `i` holds `tag`'s bytes. Reads: only call on pages known to be mapped.
    fn holds(&self, i: usize, tag: u8) -> bool {
        (0..PAGE)
            .step_by(8)
            .all(|off| peek(self.page(i).add(off)) == pattern(tag, off))
    }
    /// Whether page `i` reads as all zeroes.
    fn is_zero(&self, i: usize) -> bool {
        (0..PAGE)
            .step_by(8)
            .all(|off| peek(self.page(i).add(off)) == 0)
    }
    /// Drops page `i` (it becomes a hole: missing, reads as zeroes when unregistered).
    fn punch_hole(&self, i: usize) {
        // SAFETY: one page of our own mapping; no references into it.
        let rc = unsafe { libc::madvise(self.page(i).as_mut_ptr(), PAGE, libc::MADV_DONTNEED) };
        assert_eq!(rc, 0);
    }
    /// Whether page `i` is resident, asked of the kernel (never faults, even when registered).
    fn resident(&self, i: usize) -> bool {
        let mut vec = 0u8;
        // SAFETY: one page of our own mapping; `vec` receives one byte.
        let rc = unsafe { libc::mincore(self.page(i).as_mut_ptr(), PAGE, &mut vec) };
        assert_eq!(rc, 0);
        vec & 1 != 0
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: the whole mapping created in `new`; nothing refers to it any more.
        unsafe { libc::munmap(self.base.as_mut_ptr(), self.len) };
    }
}

fn pattern(tag: u8, off: usize) -> u64 {
    (0x9E37_79B9_7F4A_7C15u64.wrapping_mul(off as u64 + 1) ^ ((tag as u64) << 56)) | 1
}
fn poke(a: Address, v: u64) {
    // SAFETY: callers pass 8-byte aligned addresses inside a live Mapping.
    unsafe { std::ptr::write_volatile(a.as_mut_ptr::<u64>(), v) }
}
fn peek(a: Address) -> u64 {
    // SAFETY: callers pass 8-byte aligned addresses inside a live Mapping, mapped or resolved.
    unsafe { std::ptr::read_volatile(a.as_ptr::<u64>()) }
}

fn open_sigbus() -> Uffd {
    Uffd::open().expect("userfaultfd must open on this machine")
}

/// A registered destination of `pages` pages and a populated source of the same size, page i
/// of the source tagged `i + 1`.
fn registered_pair(uffd: &Uffd, pages: usize) -> (Mapping, Mapping) {
    let dst = Mapping::new(pages);
    // SAFETY: `dst` is a whole mapping of ours holding no Rust object.
    let ioctls = unsafe { uffd.register_missing(dst.range()) }.expect("register");
    assert!(ioctls.copy() && ioctls.zeropage() && ioctls.wake());
    assert!(ioctls.move_pages() || !uffd.has_move());
    let src = Mapping::new(pages);
    for i in 0..pages {
        src.fill(i, i as u8 + 1);
    }
    (dst, src)
}

// ---------------------------------------------------------------------------------------------
// Child processes.

use child::{deny_userfaultfd, describe, is_role, run_role_as as run_role, ROLE_ENV};

// ---------------------------------------------------------------------------------------------
// Opening.

#[test]
fn open_negotiates_move_and_sigbus() {
    let uffd = open_sigbus();
    assert!(uffd.features().contains(Features::MOVE | Features::SIGBUS));
    assert!(uffd.is_sigbus_mode() && uffd.has_move());
    assert!(uffd.available_features().contains(uffd.features()));

    let threaded = Uffd::open_with(OpenOptions::THREAD_MODE).expect("thread-mode uffd");
    assert!(
        !threaded.is_sigbus_mode(),
        "thread mode must not get SIGBUS"
    );
    assert!(threaded.has_move());
}

#[test]
fn open_reports_missing_required_features() {
    // Bit 60 is no feature any kernel has: the first handshake fails and negotiation finds out.
    let bogus = Features(1 << 60);
    let err = Uffd::open_with(OpenOptions {
        request: Features::MOVE,
        require: bogus,
    })
    .expect_err("a bogus required feature must fail");
    match err {
        OpenError::FeaturesMissing { missing, available } => {
            assert_eq!(missing, bogus);
            assert!(available.contains(Features::MOVE | Features::SIGBUS));
        }
        other => panic!("wrong error {other:?}"),
    }
    // Requested but not required: negotiated away, the rest granted.
    let uffd = Uffd::open_with(OpenOptions {
        request: bogus | Features::MOVE,
        require: Features::NONE,
    })
    .expect("negotiation drops the bogus feature");
    assert_eq!(uffd.features(), Features::MOVE);
}

#[test]
fn nonroot_user_mode_only_open_works() {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    // As root, drop to nobody in the child; otherwise we already are unprivileged.
    let out = run_role("nonroot", root.then_some(65534));
    assert!(out.status.success(), "{}", describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("nonroot: open ok, move ok"),
        "{}",
        describe(&out)
    );
}

#[test]
#[ignore = "child role of nonroot_user_mode_only_open_works"]
fn child_role_nonroot() {
    if !is_role("nonroot") {
        return;
    }
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    assert_ne!(euid, 0, "the child must run unprivileged");
    let uffd = Uffd::open().expect("UFFD_USER_MODE_ONLY must work without privilege");
    assert!(uffd.features().contains(Features::MOVE | Features::SIGBUS));
    let (dst, src) = registered_pair(&uffd, 2);
    // SAFETY: `dst` registered, `src` populated, both ours, no references into them.
    let r = unsafe { uffd.move_pages(dst.base, src.base, 2 * PAGE, MoveFlags::DONTWAKE) };
    assert_eq!(r.map(|r| r.stop), Ok(MoveStop::Done));
    assert!(dst.holds(0, 1) && dst.holds(1, 2));
    println!("nonroot: open ok, move ok (euid {euid})");
}

#[test]
fn open_under_seccomp_denial_says_why() {
    for (role, expect) in [
        ("seccomp_eperm", "Denied(EPERM)"),
        ("seccomp_enosys", "Unsupported(ENOSYS)"),
    ] {
        let out = run_role(role, None);
        assert!(out.status.success(), "{}", describe(&out));
        let line = format!("{role}: {expect}");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains(&line),
            "want {line:?}\n{}",
            describe(&out)
        );
    }
}

fn seccomp_child(errno: i32) {
    deny_userfaultfd(errno);
    let err = Uffd::open().expect_err("userfaultfd is denied");
    assert!(!err.reason().is_empty());
    let role = std::env::var(ROLE_ENV).unwrap_or_default();
    println!("{role}: {err:?} / {err}");
}

#[test]
#[ignore = "child role of open_under_seccomp_denial_says_why"]
fn child_role_seccomp_eperm() {
    if is_role("seccomp_eperm") {
        seccomp_child(libc::EPERM);
    }
}

#[test]
#[ignore = "child role of open_under_seccomp_denial_says_why"]
fn child_role_seccomp_enosys() {
    if is_role("seccomp_enosys") {
        seccomp_child(libc::ENOSYS);
    }
}

// ---------------------------------------------------------------------------------------------
// Handler-thread mode: a fault queues a message; a thread resolves it with COPY.

#[test]
fn handler_thread_resolves_faults_with_copy() {
    let uffd = Uffd::open_with(OpenOptions::THREAD_MODE).expect("thread-mode uffd");
    let (dst, src) = registered_pair(&uffd, 4);
    let target = dst.page(2).add(8 * 17);
    let write_target = dst.page(3).add(64);
    let toucher = std::thread::spawn(move || {
        // Blocks in the kernel until page 2 is installed and woken.
        let read = peek(target);
        // A write fault on page 3: the value lands on top of the installed contents.
        poke(write_target, 0xfeed);
        read
    });
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while seen.len() < 2 {
        assert!(Instant::now() < deadline, "no fault message; saw {seen:?}");
        let ready = uffd
            .wait(None, Some(Duration::from_millis(100)))
            .expect("poll");
        if !ready.uffd {
            continue;
        }
        let Some(msg) = uffd.read_msg().expect("read") else {
            continue;
        };
        let FaultMsg::PageFault { address, write, .. } = msg else {
            panic!("unexpected message {msg:?}");
        };
        let page = address.align_down(PAGE);
        let i = page.offset_from(dst.base) / PAGE;
        assert!(
            i == 2 || i == 3,
            "fault outside the touched pages: {address:?}"
        );
        assert_eq!(write, i == 3, "write flag of page {i}");
        // SAFETY: page i of the registered `dst`, and page i of the populated `src`.
        let r = unsafe { uffd.copy(page, src.page(i), PAGE, Wake::Wake) }.expect("copy");
        assert_eq!(r.stop, FillStop::Done);
        assert_eq!(r.done, PAGE);
        seen.push(i);
    }
    let read = toucher.join().expect("toucher");
    assert_eq!(read, pattern(3, 8 * 17));
    assert!(dst.holds(2, 3));
    assert_eq!(peek(write_target), 0xfeed);
    assert_eq!(uffd.read_msg(), Ok(None), "no further faults");
}

// ---------------------------------------------------------------------------------------------
// MOVE, path by path.

#[test]
fn move_installs_pages_and_empties_the_source() {
    let uffd = open_sigbus();
    let (dst, src) = registered_pair(&uffd, 16);
    // SAFETY: `dst` registered, `src` populated, both ours, no references into them.
    let r = unsafe { uffd.move_pages(dst.base, src.base, PAGE, MoveFlags::DONTWAKE) }.unwrap();
    assert_eq!((r.moved, r.resumed, r.stop), (PAGE, 0, MoveStop::Done));
    assert!(dst.holds(0, 1));
    assert!(src.is_zero(0), "a moved-away page reads as zeroes");
    // A batch.
    // SAFETY: as above, the remaining 15 pages.
    let r = unsafe { uffd.move_pages(dst.page(1), src.page(1), 15 * PAGE, MoveFlags::DONTWAKE) }
        .unwrap();
    assert_eq!((r.moved, r.stop), (15 * PAGE, MoveStop::Done));
    for i in 1..16 {
        assert!(dst.holds(i, i as u8 + 1), "page {i}");
        assert!(src.is_zero(i), "source page {i}");
    }
}

#[test]
fn move_onto_a_populated_destination_reports_eexist() {
    let uffd = open_sigbus();
    let (dst, src) = registered_pair(&uffd, 4);
    // A "mutator" installs page 2 first.
    let winner = Mapping::new(1);
    winner.fill(0, 0xAA);
    // SAFETY: page 2 of the registered `dst`; `winner` populated and ours.
    let c = unsafe { uffd.copy(dst.page(2), winner.base, PAGE, Wake::DontWake) }.unwrap();
    assert_eq!(c.stop, FillStop::Done);

    // The kernel moves pages 0-1, reports EAGAIN with move = 2 pages (real partial progress),
    // and the resumed call meets EEXIST at page 2.
    // SAFETY: `dst` registered, `src` populated, both ours, no references into them.
    let r = unsafe { uffd.move_pages(dst.base, src.base, 4 * PAGE, MoveFlags::DONTWAKE) }.unwrap();
    assert_eq!(
        (r.moved, r.resumed, r.stop),
        (2 * PAGE, 1, MoveStop::DstExists)
    );
    assert!(dst.holds(0, 1) && dst.holds(1, 2));
    assert!(dst.holds(2, 0xAA), "the winner's page stays");
    assert!(src.holds(2, 3), "the skipped source page was not consumed");

    // A single page onto a mapped destination: EEXIST with no progress.
    // SAFETY: as above.
    let r =
        unsafe { uffd.move_pages(dst.page(2), src.page(2), PAGE, MoveFlags::DONTWAKE) }.unwrap();
    assert_eq!((r.moved, r.resumed, r.stop), (0, 0, MoveStop::DstExists));

    // The installer skips it and finishes the run.
    // SAFETY: as above, pages 2-3.
    let rep =
        unsafe { uffd.install_pages(dst.page(2), src.page(2), 2 * PAGE, MoveFlags::DONTWAKE) }
            .unwrap();
    assert_eq!(
        (rep.moved, rep.existing, rep.copied, rep.zeroed),
        (1, 1, 0, 0)
    );
    assert!(dst.holds(2, 0xAA) && dst.holds(3, 4));
}

#[test]
fn move_from_a_source_hole_reports_enoent_unless_holes_are_allowed() {
    let uffd = open_sigbus();
    let (dst, src) = registered_pair(&uffd, 3);
    // Make source page 1 a hole.
    src.punch_hole(1);
    assert!(!src.resident(1));

    // Without ALLOW_SRC_HOLES: page 0 moves, then ENOENT at page 1.
    // SAFETY: `dst` registered, `src` ours, no references into them.
    let r = unsafe { uffd.move_pages(dst.base, src.base, 3 * PAGE, MoveFlags::DONTWAKE) }.unwrap();
    assert_eq!((r.moved, r.stop), (PAGE, MoveStop::SrcHole));
    assert!(dst.holds(0, 1));
    assert!(
        !dst.resident(1) && !dst.resident(2),
        "nothing past the hole moved"
    );

    // With ALLOW_SRC_HOLES the kernel skips the hole and counts it as moved; the destination
    // page stays missing.
    let flags = MoveFlags::DONTWAKE | MoveFlags::ALLOW_SRC_HOLES;
    // SAFETY: as above, pages 1-2.
    let r = unsafe { uffd.move_pages(dst.page(1), src.page(1), 2 * PAGE, flags) }.unwrap();
    assert_eq!((r.moved, r.stop), (2 * PAGE, MoveStop::Done));
    assert!(dst.holds(2, 3));
    assert!(!dst.resident(1), "the hole's destination stays missing");
    // Proof it is missing, not mapped: ZEROPAGE still succeeds there.
    // SAFETY: page 1 of the registered `dst`.
    let z = unsafe { uffd.zeropage(PageRange::new(dst.page(1), PAGE), Wake::DontWake) }.unwrap();
    assert_eq!(z.stop, FillStop::Done);

    // The installer turns a hole into a ZEROPAGE when holes are not allowed.
    let (dst2, src2) = registered_pair(&uffd, 3);
    src2.punch_hole(1);
    // SAFETY: `dst2` registered, `src2` ours, no references into them.
    let rep =
        unsafe { uffd.install_pages(dst2.base, src2.base, 3 * PAGE, MoveFlags::DONTWAKE) }.unwrap();
    assert_eq!(
        (rep.moved, rep.zeroed, rep.copied, rep.existing),
        (2, 1, 0, 0)
    );
    assert!(dst2.holds(0, 1) && dst2.is_zero(1) && dst2.holds(2, 3));
}

#[test]
fn zeropage_maps_zeroes_once() {
    let uffd = open_sigbus();
    let (dst, _src) = registered_pair(&uffd, 2);
    // SAFETY: the whole registered `dst`.
    let z = unsafe { uffd.zeropage(dst.range(), Wake::DontWake) }.unwrap();
    assert_eq!((z.done, z.stop), (2 * PAGE, FillStop::Done));
    assert!(dst.is_zero(0) && dst.is_zero(1));
    // A write to the shared zero page is an ordinary copy-on-write fault, not a userfault.
    poke(dst.page(1).add(8), 42);
    assert_eq!(peek(dst.page(1).add(8)), 42);
    // SAFETY: as above.
    let z = unsafe { uffd.zeropage(dst.range(), Wake::DontWake) }.unwrap();
    assert_eq!((z.done, z.stop), (0, FillStop::DstExists));
}

#[test]
fn copy_stops_at_an_existing_page() {
    let uffd = open_sigbus();
    let (dst, src) = registered_pair(&uffd, 3);
    // SAFETY: page 1 of the registered `dst`.
    unsafe { uffd.zeropage(PageRange::new(dst.page(1), PAGE), Wake::DontWake) }.unwrap();
    // SAFETY: `dst` registered, `src` populated and not written during the call.
    let c = unsafe { uffd.copy(dst.base, src.base, 3 * PAGE, Wake::DontWake) }.unwrap();
    assert_eq!((c.done, c.resumed, c.stop), (PAGE, 1, FillStop::DstExists));
    assert!(dst.holds(0, 1) && dst.is_zero(1) && !dst.resident(2));
    assert!(src.holds(0, 1), "COPY leaves the source alone");
}

#[test]
fn misaligned_or_empty_ranges_are_rejected_before_the_kernel() {
    let uffd = open_sigbus();
    let (dst, src) = registered_pair(&uffd, 2);
    // SAFETY: invalid arguments are refused before any system call.
    unsafe {
        assert_eq!(
            uffd.move_pages(dst.base.add(8), src.base, PAGE, MoveFlags::DONTWAKE),
            Err(Errno::EINVAL)
        );
        assert_eq!(
            uffd.copy(dst.base, src.base, 0, Wake::DontWake),
            Err(Errno::EINVAL)
        );
        assert_eq!(
            uffd.register_missing(PageRange::new(dst.base, 100)),
            Err(Errno::EINVAL)
        );
    }
    assert_eq!(
        uffd.wake(PageRange::new(dst.base, PAGE + 1)),
        Err(Errno::EINVAL)
    );
    // Nothing was installed.
    assert!(!dst.resident(0));
}

// ---------------------------------------------------------------------------------------------
// EBUSY for real: a page shared with a forked child is not exclusive and cannot be moved.

/// A forked child that waits for its pipe to close, then exits; reaped on drop (even when the
/// test fails), so no process outlives the test.
struct ForkedChild {
    pid: libc::pid_t,
    release: libc::c_int,
}

impl ForkedChild {
    fn spawn() -> ForkedChild {
        let mut pipe = [0 as libc::c_int; 2];
        // SAFETY: `pipe` has room for two fds.
        let rc = unsafe { libc::pipe2(pipe.as_mut_ptr(), libc::O_CLOEXEC) };
        assert_eq!(rc, 0);
        // SAFETY: the child only calls close(2), read(2) and _exit(2), all async-signal-safe,
        // so forking a multi-threaded process is fine.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork failed");
        if pid == 0 {
            let mut b = 0u8;
            // SAFETY: async-signal-safe calls on our own fds and buffer.
            unsafe {
                libc::close(pipe[1]);
                libc::read(pipe[0], (&mut b as *mut u8).cast(), 1);
                libc::_exit(0);
            }
        }
        // SAFETY: the read end is ours and no longer needed here.
        unsafe { libc::close(pipe[0]) };
        ForkedChild {
            pid,
            release: pipe[1],
        }
    }
}

impl Drop for ForkedChild {
    fn drop(&mut self) {
        let mut status = 0;
        // SAFETY: closing our write end gives the child EOF; then we reap our own child.
        unsafe {
            libc::close(self.release);
            libc::waitpid(self.pid, &mut status, 0);
        }
    }
}

#[test]
fn move_of_a_fork_shared_page_reports_ebusy_and_the_installer_copies_it() {
    let uffd = open_sigbus();
    let dst = Mapping::new(3);
    // SAFETY: `dst` is a whole mapping of ours holding no Rust object.
    unsafe { uffd.register_missing(dst.range()) }.expect("register");
    let src = Mapping::new_forkable(3);
    for i in 0..3 {
        src.fill(i, i as u8 + 1);
    }
    let child = ForkedChild::spawn();
    // The source pages are now copy-on-write shared with the child: not exclusive.
    // SAFETY: `dst` registered, `src` ours (the child never writes it), no references into them.
    let r = unsafe { uffd.move_pages(dst.base, src.base, 3 * PAGE, MoveFlags::DONTWAKE) }.unwrap();
    assert_eq!((r.moved, r.stop), (0, MoveStop::SrcBusy));
    // SAFETY: as above.
    let rep =
        unsafe { uffd.install_pages(dst.base, src.base, 3 * PAGE, MoveFlags::DONTWAKE) }.unwrap();
    assert_eq!((rep.copied, rep.moved), (3, 0));
    drop(child);
    for i in 0..3 {
        assert!(dst.holds(i, i as u8 + 1), "page {i}");
        assert!(src.holds(i, i as u8 + 1), "COPY leaves the source intact");
    }
}

// ---------------------------------------------------------------------------------------------
// The injection seam: EAGAIN and EBUSY the kernel will not give on demand.

#[test]
fn injected_eagain_is_resumed_after_the_bytes_moved() {
    let uffd = open_sigbus();
    let (dst, src) = registered_pair(&uffd, 8);
    assert!(uffd.inject().arm(Injection::MoveAgain { after: 3 * PAGE }));
    // SAFETY: `dst` registered, `src` populated, both ours, no references into them.
    let r = unsafe { uffd.move_pages(dst.base, src.base, 8 * PAGE, MoveFlags::DONTWAKE) }.unwrap();
    assert_eq!((r.moved, r.resumed, r.stop), (8 * PAGE, 1, MoveStop::Done));
    assert_eq!(uffd.inject().fired(), 1);
    for i in 0..8 {
        assert!(dst.holds(i, i as u8 + 1), "page {i}");
        assert!(src.is_zero(i));
    }

    // EAGAIN with no progress is retried.
    let (dst, src) = registered_pair(&uffd, 2);
    assert!(uffd.inject().arm(Injection::MoveAgain { after: 0 }));
    // SAFETY: as above.
    let r = unsafe { uffd.move_pages(dst.base, src.base, 2 * PAGE, MoveFlags::DONTWAKE) }.unwrap();
    assert_eq!((r.moved, r.resumed, r.stop), (2 * PAGE, 0, MoveStop::Done));
    assert_eq!(uffd.inject().fired(), 2);
    assert!(dst.holds(0, 1) && dst.holds(1, 2));

    // COPY's partial progress too.
    let (dst, src) = registered_pair(&uffd, 4);
    assert!(uffd.inject().arm(Injection::CopyAgain { after: PAGE }));
    // SAFETY: `dst` registered, `src` populated and not written during the call.
    let c = unsafe { uffd.copy(dst.base, src.base, 4 * PAGE, Wake::DontWake) }.unwrap();
    assert_eq!((c.done, c.resumed, c.stop), (4 * PAGE, 1, FillStop::Done));
    assert_eq!(uffd.inject().fired(), 3);
    assert!((0..4).all(|i| dst.holds(i, i as u8 + 1)));
    assert!(!uffd.inject().is_armed());
}

#[test]
fn injected_ebusy_stops_at_the_page_and_copy_recovers() {
    let uffd = open_sigbus();
    let (dst, src) = registered_pair(&uffd, 8);
    assert!(uffd.inject().arm(Injection::MoveBusy { after: 3 * PAGE }));
    // SAFETY: `dst` registered, `src` populated, both ours, no references into them.
    let r = unsafe { uffd.move_pages(dst.base, src.base, 8 * PAGE, MoveFlags::DONTWAKE) }.unwrap();
    assert_eq!(
        (r.moved, r.resumed, r.stop),
        (3 * PAGE, 1, MoveStop::SrcBusy)
    );
    assert_eq!(
        uffd.inject().fired(),
        2,
        "the partial move, then the busy page"
    );
    assert!(!dst.resident(3), "the busy page was not installed");
    // The caller's recovery: COPY the busy page, resume MOVE after it.
    // SAFETY: page 3 of both; the source is not written.
    let c = unsafe { uffd.copy(dst.page(3), src.page(3), PAGE, Wake::DontWake) }.unwrap();
    assert_eq!(c.stop, FillStop::Done);
    // SAFETY: as above, pages 4-7.
    let r = unsafe { uffd.move_pages(dst.page(4), src.page(4), 4 * PAGE, MoveFlags::DONTWAKE) }
        .unwrap();
    assert_eq!(r.stop, MoveStop::Done);
    for i in 0..8 {
        assert!(dst.holds(i, i as u8 + 1), "page {i}");
    }
    assert!(src.holds(3, 4) && src.is_zero(2) && src.is_zero(4));

    // The same through the installer, busy page first in the run.
    let (dst, src) = registered_pair(&uffd, 4);
    assert!(uffd.inject().arm(Injection::MoveBusy { after: 0 }));
    // SAFETY: as above.
    let rep =
        unsafe { uffd.install_pages(dst.base, src.base, 4 * PAGE, MoveFlags::DONTWAKE) }.unwrap();
    assert_eq!((rep.copied, rep.moved, rep.existing), (1, 3, 0));
    assert!((0..4).all(|i| dst.holds(i, i as u8 + 1)));
    assert!(src.holds(0, 1) && src.is_zero(1));
}

// ---------------------------------------------------------------------------------------------
// SIGBUS mode: the faulting thread gets the signal and resolves the fault itself.

#[test]
fn sigbus_mode_faulting_thread_resolves_its_own_fault() {
    let out = run_role("sigbus", None);
    assert!(out.status.success(), "{}", describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("sigbus: handled 2 faults, data ok"),
        "{}",
        describe(&out)
    );
}

#[test]
fn sigbus_mode_without_a_handler_kills_with_sigbus() {
    use std::os::unix::process::ExitStatusExt;
    let out = run_role("sigbus_unhandled", None);
    assert_eq!(
        out.status.signal(),
        Some(libc::SIGBUS),
        "{}",
        describe(&out)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("sigbus_unhandled: touching"),
        "{}",
        describe(&out)
    );
}

struct SigbusChild {
    uffd: Uffd,
    dst: Address,
    src: Address,
    pages: usize,
}
static SIGBUS_CHILD: OnceLock<SigbusChild> = OnceLock::new();
static SIGBUS_HANDLED: AtomicUsize = AtomicUsize::new(0);
static SIGBUS_LAST_ADDR: AtomicUsize = AtomicUsize::new(0);

/// Async-signal-safe: atomics and one COPY ioctl, no allocation, no lock, no panic.
extern "C" fn sigbus_handler(
    _sig: libc::c_int,
    info: *mut libc::siginfo_t,
    _ctx: *mut libc::c_void,
) {
    // SAFETY: the kernel passes a valid siginfo for an SA_SIGINFO handler.
    let (code, addr) = unsafe { ((*info).si_code, (*info).si_addr() as usize) };
    let Some(c) = SIGBUS_CHILD.get() else { return };
    let inside = addr >= c.dst.as_usize() && addr < c.dst.as_usize() + c.pages * PAGE;
    if code != libc::BUS_ADRERR || !inside {
        // Not ours: restore the default action; the access retries and kills the process.
        // SAFETY: signal(2) is async-signal-safe.
        unsafe { libc::signal(libc::SIGBUS, libc::SIG_DFL) };
        return;
    }
    SIGBUS_LAST_ADDR.store(addr, Ordering::Relaxed);
    let page = Address(addr).align_down(PAGE);
    let src = c.src.add(page.offset_from(c.dst));
    // SAFETY: `page` lies in the registered destination, `src` in the populated source; no
    // references into either.
    let r = unsafe { c.uffd.copy(page, src, PAGE, Wake::DontWake) };
    if matches!(r, Ok(ref f) if f.stop == FillStop::Done || f.stop == FillStop::DstExists) {
        SIGBUS_HANDLED.fetch_add(1, Ordering::Relaxed);
    }
}

#[test]
#[ignore = "child role of sigbus_mode_faulting_thread_resolves_its_own_fault"]
fn child_role_sigbus() {
    if !is_role("sigbus") {
        return;
    }
    let uffd = open_sigbus();
    let (dst, src) = registered_pair(&uffd, 4);
    let child = SigbusChild {
        uffd,
        dst: dst.base,
        src: src.base,
        pages: 4,
    };
    assert!(SIGBUS_CHILD.set(child).is_ok());
    // SAFETY: an all-zero sigaction is valid; we fill handler, mask and flags.
    let mut sa: libc::sigaction = unsafe { std::mem::zeroed() };
    sa.sa_sigaction = sigbus_handler as *const () as usize;
    sa.sa_flags = libc::SA_SIGINFO;
    // SAFETY: `sa` is valid; this child process owns its signal dispositions.
    unsafe {
        libc::sigemptyset(&mut sa.sa_mask);
        assert_eq!(libc::sigaction(libc::SIGBUS, &sa, std::ptr::null_mut()), 0);
    }
    let target = dst.page(1).add(8 * 5);
    assert_eq!(
        peek(target),
        pattern(2, 8 * 5),
        "read after the handler installed page 1"
    );
    assert_eq!(SIGBUS_HANDLED.load(Ordering::Relaxed), 1);
    assert_eq!(SIGBUS_LAST_ADDR.load(Ordering::Relaxed), target.as_usize());
    // A write fault from another thread: the signal goes to the faulting thread.
    let t = dst.page(3).add(16);
    std::thread::spawn(move || poke(t, 7))
        .join()
        .expect("writer thread");
    assert_eq!(SIGBUS_HANDLED.load(Ordering::Relaxed), 2);
    assert_eq!(peek(t), 7);
    assert!(dst.holds(1, 2) && !dst.resident(0) && !dst.resident(2));
    println!("sigbus: handled 2 faults, data ok");
}

#[test]
#[ignore = "child role of sigbus_mode_without_a_handler_kills_with_sigbus"]
fn child_role_sigbus_unhandled() {
    if !is_role("sigbus_unhandled") {
        return;
    }
    let uffd = open_sigbus();
    let (dst, _src) = registered_pair(&uffd, 1);
    println!("sigbus_unhandled: touching");
    let v = peek(dst.base);
    println!("sigbus_unhandled: survived, read {v}");
}

// ---------------------------------------------------------------------------------------------
// Design note §4.1: a kernel access to a missing page fails with EFAULT, it does not hang.

#[test]
fn kernel_access_to_a_missing_page_fails_with_efault() {
    for options in [OpenOptions::SIGBUS_MODE, OpenOptions::THREAD_MODE] {
        let uffd = Uffd::open_with(options).expect("uffd");
        let (dst, _src) = registered_pair(&uffd, 1);
        // SAFETY: plain file operations; the kernel writes into / reads from our registered page.
        unsafe {
            let zero = libc::open(c"/dev/zero".as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC);
            assert!(zero >= 0);
            let n = libc::read(zero, dst.base.as_mut_ptr(), 64);
            let e = Errno::last();
            libc::close(zero);
            assert_eq!((n, e), (-1, Errno::EFAULT), "read(2) into a missing page");

            let mut pipe = [0; 2];
            assert_eq!(libc::pipe(pipe.as_mut_ptr()), 0);
            let n = libc::write(pipe[1], dst.base.as_ptr(), 64);
            let e = Errno::last();
            libc::close(pipe[0]);
            libc::close(pipe[1]);
            assert_eq!((n, e), (-1, Errno::EFAULT), "write(2) from a missing page");
        }
        assert!(!dst.resident(0), "the kernel did not populate it");
        assert_eq!(
            uffd.read_msg(),
            Ok(None),
            "no message queued for a kernel fault"
        );
    }
}

#[test]
fn move_is_refused_unless_negotiated() {
    let uffd = Uffd::open_with(OpenOptions {
        request: Features::SIGBUS,
        require: Features::SIGBUS,
    })
    .expect("uffd without MOVE");
    assert!(!uffd.has_move());
    let (dst, src) = registered_pair(&uffd, 1);
    // SAFETY: refused before any system call.
    let r = unsafe { uffd.move_pages(dst.base, src.base, PAGE, MoveFlags::DONTWAKE) };
    assert_eq!(r, Err(Errno::EOPNOTSUPP));
    assert!(src.holds(0, 1) && !dst.resident(0));
    // COPY still installs (design note §4.4: without MOVE, run concurrently with COPY).
    // SAFETY: `dst` registered, `src` populated and not written.
    let c = unsafe { uffd.copy(dst.base, src.base, PAGE, Wake::DontWake) }.unwrap();
    assert_eq!(c.stop, FillStop::Done);
    assert!(dst.holds(0, 1));
    // The installer COPYs whole runs, skipping mapped pages.
    let (dst, src) = registered_pair(&uffd, 4);
    // SAFETY: page 1 of the registered `dst`.
    unsafe { uffd.zeropage(PageRange::new(dst.page(1), PAGE), Wake::DontWake) }.unwrap();
    // SAFETY: `dst` registered, `src` populated and not written.
    let rep =
        unsafe { uffd.install_pages(dst.base, src.base, 4 * PAGE, MoveFlags::DONTWAKE) }.unwrap();
    assert_eq!((rep.copied, rep.existing, rep.moved), (3, 1, 0));
    assert!(dst.holds(0, 1) && dst.is_zero(1) && dst.holds(2, 3) && dst.holds(3, 4));
}

#[test]
fn wait_returns_for_the_stop_fd_and_for_a_fault() {
    use std::os::fd::{AsFd, FromRawFd, OwnedFd};
    let uffd = Uffd::open_with(OpenOptions::THREAD_MODE).expect("thread-mode uffd");
    // SAFETY: eventfd(2) returns a new fd we own.
    let raw = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
    assert!(raw >= 0);
    // SAFETY: `raw` is a fresh fd nobody else owns.
    let stop = unsafe { OwnedFd::from_raw_fd(raw) };
    let r = uffd
        .wait(Some(stop.as_fd()), Some(Duration::from_millis(1)))
        .unwrap();
    assert_eq!(
        (r.uffd, r.other),
        (false, false),
        "nothing ready: timed out"
    );
    let one = 1u64;
    // SAFETY: writes 8 bytes from a valid u64 to our eventfd.
    let n = unsafe { libc::write(raw, (&one as *const u64).cast(), 8) };
    assert_eq!(n, 8);
    let r = uffd.wait(Some(stop.as_fd()), None).unwrap();
    assert_eq!(
        (r.uffd, r.other),
        (false, true),
        "the stop fd wakes the handler thread"
    );

    let (dst, src) = registered_pair(&uffd, 1);
    let target = dst.base;
    let toucher = std::thread::spawn(move || peek(target));
    let r = uffd.wait(None, Some(Duration::from_secs(10))).unwrap();
    assert!(r.uffd, "a fault makes the uffd readable");
    let msg = uffd.read_msg().unwrap();
    assert!(
        matches!(msg, Some(FaultMsg::PageFault { address, write: false, .. }) if address == target),
        "{msg:?}"
    );
    // SAFETY: `dst` registered, `src` populated and not written.
    unsafe { uffd.copy(dst.base, src.base, PAGE, Wake::Wake) }.unwrap();
    assert_eq!(toucher.join().unwrap(), pattern(1, 0));
}

// ---------------------------------------------------------------------------------------------
// Unregistering.

#[test]
fn unregistered_range_is_zero_fill_again() {
    let uffd = open_sigbus();
    let (dst, src) = registered_pair(&uffd, 2);
    // SAFETY: page 0 of both; no references into them.
    unsafe { uffd.move_pages(dst.base, src.base, PAGE, MoveFlags::DONTWAKE) }.unwrap();
    uffd.unregister(dst.range()).expect("unregister");
    assert!(dst.holds(0, 1), "installed pages stay");
    assert!(
        dst.is_zero(1),
        "a missing page is ordinary zero-fill now (no SIGBUS)"
    );
    // MOVE into an unregistered range is refused.
    // SAFETY: as above; the kernel refuses before moving anything.
    let r = unsafe { uffd.move_pages(dst.page(1), src.page(1), PAGE, MoveFlags::DONTWAKE) };
    assert!(r.is_err(), "{r:?}");
    assert!(src.holds(1, 2));
}

// ---------------------------------------------------------------------------------------------
// A rough measurement, not an asserted timing (the benchmark issue redoes it with criterion):
// `cargo test -p gc --release --test uffd -- --ignored --nocapture measure_`.

#[test]
#[ignore = "measurement; run with --ignored --nocapture"]
fn measure_move_and_copy_costs() {
    const PAGES: usize = 512;
    const ROUNDS: usize = 30;
    let uffd = open_sigbus();
    let (dst, src) = registered_pair(&uffd, PAGES);
    let median = |mut v: Vec<f64>| {
        v.sort_by(|a, b| a.total_cmp(b));
        v[v.len() / 2]
    };
    // Empty the destination (registered: its pages become missing again) and repopulate the
    // source, outside the timed part.
    let reset = || {
        // SAFETY: our own registered `dst`; no references into it.
        let rc = unsafe { libc::madvise(dst.base.as_mut_ptr(), dst.len, libc::MADV_DONTNEED) };
        assert_eq!(rc, 0);
        for i in 0..PAGES {
            poke(src.page(i), i as u64 + 1);
        }
    };
    let run = |label: &str| {
        for batch in [1usize, 16, 512] {
            let mut samples = Vec::new();
            for _ in 0..ROUNDS {
                reset();
                let t = Instant::now();
                for b in (0..PAGES).step_by(batch) {
                    // SAFETY: `dst` registered and empty, `src` populated; no references.
                    let r = unsafe {
                        uffd.move_pages(dst.page(b), src.page(b), batch * PAGE, MoveFlags::DONTWAKE)
                    }
                    .unwrap();
                    assert_eq!(r.stop, MoveStop::Done);
                }
                samples.push(t.elapsed().as_nanos() as f64 / PAGES as f64);
                assert_eq!(peek(dst.page(PAGES - 1)), PAGES as u64);
            }
            println!(
                "MOVE batch {batch:>3} {label}: {:>8.0} ns/page (median of {ROUNDS})",
                median(samples)
            );
        }
        let mut samples = Vec::new();
        for _ in 0..ROUNDS {
            reset();
            let t = Instant::now();
            for b in 0..PAGES {
                // SAFETY: `dst` registered and empty, `src` populated and not written.
                let r =
                    unsafe { uffd.copy(dst.page(b), src.page(b), PAGE, Wake::DontWake) }.unwrap();
                assert_eq!(r.stop, FillStop::Done);
            }
            samples.push(t.elapsed().as_nanos() as f64 / PAGES as f64);
        }
        println!(
            "COPY single page {label}: {:>8.0} ns/page (median of {ROUNDS})",
            median(samples)
        );
    };
    // Pinned: the measuring thread on CPU 0, the sibling (if any) on CPU 1, so that the sibling
    // really runs elsewhere and every MOVE must shoot down its TLB by IPI.
    let pinned = pin_to_cpu(0);
    run(if pinned { "(alone, pinned)" } else { "(alone)" });
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let spinner = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            pin_to_cpu(1);
            let mut x = 0u64;
            while !stop.load(Ordering::Relaxed) {
                x = std::hint::black_box(x.wrapping_add(1));
            }
        })
    };
    std::thread::sleep(Duration::from_millis(10));
    run("(sibling thread spinning on another CPU)");
    stop.store(true, Ordering::Relaxed);
    spinner.join().unwrap();
}

/// Pins the calling thread to `cpu`; false if the machine does not allow it.
fn pin_to_cpu(cpu: usize) -> bool {
    // SAFETY: an all-zero cpu_set_t is the empty set; CPU_SET writes inside it (cpu < 1024);
    // `set` is then a valid cpu_set_t of the size passed, and pid 0 is the calling thread.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) == 0
    }
}
