//! Concurrent compaction on the mock object model: random graphs collected concurrently in
//! both fault modes (every check after a cycle races the GC thread through the fault path),
//! mutator threads reading and writing objects while compaction runs, the step mode faulting
//! on a page in each state, MOVE's EBUSY and EAGAIN through the injection seam during a real
//! cycle, and SIGBUS chaining for addresses outside every heap (child processes).

mod child;
mod mock;

use gc::{FaultMode, GcMode, HeapConfig};
use mock::{Rng, World};

fn conc_config(fault: FaultMode, verify: bool, stress: Option<u64>, max: usize) -> HeapConfig {
    HeapConfig {
        max_bytes: max,
        min_trigger_bytes: 256 << 10,
        growth_factor: 1.5,
        stress_every: stress,
        verify,
        log: false,
        mode: GcMode::Concurrent { fault },
        ..HeapConfig::default()
    }
}

fn run_seed(fault: FaultMode, seed: u64, ops: usize) -> gc::GcStats {
    let mut rng = Rng::new(seed);
    let verify = seed.is_multiple_of(2);
    let stress = (seed % 3 == 1).then(|| 50 + rng.below(200) as u64);
    let n_roots = 4 + rng.below(60);
    let mut w = World::new(conc_config(fault, verify, stress, 64 << 20), n_roots, 8);
    assert!(w.heap.is_concurrent(), "{:?}", w.heap.fallback_notice());
    for _ in 0..ops {
        w.random_op(&mut rng)
            .expect("out of memory in a 64 MiB heap");
    }
    w.collect();
    w.check(true).unwrap_or_else(|e| panic!("final check: {e}"));
    w.heap.finish().clone()
}

#[test]
fn random_graphs_sigbus_mode() {
    let mut faults = 0;
    for seed in 0..12 {
        let s = run_seed(FaultMode::Sigbus, seed, 3000);
        assert!(s.cycles > 0);
        assert_eq!(s.collector, "concurrent");
        faults += s.mutator_fault_stalls.count;
    }
    assert!(faults > 0, "no mutator ever faulted");
}

#[test]
fn random_graphs_thread_mode() {
    let mut faults = 0;
    for seed in 100..110 {
        let s = run_seed(FaultMode::Thread, seed, 3000);
        assert!(s.cycles > 0);
        assert_eq!(s.mutator_fault_stalls.timed_in, "handler_thread");
        faults += s.mutator_fault_stalls.count;
    }
    assert!(faults > 0, "no mutator ever faulted");
}

/// What a mutator thread changed in the nodes it owns: new reference values per slot.
type SlotWrites = Vec<(u64, usize, mock::Val)>;

