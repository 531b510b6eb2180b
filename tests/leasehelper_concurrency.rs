//! The helper lock (DECISIONS.md H4): our helper and libvirt's C helper
//! take the same POSIX lock on `/run/leaseshelper.pid`, so they exclude
//! each other and no lease is lost when many run at once.

use std::fs::OpenOptions;
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::Duration;

use integration_tests::leasehelper::{self, harness_available, wait_bounded, Event, Sandbox};
use integration_tests::prerequisites::available;

const FUT: &str = "4102444800";

fn helpers(test: &str) -> Option<(PathBuf, PathBuf)> {
    if !harness_available(test, &[]) {
        return None;
    }
    let c = available(test, leasehelper::libvirt_c())?;
    Some((c, leasehelper::ours()))
}

/// Starts `helper` for `event` in `sandbox`'s namespace, but only once the
/// file `<run>/go` exists, so that all helpers start together.
fn spawn_after_go(sandbox: &Sandbox, helper: &Path, event: &Event) -> Child {
    let mut inner = vec!["env".to_owned(), "-i".to_owned()];
    for (key, value) in &event.env {
        inner.push(format!("{key}={}", value.to_string_lossy()));
    }
    inner.push(helper.to_string_lossy().into_owned());
    inner.extend(event.args.iter().map(|a| a.to_string_lossy().into_owned()));
    sandbox.namespace_command("bash")
        .arg("-c")
        .arg("for _ in $(seq 1 3000); do [ -e /run/go ] && exec \"$@\"; sleep 0.01; done; echo 'no go' >&2; exit 99")
        .arg("wait-for-go")
        .args(inner)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn helper")
}

#[test]
fn fifty_helpers_at_once_lose_no_lease() {
    let Some((c_helper, our_helper)) = helpers("fifty_helpers_at_once_lose_no_lease") else {
        return;
    };
    let sandbox = Sandbox::new();
    let mut expected: Vec<(String, String)> = Vec::new(); // (bridge, ip)
    let mut children = Vec::new();
    for i in 0..50u32 {
        let helper = if i % 2 == 0 { &c_helper } else { &our_helper };
        let bridge = if i % 5 == 4 { "virbr1" } else { "virbr0" };
        let (ip, event) = if i % 7 == 3 {
            let ip = format!("fd00:123::{:x}", 0x100 + i);
            let duid = format!("00:03:00:01:52:54:00:12:34:{i:02x}");
            let mac = format!("52:54:00:12:34:{i:02x}");
            let event = Event::v6(
                bridge,
                "add",
                &duid,
                &ip,
                &i.to_string(),
                Some(&mac),
                Some("00:01:00:01:aa:bb:cc:dd:52:54:00:00:00:01"),
                FUT,
                Some(&format!("vm{i}")),
            );
            (ip, event)
        } else {
            let ip = format!("192.168.123.{}", 10 + i);
            let mac = format!("52:54:00:12:34:{i:02x}");
            (
                ip.clone(),
                Event::v4(bridge, "add", &mac, &ip, FUT, Some(&format!("vm{i}"))),
            )
        };
        expected.push((bridge.to_owned(), ip));
        children.push((i, helper.clone(), spawn_after_go(&sandbox, helper, &event)));
    }
    std::fs::write(sandbox.run.path().join("go"), b"").expect("start signal");
    for (i, helper, child) in children {
        let out = wait_bounded(child, Duration::from_secs(120), "concurrent helper");
        assert!(
            out.status.success(),
            "helper #{i} ({}) failed: {out:?}",
            helper.display()
        );
    }
    std::fs::remove_file(sandbox.run.path().join("go")).expect("rm go");
    assert!(
        !sandbox.run.path().join("leaseshelper.pid").exists(),
        "lock file left behind"
    );

    for bridge in ["virbr0", "virbr1"] {
        let status = sandbox.read_string(&format!("{bridge}.status"));
        let mine: Vec<_> = expected.iter().filter(|(b, _)| b == bridge).collect();
        assert_eq!(
            status.matches("\"ip-address\"").count(),
            mine.len(),
            "{bridge}:\n{status}"
        );
        for (_, ip) in &mine {
            assert_eq!(
                status
                    .matches(&format!("\"ip-address\": \"{ip}\","))
                    .count(),
                1,
                "{ip} in {bridge}:\n{status}"
            );
        }
        // both helpers read the result back identically, every lease listed
        let init = Event::init(bridge);
        let c_init = sandbox.run(&c_helper, &init);
        let our_init = sandbox.run(&our_helper, &init);
        assert_eq!(c_init, our_init);
        assert_eq!(c_init.code, Some(0));
        for (_, ip) in &mine {
            assert!(
                c_init.stdout.contains(&format!(" {ip} ")),
                "{ip} missing from init:\n{}",
                c_init.stdout
            );
        }
    }
}

