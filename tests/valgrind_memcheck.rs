//! valgrind memcheck over the in-process FFI tests (`ffi_dlopen.rs`), a
//! short form of the stress test (`stress_concurrency.rs`) and a few seconds
//! of each fuzz target (`fuzz/`): each runs under `valgrind
//! --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite`
//! (the dlopen tests inside `scripts/nsenv.sh`) and must end with 0 errors
//! and 0 bytes definitely lost. No suppression file is used.
//!
//! The inner tests live in the other test binaries, which this test has
//! cargo (re)build and locate.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Instant;

use integration_tests::leasehelper;
use integration_tests::modules;
use integration_tests::nsenv::Namespace;
use integration_tests::prerequisites;
use integration_tests::rerun_in_namespace::IgnoredTest;
use integration_tests::temp_dir::TempDir;

const VALGRIND_ARGS: &[&str] = &[
    "--error-exitcode=99",
    "--leak-check=full",
    "--errors-for-leak-kinds=definite",
    "--show-leak-kinds=definite",
    "--track-origins=yes",
    "--num-callers=30",
];

/// The current build of test binary `name` of this crate: asks cargo to
/// (re)build it (`--no-run`) and to say where it is, so that a run of this
/// test alone never checks a stale binary.
fn sibling_test_binary(name: &str) -> PathBuf {
    let cargo = option_env!("CARGO").unwrap_or("cargo");
    let output = Command::new(cargo)
        .args(["test", "--release", "-p", "tests", "--no-run"])
        .args(["--message-format=json", "--test", name])
        .current_dir(modules::workspace_root())
        .stderr(Stdio::null())
        .output()
        .expect("run cargo test --no-run");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let wanted = format!("\"name\":\"{name}\"");
    stdout
        .lines()
        .filter(|line| line.contains(&wanted) && line.contains("\"test\":true"))
        .find_map(|line| {
            let start = line.find("\"executable\":\"")? + "\"executable\":\"".len();
            let end = start + line[start..].find('"')?;
            Some(PathBuf::from(&line[start..end]))
        })
        .unwrap_or_else(|| panic!("cargo did not build test binary {name}:\n{stdout}"))
}

/// Runs `inner` of `binary` (with `marker` and `envs` set) under valgrind in
/// `namespace` and prints the valgrind summary lines on stderr. Fails on any
/// error or definite leak.
fn memcheck(
    binary: &str,
    inner: &str,
    marker: &str,
    namespace: Namespace,
    envs: &[(&str, String)],
) {
    let mut missing = prerequisites::getent_harness();
    if prerequisites::find_on_path("valgrind").is_none() {
        missing.push(
            "command `valgrind` not on PATH (scripts/install-test-deps.sh installs it)".to_owned(),
        );
    }
    if !prerequisites::satisfied(inner, &missing) {
        return;
    }
    let mut valgrind = vec!["valgrind"];
    valgrind.extend(VALGRIND_ARGS);
    let mut test = IgnoredTest::new(inner, marker, namespace.modules(&modules::ours()))
        .in_binary(&sibling_test_binary(binary))
        .wrapped_in(&valgrind);
    for (k, v) in envs {
        test = test.env(k, v);
    }
    let started = Instant::now();
    let ran = test.output();
    let (stdout, stderr) = (&ran.stdout, &ran.stderr);
    let summary: Vec<&str> = stderr
        .lines()
        .filter(|l| {
            l.contains("ERROR SUMMARY")
                || l.contains("definitely lost")
                || l.contains("All heap blocks were freed")
        })
        .collect();
    eprintln!(
        "valgrind: {binary}::{inner} ({:.0} s): {}",
        started.elapsed().as_secs_f64(),
        summary.join(" | ")
    );
    assert!(
        ran.passed(),
        "{inner} under valgrind failed ({}; 99 = valgrind found errors):\n{stdout}\n{stderr}",
        ran.status
    );
    assert!(
        summary
            .iter()
            .any(|l| l.contains("ERROR SUMMARY: 0 errors")),
        "no clean valgrind summary:\n{stderr}"
    );
    assert!(
        !summary
            .iter()
            .any(|l| l.contains("definitely lost") && !l.contains("definitely lost: 0 bytes")),
        "definite leaks:\n{stderr}"
    );
}

