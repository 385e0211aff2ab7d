//! The concurrent collector's fallback, seen from the command line (design note §4.4): with the
//! `userfaultfd` system call really denied — a seccomp filter installed in the child between
//! `fork` and `exec`, as a container's default profile does — `lox` must still run programs
//! correctly (stop-the-world), record `fallback_reason` in `--gc-stats`, and say so on stderr
//! exactly when concurrent mode was asked for by name or `--gc-log` is on; never otherwise,
//! because a stray stderr line breaks test corpora.
//!
//! The filter changes process-wide state for good, which is why it is only ever installed in
//! the child about to become `lox`, never in this test process.

use std::io;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Output};

const LOX: &str = env!("CARGO_BIN_EXE_lox");

/// Allocates enough (a few MiB of lists and strings) to run several collections at the
/// default trigger, and prints results that depend on every object surviving them.
const PROGRAM: &str = r#"
class Node { init(v, next) { this.v = v; this.next = next; } }
var total = 0;
for (var round = 0; round < 8; round = round + 1) {
  var list = nil;
  for (var i = 0; i < 20000; i = i + 1) list = Node("n" + "x", Node(i, list));
  var sum = 0;
  var tags = true;
  while (list != nil) {
    tags = tags and list.v == "nx";
    sum = sum + list.next.v;
    list = list.next.next;
  }
  total = total + sum;
  if (!tags) print "a tag changed";
}
print total == 1599920000;
print "done";
"#;
const EXPECTED: &str = "true\ndone\n";

/// The notice's prefix, as the CLI prints it.
const NOTICE: &str = "lox: concurrent collector: ";

fn scratch(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("lox-fallback-{}-{name}", std::process::id()))
}

/// The test program in a file of its own per run: tests run in parallel threads of one
/// process, and a file shared between them is read by one child while another test
/// rewrites it (truncated: an empty program, which prints nothing and succeeds).
fn program_file(tag: &str) -> PathBuf {
    let p = scratch(&format!("{tag}-program.lox"));
    std::fs::write(&p, PROGRAM).expect("write the test program");
    p
}

/// The classic BPF program: on x86-64, `userfaultfd` fails with EPERM and every other system
/// call is allowed; other architectures pass unfiltered (the test is x86-64 only).
#[cfg(target_arch = "x86_64")]
fn deny_filter() -> [libc::sock_filter; 7] {
    const LD_W_ABS: u16 = 0x20; // BPF_LD | BPF_W | BPF_ABS
    const JEQ_K: u16 = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
    const RET_K: u16 = 0x06; // BPF_RET | BPF_K
    const AUDIT_ARCH_X86_64: u32 = 0xC000_003E;
    // Offsets in `struct seccomp_data`: nr at 0, arch at 4.
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
    [
        stmt(LD_W_ABS, 4),
        jump(AUDIT_ARCH_X86_64, 1, 0),
        stmt(RET_K, libc::SECCOMP_RET_ALLOW),
        stmt(LD_W_ABS, 0),
        jump(libc::SYS_userfaultfd as u32, 0, 1),
        stmt(RET_K, libc::SECCOMP_RET_ERRNO | libc::EPERM as u32),
        stmt(RET_K, libc::SECCOMP_RET_ALLOW),
    ]
}

