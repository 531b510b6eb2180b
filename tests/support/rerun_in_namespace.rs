//! Re-running one of a test binary's own `#[ignore]`d tests inside
//! `scripts/nsenv.sh`: the modules read the compiled-in
//! `/var/lib/libvirt/dnsmasq`, so a test that `dlopen`s them in-process must
//! run where a fixture is bind-mounted there. The visible test calls
//! [`run_ignored_test_inside`]; the inner one checks its marker variable, so
//! that it never runs by accident outside the namespace.

use std::ffi::OsStr;
use std::path::Path;

use crate::modules;
use crate::nsenv::Namespace;

/// Runs the ignored test `inner` of the current test binary inside a mount
/// namespace holding `leases` (or no lease dir at all) and our modules, with
/// `marker=1` in its environment, and fails unless it passed there.
pub fn run_ignored_test_inside(inner: &str, marker: &str, leases: Option<&Path>) {
    let output = Namespace::new()
        .lease_dir(leases)
        .modules(&modules::ours())
        .command(std::env::current_exe().expect("test binary path"))
        .args([OsStr::new("--exact"), OsStr::new(inner)])
        .args(["--ignored", "--nocapture", "--test-threads=1"])
        .env(marker, "1")
        .output()
        .expect("run nsenv.sh");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stdout.contains("1 passed"),
        "{inner} failed inside the namespace ({}):\n{stdout}\n{stderr}",
        output.status
    );
}
