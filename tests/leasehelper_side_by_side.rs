//! Our `libvirt_leaseshelper` next to libvirt 9.0.0's C helper: the same
//! dnsmasq-style event sequences through both, each in its own private
//! mount namespace, must give identical exit codes, stdout, lease files
//! (bytes and modes) and, for the early command-line exits, stderr. The
//! only differences are the fixes of DECISIONS.md, asserted explicitly:
//! H6 (corrupt file kept aside), H7 (no `"server-duid": null`), H8 (MAC
//! from the client DUID).

use std::path::PathBuf;

use integration_tests::leasehelper::{
    self, describe_difference, harness_available, Event, Outcome, Sandbox,
};
use integration_tests::prerequisites::available;

const FUT: &str = "4102444800"; // 2100-01-01
const PAST: &str = "1000000000"; // expired
const SERVER_DUID: &str = "00:01:00:01:2c:6e:4a:1e:52:54:00:ca:02:01";

/// (C helper, our helper), or `None` when the test is skipped.
fn helpers(test: &str) -> Option<(PathBuf, PathBuf)> {
    if !harness_available(test, &[]) {
        return None;
    }
    let c = available(test, leasehelper::libvirt_c())?;
    Some((c, leasehelper::ours()))
}

/// Whether C printed one of its exact early-exit messages (usage, interface
/// not set, unsupported action) rather than a libvirt error, whose text
/// DECISIONS.md H10 does not require us to copy.
fn stderr_must_match_exactly(c: &Outcome) -> bool {
    !c.stderr.contains("libvirt:") && !c.stderr.contains("Unable to")
}

/// Runs `events` through both helpers, each on its own copy of `initial`,
/// and compares after every event.
fn assert_same(test: &str, initial: &[(&str, &[u8])], events: &[Event]) {
    let Some((c_helper, our_helper)) = helpers(test) else {
        return;
    };
    let (c_box, our_box) = (Sandbox::new(), Sandbox::new());
    for (name, content) in initial {
        c_box.leases.write(name, content);
        our_box.leases.write(name, content);
    }
    for (i, event) in events.iter().enumerate() {
        let c = c_box.run(&c_helper, event);
        let ours = our_box.run(&our_helper, event);
        let context = format!(
            "{test}: event #{i} {:?} {:?}\nC: {c:?}\nours: {ours:?}",
            event.args, event.env
        );
        assert_eq!(c.code, ours.code, "exit code differs\n{context}");
        assert_eq!(c.stdout, ours.stdout, "stdout differs\n{context}");
        if stderr_must_match_exactly(&c) {
            assert_eq!(c.stderr, ours.stderr, "stderr differs\n{context}");
        } else {
            assert!(
                !ours.stderr.trim().is_empty(),
                "C reported an error, we printed nothing\n{context}"
            );
            assert_eq!(
                ours.stderr.trim_end().lines().count(),
                1,
                "one clear line expected\n{context}"
            );
        }
        let (c_files, our_files) = (c_box.snapshot(), our_box.snapshot());
        assert!(
            c_files == our_files,
            "lease dirs differ\n{context}\n{}",
            describe_difference(&c_files, &our_files)
        );
        assert!(
            !c_box.run.path().join("leaseshelper.pid").exists(),
            "C left its lock file"
        );
        assert!(
            !our_box.run.path().join("leaseshelper.pid").exists(),
            "we left our lock file\n{context}"
        );
    }
}

fn v4(action: &str, mac: &str, ip: &str, expires: &str, host: Option<&str>) -> Event {
    Event::v4("virbr0", action, mac, ip, expires, host)
}

fn v6(action: &str, n: u8, mac: Option<&str>, expires: &str, host: Option<&str>) -> Event {
    Event::v6(
        "virbr1",
        action,
        &format!("00:04:b1:6e:a4:36:f1:4c:77:97:96:c5:17:3e:d1:0a:9e:{n:02x}"),
        &format!("2001:db8:ca2:2::{n:x}"),
        &n.to_string(),
        mac,
        Some(SERVER_DUID),
        expires,
        host,
    )
}

#[test]
fn ipv4_add_renew_rename_release_and_init() {
    assert_same(
        "ipv4_add_renew_rename_release_and_init",
        &[],
        &[
            Event::init("virbr0"),
            v4(
                "add",
                "52:54:00:00:00:01",
                "192.168.122.10",
                FUT,
                Some("vm-alpha"),
            ),
            v4(
                "add",
                "52:54:00:00:00:02",
                "192.168.122.11",
                "4102444801",
                Some("vm-beta"),
            ),
            v4(
                "add",
                "52:54:00:00:00:03",
                "192.168.122.12",
                "0",
                Some("vm-gamma"),
            ),
            Event::new(&["add", "52:54:00:00:00:04", "192.168.122.13"])
                .env("VIR_BRIDGE_NAME", "virbr0")
                .env("DNSMASQ_INTERFACE", "virbr0")
                .env("DNSMASQ_LEASE_EXPIRES", FUT),
            v4(
                "add",
                "52:54:00:00:00:05",
                "192.168.122.14",
                PAST,
                Some("vm-old"),
            ),
            v4(
                "add",
                "52:54:00:00:00:07",
                "192.168.122.16",
                FUT,
                Some("vm-tmp"),
            ),
            v4(
                "old",
                "52:54:00:00:00:07",
                "192.168.122.16",
                "4102444802",
                Some("vm-renamed"),
            )
            .env("DNSMASQ_OLD_HOSTNAME", "vm-tmp"),
            v4(
                "old",
                "52:54:00:00:00:07",
                "192.168.122.16",
                "4102444803",
                None,
            )
            .env("DNSMASQ_OLD_HOSTNAME", "vm-tmp"),
            v4(
                "old",
                "52:54:00:00:00:07",
                "192.168.122.16",
                "4102444804",
                None,
            )
            .env("DNSMASQ_SUPPLIED_HOSTNAME", "supplied")
            .env("DNSMASQ_OLD_HOSTNAME", "older"),
            v4(
                "add",
                "52:54:00:00:00:08",
                "192.168.122.17",
                FUT,
                Some("vm-deleted"),
            ),
            v4(
                "del",
                "52:54:00:00:00:08",
                "192.168.122.17",
                FUT,
                Some("vm-deleted"),
            ),
            // the same IP handed to another MAC replaces the lease
            v4(
                "add",
                "52:54:00:00:00:99",
                "192.168.122.10",
                FUT,
                Some("vm-new-owner"),
            ),
            // del matches the IP string only, whatever the MAC
            v4("del", "ff:ff:ff:ff:ff:ff", "192.168.122.11", FUT, None),
            v4("del", "52:54:00:00:00:01", "192.168.122.200", FUT, None),
            Event::init("virbr0"),
            Event::new(&["init"])
                .env("VIR_BRIDGE_NAME", "virbr0")
                .env("DNSMASQ_INTERFACE", "virbr9"),
            Event::new(&["del"]).env("VIR_BRIDGE_NAME", "virbr0"),
            Event::init("virbr0"),
        ],
    );
}

