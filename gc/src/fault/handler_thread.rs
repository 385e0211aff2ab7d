//! Handler-thread fault mode (`FaultMode::Thread`, design note §2.6): faults on the registered
//! heap are queued as messages instead of raising SIGBUS; one thread per heap reads them,
//! resolves each page with the same routine as the SIGBUS handler, and the installing COPY
//! (without DONTWAKE) or an explicit WAKE lets the faulting thread retry. Stalls are timed in
//! this thread, from picking up the message to the wake, and labelled so.

use super::sigbus::handle_fault;
use crate::collector::concurrent::shared::Shared;
use crate::uffd::{FaultMsg, Wake};
use std::io;
use std::os::fd::{AsFd, FromRawFd, OwnedFd};
use std::sync::Arc;
use std::thread::JoinHandle;

pub struct HandlerThread {
    stop: OwnedFd,
    join: Option<JoinHandle<()>>,
}

impl HandlerThread {
    /// Starts the handler thread of the heap whose shared state is `sh`.
    pub fn spawn(sh: Arc<Shared>) -> io::Result<HandlerThread> {
        // SAFETY: eventfd(2) returns a new descriptor or -1; no memory is involved.
        let raw = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `raw` is a fresh descriptor nobody else owns.
        let stop = unsafe { OwnedFd::from_raw_fd(raw) };
        let stop_for_thread = stop.try_clone()?;
        let join = std::thread::Builder::new()
            .name("gc-uffd-handler".into())
            .spawn(move || run(&sh, &stop_for_thread))?;
        Ok(HandlerThread {
            stop,
            join: Some(join),
        })
    }
}

impl Drop for HandlerThread {
    fn drop(&mut self) {
        let one = 1u64;
        // SAFETY: writes 8 bytes from a live u64 to our own eventfd.
        unsafe {
            libc::write(
                std::os::fd::AsRawFd::as_raw_fd(&self.stop),
                (&one as *const u64).cast(),
                8,
            )
        };
        if let Some(j) = self.join.take() {
            let _ = j.join();
        }
    }
}

fn run(sh: &Shared, stop: &OwnedFd) {
    let slot = sh.slot();
    loop {
        let ready = match sh.uffd.wait(Some(stop.as_fd()), None) {
            Ok(r) => r,
            Err(_) => return,
        };
        if ready.other {
            return;
        }
        if !ready.uffd {
            continue;
        }
        while let Ok(Some(msg)) = sh.uffd.read_msg() {
            if let FaultMsg::PageFault { address, .. } = msg {
                handle_fault(slot, address, Wake::Wake);
            }
        }
    }
}
