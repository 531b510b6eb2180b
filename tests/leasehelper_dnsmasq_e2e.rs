//! End to end with a real dnsmasq: our helper as `--dhcp-script`, busybox
//! udhcpc and `dhclient -6` as guests, and name lookups through our NSS
//! modules (`target/modules`, or `NSS_MODULES_DIR`), all in namespaces
//! the script creates (`scripts/leasehelper-e2e-dnsmasq.sh`; see its header
//! for the topology and the checks).

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use integration_tests::leasehelper::{self, harness_available};
use integration_tests::modules;
use integration_tests::prerequisites::satisfied;

const NEEDED: &[&str] = &[
    "ip", "getent", "setsid", "awk", "timeout", "udhcpc", "dhclient",
];
const DNSMASQ: &str = "/usr/sbin/dnsmasq";
const TIMEOUT: Duration = Duration::from_secs(300);

#[test]
fn dnsmasq_helper_and_modules_end_to_end() {
    let test = "dnsmasq_helper_and_modules_end_to_end";
    if !harness_available(test, NEEDED) {
        return;
    }
    if !satisfied(
        test,
        &(if Path::new(DNSMASQ).is_file() {
            vec![]
        } else {
            vec![format!("{DNSMASQ} missing (package dnsmasq-base)")]
        }),
    ) {
        return;
    }
    let helper = leasehelper::ours();
    let module_dir = modules::ours();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/leasehelper-e2e-dnsmasq.sh");

    let mut child = Command::new(&script)
        .arg("--leaseshelper")
        .arg(&helper)
        .arg("--modules")
        .arg(&module_dir)
        .args(["--dnsmasq", DNSMASQ, "--timeout", "20"])
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the e2e script");
    let deadline = Instant::now() + TIMEOUT;
    while child.try_wait().expect("try_wait").is_none() {
        if Instant::now() >= deadline {
            // SIGTERM to the script's own process group: its trap kills what
            // it started and deletes its namespaces.
            // SAFETY: plain kill(2) of the process group created above.
            unsafe { libc::kill(-(child.id() as libc::pid_t), libc::SIGTERM) };
            let _ = child.wait();
            panic!("{test}: e2e script still running after {TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = child.wait_with_output().expect("collect output");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("{stdout}");
    assert!(
        out.status.success() && stdout.contains(" passed, 0 failed"),
        "{test}: e2e failed ({:?}):\n{}\nstderr:\n{stderr}",
        out.status,
        stdout
            .lines()
            .filter(|l| l.starts_with("FAIL"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    let passed: usize = stdout.lines().filter(|l| l.starts_with("PASS ")).count();
    assert!(passed >= 20, "{test}: only {passed} checks ran:\n{stdout}");
}