#[test]
fn ipv6_and_dual_stack() {
    assert_same(
        "ipv6_and_dual_stack",
        &[],
        &[
            Event::init("virbr1").env("DNSMASQ_SERVER_DUID", SERVER_DUID),
            v6(
                "add",
                1,
                Some("52:54:00:00:01:01"),
                "4102444900",
                Some("vm-alpha"),
            ),
            v6("add", 2, Some("52:54:00:00:01:02"), FUT, Some("vm-delta")),
            Event::v4(
                "virbr1",
                "add",
                "52:54:00:00:01:03",
                "192.168.124.30",
                "4102444700",
                Some("vm-epsilon"),
            ),
            v6("add", 3, Some("52:54:00:00:01:03"), FUT, Some("vm-epsilon")),
            v6("old", 2, Some("52:54:00:00:01:02"), "4102444999", None)
                .env("DNSMASQ_OLD_HOSTNAME", "vm-delta"),
            v6("add", 4, Some("52:54:00:00:01:04"), PAST, None),
            // a DUID that embeds no MAC and no DNSMASQ_MAC: nothing stored (C and H8 agree)
            v6("add", 5, None, FUT, Some("vm-nomac6")),
            v6("del", 1, Some("52:54:00:00:01:01"), FUT, None),
            // IPv6 text is compared as a string
            v6("del", 2, None, FUT, None).arg_bytes(b""),
            Event::init("virbr1").env("DNSMASQ_SERVER_DUID", SERVER_DUID),
            // no DUID in the environment: adopted from the file
            Event::init("virbr1"),
            Event::init("virbr1").env("DNSMASQ_SERVER_DUID", "00:02:other"),
            // an empty IAID still marks an IPv6 event
            Event::v6(
                "virbr1",
                "add",
                "00:02:aa",
                "fd00::77",
                "",
                Some("52:54:00:00:01:77"),
                None,
                FUT,
                None,
            ),
            Event::init("virbr1"),
        ],
    );
}

#[test]
fn server_duid_injected_into_old_ipv6_leases() {
    // leases written by libvirt 1.2.6 had no server-duid: C appends the known one
    let old_style = br#"[{"iaid":"9","ip-address":"fd00::9","mac-address":"m","expiry-time":5},
        {"ip-address":"10.0.0.9","mac-address":"n","expiry-time":6}]"#;
    assert_same(
        "server_duid_injected_into_old_ipv6_leases",
        &[("virbr1.status", old_style)],
        &[
            Event::init("virbr1").env("DNSMASQ_SERVER_DUID", SERVER_DUID),
            Event::new(&["del", "x", "10.0.0.1"])
                .env("VIR_BRIDGE_NAME", "virbr1")
                .env("DNSMASQ_SERVER_DUID", SERVER_DUID),
            Event::init("virbr1"),
        ],
    );
}

#[test]
fn empty_dir_and_empty_files() {
    assert_same(
        "empty_dir_and_empty_files",
        &[
            ("zero.status", b""),
            ("empty.status", b"[\n\n]\n"),
            ("compact.status", b"[]"),
        ],
        &[
            Event::init("fresh"),
            Event::init("zero"),
            Event::init("empty"),
            Event::new(&["del", "m", "10.0.0.1"]).env("VIR_BRIDGE_NAME", "fresh"),
            Event::new(&["del", "m", "10.0.0.1"]).env("VIR_BRIDGE_NAME", "zero"),
            Event::new(&["old", "m", "10.0.0.1"]).env("VIR_BRIDGE_NAME", "compact"),
            Event::new(&["add"])
                .env("VIR_BRIDGE_NAME", "compact")
                .env("DNSMASQ_LEASE_EXPIRES", "bogus"),
            Event::new(&["add", "m", "10.0.0.1"]).env("VIR_BRIDGE_NAME", "compact"),
            Event::new(&["del", "m", "10.0.0.1"]).env("VIR_BRIDGE_NAME", "compact"),
            // DNSMASQ_INTERFACE wins over VIR_BRIDGE_NAME, even when empty
            Event::new(&["add", "m", "10.0.0.2"])
                .env("VIR_BRIDGE_NAME", "compact")
                .env("DNSMASQ_INTERFACE", ""),
            Event::init("fresh").env("DNSMASQ_SERVER_DUID", "S"),
        ],
    );
}

#[test]
fn unknown_members_odd_numbers_and_escapes_survive() {
    let odd: &[u8] = "[\n{\"x-first\": true, \"ip-address\": \"10.0.0.1\", \"mac-address\": \"a\", \
        \"expiry-time\": -0, \"n\": [1.50, 1E5, -2e-3, 12345678901234567890123, 0], \
        \"o\": {\"deep\": {\"er\": [[], {}, null, false]}}, \"hostname\": \"caf\\u00e9 \\/ \\\"q\\\" \\t\\u001f\\u007f\\ud83d\\ude00\", \
        \"client-id\": 7},\n\
        {\"ip-address\": \"10.0.0.2\", \"expiry-time\": 9223372036854775807, \"hostname\": \"Grüße\", \"mac-address\": \"b\"},\n\
        {\"ip-address\": \"fd00::3\", \"expiry-time\": 3, \"iaid\": \"1\", \"server-duid\": \"FILE-DUID\"},\n\
        {\"ip-address\": \"\\ud800xy\", \"expiry-time\": -9223372036854775807, \"mac-address\": \"a\\u0000cut\"}\n]"
        .as_bytes();
    assert_same(
        "unknown_members_odd_numbers_and_escapes_survive",
        &[
            ("virbr0.status", odd),
            ("ws.status", b"\x0b\x0c\r\n\t [ ] \n"),
        ],
        &[
            Event::init("virbr0"),
            Event::new(&["del", "m", "10.0.0.9"]).env("VIR_BRIDGE_NAME", "virbr0"),
            Event::init("virbr0"),
            v4(
                "add",
                "52:54:00:00:00:01",
                "10.0.0.4",
                " +17 \n",
                Some("new/host\"q\\"),
            ),
            Event::init("ws"),
            Event::new(&["add", "m", "10.0.0.1"])
                .env("VIR_BRIDGE_NAME", "ws")
                .env("DNSMASQ_LEASE_EXPIRES", "-5"),
        ],
    );
}

