//! Hostile lease dirs through glibc, with our modules only (libvirt's C
//! modules hang on a FIFO and fail every lookup on any broken file; DECISIONS.md
//! N2-N6, N24, N25).
//!
//! Each case plants one kind of bad entry, as `*.status` and as `*.macs`,
//! next to a well-formed `good.status`/`good.macs`. Every lookup must return
//! well before the timeout, print nothing on stderr, not die of a signal, and
//! still answer from the good files.

use std::fs;
use std::os::unix::fs::symlink;

use integration_tests::getent::{
    ahosts_output, hosts_output, Exit, Form, Lookup, NsEnv, Outcome, LOOKUP_TIMEOUT, NOT_FOUND,
    SUCCESS,
};
use integration_tests::lease_format::{macs_file, status_file, DomainMacs, Lease};
use integration_tests::modules;
use integration_tests::prerequisites;
use integration_tests::temp_dir::{set_mode, TempDir};

const FUT: i64 = 4_102_444_800;
const GOOD_IP: &str = "192.168.122.10";
const GOOD_MAC: &str = "52:54:00:00:00:01";
const MIB: usize = 1 << 20;

fn domain(name: &str, macs: &[&str]) -> DomainMacs {
    DomainMacs {
        domain: name.to_owned(),
        macs: macs.iter().map(|m| (*m).to_owned()).collect(),
    }
}

/// A lease dir holding only the well-formed files.
fn good_dir(label: &str) -> TempDir {
    let dir = TempDir::new(label);
    dir.write(
        "good.status",
        status_file(&[Lease::v4(GOOD_IP, GOOD_MAC, Some("vm-good"), FUT)]),
    );
    dir.write(
        "good.macs",
        macs_file(&[domain("good-domain", &[GOOD_MAC])]),
    );
    dir
}

/// What must still work, through both modules (`hosts: libvirt
/// libvirt_guest`: a hostname is answered by `libvirt`, a domain falls
/// through to `libvirt_guest`), forwards and backwards.
fn good_lookups() -> Vec<(Lookup, Exit, String)> {
    vec![
        (
            Lookup::new(Form::Hosts, "vm-good"),
            SUCCESS,
            hosts_output(&[GOOD_IP], "vm-good"),
        ),
        (
            Lookup::new(Form::Ahosts, "vm-good"),
            SUCCESS,
            ahosts_output(&[GOOD_IP], "vm-good"),
        ),
        (
            Lookup::new(Form::AhostsV4, "good-domain"),
            SUCCESS,
            ahosts_output(&[GOOD_IP], "good-domain"),
        ),
        (
            Lookup::new(Form::Hosts, GOOD_IP),
            SUCCESS,
            hosts_output(&[GOOD_IP], "vm-good"),
        ),
        (
            Lookup::new(Form::Ahosts, "vm-absent"),
            NOT_FOUND,
            String::new(),
        ),
    ]
}

fn assert_prompt_and_quiet(case: &str, outcome: &Outcome) {
    assert!(
        !matches!(outcome.exit, Exit::TimedOut | Exit::Signal(_)),
        "{case}: {outcome}"
    );
    assert!(outcome.elapsed < LOOKUP_TIMEOUT, "{case}: {outcome}");
    assert_eq!(outcome.stderr, "", "{case}: {outcome}");
}

/// Runs `extra` lookups after the good ones and returns their outcomes.
fn assert_good_survives(case: &str, dir: &TempDir, extra: &[Lookup]) -> Vec<Outcome> {
    let good = good_lookups();
    let mut lookups: Vec<Lookup> = good.iter().map(|(l, ..)| l.clone()).collect();
    lookups.extend_from_slice(extra);
    let outcomes = NsEnv::new(dir.path(), &modules::ours(), "libvirt libvirt_guest").run(&lookups);
    for outcome in &outcomes {
        assert_prompt_and_quiet(case, outcome);
    }
    for ((_, exit, stdout), outcome) in good.iter().zip(&outcomes) {
        assert_eq!(
            (outcome.exit, outcome.stdout.as_str()),
            (*exit, stdout.as_str()),
            "{case}: {outcome}"
        );
    }
    outcomes.into_iter().skip(good.len()).collect()
}

