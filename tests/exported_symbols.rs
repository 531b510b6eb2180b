//! Each module exports exactly glibc's six `hosts` entry points under its own
//! service name, and nothing else: no Rust symbols leak into the host
//! process's symbol namespace. Checked on the built files with `nm -D`, as a
//! packager would.

use std::process::Command;

use integration_tests::modules;
use integration_tests::prerequisites;

const ENTRY_POINTS: [&str; 6] = [
    "gethostbyaddr2_r",
    "gethostbyaddr_r",
    "gethostbyname2_r",
    "gethostbyname3_r",
    "gethostbyname4_r",
    "gethostbyname_r",
];

fn defined_dynamic_symbols(file: &str) -> Vec<String> {
    let path = modules::ours().join(file);
    let output = Command::new("nm")
        .args(["-D", "--defined-only"])
        .arg(&path)
        .output()
        .expect("run nm");
    assert!(
        output.status.success(),
        "nm {}: {}",
        path.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    let mut symbols: Vec<String> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| line.split_whitespace().last().map(str::to_owned))
        .collect();
    symbols.sort();
    symbols
}

fn readelf_dynamic(file: &str) -> String {
    let output = Command::new("readelf")
        .arg("-d")
        .arg(modules::ours().join(file))
        .output()
        .expect("run readelf");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn each_module_exports_exactly_its_six_entry_points() {
    let missing: Vec<String> = ["nm", "readelf"]
        .iter()
        .filter(|tool| prerequisites::find_on_path(tool).is_none())
        .map(|tool| format!("command `{tool}` (binutils) not on PATH"))
        .collect();
    if !prerequisites::satisfied("exported_symbols", &missing) {
        return;
    }
    for (file, service) in [
        (modules::LIBVIRT, "libvirt"),
        (modules::LIBVIRT_GUEST, "libvirt_guest"),
    ] {
        let expected: Vec<String> = ENTRY_POINTS
            .iter()
            .map(|f| format!("_nss_{service}_{f}"))
            .collect();
        assert_eq!(defined_dynamic_symbols(file), expected, "{file}");
        let dynamic = readelf_dynamic(file);
        assert!(
            dynamic.contains(&format!("Library soname: [{file}]")),
            "{file} soname:\n{dynamic}"
        );
        assert!(
            dynamic.contains("NODELETE"),
            "{file} is not linked -z nodelete:\n{dynamic}"
        );
    }
}
