//! VSOCK and ssh-over-VSOCK inside a throw-away qemu guest booted by
//! `scripts/tiny-guest.sh` (TCG, no NIC, no vsock device: AF_VSOCK is only ever
//! used inside the guest, over its `vsock_loopback`, never on this machine).
//!
//! - `harness_returns_output_and_exit_code`: the harness hands back the guest
//!   script's exact output and exit status.
//! - `vsock_and_ssh_over_vsock`: `tests/scripts/tiny-guest-vsock-ssh.sh` in the
//!   guest: socat VSOCK listen/connect, sshd on 127.0.0.1:22 behind a socat
//!   VSOCK:22 relay, `ssh -o ProxyCommand='socat - VSOCK-CONNECT:1:22'`, and the
//!   same through `tests/scripts/vsock-cid-to-local.c` for a CID >= 3 (what
//!   libvirt reports; see that file for why).
//! - `libvirt_test_driver_in_guest`: `libvirt.so.0` and `virsh` copied with
//!   their libraries run libvirt's test driver in the guest, the set-up the
//!   SSH proxy needs there.
//!
//! Needs root (first run: `apt-get download` into /var/cache, see
//! `scripts/fetch-guest-debs.sh`) and the packages `scripts/install-test-deps.sh`
//! installs; skipped otherwise, and failed under `CI=true`.

use std::ffi::OsString;
use std::io::Write as _;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use integration_tests::prerequisites::{find_on_path, satisfied};
use integration_tests::temp_dir::TempDir;

/// A cold cache downloads ~45 MB first; a warm boot takes 4-15 s under TCG.
const TEST_TIMEOUT: Duration = Duration::from_secs(300);
const GUEST_TIMEOUT_SECS: &str = "150";
const LIBVIRT_SO: &str = "/usr/lib/x86_64-linux-gnu/libvirt.so.0";