fn harness_ready(test: &str) -> bool {
    prerequisites::satisfied(test, &prerequisites::getent_harness())
}

/// One hostile ingredient, planted under both suffixes.
struct Hostile {
    name: &'static str,
    plant: fn(&TempDir),
}

fn mkfifo(dir: &TempDir, name: &str) {
    let path = std::ffi::CString::new(dir.path().join(name).into_os_string().into_encoded_bytes())
        .expect("no NUL in temp path");
    // SAFETY: `path` is a valid NUL-terminated string for the duration of the call.
    let rc = unsafe { libc::mkfifo(path.as_ptr(), 0o644) };
    assert_eq!(rc, 0, "mkfifo {name}: {}", std::io::Error::last_os_error());
}

/// A tiny deterministic generator: the same "random" bytes on every run.
fn noise(len: usize, mut seed: u64) -> Vec<u8> {
    (0..len)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed as u8
        })
        .collect()
}

fn hostile_ingredients() -> Vec<Hostile> {
    vec![
        Hostile {
            name: "fifo",
            plant: |d| {
                mkfifo(d, "x.status");
                mkfifo(d, "x.macs");
            },
        },
        Hostile {
            name: "symlink-to-dev-zero",
            plant: |d| {
                symlink("/dev/zero", d.path().join("y.status")).expect("symlink");
                symlink("/dev/zero", d.path().join("y.macs")).expect("symlink");
            },
        },
        Hostile {
            name: "directory",
            plant: |d| {
                for name in ["z.status", "z.macs"] {
                    fs::create_dir(d.path().join(name)).expect("mkdir");
                    set_mode(&d.path().join(name), 0o755);
                }
            },
        },
        Hostile {
            name: "random-bytes",
            plant: |d| {
                d.write("random.status", noise(64 * 1024, 0x9e37_79b9_7f4a_7c15));
                d.write("random.macs", noise(64 * 1024, 0x2545_f491_4f6c_dd1d));
            },
        },
        Hostile {
            name: "70-mib",
            plant: |d| {
                // Valid JSON, padded with whitespace past the 32 MiB cap (N5).
                let lease = status_file(&[Lease::v4(
                    "192.168.122.66",
                    "52:54:00:00:00:66",
                    Some("vm-huge"),
                    FUT,
                )]);
                let mut huge = lease
                    .trim_end()
                    .trim_end_matches(']')
                    .to_owned()
                    .into_bytes();
                huge.resize(70 * MIB, b' ');
                huge.extend_from_slice(b"]\n");
                d.write("huge.status", &huge);
                let macs = macs_file(&[domain("huge-domain", &[GOOD_MAC])]);
                let mut huge = macs
                    .trim_end()
                    .trim_end_matches(']')
                    .to_owned()
                    .into_bytes();
                huge.resize(70 * MIB, b' ');
                huge.extend_from_slice(b"]\n");
                d.write("huge.macs", &huge);
            },
        },
        Hostile {
            name: "nested-200000-deep",
            plant: |d| {
                d.write("deep.status", "[".repeat(200_000));
                d.write("deep.macs", "[".repeat(200_000));
                d.write(
                    "deep-closed.status",
                    format!("{}{}", "[".repeat(200_000), "]".repeat(200_000)),
                );
                d.write(
                    "deep-objects.macs",
                    format!("[{}", "{\"a\":".repeat(200_000)),
                );
            },
        },
        Hostile {
            name: "invalid-utf-8",
            plant: |d| {
                let mut status = status_file(&[Lease::v4(
                    "192.168.122.67",
                    "52:54:00:00:00:67",
                    Some("vm-utf8-XX"),
                    FUT,
                )])
                .into_bytes();
                let at = status.windows(2).position(|w| w == b"XX").expect("marker");
                status[at..at + 2].copy_from_slice(&[0xff, 0xfe]);
                d.write("utf8.status", &status);
                d.write(
                    "utf8.macs",
                    b"[{\"domain\": \"dom-\xc3\x28\", \"macs\": [\"52:54:00:00:00:01\"]}]\n",
                );
            },
        },
        Hostile {
            name: "wrong-json-types",
            plant: |d| {
                let files: [(&str, &str); 9] = [
                    ("object.status", "{\"ip-address\": \"192.168.122.68\", \"mac-address\": \"52:54:00:00:00:68\", \"hostname\": \"vm-types\"}"),
                    ("ip-int.status", "[{\"ip-address\": 1, \"mac-address\": \"52:54:00:00:00:68\", \"hostname\": \"vm-types\"}]"),
                    ("host-int.status", "[{\"ip-address\": \"192.168.122.68\", \"mac-address\": \"52:54:00:00:00:68\", \"hostname\": 5}]"),
                    ("expiry-str.status", "[{\"ip-address\": \"192.168.122.68\", \"mac-address\": [], \"hostname\": {}, \"expiry-time\": \"x\"}]"),
                    ("scalars.status", "[1, \"x\", null, true, [[]]]"),
                    ("overflow.status", "[{\"ip-address\": \"192.168.122.68\", \"mac-address\": \"52:54:00:00:00:68\", \"hostname\": \"vm-types\", \"expiry-time\": 99999999999999999999}]"),
                    ("object.macs", "{\"domain\": \"types-domain\", \"macs\": [\"52:54:00:00:00:01\"]}"),
                    ("macs-str.macs", "[{\"domain\": \"types-domain\", \"macs\": \"52:54:00:00:00:01\"}]"),
                    ("domain-int.macs", "[{\"domain\": 7, \"macs\": [1, null, {}]}]"),
                ];
                for (name, text) in files {
                    d.write(name, text);
                }
            },
        },
        Hostile {
            name: "group-and-world-writable",
            plant: |d| {
                // N6: anyone who can write them could hijack names.
                let hijack = status_file(&[Lease::v4(
                    "192.168.122.69",
                    "52:54:00:00:00:69",
                    Some("vm-hijack"),
                    FUT,
                )]);
                set_mode(&d.write("world.status", &hijack), 0o666);
                set_mode(&d.write("group.status", &hijack), 0o664);
                let hijack_macs = macs_file(&[domain("hijack-domain", &[GOOD_MAC])]);
                set_mode(&d.write("world.macs", &hijack_macs), 0o666);
                set_mode(&d.write("group.macs", &hijack_macs), 0o664);
            },
        },
        Hostile {
            name: "empty-and-whitespace",
            plant: |d| {
                d.write("empty.status", "");
                d.write("empty.macs", "");
                d.write("blank.status", " \n\t\n");
                d.write("blank.macs", "\n\n  \n");
            },
        },
    ]
}

