//! A lease directory with many network files (one lease each): a cold
//! `getent hosts NAME` (a fresh process: glibc asks `gethostbyname2_r` for
//! AF_INET6, then AF_INET) answers right and makes at most two `stat`-family
//! calls per file (the `fstat` of the opened file, and the second call's
//! revalidation), where it made four (a useless `stat` of every file not
//! read yet, and one before opening each file the listing already called
//! regular): what made a cold lookup over 100,000 files slower than the C
//! module's (DECISIONS.md N31). The count does not depend on the number of
//! files or on the machine's load; the speed itself is measured by the
//! benchmark, never asserted in a test.

use std::path::Path;
use std::time::Duration;

use integration_tests::getent::{hosts_output, Form, Lookup, Modules, NsEnv, SUCCESS};
use integration_tests::modules;
use integration_tests::prerequisites;
use integration_tests::temp_dir::TempDir;

const FILES: usize = 20_000;
const NAME: &str = "vm-010000";
const ADDRESS: &str = "10.0.39.16";

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

/// One cold `getent hosts NAME` answers the name's lease.
fn assert_answers(env: &NsEnv) {
    let outcome = env.run_one(Lookup::new(Form::Hosts, NAME));
    assert_eq!(
        (outcome.exit, outcome.stdout.as_str()),
        (SUCCESS, hosts_output(&[ADDRESS], NAME).as_str()),
        "{outcome}"
    );
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
fn a_cold_lookup_stats_each_of_many_network_files_at_most_twice() {
    let test = "a_cold_lookup_stats_each_of_many_network_files_at_most_twice";
    if !prerequisites::satisfied(test, &prerequisites::getent_harness()) {
        return;
    }
    let strace =
        prerequisites::find_on_path("strace").ok_or_else(|| "strace not on PATH".to_owned());
    if prerequisites::available(test, strace).is_none() {
        return;
    }
    let dir = lease_dir();
    assert_answers(&env(dir.path(), &modules::ours()));
    let stats = stat_calls(dir.path());
    assert!(
        stats <= 2 * FILES as u64 + 100,
        "{stats} stat calls for {FILES} files"
    );
}
