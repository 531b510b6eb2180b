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

use integration_tests::prerequisites::satisfied;
use integration_tests::temp_dir::TempDir;
use integration_tests::tiny_guest::{
    build_vsock_cid_shim, check_libvirt_so, find_host_command, host_to_guest, missing_for_harness,
    narrate, repo_root, run_tiny_guest, LIBVIRT_SO,
};

#[test]
fn harness_returns_output_and_exit_code() {
    let test = "harness_returns_output_and_exit_code";
    if !satisfied(test, &missing_for_harness()) {
        return;
    }
    narrate(
        test,
        "guest prints two lines without a final newline, one line on stderr, exits 7",
    );
    let run = run_tiny_guest(
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
    let mut missing = missing_for_harness();
    let socat = find_host_command("socat", "socat", &mut missing);
    let ssh = find_host_command("ssh", "openssh-client", &mut missing);
    let sshd = find_host_command("sshd", "openssh-server", &mut missing);
    let ssh_keygen = find_host_command("ssh-keygen", "openssh-client", &mut missing);
    let gcc = find_host_command("gcc", "gcc", &mut missing);
    if !satisfied(test, &missing) {
        return;
    }

    let scratch = TempDir::new("tiny-guest-vsock");
    let shim = build_vsock_cid_shim(test, &gcc, scratch.path());

    let mut args: Vec<OsString> = Vec::new();
    for binary in [&socat, &ssh, &sshd, &ssh_keygen] {
        args.push("--binary".into());
        args.push(binary.into());
    }
    args.push("--file".into());
    args.push(host_to_guest(&shim, "/usr/local/lib/vsock-cid-to-local.so"));
    args.push(
        repo_root()
            .join("tests/scripts/tiny-guest-vsock-ssh.sh")
            .into(),
    );
    let run = run_tiny_guest(test, &args);

    run.assert_printed(
        test,
        &[
            "VSOCK-ECHO-OK",
            "VSOCK-CID42-OK",
            "ssh as 0 on tiny-guest",
            "SSH-OVER-VSOCK-OK",
            "SSH-OVER-VSOCK-CID42-OK",
        ],
    );
    assert_eq!(run.code, Some(0), "{test}: guest script failed");
}

#[test]
fn libvirt_test_driver_in_guest() {
    let test = "libvirt_test_driver_in_guest";
    let mut missing = missing_for_harness();
    check_libvirt_so(&mut missing);
    let virsh = find_host_command("virsh", "libvirt-clients", &mut missing);
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
    narrate(
        test,
        &format!("copying {LIBVIRT_SO} (dlopen'ed by the proxy) and virsh with their libraries"),
    );
    let run = run_tiny_guest(
        test,
        &[
            "--binary".into(),
            LIBVIRT_SO.into(),
            "--binary".into(),
            host_to_guest(&virsh, "/usr/bin/virsh"),
            "--file".into(),
            host_to_guest(&node, "/root/node.xml"),
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
