//! Reading fault messages (handler-thread mode) and waiting for them.
//!
//! Owns: `read(2)` of one `uffd_msg` at a time from the non-blocking uffd, and `poll(2)` for
//! readability, optionally together with a second fd (an eventfd or pipe the owner writes to
//! stop the handler thread). In SIGBUS mode no page-fault message is ever queued. Must never
//! block: the fd is non-blocking, and waiting is explicit.

use super::error::Errno;
use super::fd::Uffd;
use super::sys;
use crate::address::Address;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::time::Duration;

/// One message from the uffd.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum FaultMsg {
    /// A thread faulted on a missing page of a registered range and waits until the page is
    /// installed (and the range woken).
    PageFault {
        /// The faulting address, rounded down to the page unless EXACT_ADDRESS was granted.
        address: Address,
        /// A write access (else a read).
        write: bool,
        /// The faulting thread's id, if THREAD_ID was granted (else 0).
        thread_id: u32,
    },
    /// An event this module does not ask for (fork, remap, remove, unmap, or a write-protect
    /// or minor fault); its raw event number.
    Other { event: u8 },
}

/// Which fds are ready after [`Uffd::wait`].
#[derive(Copy, Clone, Debug, PartialEq, Eq, Default)]
pub struct Ready {
    /// A message can be read from the uffd.
    pub uffd: bool,
    /// The extra fd is readable (or hung up).
    pub other: bool,
}

impl Uffd {
    /// Reads one message without blocking: `Ok(None)` if none is queued.
    pub fn read_msg(&self) -> Result<Option<FaultMsg>, Errno> {
        let mut msg = sys::UffdMsg::zeroed();
        let size = std::mem::size_of::<sys::UffdMsg>();
        let n = loop {
            // SAFETY: `msg` is a valid, writable buffer of exactly `size` bytes; the kernel
            // writes whole messages only.
            let n = unsafe {
                libc::read(
                    self.as_raw_fd(),
                    (&mut msg as *mut sys::UffdMsg).cast(),
                    size,
                )
            };
            if n >= 0 {
                break n as usize;
            }
            match Errno::last() {
                Errno::EINTR => continue,
                Errno::EAGAIN => return Ok(None),
                e => return Err(e),
            }
        };
        if n != size {
            return Err(Errno::EIO);
        }
        if msg.event != sys::UFFD_EVENT_PAGEFAULT {
            return Ok(Some(FaultMsg::Other { event: msg.event }));
        }
        // SAFETY: for UFFD_EVENT_PAGEFAULT the kernel fills the `pagefault` arm, and every bit
        // pattern is a valid value of its integer fields.
        let pf = unsafe { msg.arg.pagefault };
        if pf.flags & (sys::UFFD_PAGEFAULT_FLAG_WP | sys::UFFD_PAGEFAULT_FLAG_MINOR) != 0 {
            return Ok(Some(FaultMsg::Other { event: msg.event }));
        }
        Ok(Some(FaultMsg::PageFault {
            address: Address(pf.address as usize),
            write: pf.flags & sys::UFFD_PAGEFAULT_FLAG_WRITE != 0,
            thread_id: pf.ptid,
        }))
    }

    /// Waits until a message can be read, or `other` (if given) is readable, or `timeout`
    /// passes (`None`: no limit). A signal interrupting the wait returns with nothing ready.
    pub fn wait(
        &self,
        other: Option<BorrowedFd<'_>>,
        timeout: Option<Duration>,
    ) -> Result<Ready, Errno> {
        let mut fds = [
            libc::pollfd {
                fd: self.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: other.map_or(-1, |fd| fd.as_raw_fd()),
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        let ms = match timeout {
            None => -1,
            Some(t) => t.as_millis().min(i32::MAX as u128) as libc::c_int,
        };
        let nfds = if other.is_some() { 2 } else { 1 };
        // SAFETY: `fds` holds `nfds` valid pollfd entries for the duration of the call (a
        // negative fd in the unused slot is ignored by poll anyway).
        let rc = unsafe { libc::poll(fds.as_mut_ptr(), nfds, ms) };
        if rc < 0 {
            return match Errno::last() {
                Errno::EINTR => Ok(Ready::default()),
                e => Err(e),
            };
        }
        let ready =
            |p: &libc::pollfd| p.revents & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) != 0;
        Ok(Ready {
            uffd: ready(&fds[0]),
            other: other.is_some() && ready(&fds[1]),
        })
    }
}