#[test]
fn files_written_by_the_other_helper() {
    // Alternate the helpers event by event on one lease dir; the result must
    // equal the all-C run (which assert_same checks on its own).
    let Some((c_helper, our_helper)) = helpers("files_written_by_the_other_helper") else {
        return;
    };
    let events = [
        v4("add", "52:54:00:00:00:01", "192.168.122.10", FUT, Some("a")),
        v6("add", 1, Some("52:54:00:00:01:01"), FUT, Some("a6")),
        v4("add", "52:54:00:00:00:02", "192.168.122.11", FUT, Some("b")),
        Event::v4(
            "virbr1",
            "add",
            "52:54:00:00:01:02",
            "192.168.124.11",
            FUT,
            Some("b1"),
        ),
        v4(
            "old",
            "52:54:00:00:00:01",
            "192.168.122.10",
            "4102444805",
            Some("a-renamed"),
        ),
        v6("add", 2, Some("52:54:00:00:01:02"), FUT, None),
        v4("del", "52:54:00:00:00:02", "192.168.122.11", FUT, None),
        Event::init("virbr0"),
        Event::init("virbr1"),
    ];
    let (all_c, mixed_c_first, mixed_ours_first) = (Sandbox::new(), Sandbox::new(), Sandbox::new());
    for (i, event) in events.iter().enumerate() {
        let reference = all_c.run(&c_helper, event);
        let (a, b) = if i % 2 == 0 {
            (&c_helper, &our_helper)
        } else {
            (&our_helper, &c_helper)
        };
        for (sandbox, helper) in [(&mixed_c_first, a), (&mixed_ours_first, b)] {
            let got = sandbox.run(helper, event);
            assert_eq!(reference, got, "event #{i} via {}", helper.display());
            let (want, have) = (all_c.snapshot(), sandbox.snapshot());
            assert!(
                want == have,
                "event #{i}:\n{}",
                describe_difference(&want, &have)
            );
        }
    }
}

#[test]
fn command_line_and_environment_errors() {
    let br = |e: Event| e.env("VIR_BRIDGE_NAME", "virbr0");
    assert_same(
        "command_line_and_environment_errors",
        &[],
        &[
            Event::new(&["--help"]),
            Event::new(&["--help", "a", "b", "c", "d", "e"]),
            Event::new(&["--version"]),
            Event::new(&[]),
            br(Event::new(&["add", "m"])),
            br(Event::new(&["add", "m", "1.2.3.4", "h", "extra"])),
            Event::new(&["add", "m", "1.2.3.4"]),
            br(Event::new(&["tftp", "m", "1.2.3.4"])),
            br(Event::new(&["ADD", "m", "1.2.3.4"])),
            br(Event::new(&["", "m", "1.2.3.4"])),
            // `--help` is only an option as the first argument
            br(Event::new(&["add", "--help", "y"])),
            br(Event::new(&["del", "--version", "y"])),
        ],
    );
}

