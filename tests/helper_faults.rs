//! Our lease helper under faults: bad argv/env, a missing lease dir, a
//! read-only file system, a full disk, a file over 32 MiB, a corrupt file,
//! an unusable lock. Each run must exit 1 with exactly one clear line on
//! stderr (a corrupt file: exit 0 with one warning, DECISIONS.md H6), and every lease
//! that was on disk before must still be on disk, byte for byte.
//!
//! `leasehelper_side_by_side.rs` compares most of these with the C helper;
//! this file checks our helper alone, so it also runs where the C helper is
//! not installed, and asserts the message shape and the data on disk.

use std::collections::BTreeMap;
use std::process::Stdio;

use integration_tests::leasehelper::{self, harness_available, Event, Sandbox};

/// The leases that must survive every fault (the helper's own layout).
const PRECIOUS: &str = "[\n  {\n    \"ip-address\": \"192.168.122.10\",\n    \"mac-address\": \"52:54:00:00:00:0a\",\n    \
\"hostname\": \"precious-a\",\n    \"expiry-time\": 4102444800\n  },\n  {\n    \"ip-address\": \"192.168.122.11\",\n    \
\"mac-address\": \"52:54:00:00:00:0b\",\n    \"hostname\": \"precious-b\",\n    \"expiry-time\": 0\n  }\n]\n";

/// Every file in a lease dir: name → (mode, bytes).
type Snapshot = BTreeMap<String, (u32, Vec<u8>)>;

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Runs our helper for `event` after `setup` (shell, inside the namespace,
/// where `$LEASES` is the lease dir) in a fresh sandbox holding `files` (a
/// name ending in `/` is a directory).
fn run(files: &[(&str, &[u8])], setup: &str, event: &Event) -> (Run, Snapshot, Snapshot) {
    let sandbox = Sandbox::new();
    for (name, bytes) in files {
        match name.strip_suffix('/') {
            Some(dir) => {
                let path = sandbox.leases.path().join(dir);
                std::fs::create_dir(&path).expect("mkdir");
                integration_tests::temp_dir::set_mode(&path, 0o755);
            }
            None => {
                sandbox.leases.write(name, bytes);
            }
        }
    }
    let before = sandbox.snapshot();
    let helper = leasehelper::ours();
    let mut env = vec!["env".to_owned(), "-i".to_owned()];
    for (k, v) in &event.env {
        env.push(format!("{k}={}", v.to_string_lossy()));
    }
    let script = format!(
        "set -eu\nLEASES=/var/lib/libvirt/dnsmasq\n{setup}\nrc=0\n\"$@\" || rc=$?\necho \"rc=$rc\"\n"
    );
    let output = sandbox
        .namespace_command("bash")
        .args(["-c", &script, "fault"])
        .args(&env)
        .arg(&helper)
        .args(&event.args)
        .stdin(Stdio::null())
        .output()
        .expect("run nsenv.sh");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let code = stdout
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("rc="))
        .and_then(|c| c.parse().ok());
    let after = sandbox.snapshot();
    (
        Run {
            code,
            stdout,
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        },
        before,
        after,
    )
}

fn add(ip: &str, host: &str) -> Event {
    Event::new(&["add", "52:54:00:00:00:99", ip, host])
        .env("VIR_BRIDGE_NAME", "virbr0")
        .env("DNSMASQ_LEASE_EXPIRES", "4102444800")
}

/// Exit 1, one non-empty line on stderr containing `needle`, nothing
/// changed on disk.
fn assert_clean_failure(
    case: &str,
    files: &[(&str, &[u8])],
    setup: &str,
    event: &Event,
    needle: &str,
) {
    let (run, before, after) = run(files, setup, event);
    assert_eq!(
        run.code,
        Some(1),
        "{case}: exit status\nstdout: {}\nstderr: {}",
        run.stdout,
        run.stderr
    );
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert!(
        lines.len() == 1 && !lines[0].trim().is_empty(),
        "{case}: want exactly one line on stderr, got {:?}",
        run.stderr
    );
    assert!(
        lines[0].contains(needle),
        "{case}: message {:?} does not mention {needle:?}",
        lines[0]
    );
    assert_eq!(before, after, "{case}: the lease dir changed");
    eprintln!("helper fault {case}: exit 1: {}", lines[0]);
}

