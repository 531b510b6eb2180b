//! The panic guard at the FFI boundary (DECISIONS.md N25) works in a C host
//! process with the unwinder the modules are linked with: GCC's static
//! `libgcc_eh`, not `libgcc_s.so.1` (nss-libvirt/static_unwinder.rs).
//!
//! No input is known to panic the modules, so the panic is forced from
//! outside: the LD_PRELOAD shim `tests/scripts/panic-clock-shim.c` makes the
//! first N `clock_gettime(CLOCK_REALTIME)` calls made by a module fail, and
//! Rust's `SystemTime::now()` panics on that. The lookup that panics must end
//! as UNAVAIL / EIO / NO_RECOVERY (not abort the process), and the next
//! lookup in the same process must answer. Checked with getent (one process,
//! two keys: exit 2 and the second key's answer), with a bare C host
//! (`tests/scripts/nss-c-host.c`: the exact triple, and no libgcc_s mapped),
//! and both again under valgrind.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use integration_tests::getent::{hosts_output, scripts_dir, CommandOutput, NsEnv};
use integration_tests::lease_format::{macs_file, status_file, DomainMacs, Lease};
use integration_tests::modules;
use integration_tests::prerequisites;
use integration_tests::temp_dir::TempDir;

const FUT: i64 = 4_102_444_800;
const LIMIT: Duration = Duration::from_secs(180);
const FAIL_VARIABLE: &str = "NSS_TEST_FAIL_REALTIME_CALLS";
/// `NSS_STATUS_UNAVAIL`, `EIO`, `NO_RECOVERY`: what a caught panic returns.
const PANICKED: &str = "status=-1 errno=5 h_errno=3";
const FOUND: &str = "status=1 errno=0 h_errno=0";

/// (service, first key, second key, second key's address) for each module.
const CASES: [(&str, &str, &str, &str); 2] = [
    ("libvirt", "vm-one", "vm-two", "192.168.122.12"),
    ("libvirt_guest", "dom-one", "dom-two", "192.168.122.12"),
];

fn module_file(service: &str) -> &'static str {
    if service == "libvirt" {
        modules::LIBVIRT
    } else {
        modules::LIBVIRT_GUEST
    }
}

/// Whether the tests can run here (a missing prerequisite is reported).
fn prerequisites_met(test: &str, valgrind: bool) -> bool {
    let mut missing = prerequisites::getent_harness();
    let mut commands = vec!["cc", "env", "readelf"];
    if valgrind {
        commands.push("valgrind");
    }
    for command in commands {
        if prerequisites::find_on_path(command).is_none() {
            missing.push(format!("command `{command}` not on PATH"));
        }
    }
    prerequisites::satisfied(test, &missing)
}

/// The shim and the C host, built from their sources into a scratch dir.
struct Tools {
    _dir: TempDir,
    shim: PathBuf,
    host: PathBuf,
}

impl Tools {
    fn build() -> Tools {
        let dir = TempDir::new("panic-guard-tools");
        let shim = dir.path().join("panic-clock-shim.so");
        let host = dir.path().join("nss-c-host");
        compile(&["-shared", "-fPIC"], "panic-clock-shim.c", &shim);
        compile(&[], "nss-c-host.c", &host);
        Tools {
            _dir: dir,
            shim,
            host,
        }
    }
}

fn compile(flags: &[&str], source: &str, output: &Path) {
    let result = Command::new("cc")
        .args(["-O2", "-Wall", "-Werror"])
        .args(flags)
        .arg("-o")
        .arg(output)
        .arg(scripts_dir().join(source))
        .arg("-ldl")
        .output()
        .expect("run cc");
    assert!(
        result.status.success(),
        "cc {source}: {}",
        String::from_utf8_lossy(&result.stderr)
    );
}

/// One network with two guests, each with a hostname and a domain.
fn lease_dir() -> TempDir {
    let dir = TempDir::new("panic-guard-leases");
    dir.write(
        "virbr0.status",
        status_file(&[
            Lease::v4("192.168.122.11", "52:54:00:00:00:11", Some("vm-one"), FUT),
            Lease::v4("192.168.122.12", "52:54:00:00:00:12", Some("vm-two"), FUT),
        ]),
    );
    let domain = |name: &str, mac: &str| DomainMacs {
        domain: name.to_owned(),
        macs: vec![mac.to_owned()],
    };
    dir.write(
        "virbr0.macs",
        macs_file(&[
            domain("dom-one", "52:54:00:00:00:11"),
            domain("dom-two", "52:54:00:00:00:12"),
        ]),
    );
    dir
}

