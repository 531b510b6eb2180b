//! Running a script inside a throw-away qemu guest booted by
//! `scripts/tiny-guest.sh` (TCG, no NIC, no vsock device), for the tests that
//! need AF_VSOCK: it is only ever used inside the guest, over its
//! `vsock_loopback`, never on this machine.
//!
//! The harness needs root (the guest's package cache lives in /var/cache, and
//! a cold one is filled with `apt-get download`, see
//! `scripts/fetch-guest-debs.sh`) and a few host commands; a test collects
//! what is missing with [`missing_for_harness`] and friends and hands it to
//! [`crate::prerequisites::satisfied`], so it is skipped here and failed under
//! `CI=true`.

use std::ffi::OsString;
use std::io::Write as _;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::prerequisites::find_on_path;

/// The host's libvirt client library, which the guests get a copy of (the SSH
/// proxy `dlopen`s it; `virsh` links it).
pub const LIBVIRT_SO: &str = "/usr/lib/x86_64-linux-gnu/libvirt.so.0";

/// How long one [`run_tiny_guest`] may take before its process group is
/// killed: a cold cache downloads ~45 MB first; a warm boot and run takes
/// 4-15 s under TCG.
pub const RUN_TIMEOUT: Duration = Duration::from_secs(300);

/// tiny-guest.sh's own `--timeout` for the guest, well inside [`RUN_TIMEOUT`]
/// so that the script normally reports a hung guest itself.
const GUEST_TIMEOUT_SECS: &str = "150";

/// Writes `test: what` straight to fd 2: libtest captures `eprintln!` of
/// passing tests, and these lines are the test's account of what it did.
pub fn narrate(test: &str, what: &str) {
    let _ = writeln!(std::io::stderr(), "{test}: {what}");
}

/// The workspace root, which the scripts and fixtures are relative to.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// What tiny-guest.sh itself needs and this machine lacks: root (the cache
/// lives in /var/cache and a cold one needs apt-get) and the host commands
/// the script runs.
pub fn missing_for_harness() -> Vec<String> {
    let mut missing = Vec::new();
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        missing.push("not root (scripts/fetch-guest-debs.sh fills /var/cache)".to_owned());
    }
    for command in ["bash", "apt-get", "dpkg-deb", "ldd", "flock", "timeout"] {
        if find_on_path(command).is_none() {
            missing.push(format!("command `{command}` not on PATH"));
        }
    }
    missing
}

/// The path of host command `command`, or (when it is not on PATH) an empty
/// path and a line in `missing` naming the package that provides it, so a
/// test can gather every missing piece before it skips.
pub fn find_host_command(command: &str, package: &str, missing: &mut Vec<String>) -> PathBuf {
    find_on_path(command).unwrap_or_else(|| {
        missing.push(format!("`{command}` not found (package {package})"));
        PathBuf::new()
    })
}

/// Adds a line to `missing` when [`LIBVIRT_SO`] is not installed.
pub fn check_libvirt_so(missing: &mut Vec<String>) {
    if !Path::new(LIBVIRT_SO).exists() {
        missing.push(format!("{LIBVIRT_SO} missing (package libvirt0)"));
    }
}

/// `HOST:GUEST`, the form tiny-guest.sh's `--binary` and `--file` take to put
/// a host file at another path in the guest.
pub fn host_to_guest(host: &Path, guest: &str) -> OsString {
    let mut arg = host.as_os_str().to_owned();
    arg.push(":");
    arg.push(guest);
    arg
}

/// Compiles `tests/scripts/vsock-cid-to-local.c` with `gcc` into
/// `dir/vsock-cid-to-local.so` and returns that path. The shim is LD_PRELOADed
/// only inside the guest, where it maps the CID >= 3 libvirt reports to the
/// guest's own CID 1 (see that file for why).
pub fn build_vsock_cid_shim(test: &str, gcc: &Path, dir: &Path) -> PathBuf {
    let shim = dir.join("vsock-cid-to-local.so");
    let source = repo_root().join("tests/scripts/vsock-cid-to-local.c");
    narrate(
        test,
        &format!("building the guest-only LD_PRELOAD shim {}", shim.display()),
    );
    let built = Command::new(gcc)
        .args(["-shared", "-fPIC", "-O2", "-Wall", "-Werror", "-o"])
        .arg(&shim)
        .arg(&source)
        .arg("-ldl")
        .status()
        .expect("run gcc");
    assert!(built.success(), "{test}: gcc {} failed", source.display());
    shim
}

/// What a guest run gave back: tiny-guest.sh passes through the guest
/// script's exit status and stdout byte for byte; its stderr is the harness's
/// own (boot timing, failures).
pub struct GuestRun {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl GuestRun {
    /// Exit status, guest output and harness stderr in one piece, for an
    /// assertion message: a failure under TCG is slow to reproduce.
    pub fn summary(&self) -> String {
        format!(
            "exit {:?}; guest output:\n{}\n-- harness stderr:\n{}",
            self.code,
            self.stdout,
            self.stderr.trim_end()
        )
    }

    /// Panics unless each of `markers` is a whole line of the guest's output:
    /// the guest scripts print one marker per step that passed, so the first
    /// missing one names the step that failed.
    pub fn assert_printed(&self, test: &str, markers: &[&str]) {
        for marker in markers {
            assert!(
                self.stdout.lines().any(|l| l == *marker),
                "{test}: guest did not print {marker:?}; {}",
                self.summary()
            );
        }
    }
}

/// Runs `scripts/tiny-guest.sh --timeout 150 ARGS` and waits for it at most
/// [`RUN_TIMEOUT`], panicking after that. The script runs in its own process
/// group, killed whole on timeout (the script's timeout(1) then takes qemu
/// down with it), and both pipes are drained on threads so that a chatty
/// guest cannot block it.
pub fn run_tiny_guest(test: &str, args: &[OsString]) -> GuestRun {
    let script = repo_root().join("scripts/tiny-guest.sh");
    let shown: Vec<String> = args
        .iter()
        .map(|a| {
            let a = a.to_string_lossy();
            if a.contains(' ') {
                format!("'{a}'")
            } else {
                a.into_owned()
            }
        })
        .collect();
    narrate(
        test,
        &format!("running {} {}", script.display(), shown.join(" ")),
    );
    let started = Instant::now();
    let mut child = Command::new(&script)
        .arg("--timeout")
        .arg(GUEST_TIMEOUT_SECS)
        .args(args)
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{test}: start {}: {e}", script.display()));
    let out_reader = drain(child.stdout.take().expect("stdout piped"));
    let err_reader = drain(child.stderr.take().expect("stderr piped"));
    let deadline = started + RUN_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status;
        }
        if Instant::now() >= deadline {
            // SAFETY: plain kill(2) of the process group created above.
            unsafe { libc::kill(-(child.id() as libc::pid_t), libc::SIGTERM) };
            let _ = child.wait();
            panic!("{test}: tiny-guest.sh still running after {RUN_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let run = GuestRun {
        code: status.code(),
        stdout: String::from_utf8_lossy(&out_reader.join().expect("stdout reader")).into_owned(),
        stderr: String::from_utf8_lossy(&err_reader.join().expect("stderr reader")).into_owned(),
    };
    narrate(
        test,
        &format!(
            "tiny-guest.sh finished after {:.1?}: {}",
            started.elapsed(),
            run.summary()
        ),
    );
    run
}

/// Reads `pipe` to its end on a thread of its own.
fn drain(mut pipe: impl std::io::Read + Send + 'static) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = pipe.read_to_end(&mut buf);
        buf
    })
}