/// Names only the hostile files mention: none of them may resolve.
fn hostile_names() -> Vec<Lookup> {
    [
        "vm-huge",
        "huge-domain",
        "vm-hijack",
        "hijack-domain",
        "vm-types",
        "types-domain",
    ]
    .iter()
    .map(|n| Lookup::new(Form::Ahosts, n))
    .collect()
}

fn assert_hostile_names_unresolved(case: &str, outcomes: &[Outcome]) {
    for outcome in outcomes {
        assert_eq!(
            outcome.observable(),
            (NOT_FOUND, "", ""),
            "{case}: a name from an ignored file resolved: {outcome}"
        );
    }
}

#[test]
fn each_hostile_entry_alone_leaves_the_good_files_answering() {
    if !harness_ready("each_hostile_entry_alone_leaves_the_good_files_answering") {
        return;
    }
    for hostile in hostile_ingredients() {
        let dir = good_dir(hostile.name);
        (hostile.plant)(&dir);
        let extra = assert_good_survives(hostile.name, &dir, &hostile_names());
        assert_hostile_names_unresolved(hostile.name, &extra);
    }
}

#[test]
fn all_hostile_entries_together_leave_the_good_files_answering() {
    if !harness_ready("all_hostile_entries_together_leave_the_good_files_answering") {
        return;
    }
    let dir = good_dir("all-hostile");
    for hostile in hostile_ingredients() {
        (hostile.plant)(&dir);
    }
    let extra = assert_good_survives("all together", &dir, &hostile_names());
    assert_hostile_names_unresolved("all together", &extra);
}