/// `fcntl(F_SETLK)` write lock on byte 0 of `path`, held by this test
/// process while the returned file is open.
fn hold_lock(path: &Path) -> std::fs::File {
    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .expect("open lock");
    let request = libc::flock {
        l_type: libc::F_WRLCK as libc::c_short,
        l_whence: libc::SEEK_SET as libc::c_short,
        l_start: 0,
        l_len: 1,
        l_pid: 0,
    };
    // SAFETY: valid open fd and a fully initialised flock struct that
    // outlives the call; F_SETLK only reads it.
    let rc = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_SETLK, &request) };
    assert_eq!(rc, 0, "lock: {}", std::io::Error::last_os_error());
    file
}

/// A helper started in its own process group, killed (group-wide) if the
/// test fails before waiting for it, so nothing outlives the test.
struct Started(Option<Child>);

impl Started {
    fn wait(mut self, timeout: Duration) -> std::process::Output {
        let child = self.0.take().expect("not yet waited for");
        wait_bounded(child, timeout, "helper after the lock was released")
    }
}

impl Drop for Started {
    fn drop(&mut self) {
        if let Some(child) = &mut self.0 {
            if matches!(child.try_wait(), Ok(None)) {
                // SAFETY: kill(2) of the process group created for this
                // child (not yet reaped, so the id cannot be reused).
                unsafe { libc::kill(-(child.id() as libc::pid_t), libc::SIGKILL) };
            }
            let _ = child.wait();
        }
    }
}

#[test]
fn both_helpers_wait_for_a_held_lock() {
    let Some((c_helper, our_helper)) = helpers("both_helpers_wait_for_a_held_lock") else {
        return;
    };
    let sandbox = Sandbox::new();
    let lock = hold_lock(&sandbox.run.path().join("leaseshelper.pid"));
    let mut children = Vec::new();
    for (n, helper) in [(1, &c_helper), (2, &our_helper)] {
        let event = Event::v4(
            "virbr0",
            "add",
            &format!("52:54:00:00:00:0{n}"),
            &format!("10.0.0.{n}"),
            FUT,
            None,
        );
        let child = sandbox
            .command(helper, &event)
            .process_group(0)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        children.push(Started(Some(child)));
    }
    // Both must end up blocked in F_SETLKW on our lock: /proc/locks lists a
    // waiting request as "N: -> POSIX ADVISORY WRITE <pid> <dev>:<inode> ...".
    let inode = std::os::unix::fs::MetadataExt::ino(&lock.metadata().expect("stat lock"));
    let waiting = || {
        std::fs::read_to_string("/proc/locks")
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains("->") && l.contains(&format!(":{inode} ")))
            .count()
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while waiting() < 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "helpers never blocked on the lock (/proc/locks)"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(300));
    for started in &mut children {
        let child = started.0.as_mut().expect("running");
        assert!(
            child.try_wait().expect("try_wait").is_none(),
            "a helper did not wait for the lock"
        );
    }
    // the status file is only touched once the lock is held
    assert!(
        !sandbox.leases.path().join("virbr0.status").exists(),
        "a helper went on without the lock"
    );
    drop(lock); // close: the kernel releases the POSIX lock
    for started in children {
        let out = started.wait(Duration::from_secs(30));
        assert!(out.status.success(), "{out:?}");
    }
    let status = sandbox.read_string("virbr0.status");
    assert!(
        status.contains("10.0.0.1") && status.contains("10.0.0.2"),
        "{status}"
    );
    assert!(!sandbox.run.path().join("leaseshelper.pid").exists());
}
