//! `lox-fuzz`: differential fuzzing of `lox` against the reference clox with generated programs
//! (see `gen`), for a number of minutes or programs, from a fixed seed. Every program runs once
//! under clox and under `lox` in every GC mode ([`lox_tests::differential::modes`]); a few byte
//! mutants of it run under both in `--gc stw` to compare the compilers. A mismatch is written to
//! the findings folder (the program, both outputs, the flags) and makes the exit status 1.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use lox_tests::differential::{compare, modes, mutate};
use lox_tests::gen::choices::Choices;
use lox_tests::gen::{self, Size};
use lox_tests::process::{self, Exit, Outcome};

const USAGE: &str = "\
usage: lox-fuzz --clox PATH --lox PATH [OPTIONS]
       lox-fuzz --print SEED [--large]

Generates Lox programs and runs each under clox and under lox in every GC mode; any difference
in stdout, exit status or error message is a finding.

options:
  --clox PATH       the reference clox binary (../shared/tools/build-clox builds it)
  --lox PATH        the lox binary under test
  --minutes M       stop starting programs after M minutes (default 1; decimals allowed)
  --programs N      stop after N programs (default: no limit)
  --seed S          first seed (default 1); program k uses seed S + k
  --jobs J          programs run in parallel (default: the number of CPUs)
  --mutants K       byte mutants of each program compared in --gc stw (default 3)
  --timeout SECS    limit of one run (default 60)
  --findings DIR    where mismatches are written (default target/fuzz-findings)
  --print SEED      print the program of SEED and exit (--large: the large variant)
  -h, --help        this text

Every fourth program is large (hundreds of thousands of allocations); its stress modes collect
every N allocations instead of at every one.";

/// Longest a generated program may take under clox before it is skipped.
const CLOX_LIMIT: Duration = Duration::from_secs(20);

struct Options {
    clox: PathBuf,
    lox: PathBuf,
    minutes: f64,
    programs: u64,
    seed: u64,
    jobs: usize,
    mutants: u64,
    timeout: Duration,
    findings: PathBuf,
}

/// The outcome of the command line: options to run with, or an exit status now.
fn parse(args: &[String]) -> Result<Options, i32> {
    let mut clox = None;
    let mut lox = None;
    let mut o = Options {
        clox: PathBuf::new(),
        lox: PathBuf::new(),
        minutes: 1.0,
        programs: u64::MAX,
        seed: 1,
        jobs: std::thread::available_parallelism().map_or(1, |n| n.get()),
        mutants: 3,
        timeout: Duration::from_secs(60),
        findings: PathBuf::from("target/fuzz-findings"),
    };
    let mut print = None;
    let mut large = false;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = |name: &str| {
            it.next().cloned().ok_or_else(|| {
                eprintln!("lox-fuzz: {name} needs a value\n\n{USAGE}");
                64
            })
        };
        let number = |name: &str, v: String| {
            v.parse::<f64>()
                .ok()
                .filter(|x| x.is_finite() && *x >= 0.0)
                .ok_or_else(|| {
                    eprintln!("lox-fuzz: {name}: not a number: {v}");
                    64
                })
        };
        match a.as_str() {
            "-h" | "--help" => {
                println!("{USAGE}");
                return Err(0);
            }
            "--clox" => clox = Some(PathBuf::from(value(a)?)),
            "--lox" => lox = Some(PathBuf::from(value(a)?)),
            "--minutes" => o.minutes = number(a, value(a)?)?,
            "--programs" => o.programs = number(a, value(a)?)? as u64,
            "--seed" => o.seed = number(a, value(a)?)? as u64,
            "--jobs" => o.jobs = (number(a, value(a)?)? as usize).max(1),
            "--mutants" => o.mutants = number(a, value(a)?)? as u64,
            "--timeout" => o.timeout = Duration::from_secs_f64(number(a, value(a)?)?.max(0.1)),
            "--findings" => o.findings = PathBuf::from(value(a)?),
            "--print" => print = Some(number(a, value(a)?)? as u64),
            "--large" => large = true,
            other => {
                eprintln!("lox-fuzz: unknown argument {other}\n\n{USAGE}");
                return Err(64);
            }
        }
    }
    if let Some(seed) = print {
        let size = if large { Size::Large } else { Size::Small };
        let p = gen::program(&mut Choices::from_seed(seed), size);
        print!("{}", p.source);
        eprintln!(
            "// stress interval {}, ~{} allocations, ~{} work, planted error: {}",
            p.stress_interval, p.allocs, p.work, p.planted_error
        );
        return Err(0);
    }
    match (clox, lox) {
        (Some(c), Some(l)) => {
            o.clox = c;
            o.lox = l;
            Ok(o)
        }
        _ => {
            eprintln!("lox-fuzz: --clox and --lox are required\n\n{USAGE}");
            Err(64)
        }
    }
}

