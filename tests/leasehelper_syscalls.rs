//! The lock and write protocol, seen at the system call level (strace):
//! the same POSIX lock as libvirt's C helper (DECISIONS.md H4), and the
//! atomic rewrite followed by an fsync of the directory (H5).

use std::path::Path;

use integration_tests::leasehelper::{self, harness_available, Event, Sandbox};
use integration_tests::prerequisites::available;
use integration_tests::temp_dir::TempDir;

const TRACED: &str =
    "openat,open,stat,newfstatat,statx,fcntl,fsync,fdatasync,rename,renameat,renameat2,unlink,unlinkat,ftruncate,close";
const LOCK: &str = "\"/run/leaseshelper.pid\"";
const SET_LOCK: &str = "F_SETLKW, {l_type=F_WRLCK, l_whence=SEEK_SET, l_start=0, l_len=1}) = 0";
const NEW_FILE: &str = "\"/var/lib/libvirt/dnsmasq/virbr0.status.new\"";
const DIR: &str = "\"/var/lib/libvirt/dnsmasq\", O_RDONLY";

/// The helper's system calls for one `add`, after it opened the lock file.
fn trace(helper: &Path) -> Vec<String> {
    let sandbox = Sandbox::new();
    sandbox.leases.write("virbr0.status", b"[]");
    let out_dir = TempDir::new("lh-strace");
    let trace_file = out_dir.path().join("trace");
    let event = Event::v4("virbr0", "add", "52:54:00:00:00:01", "10.0.0.1", "5", None);
    let mut command = sandbox.namespace_command("strace");
    command
        .args(["-qq", "-e"])
        .arg(format!("trace={TRACED}"))
        .arg("-o")
        .arg(&trace_file)
        .args(["env", "-i"]);
    for (key, value) in &event.env {
        command.arg(format!("{key}={}", value.to_string_lossy()));
    }
    let status = command
        .arg(helper)
        .args(&event.args)
        .status()
        .expect("run strace");
    assert!(status.success(), "{}: traced run failed", helper.display());
    let text = std::fs::read_to_string(&trace_file).expect("read trace");
    let lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let start = lines
        .iter()
        .position(|l| l.contains(LOCK) && l.contains("O_WRONLY|O_CREAT"))
        .unwrap_or_else(|| panic!("{}: no open of the lock file in\n{text}", helper.display()));
    lines[start..].to_vec()
}

/// Index of the first line at or after `from` that contains all `parts`.
fn find(lines: &[String], from: usize, parts: &[&str]) -> Option<usize> {
    (from..lines.len()).find(|&i| parts.iter().all(|p| lines[i].contains(p)))
}

/// Asserts the steps appear in this order; returns the index after the last.
fn assert_in_order(helper: &str, lines: &[String], steps: &[(&str, &[&str])]) -> usize {
    let mut at = 0;
    for (what, parts) in steps {
        match find(lines, at, parts) {
            Some(i) => at = i + 1,
            None => panic!(
                "{helper}: `{what}` ({parts:?}) missing after line {at} of\n{}",
                lines.join("\n")
            ),
        }
    }
    at
}

#[test]
fn lock_and_atomic_write_at_syscall_level() {
    let test = "lock_and_atomic_write_at_syscall_level";
    if !harness_available(test, &["strace"]) {
        return;
    }
    let ours = trace(&leasehelper::ours());
    const RENAME: (&str, &[&str]) = (
        "rename over the file",
        &[
            "rename",
            NEW_FILE,
            "\"/var/lib/libvirt/dnsmasq/virbr0.status\") = 0",
        ],
    );
    // ours never opens the lock path through a symlink or blocks on a FIFO
    // there, and creates <file>.new only exclusively (DECISIONS.md H11)
    assert!(
        ours[0].contains("O_NOFOLLOW") && ours[0].contains("O_NONBLOCK"),
        "ours: lock opened without O_NOFOLLOW|O_NONBLOCK: {}",
        ours[0]
    );
    let after_rename = assert_in_order(
        "ours",
        &ours,
        &[
            ("lock byte 0, blocking", &[SET_LOCK]),
            ("re-check the lock path", &[LOCK]),
            ("truncate the pid file", &["ftruncate("]),
            ("remove a stale <file>.new (H11)", &["unlink", NEW_FILE]),
            (
                "create <file>.new exclusively (H11)",
                &[NEW_FILE, "O_WRONLY|O_CREAT|O_EXCL|O_NOFOLLOW"],
            ),
            ("fsync the data", &["fsync("]),
            RENAME,
        ],
    );
    let lock_and_write: &[(&str, &[&str])] = &[
        ("lock byte 0, blocking", &[SET_LOCK]),
        ("re-check the lock path", &[LOCK]),
        ("truncate the pid file", &["ftruncate("]),
        ("create <file>.new", &[NEW_FILE, "O_WRONLY|O_CREAT|O_TRUNC"]),
        ("fsync the data", &["fsync("]),
        RENAME,
    ];
    let after_dir_sync = assert_in_order(
        "ours",
        &ours[after_rename..],
        &[
            ("open the directory", &[DIR]),
            ("fsync the directory (H5)", &["fsync("]),
            ("release: unlink", &["unlink", LOCK]),
        ],
    );
    // the lock fd is closed only after the unlink
    let lock_fd = ours[0].rsplit("= ").next().expect("fd").trim().to_owned();
    assert!(
        find(
            &ours,
            after_rename + after_dir_sync,
            &[&format!("close({lock_fd})")]
        )
        .is_some(),
        "ours: lock fd {lock_fd} not closed after the unlink:\n{}",
        ours.join("\n")
    );

    // libvirt's C helper takes the very same lock (so the two exclude each
    // other) and writes the same way, without the directory fsync
    let Some(c_helper) = available(test, leasehelper::libvirt_c()) else {
        return;
    };
    let c = trace(&c_helper);
    let c_after_rename = assert_in_order("C", &c, lock_and_write);
    assert_in_order(
        "C",
        &c[c_after_rename..],
        &[("release: unlink", &["unlink", LOCK])],
    );
    assert!(
        find(&c[c_after_rename..], 0, &[DIR]).is_none(),
        "C unexpectedly syncs the directory"
    );
}