fn precious() -> [(&'static str, &'static [u8]); 1] {
    [("virbr0.status", PRECIOUS.as_bytes())]
}

#[test]
fn bad_argv_and_env_fail_cleanly_and_touch_nothing() {
    if !harness_available("bad_argv_and_env_fail_cleanly_and_touch_nothing", &[]) {
        return;
    }
    let files = precious();
    assert_clean_failure("no arguments", &files, "", &Event::new(&[]), "--help");
    assert_clean_failure(
        "two arguments",
        &files,
        "",
        &Event::new(&["add", "m"]).env("VIR_BRIDGE_NAME", "virbr0"),
        "--help",
    );
    assert_clean_failure(
        "no interface variable",
        &files,
        "",
        &Event::new(&["add", "52:54:00:00:00:99", "192.168.122.99"]),
        "interface",
    );
    assert_clean_failure(
        "unknown action",
        &files,
        "",
        &Event::new(&["tftp", "52:54:00:00:00:99", "192.168.122.99"])
            .env("VIR_BRIDGE_NAME", "virbr0"),
        "tftp",
    );
    assert_clean_failure(
        "bad DNSMASQ_LEASE_EXPIRES",
        &files,
        "",
        &Event::new(&["add", "52:54:00:00:00:99", "192.168.122.99"])
            .env("VIR_BRIDGE_NAME", "virbr0")
            .env("DNSMASQ_LEASE_EXPIRES", "0x10"),
        "0x10",
    );
    assert_clean_failure(
        "hostname not UTF-8",
        &files,
        "",
        &Event::new(&["add", "52:54:00:00:00:99", "192.168.122.99"])
            .arg_bytes(b"bad\xffname")
            .env("VIR_BRIDGE_NAME", "virbr0"),
        "UTF-8",
    );
}

#[test]
fn file_system_faults_fail_cleanly_and_keep_every_lease() {
    if !harness_available(
        "file_system_faults_fail_cleanly_and_keep_every_lease",
        &["mount"],
    ) {
        return;
    }
    let files = precious();
    let event = add("192.168.122.99", "newcomer");
    assert_clean_failure(
        "missing lease dir",
        &files,
        "mount -t tmpfs -o size=1m,mode=0755 nolibvirt /var/lib/libvirt",
        &event,
        "/var/lib/libvirt/dnsmasq/virbr0.status",
    );
    assert_clean_failure(
        "read-only file system",
        &files,
        "mount -o remount,bind,ro \"$LEASES\"",
        &event,
        "Read-only file system",
    );
    assert_clean_failure(
        "lease dir for another interface is missing",
        &files,
        "",
        &add("192.168.122.99", "x").env("VIR_BRIDGE_NAME", "no/such/dir"),
        "no/such/dir",
    );
    assert_clean_failure(
        "status file is a directory",
        &[
            ("virbr0.status", PRECIOUS.as_bytes()),
            ("virbr9.status/", b""),
        ],
        "",
        &add("192.168.122.99", "x").env("VIR_BRIDGE_NAME", "virbr9"),
        "virbr9.status",
    );

    // Over 32 MiB (sparse, so it costs nothing): refused, left as it is.
    let (big_run, _, big_after) = run(
        &[],
        "truncate -s $((32 * 1024 * 1024 + 1)) \"$LEASES/virbr0.status\"",
        &event,
    );
    assert_eq!(big_run.code, Some(1), "over 32 MiB: {}", big_run.stderr);
    assert_eq!(big_run.stderr.lines().count(), 1, "{}", big_run.stderr);
    assert!(
        big_run.stderr.contains("virbr0.status"),
        "{}",
        big_run.stderr
    );
    assert_eq!(big_after["virbr0.status"].1.len(), 32 * 1024 * 1024 + 1);
    eprintln!(
        "helper fault over 32 MiB: exit 1: {}",
        big_run.stderr.trim()
    );
}

