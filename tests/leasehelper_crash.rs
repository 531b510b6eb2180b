//! Crash safety (DECISIONS.md H5): helpers killed with SIGKILL at random
//! moments while rewriting a multi-megabyte status file never leave a
//! partial file: after every kill the status file is byte-for-byte either
//! the complete old version or the complete new one.

use std::os::unix::process::CommandExt;
use std::process::Stdio;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use integration_tests::leasehelper::{self, harness_available, wait_bounded, Event, Sandbox};
use integration_tests::prerequisites::available;
use integration_tests::temp_dir::TempDir;

const FUT: u64 = 4_102_444_800;

/// A lease in the exact bytes the helpers write (2-space yajl layout).
fn lease_text(ip: &str, mac: &str, host: &str, expiry: u64) -> String {
    format!(
        "  {{\n    \"ip-address\": \"{ip}\",\n    \"mac-address\": \"{mac}\",\n    \"hostname\": \"{host}\",\n    \
         \"client-id\": \"01:{mac}\",\n    \"expiry-time\": {expiry}\n  }}"
    )
}

fn status_text(leases: &[String]) -> String {
    format!("[\n{}\n]\n", leases.join(",\n"))
}

/// Tiny xorshift PRNG: the kill moments only need to be spread out.
struct Rng(u64);

impl Rng {
    fn below(&mut self, bound: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % bound.max(1)
    }
}

fn mac_for(i: u32) -> String {
    format!(
        "52:54:00:{:02x}:{:02x}:{:02x}",
        (i >> 16) & 0xff,
        (i >> 8) & 0xff,
        i & 0xff
    )
}

#[test]
fn sigkill_during_rewrite_never_leaves_a_partial_file() {
    let test = "sigkill_during_rewrite_never_leaves_a_partial_file";
    if !harness_available(test, &[]) {
        return;
    }
    let Some(c_helper) = available(test, leasehelper::libvirt_c()) else {
        return;
    };
    let our_helper = leasehelper::ours();

    // ~4 MB: 30000 leases in the helpers' own format
    let mut leases: Vec<String> = (0..30_000u32)
        .map(|i| {
            lease_text(
                &format!("10.{}.{}.{}", i >> 16, (i >> 8) & 0xff, i & 0xff),
                &mac_for(i),
                &format!("vm-{i}"),
                FUT + u64::from(i),
            )
        })
        .collect();
    let sandbox = Sandbox::new();
    let scratch = TempDir::new("lh-crash-tmp"); // the ns script's mktemp dirs
    sandbox.leases.write("virbr0.status", status_text(&leases));

    let event_for = |n: u32| {
        let ip = format!("172.16.{}.{}", n >> 8, n & 0xff);
        let mac = mac_for(0x80_0000 + n);
        let event = Event::v4(
            "virbr0",
            "add",
            &mac,
            &ip,
            &(FUT + 7).to_string(),
            Some(&format!("new-{n}")),
        );
        (event, lease_text(&ip, &mac, &format!("new-{n}"), FUT + 7))
    };

    // calibrate: the namespace set-up alone, then one undisturbed rewrite;
    // kills are aimed past most of the set-up, into the helper's run
    let started = Instant::now();
    let setup = sandbox.run(std::path::Path::new("/bin/true"), &Event::new(&[]));
    assert_eq!(setup.code, Some(0), "{setup:?}");
    let ns_overhead = started.elapsed();
    let started = Instant::now();
    let (event, lease) = event_for(0);
    let out = sandbox.run(&our_helper, &event);
    assert_eq!(out.code, Some(0), "{out:?}");
    let full_run = started.elapsed();
    leases.push(lease);
    assert_eq!(sandbox.read_string("virbr0.status"), status_text(&leases));
    let earliest = ns_overhead.as_micros() as u64 * 8 / 10;
    let spread = (full_run.as_micros() as u64).saturating_sub(earliest) * 13 / 10;

    let seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64)
        | 1;
    let mut rng = Rng(seed);
    let (mut killed, mut completed) = (0, 0);
    for n in 1..=40u32 {
        let helper = if n % 4 == 0 { &c_helper } else { &our_helper };
        let (event, lease) = event_for(n);
        let before = status_text(&leases);
        let mut with_new = leases.clone();
        with_new.push(lease);
        let after = status_text(&with_new);

        let child = sandbox
            .command(helper, &event)
            .env("TMPDIR", scratch.path())
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn helper");
        let pgid = child.id() as libc::pid_t;
        let delay = earliest + rng.below(spread);
        std::thread::sleep(Duration::from_micros(delay));
        // SAFETY: kill(2) with a negative pid signals only the process group
        // created for this child above (it is not yet reaped, so the id
        // cannot have been reused).
        unsafe { libc::kill(-pgid, libc::SIGKILL) };
        let out = wait_bounded(child, Duration::from_secs(60), "killed helper");

        let now = sandbox.read_string("virbr0.status");
        if now == after {
            completed += 1;
            leases = with_new;
        } else {
            assert!(
                now == before,
                "iteration {n} ({}, killed after {delay} us, {:?}): status file is neither the old nor the new version \
                 ({} bytes; old {}, new {})",
                helper.display(),
                out.status,
                now.len(),
                before.len(),
                after.len()
            );
            killed += 1;
        }
    }
    eprintln!(
        "crash test: seed {seed}, namespace set-up {ns_overhead:?}, undisturbed run {full_run:?}, \
         {killed} rewrites interrupted, {completed} completed"
    );

    // both helpers still read the file and agree on it; a stale .new or pid
    // file left by a killed helper does not matter
    let init = Event::init("virbr0");
    let c_init = sandbox.run(&c_helper, &init);
    let our_init = sandbox.run(&our_helper, &init);
    assert_eq!(c_init.code, Some(0), "{c_init:?}");
    assert_eq!(c_init, our_init);
    assert_eq!(c_init.stdout.lines().count(), leases.len());
}
