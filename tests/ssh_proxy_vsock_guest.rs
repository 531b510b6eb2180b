//! libvirt-ssh-proxy's VSOCK route for real, inside a throw-away qemu guest
//! booted by `scripts/tiny-guest.sh` (TCG, no NIC, no vsock device: AF_VSOCK
//! is only ever used inside the guest, over its `vsock_loopback`, never on
//! this machine; every host-side proxy elsewhere runs with
//! `LIBVIRT_SSH_PROXY_VSOCK=deny`).
//!
//! `tests/scripts/ssh-proxy-vsock-guest.sh` runs in the guest with the
//! release proxy, `libvirt.so.0` (libvirt's test driver is the "hypervisor":
//! `tests/fixtures/ssh-proxy-vsock/node.xml`, one running domain `MixedCaseVM`
//! with VSOCK CID 42 and no NIC), an empty lease dir, ssh, sshd on
//! 127.0.0.1:22 behind `socat VSOCK-LISTEN:22 ... TCP:127.0.0.1:22`, and the
//! LD_PRELOAD shim `tests/scripts/vsock-cid-to-local.c` (CID 42 -> CID 1, the
//! guest itself: libvirt refuses CIDs < 3). It proves, one marker each:
//! 1. `resolve qemu/MixedCaseVM` plans `route 1: vsock cid 42 port 22` only;
//! 2. `ssh -F ssh_config root@qemu/MixedCaseVM echo via-vsock` prints
//!    `via-vsock` with fd passing and with `-o ProxyUseFdpass=no` (the byte
//!    relay), socat's VSOCK listener accepting each connection;
//! 3. on port 2200 (nothing listens) the proxy exits 75 with one stderr line
//!    naming `vsock cid 42 port 2200:`, and ssh shows that line.
//!
//! Needs root (first run: `apt-get download` into /var/cache, see
//! `scripts/fetch-guest-debs.sh`) and the packages
//! `scripts/install-test-deps.sh` installs; skipped otherwise, and failed
//! under `CI=true`.

use std::ffi::OsString;
use std::io::Write as _;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use integration_tests::prerequisites::{find_on_path, satisfied};
use integration_tests::ssh_proxy;
use integration_tests::temp_dir::TempDir;

/// A cold cache downloads ~45 MB first; a warm run takes ~10 s under TCG.
const TEST_TIMEOUT: Duration = Duration::from_secs(300);
const GUEST_TIMEOUT_SECS: &str = "150";
const LIBVIRT_SO: &str = "/usr/lib/x86_64-linux-gnu/libvirt.so.0";
const TEST: &str = "ssh_proxy_vsock_route_in_guest";

/// Straight to fd 2: libtest captures `eprintln!` of passing tests, and these
/// lines are the test's account of what it did.
fn say(what: &str) {
    let _ = writeln!(std::io::stderr(), "{TEST}: {what}");
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// What is missing on this machine: root (the guest cache lives in
/// /var/cache and a cold one needs apt-get), the harness's commands, and the
/// host files copied into the guest. Returns the guest binaries found.
fn prerequisites(missing: &mut Vec<String>) -> Vec<PathBuf> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        missing.push("not root (scripts/fetch-guest-debs.sh fills /var/cache)".to_owned());
    }
    for command in [
        "bash", "apt-get", "dpkg-deb", "ldd", "flock", "timeout", "gcc",
    ] {
        if find_on_path(command).is_none() {
            missing.push(format!("command `{command}` not on PATH"));
        }
    }
    if !Path::new(LIBVIRT_SO).exists() {
        missing.push(format!("{LIBVIRT_SO} missing (package libvirt0)"));
    }
    let mut binaries = Vec::new();
    for (command, package) in [
        ("socat", "socat"),
        ("ssh", "openssh-client"),
        ("sshd", "openssh-server"),
        ("ssh-keygen", "openssh-client"),
    ] {
        match find_on_path(command) {
            Some(path) => binaries.push(path),
            None => missing.push(format!("`{command}` not found (package {package})")),
        }
    }
    binaries
}

/// `HOST:GUEST`, the form tiny-guest.sh's --binary and --file take.
fn mapped(host: &Path, guest: &str) -> OsString {
    let mut arg = host.as_os_str().to_owned();
    arg.push(":");
    arg.push(guest);
    arg
}

