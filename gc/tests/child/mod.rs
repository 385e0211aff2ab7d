//! Child-process scaffolding for tests that change process-wide state (signal handlers,
//! seccomp): the test binary re-executes itself with `GC_TEST_ROLE` naming one `child_role_*`
//! test, which does nothing unless that variable selects it.
#![allow(dead_code)]

use std::process::{Command, Output};

pub const ROLE_ENV: &str = "GC_TEST_ROLE";

/// Runs `child_role_<role>` of this test binary in a child process.
pub fn run_role(role: &str) -> Output {
    run_role_as(role, None)
}

/// As [`run_role`], as user and group `uid` if given (to test unprivileged behaviour).
pub fn run_role_as(role: &str, uid: Option<u32>) -> Output {
    use std::os::unix::process::CommandExt;
    let exe = std::env::current_exe().expect("test binary path");
    let mut cmd = Command::new(exe);
    cmd.args([
        &format!("child_role_{role}"),
        "--exact",
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ])
    .env(ROLE_ENV, role);
    if let Some(id) = uid {
        cmd.uid(id).gid(id);
    }
    cmd.output().expect("spawn child test process")
}

pub fn is_role(role: &str) -> bool {
    std::env::var(ROLE_ENV).as_deref() == Ok(role)
}

pub fn describe(out: &Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Installs a seccomp filter that fails `userfaultfd(2)` with `errno` for the rest of this
/// process (real denial, as a container runtime does it). Child roles only.
pub fn deny_userfaultfd(errno: i32) {
    // Classic BPF: load arch, allow other arches; load nr, fail userfaultfd, allow the rest.
    const LD_W_ABS: u16 = 0x20;
    const JEQ_K: u16 = 0x15;
    const RET_K: u16 = 0x06;
    const AUDIT_ARCH_X86_64: u32 = 0xC000_003E;
    let stmt = |code, k| libc::sock_filter {
        code,
        jt: 0,
        jf: 0,
        k,
    };
    let jump = |k, jt, jf| libc::sock_filter {
        code: JEQ_K,
        jt,
        jf,
        k,
    };
    let filter = [
        stmt(LD_W_ABS, 4),
        jump(AUDIT_ARCH_X86_64, 1, 0),
        stmt(RET_K, libc::SECCOMP_RET_ALLOW),
        stmt(LD_W_ABS, 0),
        jump(libc::SYS_userfaultfd as u32, 0, 1),
        stmt(RET_K, libc::SECCOMP_RET_ERRNO | errno as u32),
        stmt(RET_K, libc::SECCOMP_RET_ALLOW),
    ];
    let prog = libc::sock_fprog {
        len: filter.len() as u16,
        filter: filter.as_ptr() as *mut libc::sock_filter,
    };
    // SAFETY: `prog` points at a valid filter that outlives the calls (the kernel copies it);
    // this child process owns its seccomp state.
    unsafe {
        assert_eq!(libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), 0);
        assert_eq!(
            libc::prctl(
                libc::PR_SET_SECCOMP,
                libc::SECCOMP_MODE_FILTER as libc::c_ulong,
                &prog as *const libc::sock_fprog
            ),
            0
        );
    }
}
