//! The fuzz driver.
//!
//! ```text
//! fuzz TARGET [--seconds N] [--seed N] [--corpus DIR]   mutate for N seconds (default 60)
//! fuzz TARGET --replay FILE...                          run inputs once, in-process
//! fuzz --list
//! ```
//!
//! The fuzzing loop runs in a forked child; the parent watches it. The child
//! copies each input into shared memory before running it, so when a target
//! panics, aborts, overflows its stack, gets a signal or stops making
//! progress for 10 s, the parent saves that input as
//! `fuzz/artifacts/<target>/crash-<hash>` and exits 1. Seeds come from
//! `fuzz/corpus/<target>/` (and `--corpus` dirs); an input with an outcome not
//! seen before joins the in-memory corpus. The last line printed is
//! `fuzz: <target>: <execs> execs in <secs> s (<rate>/s), corpus <n>, crashes <k>`.

use std::collections::HashSet;
use std::fs;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use libvirt_nss_fuzz::mutate::{mutate, Rng};
use libvirt_nss_fuzz::targets::{run, Context, Target};

const MAX_INPUT: usize = 64 * 1024;
const HANG: Duration = Duration::from_secs(10);
const MAX_CORPUS: usize = 4096;

/// Shared between the fuzzing child and the watching parent.
#[repr(C)]
struct Shared {
    execs: AtomicU64,
    corpus: AtomicU64,
    input_len: AtomicU64,
    input: [u8; MAX_INPUT],
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--list") {
        for t in Target::ALL {
            println!("{}", t.name());
        }
        return ExitCode::SUCCESS;
    }
    let Some(target) = args.first().and_then(|n| Target::from_name(n)) else {
        eprintln!("usage: fuzz TARGET [--seconds N] [--seed N] [--corpus DIR] | TARGET --replay FILE... | --list");
        return ExitCode::from(2);
    };
    let mut seconds = 60.0f64;
    let mut seed = None;
    let mut corpus_dirs = vec![crate_dir().join("corpus").join(target.name())];
    let mut replay = None;
    let mut rest = args[1..].iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "--seconds" => seconds = rest.next().and_then(|s| s.parse().ok()).unwrap_or(60.0),
            "--seed" => seed = rest.next().and_then(|s| s.parse().ok()),
            "--corpus" => corpus_dirs.extend(rest.next().map(PathBuf::from)),
            "--replay" => {
                replay = Some(rest.by_ref().map(PathBuf::from).collect::<Vec<_>>());
            }
            other => {
                eprintln!("fuzz: unknown argument {other}");
                return ExitCode::from(2);
            }
        }
    }
    if let Some(files) = replay {
        let mut ctx = Context::new(target);
        let mut failed = false;
        for file in files {
            let data = fs::read(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            match run_catching(&mut ctx, target, &data) {
                Ok(_) => println!("fuzz: {}: {} ok", target.name(), file.display()),
                Err(()) => failed = true,
            }
        }
        return if failed {
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        };
    }
    let seed = seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64)
    });
    let corpus = load_corpus(&corpus_dirs);
    watch(target, seconds, seed, corpus)
}

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn load_corpus(dirs: &[PathBuf]) -> Vec<Vec<u8>> {
    let mut corpus = Vec::new();
    for dir in dirs {
        let Ok(entries) = fs::read_dir(dir) else {
            continue;
        };
        let mut files: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
        files.sort();
        for file in files {
            if let Ok(mut data) = fs::read(&file) {
                data.truncate(MAX_INPUT);
                corpus.push(data);
            }
        }
    }
    if corpus.is_empty() {
        corpus.push(Vec::new());
    }
    corpus
}

