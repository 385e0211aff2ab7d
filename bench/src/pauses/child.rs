//! Running one benchmark process: wall time from spawn to exit, its own CPU time and peak RSS
//! (from `wait4`'s rusage, so a child's figures are never mixed with another's), a time limit,
//! its output captured to files, and optionally a watcher thread that samples it while it runs.

use std::fs::File;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// How a run ended.
#[derive(Clone, Debug, PartialEq)]
pub enum Exit {
    Code(i32),
    Signal(i32),
    /// Killed by the harness after the time limit.
    TimedOut,
}

/// What one process did.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub exit: Exit,
    pub wall_ns: u64,
    pub user_ns: u64,
    pub sys_ns: u64,
    /// Peak resident set size of the process (its own `ru_maxrss`).
    pub max_rss_bytes: u64,
    pub stdout: String,
    pub stderr: String,
}

impl Outcome {
    pub fn success(&self) -> bool {
        self.exit == Exit::Code(0)
    }

    /// A one-line description of a failure, for the report.
    pub fn failure(&self) -> String {
        let first = self.stderr.lines().next().unwrap_or("").trim();
        match &self.exit {
            Exit::Code(c) => format!("exit {c}: {first}"),
            Exit::Signal(s) => format!("killed by signal {s}: {first}"),
            Exit::TimedOut => "timed out".into(),
        }
    }
}

fn tv_ns(tv: libc::timeval) -> u64 {
    (tv.tv_sec.max(0) as u64) * 1_000_000_000 + (tv.tv_usec.max(0) as u64) * 1000
}

/// Runs `cmd` with stdin closed, stdout and stderr into `log_stem.out` / `log_stem.err`, and
/// kills it after `limit`.
pub fn run(cmd: &mut Command, log_stem: &Path, limit: Duration) -> Result<Outcome, String> {
    run_watched(cmd, log_stem, limit, |_| ()).map(|(o, ())| o)
}

/// The running child as a watcher sees it (see [`run_watched`]).
pub struct Running<'a> {
    pub pid: libc::pid_t,
    /// Just before the spawn.
    pub started: Instant,
    exited: &'a (Mutex<bool>, Condvar),
}

impl Running<'_> {
    /// Sleeps up to `d`, waking early when the child exits; `false` once it has exited.
    pub fn sleep(&self, d: Duration) -> bool {
        let (lock, cv) = self.exited;
        let Ok(guard) = lock.lock() else { return false };
        match cv.wait_timeout_while(guard, d, |exited| !*exited) {
            Ok((exited, _)) => !*exited,
            Err(_) => false,
        }
    }
}

