//! What a getent test needs from the machine, and what happens when it is
//! missing: in CI (`CI` set to anything but `false`/`0`) the test fails, since a
//! skipped test there would hide a broken set-up; elsewhere it prints a loud
//! `SKIPPED:` line on stderr and returns early.

use std::env;
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// Commands `nsenv.sh` and `getent-batch.sh` run.
const HARNESS_COMMANDS: &[&str] = &["bash", "unshare", "mount", "ip", "awk", "getent", "timeout"];

pub fn in_ci() -> bool {
    env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// Returns `true` when `missing` is empty. Otherwise fails the test in CI, or
/// reports it skipped and returns `false`.
#[must_use]
pub fn satisfied(test: &str, missing: &[String]) -> bool {
    if missing.is_empty() {
        return true;
    }
    let why = missing.join("; ");
    if in_ci() {
        panic!("{test}: prerequisite missing in CI: {why}");
    }
    // Straight to fd 2: libtest captures eprintln! of passing tests.
    let _ = writeln!(std::io::stderr(), "\n*** SKIPPED: {test}: {why} ***\n");
    false
}

/// What the namespace harness needs: root (mounts) and its commands.
pub fn getent_harness() -> Vec<String> {
    let mut missing = Vec::new();
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        missing.push("not root (nsenv.sh needs mount namespaces and bind mounts)".to_owned());
    }
    for command in HARNESS_COMMANDS {
        if find_on_path(command).is_none() {
            missing.push(format!("command `{command}` not on PATH"));
        }
    }
    missing
}

pub fn find_on_path(command: &str) -> Option<PathBuf> {
    let path = env::var_os("PATH")?;
    env::split_paths(&path)
        .chain(["/sbin", "/usr/sbin"].map(PathBuf::from))
        .map(|dir| dir.join(command))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// `Some(value)`, or the same fail-in-CI / skip-elsewhere handling as
/// [`satisfied`] for the error.
pub fn available<T>(test: &str, found: Result<T, String>) -> Option<T> {
    match found {
        Ok(value) => Some(value),
        Err(why) => {
            let _ = satisfied(test, &[why]);
            None
        }
    }
}
