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
use std::path::PathBuf;

use integration_tests::prerequisites::satisfied;
use integration_tests::ssh_proxy;
use integration_tests::temp_dir::TempDir;
use integration_tests::tiny_guest::{
    build_vsock_cid_shim, check_libvirt_so, find_host_command, host_to_guest, missing_for_harness,
    narrate, repo_root, run_tiny_guest, LIBVIRT_SO,
};

const TEST: &str = "ssh_proxy_vsock_route_in_guest";

/// What is missing on this machine: the harness's needs, gcc for the shim,
/// and the host files copied into the guest. Returns gcc and the guest
/// binaries found.
fn prerequisites(missing: &mut Vec<String>) -> (PathBuf, Vec<PathBuf>) {
    missing.extend(missing_for_harness());
    let gcc = find_host_command("gcc", "gcc", missing);
    check_libvirt_so(missing);
    let binaries = [
        ("socat", "socat"),
        ("ssh", "openssh-client"),
        ("sshd", "openssh-server"),
        ("ssh-keygen", "openssh-client"),
    ]
    .map(|(command, package)| find_host_command(command, package, missing));
    (gcc, binaries.into())
}

#[test]
fn ssh_proxy_vsock_route_in_guest() {
    let mut missing = Vec::new();
    let (gcc, binaries) = prerequisites(&mut missing);
    if !satisfied(TEST, &missing) {
        return;
    }

    let proxy = ssh_proxy::binary();
    narrate(TEST, &format!("proxy under test: {}", proxy.display()));
    let scratch = TempDir::new("ssh-proxy-vsock-guest");
    let shim = build_vsock_cid_shim(TEST, &gcc, scratch.path());

    let node = repo_root().join("tests/fixtures/ssh-proxy-vsock/node.xml");
    let mut args: Vec<OsString> = vec![
        "--binary".into(),
        host_to_guest(&proxy, "/usr/local/bin/libvirt-ssh-proxy"),
        "--binary".into(),
        LIBVIRT_SO.into(),
    ];
    for binary in binaries {
        args.push("--binary".into());
        args.push(binary.into());
    }
    args.extend([
        "--file".into(),
        host_to_guest(&shim, "/usr/local/lib/vsock-cid-to-local.so"),
        "--file".into(),
        host_to_guest(&node, "/root/node.xml"),
        repo_root()
            .join("tests/scripts/ssh-proxy-vsock-guest.sh")
            .into(),
    ]);
    let run = run_tiny_guest(TEST, &args);

    run.assert_printed(
        TEST,
        &[
            "RESOLVE-VSOCK-ONLY-OK",
            "SSH-VSOCK-FDPASS-OK",
            "SSH-VSOCK-RELAY-OK",
            "PROXY-VSOCK-REFUSED-OK",
            "SSH-PORT-2200-FAILS-OK",
        ],
    );
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
        run.summary()
    );
    assert_eq!(
        lines.iter().filter(|l| **l == "via-vsock").count(),
        2,
        "{TEST}: expected `via-vsock` from fd passing and from the relay; {}",
        run.summary()
    );
    let failure = lines
        .iter()
        .find_map(|l| l.strip_prefix("PROXY-FAILURE-LINE: "))
        .unwrap_or_else(|| panic!("{TEST}: no PROXY-FAILURE-LINE; {}", run.summary()));
    assert!(
        failure.starts_with("libvirt-ssh-proxy: qemu/MixedCaseVM: ")
            && failure.contains("vsock cid 42 port 2200: "),
        "{TEST}: unexpected failure line {failure:?}"
    );
    assert_eq!(
        run.code,
        Some(0),
        "{TEST}: guest script failed; {}",
        run.summary()
    );
}