/// As [`run`], with `watch` running on a thread of its own beside the child (to sample it
/// through `/proc`, say) until it returns. The child is reaped only after `watch` returned, so
/// its pid cannot name another process meanwhile; `watch` should return soon after
/// [`Running::sleep`] says the child exited.
pub fn run_watched<T: Send>(
    cmd: &mut Command,
    log_stem: &Path,
    limit: Duration,
    watch: impl FnOnce(&Running) -> T + Send,
) -> Result<(Outcome, T), String> {
    let out_path = log_stem.with_extension("out");
    let err_path = log_stem.with_extension("err");
    let open =
        |p: &Path| File::create(p).map_err(|e| format!("cannot create {}: {e}", p.display()));
    cmd.stdin(Stdio::null())
        .stdout(open(&out_path)?)
        .stderr(open(&err_path)?);
    let start = Instant::now();
    let child = cmd
        .spawn()
        .map_err(|e| format!("cannot run {:?}: {e}", cmd.get_program()))?;
    let pid = child.id() as libc::pid_t;

    // The watchdog may kill only while the child is not yet reaped (its pid cannot have been
    // reused): `exited` is set under the lock before the child is reaped.
    let state = Arc::new((Mutex::new(false), Condvar::new()));
    let watch_dog = {
        let state = Arc::clone(&state);
        std::thread::spawn(move || {
            let (lock, cv) = &*state;
            let Ok(guard) = lock.lock() else { return false };
            let Ok((guard, _)) = cv.wait_timeout_while(guard, limit, |exited| !*exited) else {
                return false;
            };
            if *guard {
                return false;
            }
            // SAFETY: `kill` has no memory-safety preconditions; `pid` is our unreaped child
            // (the lock is held and `exited` is false), so the signal cannot reach another process.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            true
        })
    };

    let running = Running {
        pid,
        started: start,
        exited: &state,
    };
    let (wall_ns, watched) = std::thread::scope(|scope| {
        let watcher = scope.spawn(|| watch(&running));
        // Wait for the exit without reaping, to stop the clock and tell the watchers.
        // SAFETY: `siginfo_t` is a plain C struct for which all-zero bytes are a valid value.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        loop {
            // SAFETY: `info` is a valid, writable `siginfo_t`; `pid` is our child.
            let r = unsafe {
                libc::waitid(
                    libc::P_PID,
                    pid as libc::id_t,
                    &mut info,
                    libc::WEXITED | libc::WNOWAIT,
                )
            };
            if r == 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
                break;
            }
        }
        let wall_ns = start.elapsed().as_nanos() as u64;
        {
            let (lock, cv) = &*state;
            if let Ok(mut exited) = lock.lock() {
                *exited = true;
            }
            cv.notify_all();
        }
        (wall_ns, watcher.join())
    });
    let killed = watch_dog.join().unwrap_or(false);

    let mut status: libc::c_int = 0;
    // SAFETY: `rusage` is a plain C struct for which all-zero bytes are a valid value.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    let reaped = loop {
        // SAFETY: `status` and `ru` are valid and writable; `pid` is our child, not yet reaped.
        let r = unsafe { libc::wait4(pid, &mut status, 0, &mut ru) };
        if r == pid {
            break true;
        }
        if std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            break false;
        }
    };
    drop(child);
    if !reaped {
        return Err(format!("wait4 failed: {}", std::io::Error::last_os_error()));
    }
    let watched = watched.map_err(|_| "the watcher of the child panicked".to_string())?;
    let exit = if killed {
        Exit::TimedOut
    } else if libc::WIFEXITED(status) {
        Exit::Code(libc::WEXITSTATUS(status))
    } else {
        Exit::Signal(libc::WTERMSIG(status))
    };
    let read = |p: &Path| {
        std::fs::read(p)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    };
    let outcome = Outcome {
        exit,
        wall_ns,
        user_ns: tv_ns(ru.ru_utime),
        sys_ns: tv_ns(ru.ru_stime),
        // Linux reports ru_maxrss in KiB.
        max_rss_bytes: (ru.ru_maxrss.max(0) as u64) * 1024,
        stdout: read(&out_path),
        stderr: read(&err_path),
    };
    Ok((outcome, watched))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stem(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("bench-child-test-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        dir.join(name)
    }

    #[test]
    fn captures_output_and_exit_code() {
        let mut c = Command::new("sh");
        c.args(["-c", "echo hello; echo oops >&2; exit 3"]);
        let o = run(&mut c, &stem("a"), Duration::from_secs(60)).unwrap();
        assert_eq!(o.exit, Exit::Code(3));
        assert_eq!(o.stdout, "hello\n");
        assert_eq!(o.failure(), "exit 3: oops");
        assert!(o.max_rss_bytes > 0);
    }

    #[test]
    fn kills_at_the_limit() {
        let mut c = Command::new("sleep");
        c.arg("30");
        let o = run(&mut c, &stem("b"), Duration::from_millis(50)).unwrap();
        assert_eq!(o.exit, Exit::TimedOut);
        assert!(!o.success());
    }

    #[test]
    fn the_watcher_sees_the_child_until_it_exits() {
        let mut c = Command::new("sleep");
        c.arg("0.3");
        let (o, (alive, status_read)) =
            run_watched(&mut c, &stem("d"), Duration::from_secs(60), |r| {
                let status = format!("/proc/{}/status", r.pid);
                let read = std::fs::read_to_string(&status).is_ok_and(|t| t.contains("VmRSS"));
                let mut alive = 0;
                while r.sleep(Duration::from_millis(20)) {
                    alive += 1;
                }
                (alive, read)
            })
            .unwrap();
        assert!(o.success());
        assert!(
            status_read,
            "the child's /proc entry is readable while it runs"
        );
        // About 15 naps of 20 ms in 0.3 s; the exit ends the last one early.
        assert!((5..40).contains(&alive), "{alive} naps");
    }

    #[test]
    fn a_missing_program_is_an_error() {
        let mut c = Command::new("/nonexistent/program");
        assert!(run(&mut c, &stem("c"), Duration::from_secs(1)).is_err());
    }
}
