//! The CI smoke run of every fuzz target: the committed seeds, then a few
//! seconds of mutation each (`FUZZ_SMOKE_SECONDS`, default 6; the five run
//! two at a time, well under a minute). `make fuzz` runs the long version.

use std::process::Command;

fn smoke(target: &str) {
    let seconds = std::env::var("FUZZ_SMOKE_SECONDS").unwrap_or_else(|_| "6".to_owned());
    let output = Command::new(env!("CARGO_BIN_EXE_fuzz"))
        .args([target, "--seconds", &seconds])
        .output()
        .expect("run the fuzz driver");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    eprint!("{stdout}");
    assert!(
        output.status.success() && stdout.contains("crashes 0"),
        "fuzz target {target} failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    let execs: u64 = stdout
        .split_whitespace()
        .nth(2)
        .and_then(|n| n.parse().ok())
        .expect("an exec count");
    assert!(execs > 100, "{target}: only {execs} executions");
}

#[test]
fn status_file() {
    smoke("status_file");
}

#[test]
fn macs_file() {
    smoke("macs_file");
}

#[test]
fn lookup() {
    smoke("lookup");
}

#[test]
fn ffi() {
    smoke("ffi");
}

#[test]
fn helper_merge() {
    smoke("helper_merge");
}
