//! Random object graphs on the mock object model: cycles, shared nodes, objects spanning pages,
//! garbage interleaved with live data, weak references; many collections with mutations in
//! between. After every collection the whole reachable graph is compared with a shadow copy
//! (ids, payloads, the target of every slot), and weak entries to dead objects must be cleared.

mod mock;

use gc::HeapConfig;
use mock::{Rng, World};

fn config(rng: &mut Rng, verify: bool, stress: Option<u64>) -> HeapConfig {
    HeapConfig {
        max_bytes: 64 << 20,
        min_trigger_bytes: [64 << 10, 256 << 10, 1 << 20][rng.below(3)],
        growth_factor: 1.5 + rng.below(3) as f64 * 0.5,
        stress_every: stress,
        verify,
        log: false,
        ..HeapConfig::default()
    }
}

fn run_seed(seed: u64, ops: usize) -> (u64, u64) {
    let mut rng = Rng::new(seed);
    let verify = seed.is_multiple_of(2);
    let stress = (seed % 7 == 3).then(|| 1 + rng.below(30) as u64);
    let n_roots = 4 + rng.below(60);
    let mut w = World::new(config(&mut rng, verify, stress), n_roots, 8);
    for _ in 0..ops {
        w.random_op(&mut rng)
            .expect("out of memory in a 64 MiB heap");
    }
    w.collect();
    w.check(true).unwrap_or_else(|e| panic!("final check: {e}"));
    let stats = w.heap.stats(&mut w.roots).clone();
    assert!(stats.cycles > 0);
    (stats.cycles, w.checks)
}

fn run_seeds(seeds: std::ops::Range<u64>, ops: usize) {
    let (mut cycles, mut checks) = (0, 0);
    for seed in seeds {
        let r = std::panic::catch_unwind(|| run_seed(seed, ops));
        match r {
            Ok((c, k)) => {
                cycles += c;
                checks += k;
            }
            Err(e) => {
                eprintln!("property test failed with seed {seed}");
                std::panic::resume_unwind(e);
            }
        }
    }
    eprintln!("{cycles} collections, {checks} graph checks");
    assert!(cycles > 0 && checks > 0);
}

#[test]
fn random_graphs_survive_collections_seeds_0_to_20() {
    run_seeds(0..20, 3000);
}

#[test]
fn random_graphs_survive_collections_seeds_20_to_40() {
    run_seeds(20..40, 3000);
}

#[test]
fn long_run_with_many_collections() {
    run_seeds(1000..1002, 30_000);
}

/// A longer sweep for soak testing: `cargo test -p gc --release --test property -- --ignored`
/// (`GC_SEEDS=N` sets the number of seeds, default 300, `GC_SEED_START` the first).
#[test]
#[ignore]
fn many_seeds() {
    let env = |name: &str, default: u64| {
        std::env::var(name)
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(default)
    };
    let (first, n) = (env("GC_SEED_START", 10_000), env("GC_SEEDS", 300));
    run_seeds(first..first + n, 5000);
}