/// Runs `command` in a namespace with `leases` and our `service` module,
/// with the shim preloaded and failing the first `failures` clock reads.
fn run_with_shim(
    tools: &Tools,
    leases: &TempDir,
    service: &str,
    failures: u32,
    command: &[&str],
) -> CommandOutput {
    let ns = NsEnv::new(leases.path(), &modules::ours(), &format!("files {service}"));
    let preload = format!("LD_PRELOAD={}", tools.shim.display());
    let fail = format!("{FAIL_VARIABLE}={failures}");
    let mut args = vec![preload.as_str(), fail.as_str()];
    args.extend_from_slice(command);
    let env = prerequisites::find_on_path("env").expect("env on PATH");
    ns.run_command(&env, &args, &[], LIMIT)
}

fn valgrind_prefix() -> Vec<&'static str> {
    vec![
        "valgrind",
        "-q",
        "--error-exitcode=99",
        "--leak-check=full",
        "--errors-for-leak-kinds=definite",
    ]
}

fn check_getent(tools: &Tools, leases: &TempDir, under_valgrind: bool) {
    for (service, first, second, second_address) in CASES {
        let mut command = if under_valgrind {
            valgrind_prefix()
        } else {
            Vec::new()
        };
        command.extend(["getent", "hosts", first, second]);

        // Without a forced failure both keys answer: the shim alone changes nothing.
        let control = run_with_shim(tools, leases, service, 0, &command);
        assert_eq!(
            control.status.code(),
            Some(0),
            "{service}: control run {command:?}: {control:?}"
        );

        // gethostbyname2(first, AF_INET6) then (first, AF_INET) both panic;
        // the second key is looked up in the same process and answers.
        let out = run_with_shim(tools, leases, service, 2, &command);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{service}: getent must fail the first key and survive: {out:?}"
        );
        assert_eq!(
            out.stdout,
            hosts_output(&[second_address], second),
            "{service}: the lookup after the panic must answer: {out:?}"
        );
        assert!(
            out.stderr.trim().is_empty(),
            "{service}: nothing on stderr (no panic message, no valgrind error): {out:?}"
        );
    }
}

fn check_c_host(tools: &Tools, leases: &TempDir, under_valgrind: bool) {
    for (service, first, _, _) in CASES {
        let module = modules::ours().join(module_file(service));
        let module = module.to_str().expect("UTF-8 module path");
        let host = tools.host.to_str().expect("UTF-8 host path");
        let mut command = if under_valgrind {
            valgrind_prefix()
        } else {
            Vec::new()
        };
        command.extend([host, module, service, first, first]);
        let out = run_with_shim(tools, leases, service, 1, &command);
        assert_eq!(out.status.code(), Some(0), "{service}: {out:?}");
        let expected = format!("{first} {PANICKED}\n{first} {FOUND}\nlibgcc_s mapped: no\n");
        assert_eq!(
            out.stdout, expected,
            "{service}: the first call panics (UNAVAIL/EIO/NO_RECOVERY), the second answers, \
             and the unwinder is the module's own: {out:?}"
        );
        assert!(out.stderr.trim().is_empty(), "{service}: {out:?}");
    }
}

#[test]
fn modules_do_not_depend_on_libgcc_s() {
    if !prerequisites_met("modules_do_not_depend_on_libgcc_s", false) {
        return;
    }
    for service in ["libvirt", "libvirt_guest"] {
        let module = modules::ours().join(module_file(service));
        let output = Command::new("readelf")
            .arg("-d")
            .arg(&module)
            .output()
            .expect("run readelf");
        let dynamic = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success(), "readelf -d {}", module.display());
        assert!(
            !dynamic.contains("libgcc_s"),
            "{} needs libgcc_s (libgcc_eh.a not found at build time?):\n{dynamic}",
            module.display()
        );
    }
}

#[test]
fn a_panic_inside_a_lookup_is_caught_in_getent_and_a_c_host() {
    if !prerequisites_met(
        "a_panic_inside_a_lookup_is_caught_in_getent_and_a_c_host",
        false,
    ) {
        return;
    }
    let tools = Tools::build();
    let leases = lease_dir();
    check_getent(&tools, &leases, false);
    check_c_host(&tools, &leases, false);
}

#[test]
fn a_panic_inside_a_lookup_is_caught_under_valgrind() {
    if !prerequisites_met("a_panic_inside_a_lookup_is_caught_under_valgrind", true) {
        return;
    }
    let tools = Tools::build();
    let leases = lease_dir();
    check_getent(&tools, &leases, true);
    check_c_host(&tools, &leases, true);
}
