//! A lease directory with 100,000 network files (one lease each): a cold
//! `getent hosts NAME` (a fresh process: glibc asks `gethostbyname2_r` for
//! AF_INET6, then AF_INET) must be no slower than with libvirt's C module
//! (DECISIONS.md N31).
//!
//! Two judges: the wall time of whole `getent` runs, ours and C's
//! alternating (medians of five each), and, independent of the machine's
//! load, the `stat` calls a cold lookup makes: at most two per file (the
//! `fstat` of the opened file, and the second call's revalidation), where we
//! made four (a useless `stat` of every file not read yet, and one before
//! opening each file the listing already called regular).

use std::path::Path;
use std::time::Duration;

use integration_tests::getent::{hosts_output, Form, Lookup, Modules, NsEnv, SUCCESS};
use integration_tests::modules;
use integration_tests::prerequisites;
use integration_tests::temp_dir::TempDir;

const FILES: usize = 100_000;
const NAME: &str = "vm-050000";
const ADDRESS: &str = "10.0.195.80";

fn lease_dir() -> TempDir {
    let dir = TempDir::new("many-networks");
    for i in 0..FILES {
        dir.write(
            &format!("net{i:06}.status"),
            format!(
                "[\n  {{\n    \"ip-address\": \"10.{}.{}.{}\",\n    \"mac-address\": \
                 \"52:54:00:{:02x}:{:02x}:{:02x}\",\n    \"hostname\": \"vm-{i:06}\",\n    \
                 \"expiry-time\": 4102444800\n  }}\n]\n",
                i >> 16,
                (i >> 8) & 255,
                i & 255,
                i >> 16,
                (i >> 8) & 255,
                i & 255
            ),
        );
    }
    dir
}

fn env(dir: &Path, modules: &Path) -> NsEnv {
    NsEnv {
        leases: Some(dir.to_path_buf()),
        modules: Modules::Dir(modules.to_path_buf()),
        hosts: "libvirt".to_owned(),
    }
}

/// Wall time of one cold `getent hosts NAME`, checking its answer.
fn timed(env: &NsEnv) -> Duration {
    let outcome = env.run_one(Lookup::new(Form::Hosts, NAME));
    assert_eq!(
        (outcome.exit, outcome.stdout.as_str()),
        (SUCCESS, hosts_output(&[ADDRESS], NAME).as_str()),
        "{outcome}"
    );
    outcome.elapsed
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// `stat`-family calls of one cold `getent hosts NAME` with our modules.
fn stat_calls(dir: &Path) -> u64 {
    let scratch = TempDir::new("many-networks-strace");
    let summary = scratch.path().join("summary");
    let strace = prerequisites::find_on_path("strace").expect("strace");
    let summary_arg = summary.to_str().expect("UTF-8 temp path");
    let out = env(dir, &modules::ours()).run_command(
        &strace,
        &["-f", "-c", "-o", summary_arg, "getent", "hosts", NAME],
        &[],
        Duration::from_secs(120),
    );
    assert!(out.status.success(), "{out:?}");
    let summary = std::fs::read_to_string(&summary).expect("strace summary");
    summary
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let syscall = *fields.last()?;
            let is_stat = matches!(
                syscall,
                "statx" | "newfstatat" | "stat" | "lstat" | "fstat" | "fstatat64"
            );
            // `% time seconds usecs/call calls [errors] syscall`
            is_stat.then(|| fields[3].parse::<u64>().ok()).flatten()
        })
        .sum()
}

#[test]
fn a_cold_lookup_over_100000_network_files_is_no_slower_than_c() {
    let test = "a_cold_lookup_over_100000_network_files_is_no_slower_than_c";
    if !prerequisites::satisfied(test, &prerequisites::getent_harness()) {
        return;
    }
    let strace =
        prerequisites::find_on_path("strace").ok_or_else(|| "strace not on PATH".to_owned());
    if prerequisites::available(test, strace).is_none() {
        return;
    }
    let dir = lease_dir();

    let stats = stat_calls(dir.path());
    assert!(
        stats <= 2 * FILES as u64 + 100,
        "{stats} stat calls for {FILES} files"
    );

    let Some(c_modules) = prerequisites::available(test, modules::libvirt_c()) else {
        return;
    };
    let ours = env(dir.path(), &modules::ours());
    let c = env(dir.path(), &c_modules);
    // Both read the files once before timing (the page cache is warm for both).
    timed(&ours);
    timed(&c);
    let (mut ours_times, mut c_times) = (Vec::new(), Vec::new());
    for _ in 0..5 {
        ours_times.push(timed(&ours));
        c_times.push(timed(&c));
    }
    let (ours_median, c_median) = (median(ours_times.clone()), median(c_times.clone()));
    assert!(
        ours_median <= c_median,
        "ours {ours_median:?} (runs {ours_times:?}), C {c_median:?} (runs {c_times:?})"
    );
}
