//! `Errno`: the error of a userfaultfd system call, as a plain number. It never allocates, so the
//! fault handler (a signal handler) can produce, inspect and drop it.

use std::fmt;

/// An `errno` value returned by a userfaultfd system call.
#[derive(Copy, Clone, PartialEq, Eq, Hash)]
pub struct Errno(pub i32);

impl Errno {
    pub const EAGAIN: Errno = Errno(libc::EAGAIN);
    pub const EBUSY: Errno = Errno(libc::EBUSY);
    pub const EEXIST: Errno = Errno(libc::EEXIST);
    pub const EFAULT: Errno = Errno(libc::EFAULT);
    pub const EINTR: Errno = Errno(libc::EINTR);
    pub const EINVAL: Errno = Errno(libc::EINVAL);
    pub const EIO: Errno = Errno(libc::EIO);
    pub const ENOENT: Errno = Errno(libc::ENOENT);
    pub const ENOSYS: Errno = Errno(libc::ENOSYS);
    pub const EPERM: Errno = Errno(libc::EPERM);
    pub const EACCES: Errno = Errno(libc::EACCES);
    pub const EOPNOTSUPP: Errno = Errno(libc::EOPNOTSUPP);

    /// The calling thread's `errno` after a failed system call (async-signal-safe: a read of a
    /// thread-local the C library keeps).
    pub fn last() -> Errno {
        // SAFETY: `__errno_location` returns a valid pointer to this thread's errno.
        Errno(unsafe { *libc::__errno_location() })
    }

    /// The symbolic name for the values this module meets, else `None`.
    pub fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            libc::EAGAIN => "EAGAIN",
            libc::EBUSY => "EBUSY",
            libc::EEXIST => "EEXIST",
            libc::EFAULT => "EFAULT",
            libc::EINTR => "EINTR",
            libc::EINVAL => "EINVAL",
            libc::EIO => "EIO",
            libc::ENOENT => "ENOENT",
            libc::ENOSYS => "ENOSYS",
            libc::EPERM => "EPERM",
            libc::EACCES => "EACCES",
            libc::ENOMEM => "ENOMEM",
            libc::ESRCH => "ESRCH",
            libc::EMFILE => "EMFILE",
            libc::ENFILE => "ENFILE",
            libc::EBADF => "EBADF",
            libc::ENOTTY => "ENOTTY",
            libc::EOPNOTSUPP => "EOPNOTSUPP",
            _ => return None,
        })
    }
}

impl fmt::Debug for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => write!(f, "{n}"),
            None => write!(f, "errno {}", self.0),
        }
    }
}

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:?} ({})",
            self,
            std::io::Error::from_raw_os_error(self.0)
        )
    }
}

impl std::error::Error for Errno {}

impl From<Errno> for std::io::Error {
    fn from(e: Errno) -> std::io::Error {
        std::io::Error::from_raw_os_error(e.0)
    }
}
