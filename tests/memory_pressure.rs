//! A lookup in a process short of memory must never abort it (DECISIONS.md
//! N30): `getent` under `prlimit --as=...` over 10,000 leases, and over a
//! 24 MB `.status` file, at limits from where nothing works up to where
//! everything does. At each limit `getent` must end by itself (no SIGABRT),
//! print nothing on stderr (no "memory allocation of N bytes failed"), and
//! either print the right answer or find nothing (exit 2: the module said
//! UNAVAIL/ENOMEM, or glibc itself could not start the lookup).

use std::path::Path;
use std::time::Duration;

use integration_tests::getent::{NsEnv, LOOKUP_TIMEOUT};
use integration_tests::lease_format::{status_file, Lease};
use integration_tests::modules;
use integration_tests::prerequisites;
use integration_tests::synthetic::{self, Synthetic};
use integration_tests::temp_dir::TempDir;

const MIB: u64 = 1 << 20;

/// Runs `getent hosts|ahosts NAME` under each address-space limit; returns
/// the limits at which it answered.
fn answers_under_limits(
    dir: &Path,
    database: &str,
    name: &str,
    expected: &str,
    limits_mib: &[u64],
) -> Vec<u64> {
    let env = NsEnv::new(dir, &modules::ours(), "libvirt libvirt_guest");
    let prlimit = prerequisites::find_on_path("prlimit").expect("prlimit");
    let mut answered = Vec::new();
    for &limit in limits_mib {
        let as_limit = format!("--as={}", limit * MIB);
        let out = env.run_command(
            &prlimit,
            &[&as_limit, "getent", database, name],
            &[],
            LOOKUP_TIMEOUT + Duration::from_secs(20),
        );
        let what = format!("{database} {name} at {limit} MiB: {out:?}");
        assert_eq!(out.stderr, "", "{what}");
        match out.status.code() {
            Some(0) => {
                assert!(out.stdout.contains(expected), "{what}");
                answered.push(limit);
            }
            Some(2) => assert_eq!(out.stdout, "", "{what}"),
            _ => panic!("died: {what}"),
        }
    }
    answered
}

#[test]
fn getent_under_an_address_space_limit_never_aborts() {
    if !prerequisites::satisfied(
        "getent_under_an_address_space_limit_never_aborts",
        &prerequisites::getent_harness(),
    ) || prerequisites::find_on_path("prlimit").is_none()
    {
        return;
    }
    let dir = TempDir::new("memory-pressure");
    let mut plan = Synthetic::new(10_000, 1, synthetic::Family::V4, synthetic::now() + 3600);
    plan.macs = true;
    let hosts = plan.write_into(&dir);
    let host = &hosts[5000];
    let limits = [3, 4, 5, 6, 7, 8, 10, 12, 16, 24, 32, 64, 256];
    for (database, name) in [("hosts", &host.hostname), ("ahosts", &host.domain)] {
        let answered = answers_under_limits(dir.path(), database, name, name, &limits);
        assert!(answered.contains(&256), "{database} {name}: {answered:?}");
    }

    // One 24 MB file (the C module resolves under 40 MiB).
    let big = TempDir::new("memory-pressure-24mb");
    let now = synthetic::now();
    let leases: Vec<Lease> = (0..130_000)
        .map(|i| {
            Lease::v4(
                &format!("10.{}.{}.{}", i >> 16, (i >> 8) & 255, i & 255),
                &format!(
                    "52:54:00:{:02x}:{:02x}:{:02x}",
                    i >> 16,
                    (i >> 8) & 255,
                    i & 255
                ),
                Some(&format!("big-{i:06}")),
                now + 3600,
            )
        })
        .collect();
    let file = status_file(&leases);
    assert!(file.len() > 20_000_000, "{}", file.len());
    big.write("virbr0.status", file);
    let answered = answers_under_limits(
        big.path(),
        "hosts",
        "big-065000",
        "10.0.253.232",
        &[8, 16, 24, 32, 40, 48, 64, 128, 256],
    );
    assert!(answered.contains(&256), "{answered:?}");
}