#[test]
fn full_disk_fails_cleanly_and_keeps_every_lease() {
    if !harness_available(
        "full_disk_fails_cleanly_and_keeps_every_lease",
        &["mount", "sha256sum"],
    ) {
        return;
    }
    // A 64 KiB tmpfs as the lease dir, nearly filled: the rewrite cannot fit.
    let mut leases = Vec::new();
    for i in 0..150 {
        leases.push(format!(
            "  {{\n    \"ip-address\": \"10.0.{}.{}\",\n    \"mac-address\": \"52:54:00:00:{:02x}:{:02x}\",\n    \
             \"hostname\": \"vm{i}\",\n    \"expiry-time\": 4102444800\n  }}",
            i / 250,
            i % 250,
            i / 256,
            i % 256
        ));
    }
    let text = format!("[\n{}\n]\n", leases.join(",\n"));
    let src = integration_tests::temp_dir::TempDir::new("full-disk-src");
    src.write("virbr0.status", &text);
    let setup = format!(
        "mount -t tmpfs -o size=64k,mode=0755 full \"$LEASES\"\n\
         cp {src}/virbr0.status \"$LEASES/\"\n\
         dd if=/dev/zero of=\"$LEASES/filler\" bs=4k count=64 2>/dev/null || true\n\
         before=$(sha256sum < \"$LEASES/virbr0.status\")\n\
         trap 'after=$(sha256sum < \"$LEASES/virbr0.status\"); [ \"$before\" = \"$after\" ] && echo intact || echo CHANGED; ls \"$LEASES\"' EXIT",
        src = src.path().display()
    );
    let (run, _, _) = run(&[], &setup, &add("10.1.1.1", "newcomer"));
    assert_eq!(
        run.code,
        Some(1),
        "full disk: {}\n{}",
        run.stdout,
        run.stderr
    );
    assert_eq!(run.stderr.lines().count(), 1, "full disk: {:?}", run.stderr);
    assert!(
        run.stdout.contains("intact"),
        "full disk: the status file changed: {}",
        run.stdout
    );
    assert!(
        !run.stdout.contains("virbr0.status.new"),
        "full disk: left a .new file: {}",
        run.stdout
    );
    eprintln!("helper fault full disk: exit 1: {}", run.stderr.trim());
}

#[test]
fn lock_faults_fail_cleanly_and_keep_every_lease() {
    if !harness_available("lock_faults_fail_cleanly_and_keep_every_lease", &["mount"]) {
        return;
    }
    let files = precious();
    let event = add("192.168.122.99", "newcomer");
    assert_clean_failure(
        "lock path is a directory",
        &files,
        "mkdir /run/leaseshelper.pid",
        &event,
        "/run/leaseshelper.pid",
    );
    assert_clean_failure(
        "lock on a read-only /run",
        &files,
        "mount -o remount,bind,ro /run",
        &event,
        "/run/leaseshelper.pid",
    );
}

#[test]
fn corrupt_file_is_kept_aside_with_one_warning() {
    if !harness_available("corrupt_file_is_kept_aside_with_one_warning", &[]) {
        return;
    }
    let corrupt = &PRECIOUS.as_bytes()[..PRECIOUS.len() / 2];
    let (run, _, after) = run(
        &[("virbr0.status", corrupt)],
        "",
        &add("192.168.122.99", "newcomer"),
    );
    assert_eq!(run.code, Some(0), "corrupt file (H6): {}", run.stderr);
    assert_eq!(
        run.stderr.lines().count(),
        1,
        "one warning: {:?}",
        run.stderr
    );
    assert!(
        run.stderr.contains("virbr0.status.corrupt"),
        "{}",
        run.stderr
    );
    assert_eq!(
        after["virbr0.status.corrupt"].1, corrupt,
        "the old bytes are kept aside"
    );
    let now = String::from_utf8_lossy(&after["virbr0.status"].1).into_owned();
    assert!(now.contains("newcomer"), "the new lease is written: {now}");
    eprintln!("helper fault corrupt file: exit 0: {}", run.stderr.trim());
}