/// One mutator thread while compaction runs: walks the chains hanging off its own roots,
/// checking every node it reaches against the shadow graph, rewrites payload words (and puts
/// them back) and re-points reference slots between its own nodes. Every first touch of a page
/// faults and races the GC thread.
fn mutator_thread(
    seed: u64,
    heads: Vec<u64>,
    nodes: &std::collections::HashMap<u64, mock::ShadowNode>,
    ops: usize,
) -> Result<SlotWrites, String> {
    use gc::{Address, ObjectModel};
    use mock::{payload, reference, word, Mock, Val};
    let mut rng = Rng::new(seed);
    let mut refs: std::collections::HashMap<u64, Vec<Val>> = std::collections::HashMap::new();
    let mut seen: Vec<(u64, Address)> = Vec::new();
    let mut writes = Vec::new();
    for _ in 0..ops {
        let mut at = Mock::decode(heads[rng.below(heads.len())]).ok_or("head is not a ref")?;
        for _ in 0..1 + rng.below(20) {
            // SAFETY: `at` is a live node of this thread's chains (the roots were updated by
            // the flip, slots are rewritten by compaction).
            let id = unsafe { word(at, 1) };
            let Some(node) = nodes.get(&id) else {
                return Err(format!("reached unknown id {id} at {at}"));
            };
            // SAFETY: as above.
            if unsafe { word(at, 0) } != mock::header(mock::TAG_NODE, node.words) {
                return Err(format!("#{id} at {at}: bad header"));
            }
            let k = 3
                + node.refs.len() * node.stride
                + rng
                    .below(node.words - 3 - node.refs.len() * node.stride)
                    .min(node.words);
            if k < node.words {
                // SAFETY: a payload word of the node.
                unsafe {
                    if word(at, k) != payload(id, k) {
                        return Err(format!("#{id} at {at}: payload word {k} differs"));
                    }
                    mock::set_word(at, k, !payload(id, k));
                    if word(at, k) != !payload(id, k) {
                        return Err(format!("#{id}: write of word {k} lost"));
                    }
                    mock::set_word(at, k, payload(id, k));
                }
            }
            seen.push((id, at));
            let cur = refs.entry(id).or_insert_with(|| node.refs.clone());
            if !cur.is_empty() && rng.chance(10) && !seen.is_empty() {
                // Re-point slot 0 at a node seen earlier (sharing, sometimes cycles).
                let (tid, taddr) = seen[rng.below(seen.len())];
                // SAFETY: slot 0 of this node.
                unsafe { mock::set_word(at, 3, reference(taddr)) };
                cur[0] = Val::Ref(tid);
                writes.push((id, 0, Val::Ref(tid)));
            }
            let next = match cur.first() {
                Some(Val::Ref(_)) => {
                    // SAFETY: slot 0 of the node.
                    Mock::decode(unsafe { word(at, 3) }).ok_or("slot 0 not a ref")?
                }
                _ => break,
            };
            at = next;
        }
        if seen.len() > 10_000 {
            seen.clear();
        }
    }
    Ok(writes)
}

