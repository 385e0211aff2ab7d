//! Micro-benchmark: installing pages into a userfaultfd-registered range with `UFFDIO_MOVE`
//! versus `UFFDIO_COPY`, per batch of 1, 16, 64 and 512 pages (one ioctl per batch).
//!
//! Each iteration first resets state outside the timed part: the destination pages are
//! dropped (`MADV_DONTNEED`, so they are missing again) and every source page is written (MOVE
//! leaves holes behind; writing faults in a fresh exclusive page). Only the install call is
//! timed. Throughput is in pages, so criterion reports time per page. Without a usable
//! userfaultfd (no permission, old kernel) the benchmark prints why and measures nothing.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use gc::uffd::{FillStop, MoveFlags, MoveStop, PageRange, Uffd, Wake};
use gc::{Address, PAGE};
use std::hint::black_box;
use std::time::{Duration, Instant};

const BATCHES: [usize; 4] = [1, 16, 64, 512];
const MAX_PAGES: usize = 512;

/// A private anonymous read-write mapping without transparent huge pages (a huge page would
/// make MOVE split it and COPY refuse it), unmapped on drop.
struct Mapping {
    base: Address,
    len: usize,
}

impl Mapping {
    fn new(pages: usize) -> Option<Mapping> {
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
        if p == libc::MAP_FAILED {
            return None;
        }
        let m = Mapping {
            base: Address::from_ptr(p),
            len,
        };
        // SAFETY: `p..p+len` is the mapping just created; advice changes no contents.
        let rc = unsafe { libc::madvise(p, len, libc::MADV_NOHUGEPAGE) };
        (rc == 0).then_some(m)
    }

    /// Writes one word in each of the first `pages` pages, faulting in any that are missing.
    /// Only for the source mapping, which is never registered.
    fn populate(&self, pages: usize) {
        for i in 0..pages.min(self.len / PAGE) {
            let p: *mut u64 = self.base.add(i * PAGE).as_mut_ptr();
            // SAFETY: `p` lies inside this live read-write mapping, which no Rust reference
            // points into; a volatile write keeps the fault from being optimised away.
            unsafe { p.write_volatile(i as u64 + 1) };
        }
    }

    /// Drops the first `pages` pages: in the registered destination they become missing again.
    fn discard(&self, pages: usize) {
        let len = (pages * PAGE).min(self.len);
        // SAFETY: the range lies in this mapping and holds no Rust object; DONTNEED only
        // empties it (no uffd remove events are negotiated, so nothing blocks on it).
        unsafe { libc::madvise(self.base.as_mut_ptr(), len, libc::MADV_DONTNEED) };
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: the mapping was created by `Mapping::new` and nothing refers into it now.
        unsafe { libc::munmap(self.base.as_mut_ptr(), self.len) };
    }
}

#[derive(Copy, Clone)]
enum Op {
    Move,
    Copy,
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::Move => "move",
            Op::Copy => "copy",
        }
    }

    /// Installs `pages` pages of `src` at `dst`; true if all of them landed.
    fn install(self, uffd: &Uffd, dst: &Mapping, src: &Mapping, pages: usize) -> bool {
        let len = pages * PAGE;
        match self {
            Op::Move => {
                // SAFETY: rules 1-3 of `move_pages`: `dst` is registered with `uffd` and holds
                // no Rust object; `src` is our private anonymous mapping, unregistered, not
                // written during the call and without Rust references; they are distinct
                // mappings, both page-aligned, and `len` is a non-zero page multiple.
                let r = unsafe { uffd.move_pages(dst.base, src.base, len, MoveFlags::WAKE) };
                r.is_ok_and(|r| r.stop == MoveStop::Done && r.moved == len)
            }
            Op::Copy => {
                // SAFETY: rules 1-3 of `copy`: `dst` is registered with `uffd` and holds no
                // Rust object; `src` is mapped readable and not written during the call; both
                // are page-aligned and `len` is a non-zero page multiple.
                let r = unsafe { uffd.copy(dst.base, src.base, len, Wake::Wake) };
                r.is_ok_and(|r| r.stop == FillStop::Done && r.done == len)
            }
        }
    }
}

/// The userfaultfd, a registered destination and a plain source, or why they are unavailable.
fn setup() -> Result<(Uffd, Mapping, Mapping), String> {
    let uffd = Uffd::open().map_err(|e| format!("cannot open userfaultfd: {e}"))?;
    let dst = Mapping::new(MAX_PAGES).ok_or("mmap of the destination failed")?;
    let src = Mapping::new(MAX_PAGES).ok_or("mmap of the source failed")?;
    // SAFETY: rules 1-2 of `register_missing`: `dst` is a whole private anonymous mapping we
    // own, and nothing but this benchmark's pages will ever live in it.
    let registered = unsafe { uffd.register_missing(PageRange::new(dst.base, dst.len)) };
    registered.map_err(|e| format!("UFFDIO_REGISTER failed: {e}"))?;
    Ok((uffd, dst, src))
}

fn bench_install(c: &mut Criterion) {
    let (uffd, dst, src) = match setup() {
        Ok(s) => s,
        Err(why) => {
            eprintln!("uffd_install: skipped: {why}");
            return;
        }
    };
    let mut ops = vec![Op::Copy];
    if uffd.has_move() {
        ops.push(Op::Move);
    } else {
        eprintln!("uffd_install: UFFDIO_MOVE not offered by this kernel; COPY only");
    }
    let mut group = c.benchmark_group("uffd_install");
    group
        .sample_size(20)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(2));
    for op in ops {
        // One untimed trial: a failing ioctl would otherwise be measured as a fast one.
        dst.discard(MAX_PAGES);
        src.populate(MAX_PAGES);
        if !op.install(&uffd, &dst, &src, MAX_PAGES) {
            eprintln!(
                "uffd_install: {} did not install all pages; skipped",
                op.name()
            );
            continue;
        }
        for &pages in &BATCHES {
            group.throughput(Throughput::Elements(pages as u64));
            group.bench_with_input(BenchmarkId::new(op.name(), pages), &pages, |b, &pages| {
                b.iter_custom(|iters| {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        dst.discard(pages);
                        src.populate(pages);
                        let t = Instant::now();
                        black_box(op.install(&uffd, &dst, &src, pages));
                        total += t.elapsed();
                    }
                    total
                })
            });
        }
    }
    group.finish();
    dst.discard(MAX_PAGES);
    // Unregister before the mappings go (drop order: `uffd` would close first anyway).
    let _ = uffd.unregister(PageRange::new(dst.base, dst.len));
}

criterion_group!(benches, bench_install);
criterion_main!(benches);