/// Counts shared by the worker threads.
#[derive(Default)]
struct Tally {
    programs: AtomicU64,
    runs: AtomicU64,
    mutants: AtomicU64,
    /// Programs clox itself could not run (timed out or crashed): not compared.
    skipped: AtomicU64,
    findings: AtomicU64,
    /// Programs with at least one finding (in any mode or mutant).
    failed: AtomicU64,
    planted: AtomicU64,
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let opts = match parse(&args) {
        Ok(o) => o,
        Err(status) => std::process::exit(status),
    };
    std::process::exit(run(&opts));
}

fn run(opts: &Options) -> i32 {
    let scratch = std::env::temp_dir().join(format!("lox-fuzz-{}", std::process::id()));
    if let Err(e) = std::fs::create_dir_all(&scratch) {
        eprintln!("lox-fuzz: cannot create {}: {e}", scratch.display());
        return 74;
    }
    let start = Instant::now();
    let deadline = Duration::from_secs_f64(opts.minutes * 60.0);
    let next = AtomicU64::new(0);
    let tally = Tally::default();
    let failed_io = AtomicBool::new(false);
    let report = Mutex::new(());
    std::thread::scope(|s| {
        for _ in 0..opts.jobs {
            s.spawn(|| loop {
                if start.elapsed() >= deadline {
                    break;
                }
                let k = next.fetch_add(1, Ordering::Relaxed);
                if k >= opts.programs {
                    break;
                }
                let seed = opts.seed.wrapping_add(k);
                if let Err(e) = one_program(opts, seed, &scratch, &tally, &report) {
                    eprintln!("lox-fuzz: seed {seed}: {e}");
                    failed_io.store(true, Ordering::Relaxed);
                    break;
                }
            });
        }
    });
    let _ = std::fs::remove_dir_all(&scratch);
    let minutes = start.elapsed().as_secs_f64() / 60.0;
    let programs = tally.programs.load(Ordering::Relaxed);
    let findings = tally.findings.load(Ordering::Relaxed);
    let skipped = tally.skipped.load(Ordering::Relaxed);
    println!(
        "lox-fuzz: {programs} programs ({} with a planted error, {skipped} skipped: clox could not run them), {} modes, {} lox runs, {} mutants, {minutes:.1} minutes, {findings} findings (seeds {}..{})",
        tally.planted.load(Ordering::Relaxed),
        modes(&gen::program(&mut Choices::from_seed(0), Size::Small)).len(),
        tally.runs.load(Ordering::Relaxed),
        tally.mutants.load(Ordering::Relaxed),
        opts.seed,
        opts.seed.wrapping_add(programs),
    );
    if findings > 0 {
        println!("lox-fuzz: findings written to {}", opts.findings.display());
    }
    // The plain closing line test-result readers look for.
    let failed = tally.failed.load(Ordering::Relaxed);
    println!(
        "lox-fuzz: {} passed, {failed} failed",
        programs.saturating_sub(failed)
    );
    if findings > 0 || failed_io.load(Ordering::Relaxed) {
        1
    } else {
        0
    }
}