const FFI_INSIDE: &str = "NSS_FFI_INSIDE_NAMESPACE";

fn ffi(inner: &str) {
    let dir = TempDir::from_fixture("libvirt-upstream-nssdata");
    memcheck(
        "ffi_dlopen",
        inner,
        FFI_INSIDE,
        Namespace::new().leases(dir.path()),
        &[],
    );
}

#[test]
fn ffi_entry_points_are_memcheck_clean() {
    ffi("inner_entry_points_answer_like_glibc_expects");
}

#[test]
fn ffi_short_buffers_are_memcheck_clean() {
    ffi("inner_short_buffers_ask_for_more_and_never_write_past_buflen");
}

#[test]
fn ffi_unaligned_buffers_are_memcheck_clean() {
    ffi("inner_unaligned_buffers_and_caller_supplied_tuples");
}

#[test]
fn ffi_missing_lease_dir_is_memcheck_clean() {
    memcheck(
        "ffi_dlopen",
        "inner_missing_lease_dir_is_unavailable",
        FFI_INSIDE,
        Namespace::new().lease_dir(None),
        &[],
    );
}

fn stress(inner: &str) {
    let dir = TempDir::new("valgrind-stress");
    memcheck(
        "stress_concurrency",
        inner,
        "NSS_STRESS_INSIDE_NAMESPACE",
        Namespace::new().leases(dir.path()).private_run(),
        &[
            ("NSS_STRESS_ITERATIONS", "150".to_owned()),
            (
                "NSS_STRESS_HELPER",
                leasehelper::ours().to_string_lossy().into_owned(),
            ),
        ],
    );
}

#[test]
fn stress_short_is_memcheck_clean() {
    stress("inner_lookups_stay_consistent_while_the_helper_rewrites_leases");
}

#[test]
fn fork_during_lookups_is_memcheck_clean() {
    stress("inner_fork_during_lookups_leaves_a_working_child");
}

/// The fuzz driver (`fuzz/`), (re)built once.
fn fuzz_driver() -> PathBuf {
    let cargo = option_env!("CARGO").unwrap_or("cargo");
    let status = Command::new(cargo)
        .args(["build", "--release", "-p", "fuzz", "--bin", "fuzz"])
        .current_dir(modules::workspace_root())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("run cargo build");
    assert!(status.success(), "building the fuzz driver failed");
    modules::workspace_root().join("target/release/fuzz")
}

/// A few seconds of each fuzz target under memcheck: random names, buffer
/// sizes and alignments through `common::ffi`, changing lease dirs, hostile
/// JSON. The driver's forked child runs under valgrind too; a valgrind
/// error makes it exit 99, which the driver reports as a crash.
#[test]
fn fuzz_targets_are_memcheck_clean() {
    let test = "fuzz_targets_are_memcheck_clean";
    let mut missing = Vec::new();
    if prerequisites::find_on_path("valgrind").is_none() {
        missing.push(
            "command `valgrind` not on PATH (scripts/install-test-deps.sh installs it)".to_owned(),
        );
    }
    if !prerequisites::satisfied(test, &missing) {
        return;
    }
    let driver = fuzz_driver();
    for (target, seconds) in [
        ("ffi", "8"),
        ("lookup", "4"),
        ("status_file", "3"),
        ("macs_file", "2"),
        ("helper_merge", "3"),
    ] {
        let output = Command::new("valgrind")
            .args(VALGRIND_ARGS)
            .arg("-q")
            .arg(&driver)
            .args([target, "--seconds", seconds])
            .stdin(Stdio::null())
            .output()
            .expect("run valgrind");
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        eprintln!("valgrind: {}", stdout.trim());
        assert!(
            output.status.success() && stdout.contains("crashes 0"),
            "fuzz target {target} under valgrind failed ({}):\n{stdout}\n{stderr}",
            output.status
        );
    }
}