/// N6 for the directory itself: a group- or world-writable lease dir is
/// ignored as a whole (not found, not an error that prints something).
#[test]
fn writable_lease_dir_is_ignored() {
    if !harness_ready("writable_lease_dir_is_ignored") {
        return;
    }
    for mode in [0o777, 0o775] {
        let dir = good_dir("writable-dir");
        set_mode(dir.path(), mode);
        let lookups = [
            Lookup::new(Form::Hosts, "vm-good"),
            Lookup::new(Form::Ahosts, "good-domain"),
        ];
        let outcomes =
            NsEnv::new(dir.path(), &modules::ours(), "libvirt libvirt_guest").run(&lookups);
        for outcome in &outcomes {
            assert_prompt_and_quiet(&format!("dir mode {mode:o}"), outcome);
            assert_eq!(
                (outcome.exit, outcome.stdout.as_str()),
                (NOT_FOUND, ""),
                "dir mode {mode:o}: {outcome}"
            );
        }
    }
}

/// No lease dir at all (N18): every form fails quietly.
#[test]
fn missing_lease_dir_fails_quietly() {
    if !harness_ready("missing_lease_dir_fails_quietly") {
        return;
    }
    let env = NsEnv {
        leases: None,
        ..NsEnv::new(
            std::path::Path::new("/"),
            &modules::ours(),
            "libvirt libvirt_guest",
        )
    };
    for outcome in env.run(&Lookup::all_forms("vm-good")) {
        assert_prompt_and_quiet("no lease dir", &outcome);
        assert_eq!(outcome.observable(), (NOT_FOUND, "", ""), "{outcome}");
    }
}

/// N32: a guest-chosen hostname that is not a valid hostname is never handed
/// out by a reverse lookup, so `getent hosts <its address>` cannot print a
/// forged line; N33: the empty name resolves nothing.
#[test]
fn reverse_lookups_forge_no_line_and_the_empty_name_matches_nothing() {
    if !harness_ready("reverse_lookups_forge_no_line_and_the_empty_name_matches_nothing") {
        return;
    }
    let dir = good_dir("forged-names");
    dir.write(
        "evil.status",
        status_file(&[
            Lease::v4(
                "192.168.122.66",
                "52:54:00:00:00:66",
                Some("evil\n10.0.0.66 injected-line"),
                FUT,
            ),
            Lease::v4("192.168.122.67", "52:54:00:00:00:67", Some(""), FUT),
            Lease::v4("192.168.122.68", "52:54:00:00:00:68", Some("my vm"), FUT),
        ]),
    );
    dir.write(
        "evil.macs",
        macs_file(&[
            domain("line\nbreak", &["52:54:00:00:00:66"]),
            domain("", &["52:54:00:00:00:67"]),
        ]),
    );
    let lookups = [
        Lookup::new(Form::Hosts, "192.168.122.66"),
        Lookup::new(Form::Hosts, "192.168.122.67"),
        Lookup::new(Form::Hosts, "192.168.122.68"),
        Lookup::new(Form::Ahosts, ""),
        Lookup::new(Form::Hosts, ""),
        // forward lookups of such a name still match: the printed name is
        // the query, the address the guest's own lease
        Lookup::new(Form::Ahosts, "my vm"),
    ];
    let outcomes = assert_good_survives("forged names", &dir, &lookups);
    for outcome in &outcomes[..5] {
        assert_eq!(
            outcome.observable(),
            (NOT_FOUND, "", ""),
            "a forged or empty name answered: {outcome}"
        );
    }
    assert_eq!(
        (outcomes[5].exit, outcomes[5].stdout.as_str()),
        (
            SUCCESS,
            ahosts_output(&["192.168.122.68"], "my vm").as_str()
        ),
        "{}",
        outcomes[5]
    );
}