fn threads_during_compaction(fault: FaultMode) {
    const THREADS: usize = 3;
    const ROOTS_PER: usize = 4;
    let mut w = World::new(
        conc_config(fault, true, None, 128 << 20),
        1 + THREADS * ROOTS_PER,
        0,
    );
    let mut rng = Rng::new(42 + fault as u64);
    // At least four rounds, and more until the mutators have raced the GC thread at least
    // once (on a loaded machine the GC thread may finish a small heap before they touch it).
    for round in 0..16 {
        if round >= 4 && w.heap.stats(&mut w.roots).mutator_fault_stalls.count > 0 {
            break;
        }
        // Grow private chains: node i of root r refers to node i-1 of the same root; some big.
        for i in 0..3000 {
            let r = 1 + rng.below(THREADS * ROOTS_PER);
            let extra = if i % 50 == 0 { 2000 } else { rng.below(40) };
            w.alloc_node_from(r, &[r, r], extra).unwrap();
        }
        // Drop some chains: garbage in between.
        let r = 1 + rng.below(THREADS * ROOTS_PER);
        w.clear_root(r);
        w.heap.collect(&mut w.roots);
        let nodes = &w.nodes;
        let results: Vec<Result<SlotWrites, String>> = std::thread::scope(|s| {
            let hs: Vec<_> = (0..THREADS)
                .map(|t| {
                    let heads: Vec<u64> = (0..ROOTS_PER)
                        .map(|j| w.roots.strong[1 + t * ROOTS_PER + j])
                        .filter(|&h| mock::Mock::decode_ok(h))
                        .collect();
                    let seed = round * 100 + t as u64;
                    s.spawn(move || {
                        if heads.is_empty() {
                            return Ok(Vec::new());
                        }
                        mutator_thread(seed, heads, nodes, 400)
                    })
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        for r in results {
            for (id, slot, v) in r.unwrap_or_else(|e| panic!("mutator thread: {e}")) {
                w.nodes.get_mut(&id).unwrap().refs[slot] = v;
            }
        }
        w.check(false)
            .unwrap_or_else(|e| panic!("after round {round}: {e}"));
        w.collect();
    }
    let s = w.heap.finish().clone();
    eprintln!(
        "{fault:?}: cycles {}, by gc {}, by mutator {}, stalls {:?}",
        s.cycles, s.pages_compacted_by_gc, s.pages_compacted_by_mutator, s.mutator_fault_stalls
    );
    assert!(
        s.mutator_fault_stalls.count > 0,
        "no fault stalls: {:?} {:?} cycles {} by gc {} by mutator {}",
        s.collector,
        s.fallback_reason,
        s.cycles,
        s.pages_compacted_by_gc,
        s.pages_compacted_by_mutator
    );
}

#[test]
fn mutator_threads_read_and_write_during_compaction_sigbus() {
    threads_during_compaction(FaultMode::Sigbus);
}

#[test]
fn mutator_threads_read_and_write_during_compaction_thread_mode() {
    threads_during_compaction(FaultMode::Thread);
}

// ---------------------------------------------------------------------------------------------
// Step mode: the test drives compaction page by page.

/// A world of many pages whose next cycle runs in step mode; returns it after the flip.
fn stepped_world(fault: FaultMode, seed: u64) -> World {
    // No cycle starts by itself while the world is built: with concurrent marking, when a
    // cycle flips depends on the GC thread's speed, and so would the layout the step tests
    // below depend on.
    let mut cfg = conc_config(fault, false, None, 64 << 20);
    cfg.min_trigger_bytes = cfg.max_bytes;
    let mut w = World::new(cfg, 16, 0);
    let mut rng = Rng::new(seed);
    for i in 0..4000 {
        let r = 1 + rng.below(15);
        w.alloc_node_from(r, &[r, 1 + (i % 15)], rng.below(60))
            .unwrap();
    }
    w.heap.collect(&mut w.roots);
    w.heap.wait_for_compaction(&mut w.roots);
    // Garbage at the top of the heap: from-space pages above every live object, recycled as
    // scratch pages, so that runs of compacted pages get contiguous scratch (the MOVE tests
    // need runs of four).
    for _ in 0..64 {
        w.alloc_node_from(15, &[15], 500).unwrap();
    }
    w.clear_root(15);
    w.heap.set_step_mode(true);
    w.heap.collect(&mut w.roots);
    assert!(w.heap.step_pages() >= 16, "{} pages", w.heap.step_pages());
    w
}

/// Reads the first word of heap page `page` on another thread; returns its handle.
fn reader(w: &World, page: usize) -> std::thread::JoinHandle<u64> {
    let a = w.heap.base().add(page * gc::PAGE).as_usize();
    std::thread::spawn(move || {
        // SAFETY: a page of the compacted heap, installed on access.
        unsafe { std::ptr::read_volatile(a as *const u64) }
    })
}

/// Waits until the fault figures have caught up: in thread mode the faulting thread resumes
/// when its page is installed, a moment before the handler thread publishes and counts it.
fn settle(w: &mut World, page: usize, stalls: u64) {
    use gc::metadata::pages::PageState;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while w.heap.step_state(page) != Some(PageState::Mapped) || faults(w) < stalls {
        assert!(
            std::time::Instant::now() < deadline,
            "page {page} never settled"
        );
        std::thread::yield_now();
    }
}

fn faults(w: &mut World) -> u64 {
    w.heap.stats(&mut w.roots).mutator_fault_stalls.count
}

fn step_mode_faults_in_every_state(fault: FaultMode) {
    use gc::metadata::pages::PageState;
    let mut w = stepped_world(fault, 5);
    let n = w.heap.step_pages();
    let s0 = w.heap.stats(&mut w.roots);

    // Unprocessed: the faulting thread compacts the page itself.
    let a = n / 2;
    assert_eq!(w.heap.step_state(a), Some(PageState::Unprocessed));
    reader(&w, a).join().unwrap();
    settle(&mut w, a, s0.mutator_fault_stalls.count + 1);
    let s1 = w.heap.stats(&mut w.roots);
    assert_eq!(
        s1.pages_compacted_by_mutator,
        s0.pages_compacted_by_mutator + 1
    );
    assert_eq!(
        s1.mutator_fault_stalls.count,
        s0.mutator_fault_stalls.count + 1
    );

    // Processing (claimed by the GC): the faulting thread waits until the GC publishes it.
    let b = n - 1;
    assert!(w.heap.step_claim(b));
    let t = reader(&w, b);
    std::thread::sleep(std::time::Duration::from_millis(100));
    assert!(!t.is_finished(), "the reader must wait for the GC's page");
    assert_eq!(w.heap.step_state(b), Some(PageState::Processing));
    w.heap.step_compact(b); // Ready: the waiting reader installs it itself.
    t.join().unwrap();
    settle(&mut w, b, s1.mutator_fault_stalls.count + 1);
    let s2 = w.heap.stats(&mut w.roots);
    assert_eq!(s2.pages_compacted_by_mutator, s1.pages_compacted_by_mutator);
    assert_eq!(s2.uffd_copy_pages, s1.uffd_copy_pages + 1);

    // Ready: compacted by the GC, installed by the faulting thread; the GC's MOVE then skips it.
    let c = n - 2;
    assert!(w.heap.step_claim(c));
    w.heap.step_compact(c);
    assert_eq!(w.heap.step_state(c), Some(PageState::Ready));
    reader(&w, c).join().unwrap();
    settle(&mut w, c, s2.mutator_fault_stalls.count + 1);
    let s3 = w.heap.stats(&mut w.roots);
    assert_eq!(s3.uffd_copy_pages, s2.uffd_copy_pages + 1);
    w.heap.step_install();
    assert_eq!(
        w.heap.stats(&mut w.roots).uffd_move_pages,
        s3.uffd_move_pages
    );

    // Mapped: installed by the GC's MOVE; reading it takes no fault.
    let d = n - 3;
    assert!(w.heap.step_claim(d));
    w.heap.step_compact(d);
    w.heap.step_install();
    assert_eq!(w.heap.step_state(d), Some(PageState::Mapped));
    let s4 = w.heap.stats(&mut w.roots);
    assert_eq!(s4.uffd_move_pages, s3.uffd_move_pages + 1);
    reader(&w, d).join().unwrap();
    assert_eq!(
        faults(&mut w),
        s4.mutator_fault_stalls.count,
        "no fault on a mapped page"
    );

    // After the cycle ended: no fault at all, and the graph is intact.
    w.heap.step_finish();
    assert_eq!(w.heap.step_state(0), None);
    let before = faults(&mut w);
    reader(&w, 1).join().unwrap();
    w.check(true).unwrap();
    assert_eq!(faults(&mut w), before, "no fault after the cycle");
    let s = w.heap.finish();
    assert!(s.pages_compacted_by_gc > 0 && s.pages_compacted_by_mutator > 0);
}

#[test]
fn step_mode_sigbus() {
    step_mode_faults_in_every_state(FaultMode::Sigbus);
}

#[test]
fn step_mode_thread() {
    step_mode_faults_in_every_state(FaultMode::Thread);
}

/// Compacts pages `[lo, lo + k)` as one run (highest first) in step mode.
fn compact_run(w: &mut World, lo: usize, k: usize) {
    for p in (lo..lo + k).rev() {
        assert!(w.heap.step_claim(p));
        w.heap.step_compact(p);
    }
}

#[test]
fn move_ebusy_and_eagain_during_a_real_cycle() {
    use gc::uffd::Injection;
    let mut w = stepped_world(FaultMode::Sigbus, 9);
    let n = w.heap.step_pages();
    let inj = |w: &World| w.heap.uffd_injector().unwrap().fired();

    // EBUSY on the second page of a run of four: that page is COPYed, the rest MOVEd.
    compact_run(&mut w, n - 4, 4);
    let s0 = w.heap.stats(&mut w.roots);
    assert!(w
        .heap
        .uffd_injector()
        .unwrap()
        .arm(Injection::MoveBusy { after: gc::PAGE }));
    w.heap.step_install();
    // Fired twice: the partial MOVE before the busy page (EAGAIN with progress), then EBUSY.
    assert_eq!(inj(&w), 2);
    let s1 = w.heap.stats(&mut w.roots);
    assert_eq!(s1.uffd_copy_pages, s0.uffd_copy_pages + 1);
    assert_eq!(s1.uffd_move_pages, s0.uffd_move_pages + 3);

    // EAGAIN after two pages of a run of four: the MOVE resumes after the bytes moved.
    compact_run(&mut w, n - 8, 4);
    assert!(w.heap.uffd_injector().unwrap().arm(Injection::MoveAgain {
        after: 2 * gc::PAGE
    }));
    w.heap.step_install();
    assert_eq!(inj(&w), 3);
    let s2 = w.heap.stats(&mut w.roots);
    assert_eq!(s2.uffd_move_pages, s1.uffd_move_pages + 4);
    assert_eq!(s2.uffd_copy_pages, s1.uffd_copy_pages);

    // EAGAIN with no progress on the first try: retried, all four MOVEd.
    compact_run(&mut w, n - 12, 4);
    assert!(w
        .heap
        .uffd_injector()
        .unwrap()
        .arm(Injection::MoveAgain { after: 0 }));
    w.heap.step_install();
    assert_eq!(inj(&w), 4);
    assert_eq!(
        w.heap.stats(&mut w.roots).uffd_move_pages,
        s2.uffd_move_pages + 4
    );

    // A COPY by a faulting mutator meeting EAGAIN after no progress is retried too.
    assert!(w
        .heap
        .uffd_injector()
        .unwrap()
        .arm(Injection::CopyAgain { after: 0 }));
    reader(&w, 0).join().unwrap();
    assert_eq!(inj(&w), 5);

    w.heap.step_finish();
    w.check(true).unwrap();
}

// ---------------------------------------------------------------------------------------------
// SIGBUS chaining: addresses outside every heap reach the previously installed handler.

#[test]
fn sigbus_outside_every_heap_reaches_the_previous_handler() {
    let out = child::run_role("chain_handler");
    assert_eq!(out.status.code(), Some(42), "{}", child::describe(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("chain: heap collected concurrently"),
        "{}",
        child::describe(&out)
    );
    assert!(
        stdout.contains("previous handler: BUS_ADRERR"),
        "{}",
        child::describe(&out)
    );

    use std::os::unix::process::ExitStatusExt;
    let out = child::run_role("chain_default");
    assert_eq!(
        out.status.signal(),
        Some(libc::SIGBUS),
        "{}",
        child::describe(&out)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("chain_default: touching"));
}

extern "C" fn previous_handler(
    _sig: libc::c_int,
    info: *mut libc::siginfo_t,
    _c: *mut libc::c_void,
) {
    // SAFETY: a valid siginfo for an SA_SIGINFO handler; write(2) and _exit(2) are
    // async-signal-safe.
    unsafe {
        let code = (*info).si_code;
        let msg: &[u8] = if code == libc::BUS_ADRERR {
            b"previous handler: BUS_ADRERR\n"
        } else {
            b"previous handler: other code\n"
        };
        libc::write(1, msg.as_ptr().cast(), msg.len());
        libc::_exit(42);
    }
}

/// A concurrent heap runs a cycle, then a real BUS_ADRERR outside it: a read past the end of
/// an empty file's mapping.
fn concurrent_heap_then_foreign_sigbus(role: &str) {
    let mut w = World::new(conc_config(FaultMode::Sigbus, true, None, 16 << 20), 8, 0);
    let mut rng = Rng::new(1);
    for _ in 0..2000 {
        w.random_op(&mut rng).unwrap();
    }
    w.collect();
    assert!(w.heap.is_concurrent() && w.heap.cycles() > 0);
    println!("chain: heap collected concurrently");
    println!("{role}: touching");
    use std::io::Write;
    std::io::stdout().flush().unwrap();
    let path = std::env::temp_dir().join(format!("gc-sigbus-{}", std::process::id()));
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&path)
        .unwrap();
    let _ = std::fs::remove_file(&path);
    use std::os::fd::AsRawFd;
    // SAFETY: a shared read-only mapping of an empty file: touching it raises SIGBUS
    // (BUS_ADRERR), which is the point.
    unsafe {
        let p = libc::mmap(
            std::ptr::null_mut(),
            4096,
            libc::PROT_READ,
            libc::MAP_SHARED,
            f.as_raw_fd(),
            0,
        );
        assert_ne!(p, libc::MAP_FAILED);
        let v = std::ptr::read_volatile(p as *const u8);
        println!("{role}: survived, read {v}");
    }
}

#[test]
#[ignore = "child role of sigbus_outside_every_heap_reaches_the_previous_handler"]
fn child_role_chain_handler() {
    if !child::is_role("chain_handler") {
        return;
    }
    // SAFETY: an all-zero sigaction is valid; we fill handler, mask and flags; this child
    // process owns its signal dispositions.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = previous_handler as *const () as usize;
        sa.sa_flags = libc::SA_SIGINFO;
        libc::sigemptyset(&mut sa.sa_mask);
        assert_eq!(libc::sigaction(libc::SIGBUS, &sa, std::ptr::null_mut()), 0);
    }
    concurrent_heap_then_foreign_sigbus("chain_handler");
}

#[test]
#[ignore = "child role of sigbus_outside_every_heap_reaches_the_previous_handler"]
fn child_role_chain_default() {
    if child::is_role("chain_default") {
        concurrent_heap_then_foreign_sigbus("chain_default");
    }
}

/// The handler keeps the interrupted code's errno: a SIGBUS arrives between a call that set
/// errno and the code that reads it, and the handler (here the previous handler it chains to,
/// which makes a failing system call) must not change what that code reads.
#[test]
fn the_sigbus_handler_preserves_errno() {
    let out = child::run_role("errno");
    assert!(out.status.success(), "{}", child::describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("errno: 77 before, 77 after"),
        "{}",
        child::describe(&out)
    );
}

extern "C" fn errno_clobbering_handler(
    _sig: libc::c_int,
    _info: *mut libc::siginfo_t,
    _c: *mut libc::c_void,
) {
    // SAFETY: close(2) of an invalid descriptor only fails (EBADF); async-signal-safe.
    unsafe { libc::close(-1) };
}

#[test]
#[ignore = "child role of the_sigbus_handler_preserves_errno"]
fn child_role_errno() {
    if !child::is_role("errno") {
        return;
    }
    // SAFETY: as in child_role_chain_handler: a valid sigaction for this child's own process.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = errno_clobbering_handler as *const () as usize;
        sa.sa_flags = libc::SA_SIGINFO;
        libc::sigemptyset(&mut sa.sa_mask);
        assert_eq!(libc::sigaction(libc::SIGBUS, &sa, std::ptr::null_mut()), 0);
    }
    // Creating a concurrent heap installs the collector's handler in front of that one.
    let w = World::new(conc_config(FaultMode::Sigbus, false, None, 16 << 20), 2, 0);
    assert!(w.heap.is_concurrent(), "{:?}", w.heap.fallback_notice());
    // SAFETY: this thread's errno slot; raise(3) sends SIGBUS to this thread, which runs the
    // handlers and returns (a sent SIGBUS, not a fault: returning is fine).
    let (before, after) = unsafe {
        *libc::__errno_location() = 77;
        let before = *libc::__errno_location();
        libc::raise(libc::SIGBUS);
        (before, *libc::__errno_location())
    };
    println!("errno: {before} before, {after} after");
}

// ---------------------------------------------------------------------------------------------
// Fallback (design note §4.4): userfaultfd denied by a real seccomp filter.

#[test]
fn userfaultfd_denied_falls_back_to_stop_the_world() {
    let out = child::run_role("denied");
    assert!(out.status.success(), "{}", child::describe(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("denied: fell back, graph ok"),
        "{}",
        child::describe(&out)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr
            .matches("gc: concurrent collector: userfaultfd denied")
            .count(),
        1,
        "one notice, asked for by the config\n{}",
        child::describe(&out)
    );
}

#[test]
#[ignore = "child role of userfaultfd_denied_falls_back_to_stop_the_world"]
fn child_role_denied() {
    if !child::is_role("denied") {
        return;
    }
    child::deny_userfaultfd(libc::EPERM);
    let mut cfg = conc_config(FaultMode::Sigbus, true, Some(100), 32 << 20);
    cfg.print_fallback_notice = true;
    let mut w = World::new(cfg, 16, 4);
    assert!(!w.heap.is_concurrent());
    let reason = w.heap.fallback_notice().unwrap().to_string();
    assert!(reason.starts_with("userfaultfd denied"), "{reason}");
    let mut rng = Rng::new(3);
    for _ in 0..5000 {
        w.random_op(&mut rng).unwrap();
    }
    w.collect();
    w.check(true).unwrap();
    let s = w.heap.finish();
    assert_eq!(s.collector, "stw");
    assert!(s.cycles > 0 && s.pauses.iter().all(|p| p.kind == "stw"));
    #[cfg(feature = "serde")]
    {
        let j = w.heap.stats_json(&mut w.roots);
        assert!(
            j.contains("\"fallback_reason\":\"userfaultfd denied"),
            "{j}"
        );
    }
    // A second heap in the same process falls back too, silently (no notice configured).
    let w2 = World::new(conc_config(FaultMode::Thread, false, None, 8 << 20), 4, 0);
    assert!(!w2.heap.is_concurrent());
    println!("denied: fell back, graph ok");
}

// ---------------------------------------------------------------------------------------------
// Allocation while compaction runs: fresh pages are installed by the allocator, the page
// holding the live end is compacted on first touch, and from-space pages are recycled.

#[test]
fn allocation_during_compaction_installs_fresh_pages() {
    let mut w = stepped_world(FaultMode::Sigbus, 21);
    let s0 = w.heap.stats(&mut w.roots);
    let mut rng = Rng::new(77);
    for _ in 0..3000 {
        let r = 1 + rng.below(15);
        w.alloc_node_from(r, &[r], rng.below(100)).unwrap();
    }
    let s1 = w.heap.stats(&mut w.roots);
    assert!(
        s1.uffd_zeropage_pages > s0.uffd_zeropage_pages,
        "fresh TLAB pages installed"
    );
    assert_eq!(
        s1.fresh_page_faults, 0,
        "the allocator installs fresh pages before use"
    );
    w.heap.step_finish();
    w.check(false).unwrap();
    w.collect();
    let s = w.heap.finish().clone();
    assert!(
        s.pages_recycled > 0,
        "from-space pages recycled as scratch: {s:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Design note §4.1: a kernel access to a page not yet installed fails; touching it first
// (Heap::ensure_installed) makes it safe.

#[test]
fn syscalls_on_heap_memory_need_installed_pages() {
    let mut w = stepped_world(FaultMode::Sigbus, 31);
    let n = w.heap.step_pages();
    let a = w.heap.base().add((n / 2) * gc::PAGE + 64);
    let mut fds = [0; 2];
    // SAFETY: pipe(2) writes two descriptors into `fds`.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    // SAFETY: write(2) reads 64 bytes at `a`, a heap page not installed yet: the kernel's
    // access fails instead of faulting to us.
    let r = unsafe { libc::write(fds[1], a.as_ptr(), 64) };
    let e = std::io::Error::last_os_error().raw_os_error();
    assert_eq!((r, e), (-1, Some(libc::EFAULT)));
    w.heap.ensure_installed(a, 64);
    // SAFETY: as above; the page is installed now.
    let r = unsafe { libc::write(fds[1], a.as_ptr(), 64) };
    assert_eq!(r, 64);
    // SAFETY: our own descriptors.
    unsafe {
        libc::close(fds[0]);
        libc::close(fds[1]);
    }
    w.heap.step_finish();
    w.check(true).unwrap();
}

/// A few tens of MiB live, chains read while compaction runs: prints the pause and stall
/// figures for a rough idea (the benchmark measures them properly).
#[test]
fn larger_live_heap_figures() {
    for fault in [FaultMode::Sigbus, FaultMode::Thread] {
        let mut cfg = conc_config(fault, false, None, 256 << 20);
        cfg.min_trigger_bytes = 512 << 20;
        let mut w = World::new(cfg, 64, 0);
        let mut rng = Rng::new(99);
        for i in 0..10_000 {
            let r = 1 + i % 63;
            w.alloc_node_from(r, &[r], 500).unwrap();
            if i % 3 == 0 {
                let r = 1 + rng.below(63);
                w.alloc_node(&mut rng, r).unwrap();
            }
        }
        for _ in 0..3 {
            w.heap.collect(&mut w.roots);
            // The mutator walks its chains at once, racing the GC thread.
            w.check(false).unwrap();
        }
        w.collect();
        let s = w.heap.finish().clone();
        let kind = |k: &str| {
            let mut v: Vec<u64> = s
                .pauses
                .iter()
                .filter(|p| p.kind == k)
                .map(|p| p.ns)
                .collect();
            v.sort_unstable();
            (
                v.len(),
                v.get(v.len() / 2).copied().unwrap_or(0),
                v.last().copied().unwrap_or(0),
            )
        };
        let f = &s.mutator_fault_stalls;
        eprintln!(
            "{fault:?}: live {:.1} MiB; mark (n, p50, max) {:?} ns; flip {:?} ns; faults {} \
             p50 {} p99 {} max {} ns ({}); by gc {} by mutator {}; move {} copy {} zero {} recycled {}",
            s.last_live_bytes as f64 / (1 << 20) as f64,
            kind("mark"),
            kind("flip"),
            f.count,
            f.p50_ns,
            f.p99_ns,
            f.max_ns,
            f.timed_in,
            s.pages_compacted_by_gc,
            s.pages_compacted_by_mutator,
            s.uffd_move_pages,
            s.uffd_copy_pages,
            s.uffd_zeropage_pages,
            s.pages_recycled
        );
        assert!(s.last_live_bytes > 20 << 20);
        assert!(kind("flip").2 < 50_000_000, "a flip pause walks no heap");
    }
}

/// A longer sweep for soak testing: `cargo test -p gc --release --test concurrent -- --ignored
/// many_seeds` (`GC_SEEDS=N` sets the number of seeds per fault mode, default 100).
#[test]
#[ignore]
fn many_seeds() {
    let n: u64 = std::env::var("GC_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100);
    for seed in 10_000..10_000 + n {
        for fault in [FaultMode::Sigbus, FaultMode::Thread] {
            let r = std::panic::catch_unwind(|| run_seed(fault, seed, 5000));
            if let Err(e) = r {
                eprintln!("failed with seed {seed} in {fault:?} mode");
                std::panic::resume_unwind(e);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Design note §4.4: a kernel without UFFDIO_MOVE runs concurrently, installing with COPY.

#[test]
fn without_move_pages_are_copied() {
    for fault in [FaultMode::Sigbus, FaultMode::Thread] {
        let cfg = conc_config(fault, true, Some(300), 32 << 20);
        let heap = gc::Heap::with_features(cfg, Some(gc::uffd::Features::SIGBUS)).unwrap();
        let mut w = World::with_heap(heap, 24, 4);
        assert!(w.heap.is_concurrent());
        assert!(w.heap.fallback_notice().unwrap().contains("COPY"));
        let mut rng = Rng::new(8);
        for _ in 0..8000 {
            w.random_op(&mut rng).unwrap();
        }
        w.collect();
        w.check(true).unwrap();
        let s = w.heap.finish().clone();
        assert!(s.cycles > 2 && s.pages_compacted_by_gc > 0, "{s:?}");
        assert_eq!(s.uffd_move_pages, 0);
        assert!(s.uffd_copy_pages >= s.pages_compacted_by_gc);
        assert_eq!(s.collector, "concurrent");
    }
}
