//! A setuid-root program run by `nobody` resolves through our modules, and
//! no environment variable changes what it reads (DECISIONS.md N1: the lease
//! dir is compiled in; glibc ignores LD_LIBRARY_PATH/LD_PRELOAD for setuid
//! programs, and the modules read no variable at all).
//!
//! Inside `scripts/nsenv.sh` (our modules bound over the system ones, which
//! is also how setuid programs load them), a copy of `getent` (and of `id`,
//! to prove the setuid bit takes effect) is made setuid root on a fresh
//! tmpfs (no `nosuid`), then run through `setpriv` as nobody, once with an
//! empty environment and once with a hostile one. The answers must be
//! identical and come from the compiled-in lease dir. A control run of the
//! same program *without* the setuid bit shows the hostile environment does
//! take effect where glibc allows it, so the comparison is meaningful.

use std::path::Path;

use integration_tests::lease_format::{macs_file, status_file, DomainMacs, Lease};
use integration_tests::modules;
use integration_tests::nsenv::Namespace;
use integration_tests::prerequisites;
use integration_tests::temp_dir::{set_mode, TempDir};

const FAR: i64 = 4_102_444_800;

/// Queries and what each must answer (a substring of getent's output).
const QUERIES: &[(&str, &str, &str)] = &[
    ("hosts", "suidvm", "192.168.150.7"),
    ("ahostsv4", "SUIDVM", "192.168.150.7"),
    ("hosts", "suiddom", "192.168.150.7"),
    // reverse lookups exist only in our modules (N22): proves they answered
    ("hosts", "192.168.150.7", "suidvm"),
    ("hosts", "evilvm", "rc=2"),
];

const SCRIPT: &str = r#"
set -u
stage=$1 evil=$2; shift 2
mount -t tmpfs -o mode=0755,size=16m nss-suid "$stage"
for prog in getent id; do
    cp "$(command -v "$prog")" "$stage/$prog"
    chown root:root "$stage/$prog"
    chmod 4755 "$stage/$prog"