#[test]
fn bad_input_fails_and_keeps_every_lease() {
    let good: &[u8] = b"[\n  {\n    \"ip-address\": \"10.0.0.1\",\n    \"mac-address\": \"a\",\n    \"expiry-time\": 5\n  }\n]\n";
    let mut events = Vec::new();
    for expires in [
        "0x10",
        "",
        "  ",
        "99999999999999999999",
        "1.5",
        "12abc",
        "- 1",
    ] {
        events.push(v4("add", "52:54:00:00:00:09", "10.0.0.9", expires, None));
    }
    events.push(v4("old", "52:54:00:00:00:09", "10.0.0.1", "x", None));
    // invalid UTF-8 in an argument: the JSON writer refuses it
    events.push(
        Event::new(&["add", "m", "10.0.0.9"])
            .arg_bytes(b"bad\xffname")
            .env("VIR_BRIDGE_NAME", "virbr0"),
    );
    for name in [
        "array", "noip", "ipnum", "noexp", "expstr", "expdbl", "expexp", "exprange", "scalar",
    ] {
        for event in [
            Event::new(&["add", "m", "10.0.0.9"]).env("VIR_BRIDGE_NAME", name),
            Event::new(&["del", "m", "10.0.0.1"]).env("VIR_BRIDGE_NAME", name),
            Event::init(name),
        ] {
            events.push(event);
        }
    }
    // the interface names a missing sub-directory: the file cannot be created
    events.push(Event::init("no/such/dir"));
    assert_same(
        "bad_input_fails_and_keeps_every_lease",
        &[
            ("virbr0.status", good),
            (
                "array.status",
                br#"{"ip-address":"10.0.0.1","mac-address":"a","expiry-time":5}"#,
            ),
            ("noip.status", br#"[{"mac-address":"a","expiry-time":5}]"#),
            ("ipnum.status", br#"[{"ip-address":10,"expiry-time":5}]"#),
            (
                "noexp.status",
                br#"[{"ip-address":"10.0.0.1","mac-address":"a"}]"#,
            ),
            (
                "expstr.status",
                br#"[{"ip-address":"10.0.0.1","expiry-time":"5"}]"#,
            ),
            (
                "expdbl.status",
                br#"[{"ip-address":"10.0.0.1","expiry-time":5.0}]"#,
            ),
            (
                "expexp.status",
                br#"[{"ip-address":"10.0.0.1","expiry-time":5e0}]"#,
            ),
            (
                "exprange.status",
                br#"[{"ip-address":"10.0.0.1","expiry-time":9223372036854775808}]"#,
            ),
            ("scalar.status", b"42"),
        ],
        &events,
    );
}

#[test]
fn status_file_that_is_a_directory_and_oversized_file() {
    let Some((c_helper, our_helper)) =
        helpers("status_file_that_is_a_directory_and_oversized_file")
    else {
        return;
    };
    for helper in [&c_helper, &our_helper] {
        let sandbox = Sandbox::new();
        std::fs::create_dir(sandbox.leases.path().join("isdir.status")).expect("mkdir");
        let out = sandbox.run(
            helper,
            &Event::new(&["add", "m", "10.0.0.9"]).env("VIR_BRIDGE_NAME", "isdir"),
        );
        assert_eq!(out.code, Some(1), "{}: {out:?}", helper.display());
        assert!(!out.stderr.is_empty());

        // 32 MiB + 1 byte: refused, file untouched (exactly 32 MiB is read)
        let big = sandbox.leases.path().join("big.status");
        let file = std::fs::File::create(&big).expect("create");
        file.set_len(32 * 1024 * 1024 + 1).expect("truncate");
        let out = sandbox.run(
            helper,
            &Event::new(&["add", "m", "10.0.0.9"]).env("VIR_BRIDGE_NAME", "big"),
        );
        assert_eq!(out.code, Some(1), "{}: {out:?}", helper.display());
        assert!(out.stderr.contains("big.status"), "{out:?}");
        assert_eq!(
            std::fs::metadata(&big).expect("stat").len(),
            32 * 1024 * 1024 + 1
        );
    }
}

#[test]
fn unwritable_lock_fails_cleanly() {
    let Some((c_helper, our_helper)) = helpers("unwritable_lock_fails_cleanly") else {
        return;
    };
    for helper in [&c_helper, &our_helper] {
        let sandbox = Sandbox::new();
        sandbox.leases.write("virbr0.status", b"[]");
        // /run/leaseshelper.pid is a directory: open(O_WRONLY) fails
        std::fs::create_dir(sandbox.run.path().join("leaseshelper.pid")).expect("mkdir");
        let out = sandbox.run(helper, &v4("add", "m", "10.0.0.1", FUT, None));
        assert_eq!(out.code, Some(1), "{}: {out:?}", helper.display());
        assert!(out.stderr.contains("leaseshelper.pid"), "{out:?}");
        assert_eq!(sandbox.read("virbr0.status"), b"[]");
    }
}

#[test]
fn full_disk_keeps_the_old_file() {
    // Inside the namespace, a 64 KiB tmpfs is the lease dir; a filler file
    // leaves too little room for the rewritten status file.
    let Some((c_helper, our_helper)) = helpers("full_disk_keeps_the_old_file") else {
        return;
    };
    let script = r#"
        set -eu
        helper=$1
        mount -t tmpfs -o size=64k full /var/lib/libvirt/dnsmasq
        cd /var/lib/libvirt/dnsmasq
        { printf '[\n'; for i in $(seq 1 200); do printf '  {\n    "ip-address": "10.0.%d.%d",\n    "mac-address": "52:54:00:00:00:01",\n    "expiry-time": 5\n  },\n' $((i/250)) $((i%250)); done; printf '  {\n    "ip-address": "10.9.9.9",\n    "mac-address": "52:54:00:00:00:01",\n    "expiry-time": 5\n  }\n]\n'; } > virbr0.status
        dd if=/dev/zero of=filler bs=4k count=64 2>/dev/null || true
        rc=0
        env -i VIR_BRIDGE_NAME=virbr0 DNSMASQ_LEASE_EXPIRES=7 "$helper" add 52:54:00:00:00:02 10.1.1.1 host || rc=$?
        echo "rc=$rc"
        if [ -e virbr0.status.new ]; then echo "new-left"; fi
        sha256sum < virbr0.status
    "#;
    let mut results = Vec::new();
    for helper in [&c_helper, &our_helper] {
        let sandbox = Sandbox::new();
        let output = sandbox
            .namespace_command("bash")
            .args(["-c", script, "full-disk"])
            .arg(helper)
            .output()
            .expect("run");
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        assert!(
            stdout.contains("rc=1"),
            "{}: helper did not fail on a full disk: {stdout} {stderr}",
            helper.display()
        );
        assert!(
            !stdout.contains("new-left"),
            "{}: left virbr0.status.new behind: {stdout}",
            helper.display()
        );
        results.push(stdout.lines().last().unwrap_or_default().to_owned());
    }
    // the file is unchanged: both helpers see the same bytes afterwards
    assert_eq!(results[0], results[1]);
}

// ---------------------------------------------------------------------------
// The DECISIONS.md differences, asserted explicitly.
// ---------------------------------------------------------------------------

#[test]
fn h6_unparsable_file_is_kept_aside_not_lost() {
    let Some((c_helper, our_helper)) = helpers("h6_unparsable_file_is_kept_aside_not_lost") else {
        return;
    };
    let corrupt: &[u8] = b"[\n  {\n    \"ip-address\": \"192.168.124.10\",\n    \"mac-address\": \"52:54:00:00:00:01\",\n    \"hostname\": \"precious\",\n    \"expiry-ti";
    let add = Event::v4(
        "virbr1",
        "add",
        "52:54:00:00:05:01",
        "192.168.124.99",
        FUT,
        Some("vm-after-corrupt"),
    );
    let (c_box, our_box) = (Sandbox::new(), Sandbox::new());
    c_box.leases.write("virbr1.status", corrupt);
    our_box.leases.write("virbr1.status", corrupt);
    let c = c_box.run(&c_helper, &add);
    let ours = our_box.run(&our_helper, &add);
    // same exit code and the same new status file ...
    assert_eq!(
        (c.code, &c.stdout, &c.stderr),
        (Some(0), &String::new(), &String::new())
    );
    assert_eq!((ours.code, &ours.stdout), (Some(0), &String::new()));
    assert_eq!(c_box.read("virbr1.status"), our_box.read("virbr1.status"));
    // ... but C silently lost the old content; we kept it and said so
    assert!(!c_box.leases.path().join("virbr1.status.corrupt").exists());
    assert_eq!(our_box.read("virbr1.status.corrupt"), corrupt);
    assert_eq!(ours.stderr.lines().count(), 1, "{ours:?}");
    assert!(ours.stderr.contains("virbr1.status.corrupt"), "{ours:?}");

    // a second corrupt file never overwrites the first one
    for (n, garbage) in [(1, &b"{{{"[..]), (2, b"[1,2,]"), (3, b"{\"a\":1,\"a\":2}")] {
        our_box.leases.write("virbr1.status", garbage);
        let again = our_box.run(&our_helper, &add);
        assert_eq!(again.code, Some(0), "{again:?}");
        assert_eq!(our_box.read(&format!("virbr1.status.corrupt.{n}")), garbage);
        assert_eq!(our_box.read("virbr1.status.corrupt"), corrupt);
    }
    // init over a corrupt file: nothing printed, file kept aside, empty file left
    our_box.leases.write("virbr1.status", b"nonsense");
    let init = our_box.run(&our_helper, &Event::init("virbr1"));
    assert_eq!((init.code, init.stdout.as_str()), (Some(0), ""), "{init:?}");
    assert_eq!(our_box.read("virbr1.status.corrupt.4"), b"nonsense");
    assert_eq!(our_box.read("virbr1.status"), b"");
}

#[test]
fn h7_no_server_duid_null_and_null_tolerated() {
    let Some((c_helper, our_helper)) = helpers("h7_no_server_duid_null_and_null_tolerated") else {
        return;
    };
    let no_duid = |action: &str, n: u8| {
        Event::v6(
            "virbr1",
            action,
            &format!("00:04:aa:{n:02x}"),
            &format!("fd00::{n}"),
            &n.to_string(),
            Some(&format!("52:54:00:00:00:{n:02x}")),
            None,
            FUT,
            Some("h"),
        )
    };
    let (c_box, our_box) = (Sandbox::new(), Sandbox::new());
    for (sandbox, helper) in [(&c_box, &c_helper), (&our_box, &our_helper)] {
        assert_eq!(sandbox.run(helper, &no_duid("add", 1)).code, Some(0));
        assert_eq!(sandbox.run(helper, &no_duid("add", 2)).code, Some(0));
    }
    // C: the first lease got "server-duid": null
    let c_status = c_box.read_string("virbr1.status");
    assert!(c_status.contains("\"server-duid\": null"), "{c_status}");
    let ours_status = our_box.read_string("virbr1.status");
    assert!(!ours_status.contains("server-duid"), "{ours_status}");
    // C is now wedged, even for init; we are not
    let c_init = c_box.run(&c_helper, &Event::init("virbr1"));
    assert_eq!(c_init.code, Some(1), "{c_init:?}");
    assert!(c_init.stderr.contains("duplicate key"), "{c_init:?}");
    assert_eq!(
        our_box.run(&our_helper, &Event::init("virbr1")).code,
        Some(0)
    );

    // our helper on C's poisoned file: null dropped when no DUID is known ...
    let poisoned = c_box.read("virbr1.status");
    our_box.leases.write("virbr1.status", &poisoned);
    let out = our_box.run(&our_helper, &no_duid("add", 3));
    assert_eq!(out.code, Some(0), "{out:?}");
    let healed = our_box.read_string("virbr1.status");
    assert!(!healed.contains("null"), "{healed}");
    assert!(healed.contains("fd00::1") && healed.contains("fd00::2") && healed.contains("fd00::3"));
    // ... and replaced by the DUID once one is known
    our_box.leases.write("virbr1.status", &poisoned);
    let init = our_box.run(
        &our_helper,
        &Event::init("virbr1").env("DNSMASQ_SERVER_DUID", SERVER_DUID),
    );
    assert_eq!(init.code, Some(0), "{init:?}");
    assert!(
        init.stdout.starts_with(&format!("duid {SERVER_DUID}\n")),
        "{init:?}"
    );
    assert!(
        init.stdout.contains(" fd00::1 ") && init.stdout.contains(" fd00::2 "),
        "{init:?}"
    );
    let del = our_box.run(
        &our_helper,
        &Event::new(&["del", "x", "fd00::9"])
            .env("VIR_BRIDGE_NAME", "virbr1")
            .env("DNSMASQ_SERVER_DUID", SERVER_DUID),
    );
    assert_eq!(del.code, Some(0), "{del:?}");
    let fixed = our_box.read_string("virbr1.status");
    assert!(!fixed.contains("null"), "{fixed}");
    assert_eq!(
        fixed
            .matches(&format!("\"server-duid\": \"{SERVER_DUID}\""))
            .count(),
        2,
        "{fixed}"
    );
}

#[test]
fn h8_mac_recovered_from_the_client_duid() {
    let Some((c_helper, our_helper)) = helpers("h8_mac_recovered_from_the_client_duid") else {
        return;
    };
    let cases = [
        (
            "00:03:00:01:52:54:00:12:30:00",
            "fd00:123::10",
            Some("52:54:00:12:30:00"),
        ), // DUID-LL
        (
            "00:01:00:01:2c:6e:4a:1e:52:54:00:AB:CD:EF",
            "fd00:123::11",
            Some("52:54:00:ab:cd:ef"),
        ), // DUID-LLT
        (
            "00:04:b1:6e:a4:36:f1:4c:77:97:96:c5:17:3e:d1:0a:9e:01",
            "fd00:123::12",
            None,
        ), // DUID-UUID
        ("00:03:00:06:52:54:00:12:30:00", "fd00:123::13", None), // not Ethernet
    ];
    let (c_box, our_box) = (Sandbox::new(), Sandbox::new());
    for (duid, ip, _) in cases {
        let event = Event::v6(
            "virbr1",
            "add",
            duid,
            ip,
            "7",
            None,
            Some(SERVER_DUID),
            FUT,
            Some("v6host"),
        );
        assert_eq!(c_box.run(&c_helper, &event).code, Some(0));
        assert_eq!(our_box.run(&our_helper, &event).code, Some(0));
    }
    // C stored nothing at all
    assert_eq!(c_box.read("virbr1.status"), b"[\n\n]\n");
    let ours = our_box.read_string("virbr1.status");
    for (duid, ip, mac) in cases {
        match mac {
            Some(mac) => {
                let expected = format!(
                    "    \"iaid\": \"7\",\n    \"ip-address\": \"{ip}\",\n    \"mac-address\": \"{mac}\",\n    \
                     \"hostname\": \"v6host\",\n    \"client-id\": \"{duid}\",\n    \"server-duid\": \"{SERVER_DUID}\",\n    \
                     \"expiry-time\": {FUT}\n"
                );
                assert!(ours.contains(&expected), "missing {ip}:\n{ours}");
            }
            None => assert!(!ours.contains(ip), "{ip} stored without a MAC:\n{ours}"),
        }
    }
    // with DNSMASQ_MAC present the environment wins, as in C
    let event = Event::v6(
        "virbr1",
        "add",
        cases[0].0,
        "fd00:123::20",
        "8",
        Some("52:54:00:99:99:99"),
        Some(SERVER_DUID),
        FUT,
        None,
    );
    assert_eq!(
        c_box.run(&c_helper, &event),
        our_box.run(&our_helper, &event)
    );
    assert!(our_box
        .read_string("virbr1.status")
        .contains("52:54:00:99:99:99"));
    assert!(c_box
        .read_string("virbr1.status")
        .contains("52:54:00:99:99:99"));
}

/// Runs `init` and then `del 10.9.9.9` (which rewrites the file) for every
/// `<name>.status` of `sandbox`, in one namespace; returns name → (init rc,
/// init stdout, del rc, file after del).
fn init_and_rewrite_all(
    sandbox: &Sandbox,
    helper: &std::path::Path,
    names: &[String],
) -> std::collections::BTreeMap<String, (String, String, String, Vec<u8>)> {
    let out_dir = integration_tests::temp_dir::TempDir::new("lh-json-out");
    let script = r#"
        helper=$1 out=$2; shift 2
        for name in "$@"; do
            rc=0; env -i VIR_BRIDGE_NAME="$name" "$helper" init > "$out/$name.init" 2>/dev/null || rc=$?
            echo "$rc" > "$out/$name.init-rc"
            rc=0; env -i VIR_BRIDGE_NAME="$name" "$helper" del x 10.9.9.9 2>/dev/null || rc=$?
            echo "$rc" > "$out/$name.del-rc"
        done
    "#;
    let status = sandbox
        .namespace_command("bash")
        .args(["-c", script, "json-batch"])
        .arg(helper)
        .arg(out_dir.path())
        .args(names)
        .status()
        .expect("run batch");
    assert!(status.success(), "batch failed: {status:?}");
    let read = |name: &str| std::fs::read_to_string(out_dir.path().join(name)).unwrap_or_default();
    names
        .iter()
        .map(|name| {
            let result = (
                read(&format!("{name}.init-rc")),
                read(&format!("{name}.init")),
                read(&format!("{name}.del-rc")),
                sandbox.read(&format!("{name}.status")),
            );
            (name.clone(), result)
        })
        .collect()
}

#[test]
fn json_acceptance_and_rewrite_match_yajl() {
    // Every document holds one lease; whether a helper parsed it shows in
    // its `init` output. Where yajl rejects the document, C prints nothing
    // and overwrites it, and we must have kept it aside (H6).
    let Some((c_helper, our_helper)) = helpers("json_acceptance_and_rewrite_match_yajl") else {
        return;
    };
    let lease = |extra: &str| {
        format!(
            r#"{{"ip-address": "10.0.0.1", "mac-address": "52:54:00:00:00:01", "hostname": "h"{extra}, "expiry-time": 5}}"#
        )
    };
    // a lease with raw (possibly non-UTF-8) bytes among its members
    let raw_lease = |extra: &[u8]| {
        let text = lease("@@");
        let (head, tail) = text.split_once("@@").expect("marker");
        [b"[", head.as_bytes(), extra, tail.as_bytes(), b"]"].concat()
    };
    let nested = |depth: usize| format!(r#", "deep": {}1{}"#, "[".repeat(depth), "]".repeat(depth));
    let mut docs: Vec<Vec<u8>> = vec![
        // accepted by yajl
        format!("\x0b\x0c[{}]\r\n", lease("")).into_bytes(),
        format!("[{}]\0trailing garbage after a NUL", lease("")).into_bytes(),
        format!("[{}]", lease(r#", "z": "a\u0000b""#)).into_bytes(),
        format!(
            "[{}]",
            lease(r#", "lone": "\udc00 \ud800x \ud800\u0041 \u00e9 \/""#)
        )
        .into_bytes(),
        raw_lease(b", \"raw\": \"\xc0\x80 \xed\xa0\x80 \x7f caf\xc3\xa9\""),
        format!("[{}]", lease(r#", "n": [-0.0e+5, 1E400, 0, -1, 2.50]"#)).into_bytes(),
        format!(
            "[{}]",
            lease(r#", "o": {}, "a": [], "t": true, "f": false, "nul": null"#)
        )
        .into_bytes(),
        format!("[{}]", lease(&nested(100))).into_bytes(),
        // parsed by both, but too deep for yajl's generator: del fails in both
        format!("[{}]", lease(&nested(130))).into_bytes(),
        // rejected by yajl
        format!("[{},]", lease("")).into_bytes(),
        format!("[{}", lease("")).into_bytes(),
        format!("[{}]]", lease("")).into_bytes(),
        format!("[{}] x", lease("")).into_bytes(),
        format!("[{}] []", lease("")).into_bytes(),
        format!("\u{feff}[{}]", lease("")).into_bytes(),
        format!("/* c */ [{}]", lease("")).into_bytes(),
        format!("[{}] // c", lease("")).into_bytes(),
        format!("[{}]", lease(r#", "n": 01"#)).into_bytes(),
        format!("[{}]", lease(r#", "n": 1."#)).into_bytes(),
        format!("[{}]", lease(r#", "n": .5"#)).into_bytes(),
        format!("[{}]", lease(r#", "n": +1"#)).into_bytes(),
        format!("[{}]", lease(r#", "n": True"#)).into_bytes(),
        format!("[{}]", lease(r#", "n": 'x'"#)).into_bytes(),
        format!("[{}]", lease(", \"tab\": \"a\tb\"")).into_bytes(),
        format!("[{}]", lease(r#", "esc": "\x""#)).into_bytes(),
        format!("[{}]", lease(r#", "esc": "\u12G4""#)).into_bytes(),
        raw_lease(b", \"bad\": \"\xff\""),
        raw_lease(b", \"cut\": \"\xe2\x82\""),
        format!("[{}]", lease(r#", "o": {"k": 1, "k": 2}"#)).into_bytes(),
        format!("[{}]", lease(r#", "hostname": "again""#)).into_bytes(),
        format!("[{}]", lease(r#", unquoted: 1"#)).into_bytes(),
        format!("\0[{}]", lease("")).into_bytes(),
        b" \n".to_vec(),
    ];
    docs.push(format!("[{}]", lease(r#", "k\u0000x": 1, "k": 2"#)).into_bytes());
    let names: Vec<String> = (0..docs.len()).map(|i| format!("doc{i:02}")).collect();
    let (c_box, our_box) = (Sandbox::new(), Sandbox::new());
    for (name, doc) in names.iter().zip(&docs) {
        c_box.leases.write(&format!("{name}.status"), doc);
        our_box.leases.write(&format!("{name}.status"), doc);
    }
    let c = init_and_rewrite_all(&c_box, &c_helper, &names);
    let ours = init_and_rewrite_all(&our_box, &our_helper, &names);
    let (mut accepted, mut rejected) = (0, 0);
    for (i, name) in names.iter().enumerate() {
        let doc = String::from_utf8_lossy(&docs[i]);
        let (c_result, our_result) = (&c[name], &ours[name]);
        assert_eq!(c_result, our_result, "{name}: {doc:?}");
        let kept_aside = our_box.leases.path().join(format!("{name}.status.corrupt"));
        if c_result.1.is_empty() {
            rejected += 1;
            assert_eq!(
                std::fs::read(&kept_aside).ok().as_deref(),
                Some(docs[i].as_slice()),
                "{name}: {doc:?} not kept aside"
            );
        } else {
            accepted += 1;
            assert!(!kept_aside.exists(), "{name}: {doc:?} wrongly kept aside");
        }
    }
    eprintln!("json parity: {accepted} documents accepted, {rejected} rejected, same as yajl");
}

#[test]
fn read_only_lease_dir_fails_cleanly() {
    let Some((c_helper, our_helper)) = helpers("read_only_lease_dir_fails_cleanly") else {
        return;
    };
    let script = r#"
        set -u
        mount -o remount,bind,ro /var/lib/libvirt/dnsmasq || exit 97
        for action in add del init; do
            rc=0
            env -i VIR_BRIDGE_NAME=virbr0 DNSMASQ_LEASE_EXPIRES=7 "$1" "$action" 52:54:00:00:00:02 10.1.1.1 || rc=$?
            echo "$action rc=$rc"
        done
    "#;
    let original: &[u8] = b"[\n  {\n    \"ip-address\": \"10.0.0.1\",\n    \"mac-address\": \"a\",\n    \"expiry-time\": 5\n  }\n]\n";
    let mut outputs = Vec::new();
    for helper in [&c_helper, &our_helper] {
        let sandbox = Sandbox::new();
        sandbox.leases.write("virbr0.status", original);
        let output = sandbox
            .namespace_command("bash")
            .args(["-c", script, "ro"])
            .arg(helper)
            .output()
            .expect("run");
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        // touch (open O_WRONLY|O_CREAT) fails with EROFS before anything else
        assert_eq!(
            stdout,
            "add rc=1\ndel rc=1\ninit rc=1\n",
            "{}: {stderr}",
            helper.display()
        );
        assert!(
            stderr.contains("Read-only file system"),
            "{}: {stderr}",
            helper.display()
        );
        assert_eq!(sandbox.read("virbr0.status"), original);
        outputs.push(stdout);
    }
    assert_eq!(outputs[0], outputs[1]);
}

#[test]
fn json_parity_on_mutated_documents() {
    // Random single-byte edits of a realistic status file: both helpers must
    // accept/reject exactly the same documents and rewrite them to the same
    // bytes. (A mismatch prints the seed and the document.)
    let Some((c_helper, our_helper)) = helpers("json_parity_on_mutated_documents") else {
        return;
    };
    let base: &[u8] = "[\n  {\n    \"ip-address\": \"192.168.122.10\",\n    \"mac-address\": \"52:54:00:00:00:01\",\n    \
        \"hostname\": \"caf\u{e9}\\t\\u00e9\\/\",\n    \"client-id\": \"01:52:54:00:00:00:01\",\n    \"expiry-time\": 4102444800\n  },\n  \
        {\n    \"iaid\": \"7\",\n    \"ip-address\": \"fd00::7\",\n    \"mac-address\": \"52:54:00:00:00:07\",\n    \
        \"x\": [1.5e3, -0, true, null, {\"k\": \"\\ud83d\\ude00\"}],\n    \"server-duid\": \"00:01\",\n    \"expiry-time\": 0\n  }\n]\n"
        .as_bytes();
    const INTERESTING: &[u8] = b"\"\\{}[],:0-e.+ \t\nunlt\x00\x1f\x7f\x80\xc3\xe2\xf0\xff";
    let seed = test_seed("JSON_PARITY_SEED", 0x6a73_6f6e_7061_7269);
    let mut state = seed;
    let mut next = |bound: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % bound as u64) as usize
    };
    let mut docs = Vec::new();
    for _ in 0..300 {
        let mut doc = base.to_vec();
        for _ in 0..1 + next(2) {
            let at = next(doc.len());
            match next(4) {
                0 => {
                    doc.remove(at);
                }
                1 => doc.insert(at, INTERESTING[next(INTERESTING.len())]),
                2 => doc[at] = INTERESTING[next(INTERESTING.len())],
                _ => {
                    let len = 1 + next(8);
                    let slice: Vec<u8> = doc[at..(at + len).min(doc.len())].to_vec();
                    doc.splice(at..at, slice);
                }
            }
        }
        docs.push(doc);
    }
    let names: Vec<String> = (0..docs.len()).map(|i| format!("m{i:03}")).collect();
    let (c_box, our_box) = (Sandbox::new(), Sandbox::new());
    for (name, doc) in names.iter().zip(&docs) {
        c_box.leases.write(&format!("{name}.status"), doc);
        our_box.leases.write(&format!("{name}.status"), doc);
    }
    let c = init_and_rewrite_all(&c_box, &c_helper, &names);
    let ours = init_and_rewrite_all(&our_box, &our_helper, &names);
    let (mut kept_aside, mut h7) = (0, 0);
    for (i, name) in names.iter().enumerate() {
        // H7: where C injects `"server-duid": null` (or then trips over it),
        // we omit it and succeed; the other outputs must still agree.
        let c_null = String::from_utf8_lossy(&c[name].3).contains("\"server-duid\": null");
        let c_wedged = c[name].0 == "1\n"
            && ours[name].0 == "0\n"
            && docs[i].windows(11).any(|w| w == b"server-duid");
        if c_null || c_wedged {
            h7 += 1;
            let ours_file = String::from_utf8_lossy(&ours[name].3);
            assert!(
                !ours_file.contains("\"server-duid\": null"),
                "seed {seed}: {name}: we wrote a null server-duid"
            );
            assert_eq!(ours[name].2, "0\n", "seed {seed}: {name}: our del failed");
            if c_null {
                assert_eq!(
                    (&c[name].0, &c[name].1),
                    (&ours[name].0, &ours[name].1),
                    "seed {seed}: {name}"
                );
            }
            continue;
        }
        assert_eq!(
            c[name],
            ours[name],
            "seed {seed}: {name} differs for b\"{}\"",
            docs[i].escape_ascii()
        );
        if our_box
            .leases
            .path()
            .join(format!("{name}.status.corrupt"))
            .exists()
        {
            kept_aside += 1;
            assert_eq!(
                c[name].1, "",
                "seed {seed}: {name}: we rejected what C printed"
            );
        }
    }
    eprintln!(
        "json mutation parity: seed {seed}, {} documents, {kept_aside} rejected by both, {h7} differ only by H7",
        docs.len()
    );
}

/// The seed of a randomised test: fixed, so that CI is deterministic, unless
/// `var` is set (a number, or `random` for a fresh one, printed on failure).
fn test_seed(var: &str, fixed: u64) -> u64 {
    match std::env::var(var).as_deref() {
        Ok("random") => {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(7, |d| d.as_nanos() as u64)
                | 1
        }
        Ok(number) => number
            .parse()
            .unwrap_or_else(|_| panic!("{var}={number}: not a number")),
        Err(_) => fixed,
    }
}

/// `'...'` shell quoting.
fn shell_quote(bytes: &str) -> String {
    format!("'{}'", bytes.replace('\'', r"'\''"))
}

/// Runs `events` in order through `helper` in one namespace; returns, per
/// event, (exit code, stdout, stderr, virbr0.status afterwards).
fn run_sequence(
    sandbox: &Sandbox,
    helper: &std::path::Path,
    events: &[Event],
) -> Vec<(String, String, String, Vec<u8>)> {
    let out_dir = integration_tests::temp_dir::TempDir::new("lh-seq-out");
    let mut script = String::from("cd /var/lib/libvirt/dnsmasq\nh=\"$1\"; o=\"$2\"\n");
    for (i, event) in events.iter().enumerate() {
        let mut line = String::from("env -i");
        for (key, value) in &event.env {
            line.push(' ');
            line.push_str(&shell_quote(&format!("{key}={}", value.to_string_lossy())));
        }
        line.push_str(" \"$h\"");
        for arg in &event.args {
            line.push(' ');
            line.push_str(&shell_quote(&arg.to_string_lossy()));
        }
        script.push_str(&format!(
            "{line} > \"$o/{i}.out\" 2> \"$o/{i}.err\"; echo $? > \"$o/{i}.rc\"; cat virbr0.status > \"$o/{i}.status\" 2>/dev/null\n"
        ));
    }
    let status = sandbox
        .namespace_command("bash")
        .args(["-c", &script, "sequence"])
        .arg(helper)
        .arg(out_dir.path())
        .status()
        .expect("run sequence");
    assert!(status.success(), "sequence script failed: {status:?}");
    let read = |name: String| std::fs::read(out_dir.path().join(name)).unwrap_or_default();
    let text = |name: String| {
        String::from_utf8_lossy(&read(name)).replace(&*helper.to_string_lossy(), "HELPER")
    };
    (0..events.len())
        .map(|i| {
            (
                text(format!("{i}.rc")),
                text(format!("{i}.out")),
                text(format!("{i}.err")),
                read(format!("{i}.status")),
            )
        })
        .collect()
}

#[test]
fn random_event_sequences_match() {
    // Random argv/env combinations (actions, argument counts, hostname
    // fallbacks, expiry strings, client ids, IPv4/IPv6 events) applied in
    // sequence to one network: every event must have the same exit code,
    // stdout and resulting file in both helpers. Events that would hit an
    // intended difference are not generated: IPv6 events always carry a
    // server DUID (H7) and a MAC or a DUID without one (H8).
    let Some((c_helper, our_helper)) = helpers("random_event_sequences_match") else {
        return;
    };
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(11, |d| d.as_nanos() as u64)
        | 1;
    let mut state = seed;
    let mut pick = |n: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % n as u64) as usize
    };
    let macs = [
        "52:54:00:00:00:01",
        "52:54:00:00:00:02",
        "52:54:00:AA:00:03",
        "52:54:00:00:00:04",
    ];
    // IPv6 addresses only in IPv6 events: an IPv6 lease without a server
    // DUID is exactly where C writes `"server-duid": null` (H7)
    let ips4 = [
        "192.168.122.10",
        "192.168.122.11",
        "192.168.122.12",
        "192.168.122.010",
    ];
    let ips6 = ["2001:db8::1", "2001:DB8::1", "fd00::2"];
    let hosts = ["vm-a", "VM-B", "", "we'ird \"q\" \\ caf\u{e9} /"];
    let expiries = [
        "0",
        "4102444800",
        " 17 ",
        "-5",
        "+3",
        "0x10",
        "",
        "99999999999999999999",
        "\t1700000000\n",
        "4102444801",
        "1000000000",
        "4102444802",
    ];
    let duids = [
        "00:04:b1:6e:a4:36:f1:4c:77:97:96:c5:17:3e:d1:0a:9e:01",
        "00:02:00:00:ab:11:01:02",
    ];
    let mut events = Vec::new();
    for _ in 0..250 {
        let action = [
            "add",
            "add",
            "add",
            "old",
            "old",
            "del",
            "del",
            "init",
            "tftp",
            "--version",
        ][pick(10)];
        let ipv6 = pick(3) == 0;
        let argc = [1, 3, 3, 3, 3, 4, 4, 4, 0, 2][pick(10)];
        let mut args = vec![action.to_owned()];
        let first = if ipv6 { duids[pick(2)] } else { macs[pick(4)] };
        let ip = if ipv6 {
            ips6[pick(ips6.len())]
        } else {
            ips4[pick(ips4.len())]
        };
        let candidates = [first, ip, hosts[pick(hosts.len())], "extra"];
        args.extend(candidates.iter().take(argc).map(|s| (*s).to_owned()));
        let mut event = Event {
            args: args.iter().map(Into::into).collect(),
            env: Vec::new(),
        };
        match pick(6) {
            0 => event = event.env("VIR_BRIDGE_NAME", "virbr0"),
            1 => {
                event = event
                    .env("DNSMASQ_INTERFACE", "virbr0")
                    .env("VIR_BRIDGE_NAME", "other")
            }
            5 if pick(4) == 0 => {} // no interface at all
            _ => event = event.env("DNSMASQ_INTERFACE", "virbr0"),
        }
        if pick(5) != 0 {
            event = event.env("DNSMASQ_LEASE_EXPIRES", expiries[pick(expiries.len())]);
        }
        if pick(2) == 0 {
            event = event.env("DNSMASQ_CLIENT_ID", "01:aa:bb");
        }
        if pick(3) == 0 {
            event = event.env("DNSMASQ_SUPPLIED_HOSTNAME", hosts[pick(hosts.len())]);
        }
        if pick(3) == 0 {
            event = event.env("DNSMASQ_OLD_HOSTNAME", "old-name");
        }
        if ipv6 {
            event = event.env("DNSMASQ_IAID", ["1", "", "42"][pick(3)]).env(
                "DNSMASQ_SERVER_DUID",
                "00:01:00:01:2c:6e:4a:1e:52:54:00:ca:02:01",
            );
            // argc == 2: C would store the out-of-bounds argv[3]
            if argc >= 2 && pick(4) != 0 {
                event = event.env("DNSMASQ_MAC", macs[pick(4)]);
            }
        }
        events.push(event);
    }
    let (c_box, our_box) = (Sandbox::new(), Sandbox::new());
    let c = run_sequence(&c_box, &c_helper, &events);
    let ours = run_sequence(&our_box, &our_helper, &events);
    for (i, ((c_rc, c_out, c_err, c_file), (rc, out, err, file))) in c.iter().zip(&ours).enumerate()
    {
        let context = || {
            format!(
                "seed {seed}, event #{i}: {:?} {:?}\nC: rc {c_rc} out {c_out:?} err {c_err:?}\nours: rc {rc} out {out:?} err {err:?}",
                events[i].args, events[i].env
            )
        };
        assert_eq!((c_rc, c_out), (rc, out), "{}", context());
        if c_err.contains("libvirt:") || c_err.contains("Unable to") {
            assert!(!err.is_empty(), "{}", context());
        } else {
            assert_eq!(c_err, err, "{}", context());
        }
        assert!(
            c_file == file,
            "{}\nC file:\n{}\nour file:\n{}",
            context(),
            String::from_utf8_lossy(c_file),
            String::from_utf8_lossy(file)
        );
    }
    let failures = c.iter().filter(|r| r.0 != "0\n").count();
    eprintln!(
        "random sequences: seed {seed}, {} events ({failures} failing in both), identical",
        events.len()
    );
}