/// Straight to fd 2: libtest captures `eprintln!` of passing tests, and these
/// lines are the test's account of what it did.
fn say(test: &str, what: &str) {
    let _ = writeln!(std::io::stderr(), "{test}: {what}");
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// Root (the cache lives in /var/cache and a cold one needs apt-get) and the
/// host commands the harness itself runs.
fn harness_missing() -> Vec<String> {
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

/// `path` when it is on PATH, otherwise a "missing" line naming its package.
fn host_command(command: &str, package: &str, missing: &mut Vec<String>) -> PathBuf {
    find_on_path(command).unwrap_or_else(|| {
        missing.push(format!("`{command}` not found (package {package})"));
        PathBuf::new()
    })
}

struct GuestRun {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Runs `scripts/tiny-guest.sh ARGS` in its own process group (killed whole
/// on timeout: the script's timeout(1) then takes qemu down with it).
fn run_guest(test: &str, args: &[OsString]) -> GuestRun {
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
    say(
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
            panic!("{test}: tiny-guest.sh still running after {TEST_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let run = GuestRun {
        code: status.code(),
        stdout: String::from_utf8_lossy(&out_reader.join().expect("stdout reader")).into_owned(),
        stderr: String::from_utf8_lossy(&err_reader.join().expect("stderr reader")).into_owned(),
    };
    say(
        test,
        &format!(
            "tiny-guest.sh exited {:?} after {:.1?}; guest output:\n{}\n-- harness stderr:\n{}",
            run.code,
            started.elapsed(),
            run.stdout,
            run.stderr.trim_end()
        ),
    );
    run
}

#[test]
fn harness_returns_output_and_exit_code() {
    let test = "harness_returns_output_and_exit_code";
    if !satisfied(test, &harness_missing()) {
        return;
    }
    say(
        test,
        "guest prints two lines without a final newline, one line on stderr, exits 7",
    );
    let run = run_guest(
        test,
        &[
            "-c".into(),
            "printf 'first\\nsecond'; echo \" on $(uname -r)\" >&2; exit 7".into(),
        ],
    );
    assert_eq!(run.code, Some(7), "{test}: exit code not passed through");
    let (output, kernel) = run
        .stdout
        .split_once(" on ")
        .unwrap_or_else(|| panic!("{test}: unexpected output {:?}", run.stdout));
    assert_eq!(output, "first\nsecond", "{test}: output not byte-exact");
    assert!(
        kernel.ends_with("-cloud-amd64\n"),
        "{test}: not the cloud kernel: {kernel:?}"
    );
    assert!(
        run.stderr.contains("boot to poweroff"),
        "{test}: no timing line"
    );
}

#[test]
fn vsock_and_ssh_over_vsock() {
    let test = "vsock_and_ssh_over_vsock";
    let mut missing = harness_missing();
    let socat = host_command("socat", "socat", &mut missing);
    let ssh = host_command("ssh", "openssh-client", &mut missing);
    let sshd = host_command("sshd", "openssh-server", &mut missing);
    let ssh_keygen = host_command("ssh-keygen", "openssh-client", &mut missing);
    let gcc = host_command("gcc", "gcc", &mut missing);
    if !satisfied(test, &missing) {
        return;
    }

    let scratch = TempDir::new("tiny-guest-vsock");
    let shim = scratch.path().join("vsock-cid-to-local.so");
    let shim_source = repo_root().join("tests/scripts/vsock-cid-to-local.c");
    say(
        test,
        &format!("building the guest-only LD_PRELOAD shim {}", shim.display()),
    );
    let built = Command::new(&gcc)
        .args(["-shared", "-fPIC", "-O2", "-Wall", "-Werror", "-o"])
        .arg(&shim)
        .arg(&shim_source)
        .arg("-ldl")
        .status()
        .expect("run gcc");
    assert!(
        built.success(),
        "{test}: gcc {} failed",
        shim_source.display()
    );

    let mut args: Vec<OsString> = Vec::new();
    for binary in [&socat, &ssh, &sshd, &ssh_keygen] {
        args.push("--binary".into());
        args.push(binary.into());
    }
    args.push("--file".into());
    let mut file = shim.into_os_string();
    file.push(":/usr/local/lib/vsock-cid-to-local.so");
    args.push(file);
    args.push(
        repo_root()
            .join("tests/scripts/tiny-guest-vsock-ssh.sh")
            .into(),
    );
    let run = run_guest(test, &args);

    for marker in [
        "VSOCK-ECHO-OK",
        "VSOCK-CID42-OK",
        "ssh as 0 on tiny-guest",
        "SSH-OVER-VSOCK-OK",
        "SSH-OVER-VSOCK-CID42-OK",
    ] {
        assert!(
            run.stdout.lines().any(|l| l == marker),
            "{test}: guest did not print {marker:?} (exit {:?})",
            run.code
        );
    }
    assert_eq!(run.code, Some(0), "{test}: guest script failed");
}

#[test]
fn libvirt_test_driver_in_guest() {
    let test = "libvirt_test_driver_in_guest";
    let mut missing = harness_missing();
    if !Path::new(LIBVIRT_SO).exists() {
        missing.push(format!("{LIBVIRT_SO} missing (package libvirt0)"));
    }
    let virsh = host_command("virsh", "libvirt-clients", &mut missing);
    if !satisfied(test, &missing) {
        return;
    }
    let scratch = TempDir::new("tiny-guest-libvirt");
    // libvirt refuses guest CIDs below 3, so the domain the proxy would dial
    // says 42 (vsock-cid-to-local.so maps it to CID 1 in the guest).
    let node = scratch.write(
        "node.xml",
        "<node>\n  <domain type='test'>\n    <name>vm</name>\n    \
         <uuid>99999999-9999-4999-8999-999999999999</uuid>\n    \
         <memory>65536</memory>\n    <os><type>hvm</type></os>\n    \
         <devices><vsock model='virtio'><cid auto='no' address='42'/></vsock></devices>\n  \
         </domain>\n</node>\n",
    );
    say(
        test,
        &format!("copying {LIBVIRT_SO} (dlopen'ed by the proxy) and virsh with their libraries"),
    );
    let mut file = node.into_os_string();
    file.push(":/root/node.xml");
    let mut virsh_arg = virsh.into_os_string();
    virsh_arg.push(":/usr/bin/virsh");
    let run = run_guest(
        test,
        &[
            "--binary".into(),
            LIBVIRT_SO.into(),
            "--binary".into(),
            virsh_arg,
            "--file".into(),
            file,
            "-c".into(),
            "set -e\n\
             virsh -c test:///default list --name\n\
             virsh -c test:///root/node.xml list --name\n\
             virsh -c test:///root/node.xml dumpxml vm | grep -o \"<cid auto='no' address='42'/>\"\n"
                .into(),
        ],
    );
    assert_eq!(run.code, Some(0), "{test}: virsh failed in the guest");
    let lines: Vec<&str> = run.stdout.lines().filter(|l| !l.is_empty()).collect();
    assert_eq!(
        lines,
        ["test", "vm", "<cid auto='no' address='42'/>"],
        "{test}: unexpected virsh output"
    );
}