/// Runs `lox args...`, with `userfaultfd` denied when `deny`. `Err` when the filter could not be
/// installed (no seccomp in this kernel): the caller skips.
fn run(args: &[&str], deny: bool) -> io::Result<Output> {
    let mut cmd = Command::new(LOX);
    cmd.args(args);
    #[cfg(target_arch = "x86_64")]
    if deny {
        // Built before the fork: the child only makes two system calls.
        let filter = Box::new(deny_filter());
        let prog = Box::new(libc::sock_fprog {
            len: filter.len() as u16,
            filter: filter.as_ptr() as *mut libc::sock_filter,
        });
        let prog_addr = &*prog as *const libc::sock_fprog as usize;
        // SAFETY: the closure runs in the forked child before exec and only calls prctl, which
        // is async-signal-safe, with a filter program that lives (boxed, owned by this frame's
        // `filter`/`prog`, alive until `output` returns) for the duration of the calls; the
        // kernel copies the program. The filter applies to the child alone.
        unsafe {
            cmd.pre_exec(move || {
                if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0
                    || libc::prctl(
                        libc::PR_SET_SECCOMP,
                        libc::SECCOMP_MODE_FILTER as libc::c_ulong,
                        prog_addr as *const libc::sock_fprog,
                    ) != 0
                {
                    return Err(io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let out = cmd.output();
        drop((prog, filter));
        return out;
    }
    #[cfg(not(target_arch = "x86_64"))]
    if deny {
        return Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "the seccomp filter is written for x86-64",
        ));
    }
    cmd.output()
}

/// What a run produced, checked: exit 0 and the program's output.
struct Ran {
    stderr: String,
    stats: String,
}

/// Runs the test program with `flags` (and `--gc-stats`); `None` when the denial cannot be set
/// up here.
fn run_program(flags: &[&str], deny: bool, tag: &str) -> Option<Ran> {
    let file = program_file(tag);
    let stats = scratch(&format!("{tag}.json"));
    let _ = std::fs::remove_file(&stats);
    let stats_s = stats.to_string_lossy().into_owned();
    let file_s = file.to_string_lossy().into_owned();
    let mut args: Vec<&str> = flags.to_vec();
    args.extend(["--gc-stats", &stats_s, &file_s]);
    let out = match run(&args, deny) {
        Ok(o) => o,
        Err(e) if deny => {
            eprintln!("skipped: cannot deny userfaultfd with seccomp here: {e}");
            return None;
        }
        Err(e) => panic!("cannot run {LOX}: {e}"),
    };
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "lox {args:?} (denied: {deny}) failed: {:?}\nstderr: {stderr}",
        out.status
    );
    assert_eq!(stdout, EXPECTED, "lox {args:?} (denied: {deny})");
    let stats_text = std::fs::read_to_string(&stats).expect("statistics written");
    let _ = std::fs::remove_file(&stats);
    Some(Ran {
        stderr,
        stats: stats_text,
    })
}

/// The statistics' `fallback_reason` is a string (not null).
fn fallback_recorded(stats: &str) -> bool {
    stats.contains("\"fallback_reason\":\"")
}

#[test]
fn denied_userfaultfd_falls_back_and_says_so_when_asked_for_by_name() {
    for flags in [
        &["--gc", "concurrent"][..],
        &["--gc", "concurrent", "--gc-fault", "thread"],
        &["--gc-log"],
    ] {
        let Some(r) = run_program(flags, true, "named") else {
            return;
        };
        assert!(fallback_recorded(&r.stats), "{flags:?}: {}", r.stats);
        assert!(r.stats.contains("\"collector\":\"stw\""), "{}", r.stats);
        assert!(r.stats.contains("\"fault_mode\":null"), "{}", r.stats);
        assert!(
            r.stats.contains("EPERM"),
            "the reason names the error: {}",
            r.stats
        );
        assert_eq!(
            r.stderr.matches(NOTICE).count(),
            1,
            "{flags:?}: one notice expected, stderr: {:?}",
            r.stderr
        );
        assert!(r.stderr.contains("userfaultfd"), "{:?}", r.stderr);
        if !flags.contains(&"--gc-log") {
            // Without the log, the notice is the only line on stderr.
            assert_eq!(r.stderr.lines().count(), 1, "{:?}", r.stderr);
        }
    }
}

#[test]
fn denied_userfaultfd_falls_back_silently_by_default() {
    for flags in [
        &[][..],
        &["--gc-fault", "thread"],
        &["--gc-stress=20011", "--gc-verify"],
    ] {
        let Some(r) = run_program(flags, true, "default") else {
            return;
        };
        assert!(fallback_recorded(&r.stats), "{flags:?}: {}", r.stats);
        assert_eq!(r.stderr, "", "{flags:?}: nothing on stderr by default");
    }
}

#[test]
fn stop_the_world_by_name_never_mentions_userfaultfd() {
    let Some(r) = run_program(&["--gc", "stw"], true, "stw") else {
        return;
    };
    assert_eq!(r.stderr, "");
    assert!(r.stats.contains("\"fallback_reason\":null"), "{}", r.stats);
    assert!(r.stats.contains("\"collector\":\"stw\""), "{}", r.stats);
}

#[test]
fn without_the_filter_concurrent_mode_runs_concurrently() {
    // The same program, nothing denied: concurrent collection, no notice. (A host that itself
    // forbids userfaultfd would fall back here too; the check says so instead of passing.)
    let r = run_program(
        &["--gc", "concurrent", "--gc-min-heap", "1M"],
        false,
        "allowed",
    )
    .expect("no denial needed");
    assert!(
        r.stats.contains("\"fallback_reason\":null"),
        "userfaultfd unavailable on this host even without a filter: {}",
        r.stats
    );
    assert!(
        r.stats.contains("\"collector\":\"concurrent\""),
        "{}",
        r.stats
    );
    assert!(
        !r.stats.contains("\"cycles\":0,"),
        "no collection ran: {}",
        r.stats
    );
    assert_eq!(r.stderr, "");
}
