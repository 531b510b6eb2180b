//! The contract of `scripts/nsenv.sh`, which every namespace test relies on:
//! inside, the lease dir, the `hosts:` line and the modules are the ones asked
//! for (a missing module is masked, never replaced by the system one), the
//! command's exit code comes back, and the host is left exactly as it was.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use integration_tests::getent::NsEnv;
use integration_tests::modules::{self, LIBVIRT, LIBVIRT_GUEST};
use integration_tests::nsenv::{self, Namespace};
use integration_tests::prerequisites;
use integration_tests::temp_dir::TempDir;

const LIMIT: Duration = Duration::from_secs(60);

fn ready(test: &str) -> bool {
    prerequisites::satisfied(test, &prerequisites::getent_harness())
}

fn bash(env: &NsEnv, script: &str) -> (i32, String) {
    let output = env.run_command(Path::new("/bin/bash"), &["-c", script], &[], LIMIT);
    assert_eq!(output.stderr, "", "{script}");
    (output.status.code().expect("exit code"), output.stdout)
}

/// What the tests must never change on the host. (nsenv.sh's own empty
/// stage dir in the temp dir is not checked: parallel tests have theirs.)
fn host_state() -> (Vec<u8>, bool) {
    (
        fs::read("/etc/nsswitch.conf").expect("host nsswitch.conf"),
        Path::new("/var/lib/libvirt").exists(),
    )
}

#[test]
fn inside_is_what_was_asked_for_and_the_host_is_untouched() {
    if !ready("inside_is_what_was_asked_for_and_the_host_is_untouched") {
        return;
    }
    let before = host_state();
    let leases = TempDir::new("nsenv-contract");
    leases.write("virbr9.status", "[\n\n]\n");
    let ours = modules::ours();
    let env = NsEnv::new(
        leases.path(),
        &ours,
        "files libvirt [NOTFOUND=return] libvirt_guest",
    );

    let (rc, stdout) = bash(
        &env,
        "grep '^hosts:' /etc/nsswitch.conf; ls -A /var/lib/libvirt/dnsmasq; \
         ip -brief address show nsenv0 | tr -s ' ' | cut -d' ' -f3,4; exit 7",
    );
    assert_eq!(rc, 7, "the command's exit code comes back");
    assert_eq!(
        stdout,
        "hosts:          files libvirt [NOTFOUND=return] libvirt_guest\n\
         virbr9.status\n\
         192.168.123.1/24 fd00:123::1/64\n"
    );

    // The module files glibc opens are ours, byte for byte.
    let multiarch = format!("{}-linux-gnu", std::env::consts::ARCH);
    for module in [LIBVIRT, LIBVIRT_GUEST] {
        let script = format!(
            "cmp /lib/{multiarch}/{module} {} && echo same",
            ours.join(module).display()
        );
        assert_eq!(bash(&env, &script), (0, "same\n".to_owned()), "{module}");
    }

    assert_eq!(host_state(), before, "the host changed");
}

#[test]
fn a_module_missing_from_the_dir_is_masked() {
    if !ready("a_module_missing_from_the_dir_is_masked") {
        return;
    }
    let only_guest = TempDir::new("only-guest-module");
    fs::copy(
        modules::ours().join(LIBVIRT_GUEST),
        only_guest.path().join(LIBVIRT_GUEST),
    )
    .expect("copy module");
    let leases = TempDir::from_fixture("libvirt-upstream-nssdata");
    let env = NsEnv::new(leases.path(), only_guest.path(), "libvirt libvirt_guest");
    // `libvirt` is an empty file there, so glibc skips it instead of loading
    // the system C module; gentoo (a hostname and a domain) and debian (a
    // domain) come from `libvirt_guest`.
    let script = "getent ahostsv4 gentoo | head -1; \
                  getent ahostsv4 debian | head -1; \
                  wc -c < /lib/*-linux-gnu/libnss_libvirt.so.2";
    let (rc, stdout) = bash(&env, script);
    assert_eq!(rc, 0);
    assert_eq!(
        stdout,
        "192.168.122.254 STREAM gentoo\n192.168.122.2   STREAM debian\n0\n"
    );
}

#[test]
fn no_lease_dir_and_private_run() {
    if !ready("no_lease_dir_and_private_run") {
        return;
    }
    let output = Namespace::new()
        .lease_dir(None)
        .private_run()
        .command("/bin/bash")
        .arg("-c")
        .arg("test -e /var/lib/libvirt/dnsmasq && echo lease-dir; ls -A /run | grep -v '^mount$'; exit 0")
        .output()
        .expect("run nsenv.sh");
    assert!(output.status.success(), "{output:?}");
    assert_eq!(String::from_utf8_lossy(&output.stdout), "", "{output:?}");
    assert_eq!(String::from_utf8_lossy(&output.stderr), "", "{output:?}");
}

#[test]
fn run_dir_is_run_and_the_lease_dir_is_writable() {
    if !ready("run_dir_is_run_and_the_lease_dir_is_writable") {
        return;
    }
    let (leases, run) = (TempDir::new("nsenv-leases"), TempDir::new("nsenv-run"));
    run.write("leaseshelper.pid", "");
    let output = Namespace::new()
        .leases(leases.path())
        .run_dir(run.path())
        .command("/bin/bash")
        .arg("-c")
        .arg("ls -A /run | grep -v '^mount$'; echo lock > /run/leaseshelper.pid; echo [] > /var/lib/libvirt/dnsmasq/virbr0.status")
        .output()
        .expect("run nsenv.sh");
    assert!(output.status.success(), "{output:?}");
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "leaseshelper.pid\n"
    );
    assert_eq!(String::from_utf8_lossy(&output.stderr), "", "{output:?}");
    let read = |file: PathBuf| fs::read_to_string(file).expect("written inside");
    assert_eq!(read(run.path().join("leaseshelper.pid")), "lock\n");
    assert_eq!(read(leases.path().join("virbr0.status")), "[]\n");
}

#[test]
fn set_up_errors_are_125() {
    if !ready("set_up_errors_are_125") {
        return;
    }
    for args in [
        &["--bogus", "--", "true"][..],
        &["--leases", "/nonexistent/dir", "--", "true"],
        &["--leases", "/tmp", "--no-lease-dir", "--", "true"],
        &["--net", "v4", "--", "true"],
        &["--run", "/nonexistent/dir", "--", "true"],
        &["--private-run", "--run", "/tmp", "--", "true"],
    ] {
        let status = Command::new(nsenv::script())
            .args(args)
            .output()
            .expect("run nsenv.sh")
            .status;
        assert_eq!(status.code(), Some(125), "{args:?}");
    }
}
