//! The lease dir and the lock path are compiled in; a packager can change
//! them at build time only (`LIBVIRT_NSS_LEASE_DIR`,
//! `LIBVIRT_LEASESHELPER_LOCK`), never at run time.

use std::process::Command;

use integration_tests::leasehelper::{self, harness_available, Event, Sandbox};
use integration_tests::modules::workspace_root;
use integration_tests::temp_dir::TempDir;

#[test]
fn paths_are_overridable_at_build_time() {
    // Needs neither root nor namespaces: the paths point into a temp dir.
    let scratch = TempDir::new("lh-build-paths");
    let leases = scratch.path().join("leases");
    std::fs::create_dir(&leases).expect("mkdir leases");
    let lock = scratch.path().join("helper.pid");
    let target = scratch.path().join("target");
    let cargo = option_env!("CARGO").unwrap_or("cargo");
    let status = Command::new(cargo)
        .args([
            "build",
            "--release",
            "--quiet",
            "-p",
            "leasehelper",
            "--bin",
            "libvirt_leaseshelper",
        ])
        .current_dir(workspace_root())
        .env("CARGO_TARGET_DIR", &target)
        .env("LIBVIRT_NSS_LEASE_DIR", &leases)
        .env("LIBVIRT_LEASESHELPER_LOCK", &lock)
        .status()
        .expect("run cargo");
    assert!(status.success(), "cargo build with custom paths failed");
    let helper = target.join("release/libvirt_leaseshelper");

    let run = |args: &[&str], env: &[(&str, &str)]| {
        let out = Command::new(&helper)
            .env_clear()
            .envs(env.iter().copied())
            .args(args)
            .output()
            .expect("run helper");
        assert!(out.status.success(), "{args:?}: {out:?}");
        String::from_utf8(out.stdout).expect("UTF-8 stdout")
    };
    let env = [
        ("VIR_BRIDGE_NAME", "virbr7"),
        ("DNSMASQ_LEASE_EXPIRES", "4102444800"),
    ];
    run(&["add", "52:54:00:00:00:07", "10.7.0.7", "seven"], &env);
    assert_eq!(
        std::fs::read_to_string(leases.join("virbr7.status")).expect("status file in the compiled-in dir"),
        "[\n  {\n    \"ip-address\": \"10.7.0.7\",\n    \"mac-address\": \"52:54:00:00:00:07\",\n    \
         \"hostname\": \"seven\",\n    \"expiry-time\": 4102444800\n  }\n]\n"
    );
    assert_eq!(
        run(&["init"], &env[..1]),
        "4102444800 52:54:00:00:00:07 10.7.0.7 seven *\n"
    );
    assert!(!lock.exists(), "lock file not released");
}

#[test]
fn default_build_ignores_path_variables_at_run_time() {
    if !harness_available("default_build_ignores_path_variables_at_run_time", &[]) {
        return;
    }
    let helper = leasehelper::ours();
    let sandbox = Sandbox::new();
    let elsewhere = TempDir::new("lh-not-used");
    let elsewhere_path = elsewhere.path().to_string_lossy().into_owned();
    let event = Event::v4("virbr0", "add", "52:54:00:00:00:01", "10.0.0.1", "5", None)
        .env("LIBVIRT_NSS_LEASE_DIR", &elsewhere_path)
        .env(
            "LIBVIRT_LEASESHELPER_LOCK",
            &format!("{elsewhere_path}/lock"),
        );
    let out = sandbox.run(&helper, &event);
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(sandbox.read_string("virbr0.status").contains("10.0.0.1"));
    assert_eq!(
        std::fs::read_dir(elsewhere.path())
            .expect("readdir")
            .count(),
        0
    );
}
