//! The hiccup meter: a thread that asks to sleep 1 ms, again and again, and records by how much
//! each sleep overran. Run alone it measures the machine's own noise floor (timer slack, other
//! tenants, the scheduler); run beside a workload it shows what that workload costs everyone else
//! on the machine, including a collector's threads competing for the 2 cores.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

const INTERVAL: Duration = Duration::from_millis(1);

/// A running meter; [`Meter::stop`] ends it and returns the oversleeps in ns.
pub struct Meter {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Vec<u64>>>,
}

impl Meter {
    pub fn start() -> Meter {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("hiccup".into())
            .spawn(move || {
                let mut over = Vec::with_capacity(1 << 16);
                while !flag.load(Ordering::Relaxed) {
                    let t0 = Instant::now();
                    std::thread::sleep(INTERVAL);
                    let slept = t0.elapsed();
                    over.push(slept.saturating_sub(INTERVAL).as_nanos() as u64);
                }
                over
            })
            .ok();
        Meter { stop, thread }
    }

    /// Stops the meter; the oversleep of every 1 ms sleep, in ns (empty if the thread could not
    /// be started).
    pub fn stop(mut self) -> Vec<u64> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread
            .take()
            .and_then(|t| t.join().ok())
            .unwrap_or_default()
    }
}

impl Drop for Meter {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The machine's floor: the meter alone for `secs`; the oversleeps in ns.
pub fn floor(secs: f64) -> Vec<u64> {
    let m = Meter::start();
    std::thread::sleep(Duration::from_secs_f64(secs));
    m.stop()
}
