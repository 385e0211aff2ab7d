//! Opening a userfaultfd: the `userfaultfd(2)` system call (always with `O_CLOEXEC |
//! O_NONBLOCK | UFFD_USER_MODE_ONLY`, root or not — design note §4.1: a root-only run must not
//! hide a kernel access to a missing heap page) and the `UFFDIO_API` handshake with feature
//! negotiation.
//!
//! Owns: the file descriptor (closed on drop) and the features the kernel granted. Must never
//! open through `/dev/userfaultfd` (root-only on many systems) or drop `UFFD_USER_MODE_ONLY`.

use super::error::Errno;
use super::features::Features;
use super::inject::Injector;
use super::sys;
use std::fmt;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

/// An open, handshaken userfaultfd. All its operations take plain addresses; see the module
/// documentation of [`super`] for the rules on which addresses may be given. `Send + Sync`:
/// the ioctls are safe to issue from several threads (the GC thread and faulting mutators) at
/// once.
pub struct Uffd {
    fd: OwnedFd,
    granted: Features,
    available: Features,
    inject: Injector,
}

/// Why a userfaultfd could not be had. The collector falls back to stop-the-world compaction on
/// any of these and records [`OpenError::reason`].
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum OpenError {
    /// The system call was refused by policy: EPERM or EACCES (a seccomp filter, or a kernel
    /// that refuses unprivileged userfaultfd and lacks user-mode-only support).
    Denied(Errno),
    /// The kernel does not offer it: ENOSYS (no userfaultfd, or a seccomp filter answering
    /// ENOSYS) or EINVAL (a kernel before 5.11 that does not know `UFFD_USER_MODE_ONLY`).
    Unsupported(Errno),
    /// The system call failed for another reason (EMFILE, ENFILE, ENOMEM).
    Syscall(Errno),
    /// `UFFDIO_API` failed.
    Handshake(Errno),
    /// The kernel lacks features the caller required.
    FeaturesMissing {
        missing: Features,
        available: Features,
    },
}

impl OpenError {
    /// A short, stable reason for statistics (`fallback_reason`).
    pub fn reason(&self) -> &'static str {
        match self {
            OpenError::Denied(_) => "userfaultfd denied",
            OpenError::Unsupported(_) => "userfaultfd unsupported",
            OpenError::Syscall(_) => "userfaultfd syscall failed",
            OpenError::Handshake(_) => "userfaultfd API handshake failed",
            OpenError::FeaturesMissing { .. } => "userfaultfd features missing",
        }
    }
}

impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OpenError::Denied(e) | OpenError::Unsupported(e) | OpenError::Syscall(e) => {
                write!(f, "{}: userfaultfd(2) failed with {e}", self.reason())
            }
            OpenError::Handshake(e) => write!(f, "{}: UFFDIO_API failed with {e}", self.reason()),
            OpenError::FeaturesMissing { missing, available } => write!(
                f,
                "{}: need {missing}, the kernel offers {available}",
                self.reason()
            ),
        }
    }
}

impl std::error::Error for OpenError {}

/// Which features to ask for. `request` is what the caller would like (granted where the
/// kernel has it); `require` must be granted or opening fails with
/// [`OpenError::FeaturesMissing`].
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct OpenOptions {
    pub request: Features,
    pub require: Features,
}

impl OpenOptions {
    /// The collector's default fault mode: faults raise SIGBUS in the faulting thread (required),
    /// pages installed with MOVE where the kernel has it.
    pub const SIGBUS_MODE: OpenOptions = OpenOptions {
        request: Features::MOVE.union(Features::SIGBUS),
        require: Features::SIGBUS,
    };
    /// The handler-thread fault mode: faults are queued as messages (so SIGBUS must not be
    /// requested), MOVE where the kernel has it.
    pub const THREAD_MODE: OpenOptions = OpenOptions {
        request: Features::MOVE.union(Features::THREAD_ID),
        require: Features::NONE,
    };

    /// Opens with these options.
    pub fn open(self) -> Result<Uffd, OpenError> {
        Uffd::open_with(self)
    }
}