/// Generates, runs and compares one program and its mutants.
fn one_program(
    opts: &Options,
    seed: u64,
    scratch: &Path,
    tally: &Tally,
    report: &Mutex<()>,
) -> std::io::Result<()> {
    let size = if seed % 4 == 3 {
        Size::Large
    } else {
        Size::Small
    };
    let program = gen::program(&mut Choices::from_seed(seed), size);
    let file = scratch.join(format!("p{seed}.lox"));
    std::fs::write(&file, &program.source)?;
    // A generated program runs in well under a second under clox; one that does not is the
    // generator's mistake (its cost estimate missed), skipped rather than run six times.
    let clox = process::run(&opts.clox, &[], &file, opts.timeout.min(CLOX_LIMIT))?;
    tally.programs.fetch_add(1, Ordering::Relaxed);
    tally
        .planted
        .fetch_add(u64::from(program.planted_error), Ordering::Relaxed);
    if !matches!(clox.exit, Exit::Code(0 | 65 | 70)) {
        tally.skipped.fetch_add(1, Ordering::Relaxed);
        let _guard = report.lock().unwrap_or_else(|p| p.into_inner());
        println!("skip seed {seed}: clox {:?}", clox.exit);
        let _ = std::fs::remove_file(&file);
        return Ok(());
    }
    let mut found = false;
    for flags in modes(&program) {
        let lox = process::run(&opts.lox, &flags, &file, opts.timeout)?;
        tally.runs.fetch_add(1, Ordering::Relaxed);
        if let Some(why) = compare(&clox, &lox) {
            let name = format!("seed{seed}-{}", flags.join("").replace(['-', '='], ""));
            record(opts, &name, &program.source, &flags, &clox, &lox, &why)?;
            tally.findings.fetch_add(1, Ordering::Relaxed);
            found = true;
            let _guard = report.lock().unwrap_or_else(|p| p.into_inner());
            println!("FINDING seed {seed} [{}]: {why}", flags.join(" "));
        }
    }
    let mut ch = Choices::from_seed(seed ^ 0x6d75_7461_6e74);
    let stw = vec!["--gc".to_string(), "stw".to_string()];
    for m in 0..opts.mutants {
        let mutant = mutate(program.source.as_bytes(), &mut ch);
        let mfile = scratch.join(format!("p{seed}-m{m}.lox"));
        std::fs::write(&mfile, &mutant)?;
        // Mutants may loop for ever: a short limit, and only what clox finished is compared.
        let limit = opts.timeout.min(Duration::from_secs(5));
        let clox = process::run(&opts.clox, &[], &mfile, limit)?;
        tally.mutants.fetch_add(1, Ordering::Relaxed);
        let comparable = match clox.exit {
            // lox shares equal string constants within a chunk, so it accepts chunks clox
            // rejects (README, compiler notes): not a difference to report.
            Exit::Code(65) => !contains(&clox.stderr, b"Too many constants in one chunk."),
            Exit::Code(0) => true,
            // A stack overflow in clox (64 frames) may be a deep but finite recursion in lox.
            Exit::Code(70) => !clox.stderr.starts_with(b"Stack overflow."),
            _ => false,
        };
        if comparable {
            let lox = process::run(&opts.lox, &stw, &mfile, limit.max(Duration::from_secs(10)))?;
            if let Some(why) = compare(&clox, &lox) {
                let name = format!("seed{seed}-mutant{m}");
                record(
                    opts,
                    &name,
                    &String::from_utf8_lossy(&mutant),
                    &stw,
                    &clox,
                    &lox,
                    &why,
                )?;
                std::fs::write(opts.findings.join(&name).join("program.lox"), &mutant)?;
                tally.findings.fetch_add(1, Ordering::Relaxed);
                found = true;
                let _guard = report.lock().unwrap_or_else(|p| p.into_inner());
                println!("FINDING seed {seed} mutant {m} [--gc stw]: {why}");
            }
        }
        let _ = std::fs::remove_file(&mfile);
    }
    let _ = std::fs::remove_file(&file);
    tally.failed.fetch_add(u64::from(found), Ordering::Relaxed);
    Ok(())
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Writes a finding: the program, the flags, why, and both runs' output.
fn record(
    opts: &Options,
    name: &str,
    source: &str,
    flags: &[String],
    clox: &Outcome,
    lox: &Outcome,
    why: &str,
) -> std::io::Result<()> {
    let dir = opts.findings.join(name);
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join("program.lox"), source)?;
    std::fs::write(
        dir.join("finding.txt"),
        format!(
            "{why}\nlox flags: {}\nclox exit: {:?}\nlox exit: {:?}\nrerun: {} {} program.lox\n",
            flags.join(" "),
            clox.exit,
            lox.exit,
            opts.lox.display(),
            flags.join(" ")
        ),
    )?;
    std::fs::write(dir.join("clox.stdout"), &clox.stdout)?;
    std::fs::write(dir.join("clox.stderr"), &clox.stderr)?;
    std::fs::write(dir.join("lox.stdout"), &lox.stdout)?;
    std::fs::write(dir.join("lox.stderr"), &lox.stderr)?;
    Ok(())
}