/// Forks the fuzzing child, watches it, saves the input that killed it.
fn watch(target: Target, seconds: f64, seed: u64, corpus: Vec<Vec<u8>>) -> ExitCode {
    let size = std::mem::size_of::<Shared>();
    // SAFETY: an anonymous shared mapping, checked for failure below; all
    // bytes zero is a valid `Shared` (atomics and bytes).
    let shared = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            size,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    assert!(shared != libc::MAP_FAILED, "mmap failed");
    // SAFETY: the mapping is `size` bytes, aligned to a page, zeroed, and
    // lives until the process exits (never unmapped).
    let shared: &'static mut Shared = unsafe { &mut *(shared as *mut Shared) };
    let start = Instant::now();
    let deadline = Duration::from_secs_f64(seconds);
    // SAFETY: no other threads exist yet in this process (the harness is
    // single-threaded), so the child may run arbitrary code.
    let child = unsafe { libc::fork() };
    assert!(child >= 0, "fork failed");
    if child == 0 {
        let code = fuzz_loop(target, deadline, seed, corpus, shared);
        // SAFETY: leave the child without running the parent's atexit state.
        unsafe { libc::_exit(code) };
    }
    let mut last_execs = 0;
    let mut last_progress = Instant::now();
    let mut status = 0;
    let verdict = loop {
        std::thread::sleep(Duration::from_millis(20));
        // SAFETY: waiting for our own child with a valid status pointer.
        let done = unsafe { libc::waitpid(child, &mut status, libc::WNOHANG) };
        if done == child {
            break if libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0 {
                None
            } else if libc::WIFSIGNALED(status) {
                Some(format!("killed by signal {}", libc::WTERMSIG(status)))
            } else {
                Some(format!("exited with status {}", libc::WEXITSTATUS(status)))
            };
        }
        let execs = shared.execs.load(Ordering::SeqCst);
        if execs != last_execs {
            last_execs = execs;
            last_progress = Instant::now();
        } else if last_progress.elapsed() > HANG {
            // SAFETY: our own child; then reap it.
            unsafe {
                libc::kill(child, libc::SIGKILL);
                libc::waitpid(child, &mut status, 0);
            }
            break Some(format!("hang: no progress for {} s", HANG.as_secs()));
        }
    };
    let elapsed = start.elapsed().as_secs_f64();
    let execs = shared.execs.load(Ordering::SeqCst);
    let crashes = usize::from(verdict.is_some());
    if let Some(why) = &verdict {
        let len = (shared.input_len.load(Ordering::SeqCst) as usize).min(MAX_INPUT);
        let input = &shared.input[..len];
        let saved = save_artifact(target, input);
        eprintln!(
            "fuzz: {}: CRASH ({why}) on a {len}-byte input, saved as {}\n  reproduce: cargo run --release -p fuzz -- {} --replay {}",
            target.name(),
            saved.display(),
            target.name(),
            saved.display()
        );
    }
    println!(
        "fuzz: {}: {execs} execs in {elapsed:.1} s ({:.0}/s), corpus {}, crashes {crashes}",
        target.name(),
        execs as f64 / elapsed.max(0.001),
        shared.corpus.load(Ordering::SeqCst)
    );
    if verdict.is_some() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn save_artifact(target: Target, input: &[u8]) -> PathBuf {
    let dir = crate_dir().join("artifacts").join(target.name());
    let _ = fs::create_dir_all(&dir);
    let hash = input.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    let path = dir.join(format!("crash-{hash:016x}"));
    let _ = fs::write(&path, input);
    path
}

/// Runs one input, printing the message of a failed property (the NSS
/// layer silences the process-wide panic hook, so it would be lost).
fn run_catching(ctx: &mut Context, target: Target, data: &[u8]) -> Result<u64, ()> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(ctx, target, data))).map_err(
        |payload| {
            let message = payload
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| payload.downcast_ref::<&str>().copied())
                .unwrap_or("(non-string panic)");
            eprintln!("fuzz: {}: property failed: {message}", target.name());
        },
    )
}

/// The child: seeds first, then mutations until the deadline. Returns the
/// exit code (1 when a property failed).
fn fuzz_loop(
    target: Target,
    deadline: Duration,
    seed: u64,
    mut corpus: Vec<Vec<u8>>,
    shared: &mut Shared,
) -> i32 {
    let start = Instant::now();
    let mut ctx = Context::new(target);
    let mut rng = Rng::new(seed);
    let mut seen = HashSet::new();
    let mut execute = |data: &[u8], shared: &mut Shared| -> Result<u64, ()> {
        let len = data.len().min(MAX_INPUT);
        shared.input[..len].copy_from_slice(&data[..len]);
        shared.input_len.store(len as u64, Ordering::SeqCst);
        let result =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(&mut ctx, target, data)));
        shared.execs.fetch_add(1, Ordering::SeqCst);
        result.map_err(|payload| {
            let message = payload
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| payload.downcast_ref::<&str>().copied())
                .unwrap_or("(non-string panic)");
            eprintln!("fuzz: {}: property failed: {message}", target.name());
        })
    };
    for data in corpus.clone() {
        match execute(&data, shared) {
            Ok(outcome) => {
                seen.insert(outcome);
            }
            Err(()) => return 1,
        }
    }
    shared.corpus.store(corpus.len() as u64, Ordering::SeqCst);
    let mut data = Vec::new();
    while start.elapsed() < deadline {
        for _ in 0..64 {
            let pick = rng.below(corpus.len());
            let other = rng.below(corpus.len());
            data.clear();
            data.extend_from_slice(&corpus[pick]);
            mutate(&mut data, &corpus[other], &mut rng, target.max_len());
            match execute(&data, shared) {
                Ok(outcome) => {
                    if seen.insert(outcome) && corpus.len() < MAX_CORPUS {
                        corpus.push(data.clone());
                        shared.corpus.store(corpus.len() as u64, Ordering::SeqCst);
                    }
                }
                Err(()) => return 1,
            }
        }
    }
    drop(ctx);
    0
}