/// `userfaultfd(O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY)`, classified.
fn open_raw() -> Result<OwnedFd, OpenError> {
    let flags = libc::O_CLOEXEC | libc::O_NONBLOCK | sys::UFFD_USER_MODE_ONLY;
    // SAFETY: userfaultfd(2) takes one integer argument and touches no memory of ours.
    let rc = unsafe { libc::syscall(libc::SYS_userfaultfd, flags) };
    if rc < 0 {
        let e = Errno::last();
        return Err(match e.0 {
            libc::EPERM | libc::EACCES => OpenError::Denied(e),
            libc::ENOSYS | libc::EINVAL => OpenError::Unsupported(e),
            _ => OpenError::Syscall(e),
        });
    }
    // SAFETY: `rc` is a file descriptor the kernel just created for us and nobody else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(rc as RawFd) })
}

/// `UFFDIO_API` asking for `features`; on success returns what the kernel offers (it answers
/// every feature it supports, not only the requested ones).
fn handshake(fd: &OwnedFd, features: Features) -> Result<Features, Errno> {
    let mut api = sys::UffdioApi {
        api: sys::UFFD_API,
        features: features.bits(),
        ioctls: 0,
    };
    // SAFETY: `api` is a valid, writable uffdio_api that outlives the call; the request code
    // matches its size (checked in sys).
    let rc = unsafe { libc::ioctl(fd.as_raw_fd(), sys::UFFDIO_API, &mut api) };
    if rc < 0 {
        return Err(Errno::last());
    }
    Ok(Features(api.features))
}

impl Uffd {
    /// Opens a userfaultfd for the default SIGBUS fault mode ([`OpenOptions::SIGBUS_MODE`]).
    pub fn open() -> Result<Uffd, OpenError> {
        Uffd::open_with(OpenOptions::SIGBUS_MODE)
    }

    /// Opens a userfaultfd and negotiates features. The handshake first asks for everything
    /// requested; a kernel that lacks one refuses the whole handshake (EINVAL) and that fd is
    /// spent, so then a second fd learns what the kernel offers (a handshake asking for
    /// nothing) and a third asks for the intersection.
    pub fn open_with(options: OpenOptions) -> Result<Uffd, OpenError> {
        let want = options.request | options.require;
        let fd = open_raw()?;
        match handshake(&fd, want) {
            Ok(available) => Ok(Uffd::new(fd, want, available)),
            Err(e) if e == Errno::EINVAL => {
                drop(fd);
                let probe = open_raw()?;
                let available = handshake(&probe, Features::NONE).map_err(OpenError::Handshake)?;
                drop(probe);
                let missing = options.require.difference(available);
                if !missing.is_empty() {
                    return Err(OpenError::FeaturesMissing { missing, available });
                }
                let grant = want & available;
                let fd = open_raw()?;
                handshake(&fd, grant).map_err(OpenError::Handshake)?;
                Ok(Uffd::new(fd, grant, available))
            }
            Err(e) => Err(OpenError::Handshake(e)),
        }
    }

    fn new(fd: OwnedFd, granted: Features, available: Features) -> Uffd {
        Uffd {
            fd,
            granted,
            available,
            inject: Injector::new(),
        }
    }

    /// The features enabled on this uffd (what was asked for and the kernel has).
    pub fn features(&self) -> Features {
        self.granted
    }

    /// Every feature the kernel offers, asked for or not.
    pub fn available_features(&self) -> Features {
        self.available
    }

    /// Whether `UFFDIO_MOVE` may be used on this uffd.
    pub fn has_move(&self) -> bool {
        self.granted.contains(Features::MOVE)
    }

    /// Whether missing faults raise SIGBUS instead of queueing a message.
    pub fn is_sigbus_mode(&self) -> bool {
        self.granted.contains(Features::SIGBUS)
    }

    /// The fault-injection seam of this uffd (tests only; see [`super::inject`]).
    pub fn inject(&self) -> &Injector {
        &self.inject
    }
}

const _: () = {
    const fn send_sync<T: Send + Sync>() {}
    send_sync::<Uffd>();
};

impl AsRawFd for Uffd {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl AsFd for Uffd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl fmt::Debug for Uffd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Uffd")
            .field("fd", &self.fd.as_raw_fd())
            .field("features", &self.granted)
            .finish()
    }
}