struct GuestRun {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl GuestRun {
    /// The guest's output, for an assertion message.
    fn shown(&self) -> String {
        format!(
            "exit {:?}; guest output:\n{}\n-- harness stderr:\n{}",
            self.code,
            self.stdout,
            self.stderr.trim_end()
        )
    }
}

/// Runs `scripts/tiny-guest.sh ARGS` in its own process group (killed whole
/// on timeout: the script's timeout(1) then takes qemu down with it).
fn run_guest(args: &[OsString]) -> GuestRun {
    let script = repo_root().join("scripts/tiny-guest.sh");
    let shown: Vec<String> = args
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    say(&format!("running {} {}", script.display(), shown.join(" ")));
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
        .unwrap_or_else(|e| panic!("{TEST}: start {}: {e}", script.display()));
    // Drain both pipes on threads so a chatty guest cannot block the script.
    let mut out_pipe = child.stdout.take().expect("stdout piped");
    let mut err_pipe = child.stderr.take().expect("stderr piped");
    let out_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = std::io::Read::read_to_end(&mut out_pipe, &mut buf);
        buf
    });
    let err_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = std::io::Read::read_to_end(&mut err_pipe, &mut buf);
        buf
    });
    let deadline = started + TEST_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status;
        }
        if Instant::now() >= deadline {
            // SAFETY: plain kill(2) of the process group created above.
            unsafe { libc::kill(-(child.id() as libc::pid_t), libc::SIGTERM) };
            let _ = child.wait();
            panic!("{TEST}: tiny-guest.sh still running after {TEST_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let run = GuestRun {
        code: status.code(),
        stdout: String::from_utf8_lossy(&out_reader.join().expect("stdout reader")).into_owned(),
        stderr: String::from_utf8_lossy(&err_reader.join().expect("stderr reader")).into_owned(),
    };
    say(&format!(
        "tiny-guest.sh finished after {:.1?}: {}",
        started.elapsed(),
        run.shown()
    ));
    run
}

#[test]
fn ssh_proxy_vsock_route_in_guest() {
    let mut missing = Vec::new();
    let binaries = prerequisites(&mut missing);
    if !satisfied(TEST, &missing) {
        return;
    }

    let proxy = ssh_proxy::binary();
    say(&format!("proxy under test: {}", proxy.display()));
    let scratch = TempDir::new("ssh-proxy-vsock-guest");
    let shim = scratch.path().join("vsock-cid-to-local.so");
    let shim_source = repo_root().join("tests/scripts/vsock-cid-to-local.c");
    say(&format!(
        "building the guest-only LD_PRELOAD shim {}",
        shim.display()
    ));
    let built = Command::new("gcc")
        .args(["-shared", "-fPIC", "-O2", "-Wall", "-Werror", "-o"])
        .arg(&shim)
        .arg(&shim_source)
        .arg("-ldl")
        .status()
        .expect("run gcc");
    assert!(
        built.success(),
        "{TEST}: gcc {} failed",
        shim_source.display()
    );

    let node = repo_root().join("tests/fixtures/ssh-proxy-vsock/node.xml");
    let mut args: Vec<OsString> = vec![
        "--binary".into(),
        mapped(&proxy, "/usr/local/bin/libvirt-ssh-proxy"),
        "--binary".into(),
        LIBVIRT_SO.into(),
    ];
    for binary in binaries {
        args.push("--binary".into());
        args.push(binary.into());
    }
    args.extend([
        "--file".into(),
        mapped(&shim, "/usr/local/lib/vsock-cid-to-local.so"),
        "--file".into(),
        mapped(&node, "/root/node.xml"),
        repo_root()
            .join("tests/scripts/ssh-proxy-vsock-guest.sh")
            .into(),
    ]);
    let run = run_guest(&args);

    for marker in [
        "RESOLVE-VSOCK-ONLY-OK",
        "SSH-VSOCK-FDPASS-OK",
        "SSH-VSOCK-RELAY-OK",
        "PROXY-VSOCK-REFUSED-OK",
        "SSH-PORT-2200-FAILS-OK",
    ] {
        assert!(
            run.stdout.lines().any(|l| l == marker),
            "{TEST}: guest did not print {marker:?}; {}",
            run.shown()
        );
    }
    let lines: Vec<&str> = run.stdout.lines().collect();
    let routes: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| l.starts_with("route "))
        .collect();
    assert_eq!(
        routes,
        ["route 1: vsock cid 42 port 22"],
        "{TEST}: resolve must plan the VSOCK route only; {}",
        run.shown()
    );
    assert_eq!(
        lines.iter().filter(|l| **l == "via-vsock").count(),
        2,
        "{TEST}: expected `via-vsock` from fd passing and from the relay; {}",
        run.shown()
    );
    let failure = lines
        .iter()
        .find_map(|l| l.strip_prefix("PROXY-FAILURE-LINE: "))
        .unwrap_or_else(|| panic!("{TEST}: no PROXY-FAILURE-LINE; {}", run.shown()));
    assert!(
        failure.starts_with("libvirt-ssh-proxy: qemu/MixedCaseVM: ")
            && failure.contains("vsock cid 42 port 2200: "),
        "{TEST}: unexpected failure line {failure:?}"
    );
    assert_eq!(
        run.code,
        Some(0),
        "{TEST}: guest script failed; {}",
        run.shown()
    );
}