done
cp "$(command -v getent)" "$stage/getent-plain"
chmod 0755 "$stage/getent-plain"
as_nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups -- "$@"; }
echo "ids: $(as_nobody env -i "$stage/id" -u) $(as_nobody env -i "$stage/id" -ru)"
hostile=(
    PATH=/usr/sbin:/usr/bin:/sbin:/bin
    LD_LIBRARY_PATH="$evil/lib"
    LD_PRELOAD="$evil/lib/libnss_libvirt.so.2"
    LD_AUDIT="$evil/lib/libnss_libvirt.so.2"
    GLIBC_TUNABLES=glibc.malloc.check=3
    LIBVIRT_NSS_LEASE_DIR="$evil/leases"
    LIBVIRT_NSS_DEBUG=1
    LIBVIRT_DEBUG=1
    NSS_MODULES_DIR="$evil/lib"
    LOCALSTATEDIR="$evil" RUNSTATEDIR="$evil" TMPDIR="$evil" HOME="$evil"
    XDG_RUNTIME_DIR="$evil" HOSTALIASES="$evil/aliases" RES_OPTIONS=debug
    LANG=tr_TR.UTF-8 LC_ALL=tr_TR.UTF-8 LC_CTYPE=tr_TR.UTF-8 GCONV_PATH="$evil"
)
while [ $# -ge 2 ]; do
    db=$1 key=$2; shift 2
    clean=$(as_nobody env -i PATH=/usr/bin:/bin "$stage/getent" "$db" "$key" 2>/dev/null; echo "rc=$?")
    evil_out=$(as_nobody env -i "${hostile[@]}" "$stage/getent" "$db" "$key" 2>/dev/null; echo "rc=$?")
    control=$(as_nobody env -i PATH=/usr/bin:/bin LD_LIBRARY_PATH="$evil/lib" "$stage/getent-plain" "$db" "$key" 2>/dev/null; echo "rc=$?")
    printf 'QUERY %s %s\nCLEAN %s\nHOSTILE %s\nCONTROL %s\n' "$db" "$key" "${clean//$'\n'/ }" "${evil_out//$'\n'/ }" "${control//$'\n'/ }"
done
"#;

/// Where glibc loads NSS modules from for setuid programs: nsenv.sh binds
/// ours over the installed files there, so some must be installed.
fn system_module_installed() -> Result<(), String> {
    let multiarch = format!("{}-linux-gnu", std::env::consts::ARCH);
    let found = ["/lib", "/usr/lib"].iter().any(|lib| {
        Path::new(lib)
            .join(&multiarch)
            .join(modules::LIBVIRT)
            .exists()
    });
    if found {
        Ok(())
    } else {
        Err(
            "no system libnss_libvirt.so.2 to bind ours over (Debian package libnss-libvirt): \
             setuid programs ignore LD_LIBRARY_PATH"
                .to_owned(),
        )
    }
}

#[test]
fn setuid_program_as_nobody_resolves_and_ignores_the_environment() {
    let test = "setuid_program_as_nobody_resolves_and_ignores_the_environment";
    let mut missing = prerequisites::getent_harness();
    for command in ["setpriv", "id", "env", "chown"] {
        if prerequisites::find_on_path(command).is_none() {
            missing.push(format!("command `{command}` not on PATH"));
        }
    }
    if let Err(why) = system_module_installed() {
        missing.push(why);
    }
    if !prerequisites::satisfied(test, &missing) {
        return;
    }

    let leases = TempDir::new("suid-leases");
    leases.write(
        "virbr0.status",
        status_file(&[Lease::v4(
            "192.168.150.7",
            "52:54:00:15:00:07",
            Some("suidvm"),
            FAR,
        )]),
    );
    leases.write(
        "virbr0.macs",
        macs_file(&[DomainMacs {
            domain: "suiddom".to_owned(),
            macs: vec!["52:54:00:15:00:07".to_owned()],
        }]),
    );
    // What a hostile environment points at: other leases, and a "module"
    // that is not even an ELF file.
    let evil = TempDir::new("suid-evil");
    for sub in ["leases", "lib"] {
        std::fs::create_dir(evil.path().join(sub)).expect("mkdir");
        set_mode(&evil.path().join(sub), 0o755);
    }
    let evil_leases = status_file(&[
        Lease::v4("10.66.66.66", "52:54:00:66:00:01", Some("suidvm"), FAR),
        Lease::v4("10.66.66.67", "52:54:00:66:00:02", Some("evilvm"), FAR),
    ]);
    evil.write("leases/virbr0.status", &evil_leases);
    evil.write("aliases", "suidvm evilvm\n");
    for module in [modules::LIBVIRT, modules::LIBVIRT_GUEST] {
        evil.write(&format!("lib/{module}"), "not an ELF file\n");
    }
    let stage = TempDir::new("suid-stage");

    let mut command = Namespace::new()
        .leases(leases.path())
        .modules(&modules::ours())
        .hosts("files libvirt libvirt_guest")
        .command("bash");
    command
        .args(["-c", SCRIPT, "setuid-lookup"])
        .arg(stage.path())
        .arg(evil.path());
    for (db, key, _) in QUERIES {
        command.args([db, key]);
    }
    let output = command.output().expect("run nsenv.sh");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{}:\n{stdout}\n{stderr}",
        output.status
    );

    // The setuid bit took effect: euid root, real uid nobody.
    let ids = stdout
        .lines()
        .find_map(|l| l.strip_prefix("ids: "))
        .unwrap_or_else(|| panic!("no ids line:\n{stdout}\n{stderr}"));
    let ids: Vec<&str> = ids.split_whitespace().collect();
    assert_eq!(
        ids.first(),
        Some(&"0"),
        "setuid not effective (nosuid mount?): {stdout}"
    );
    assert_ne!(ids.get(1), Some(&"0"), "not running as nobody: {stdout}");

    let lines: Vec<&str> = stdout.lines().collect();
    let mut control_differs = false;
    for (i, (db, key, expected)) in QUERIES.iter().enumerate() {
        let block = lines
            .iter()
            .position(|l| *l == format!("QUERY {db} {key}"))
            .unwrap_or_else(|| panic!("query {i} missing:\n{stdout}\n{stderr}"));
        let field = |tag: &str| {
            lines[block + 1..block + 4]
                .iter()
                .find_map(|l| l.strip_prefix(tag))
                .unwrap_or_else(|| panic!("{tag} missing for {db} {key}:\n{stdout}"))
        };
        let (clean, hostile, control) = (field("CLEAN "), field("HOSTILE "), field("CONTROL "));
        assert!(
            clean.contains(expected),
            "setuid getent {db} {key} as nobody: expected {expected:?}, got {clean:?}"
        );
        assert!(
            !clean.contains("10.66.66"),
            "{db} {key}: read the hostile lease dir: {clean:?}"
        );
        assert_eq!(
            hostile, clean,
            "setuid getent {db} {key}: the environment changed the answer"
        );
        control_differs |= control != clean;
        eprintln!(
            "setuid: getent {db} {key}: {clean} (not setuid, hostile LD_LIBRARY_PATH: {control})"
        );
    }
    assert!(
        control_differs,
        "the hostile LD_LIBRARY_PATH changed nothing even without setuid: the test proves nothing\n{stdout}"
    );
}
