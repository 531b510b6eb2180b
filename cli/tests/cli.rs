//! Runs the built `libvirt-nss` against lease dirs and nsswitch.conf files
//! made in temp dirs (0755 dirs, 0644 files: the modules ignore anything
//! writable by group or others).

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

const BIN: &str = env!("CARGO_BIN_EXE_libvirt-nss");

/// A temp dir removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "libvirt-nss-cli-test.{}.{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir(&path).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
        TempDir(path)
    }

    fn subdir(&self, name: &str) -> PathBuf {
        let dir = self.0.join(name);
        fs::create_dir(&dir).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
        dir
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        write_file(&self.0.join(name), text, 0o644)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn write_file(path: &Path, text: &str, mode: u32) -> PathBuf {
    fs::write(path, text).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
    path.to_owned()
}

const VIRBR0_STATUS: &str = r#"[
  {
    "ip-address": "192.168.122.10",
    "mac-address": "52:54:00:aa:00:01",
    "hostname": "web01",
    "client-id": "01:52:54:00:aa:00:01",
    "expiry-time": 4102444800
  },
  {
    "iaid": "11141121",
    "ip-address": "fd00:122::10",
    "mac-address": "52:54:00:aa:00:01",
    "hostname": "web01",
    "client-id": "00:03:00:01:52:54:00:aa:00:01",
    "server-duid": "00:01:00:01:32:97:e6:9e:26:1c:1d:78:38:8e",
    "expiry-time": 4102444800
  },
  {
    "ip-address": "192.168.122.11",
    "mac-address": "52:54:00:aa:00:02",
    "hostname": "db01",
    "client-id": "01:52:54:00:aa:00:02",
    "expiry-time": 0
  },
  {
    "ip-address": "192.168.122.12",
    "mac-address": "52:54:00:aa:00:03",
    "client-id": "01:52:54:00:aa:00:03",
    "expiry-time": 4102444800
  },
  {
    "ip-address": "192.168.122.13",
    "mac-address": "52:54:00:aa:00:04",
    "hostname": "old-vm",
    "client-id": "01:52:54:00:aa:00:04",
    "expiry-time": 1000000000
  }
]
"#;

const VIRBR0_MACS: &str = r#"[
  {
    "domain": "builder",
    "macs": [
      "52:54:00:aa:00:03"
    ]
  },
  {
    "domain": "web01",
    "macs": [
      "52:54:00:aa:00:01"
    ]
  }
]
"#;

const VIRBR1_STATUS: &str = r#"[
  {
    "ip-address": "192.168.100.20",
    "mac-address": "52:54:00:bb:00:01",
    "hostname": "app01",
    "client-id": "01:52:54:00:bb:00:01",
    "expiry-time": 4102444800
  }
]
"#;

const VIRBR1_MACS: &str = r#"[
  {
    "domain": "staging",
    "macs": [
      "52:54:00:bb:00:02"
    ]
  }
]
"#;

/// A lease dir, an nsswitch.conf and an (empty) module dir.
struct Setup {
    tmp: TempDir,
    leases: PathBuf,
    libdir: PathBuf,
}

impl Setup {
    fn new() -> Setup {
        let tmp = TempDir::new();
        let leases = tmp.subdir("leases");
        write_file(&leases.join("virbr0.status"), VIRBR0_STATUS, 0o644);
        write_file(&leases.join("virbr0.macs"), VIRBR0_MACS, 0o644);
        write_file(&leases.join("virbr1.status"), VIRBR1_STATUS, 0o644);
        write_file(&leases.join("virbr1.macs"), VIRBR1_MACS, 0o644);
        let libdir = tmp.subdir("lib");
        Setup {
            tmp,
            leases,
            libdir,
        }
    }

    fn nsswitch(&self, hosts: &str) -> PathBuf {
        self.tmp.write(
            "nsswitch.conf",
            &format!("passwd: files\n# hosts: nothing\nhosts:    {hosts}\nnetworks: files\n"),
        )
    }

    fn run(&self, args: &[&str]) -> Output {
        let mut command = Command::new(BIN);
        command
            .env("LIBVIRT_NSS_CLI_RUN_DIR", self.tmp.0.join("run"))
            .arg("--lease-dir")
            .arg(&self.leases)
            .arg("--libdir")
            .arg(&self.libdir)
            .args(args)
            .env_remove("NO_COLOR");
        command.output().unwrap()
    }

    fn explain(&self, hosts: &str, name: &str) -> (String, i32) {
        let nsswitch = self.nsswitch(hosts);
        let out = self.run(&["--nsswitch", nsswitch.to_str().unwrap(), "explain", name]);
        (stdout(&out), out.status.code().unwrap())
    }

    /// Fake modules exporting the NSS entry points, built with the system C
    /// compiler; false (test skipped) when there is none.
    fn install_fake_modules(&self) -> bool {
        for service in ["libvirt", "libvirt_guest"] {
            let source = self.tmp.write(
                &format!("{service}.c"),
                &format!(
                    "int _nss_{service}_gethostbyname4_r(void) {{ return 0; }}\n\
                     int _nss_{service}_gethostbyname2_r(void) {{ return 0; }}\n\
                     int _nss_{service}_gethostbyaddr_r(void) {{ return 0; }}\n"
                ),
            );
            let built = Command::new(std::env::var("CC").unwrap_or_else(|_| "cc".into()))
                .args(["-shared", "-fPIC", "-o"])
                .arg(self.libdir.join(format!("libnss_{service}.so.2")))
                .arg(&source)
                .status();
            if !built.is_ok_and(|s| s.success()) {
                eprintln!("SKIPPED: no working C compiler to build a fake module");
                return false;
            }
        }
        true
    }
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn has_line(text: &str, wanted: &str) -> bool {
    text.lines().any(|l| l.contains(wanted))
}

#[track_caller]
fn assert_line(text: &str, wanted: &str) {
    assert!(
        has_line(text, wanted),
        "no line with {wanted:?} in:\n{text}"
    );
}

// ---------------------------------------------------------------- list --

#[test]
fn list_shows_every_name_with_module_network_and_expiry() {
    let setup = Setup::new();
    let out = setup.run(&["list"]);
    assert_eq!(out.status.code(), Some(0));
    let text = stdout(&out);
    let rows: Vec<Vec<&str>> = text
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        rows[0],
        ["NAME", "MODULE", "ADDRESS", "NETWORK", "MAC", "EXPIRES"]
    );
    let expected: Vec<Vec<&str>> = vec![
        vec![
            "app01",
            "libvirt",
            "192.168.100.20",
            "virbr1",
            "52:54:00:bb:00:01",
            "2100-01-01",
            "00:00:00",
            "UTC",
            "(4102444800)",
        ],
        vec![
            "builder",
            "libvirt_guest",
            "192.168.122.12",
            "virbr0",
            "52:54:00:aa:00:03",
            "2100-01-01",
            "00:00:00",
            "UTC",
            "(4102444800)",
        ],
        vec![
            "db01",
            "libvirt",
            "192.168.122.11",
            "virbr0",
            "52:54:00:aa:00:02",
            "infinite",
            "(0)",
        ],
        vec![
            "old-vm",
            "libvirt",
            "192.168.122.13",
            "virbr0",
            "52:54:00:aa:00:04",
            "EXPIRED",
            "2001-09-09",
            "01:46:40",
            "UTC",
            "(1000000000)",
        ],
        vec!["staging", "libvirt_guest", "-", "-", "-", "no", "lease"],
        vec![
            "web01",
            "libvirt",
            "192.168.122.10",
            "virbr0",
            "52:54:00:aa:00:01",
            "2100-01-01",
            "00:00:00",
            "UTC",
            "(4102444800)",
        ],
        vec![
            "web01",
            "libvirt",
            "fd00:122::10",
            "virbr0",
            "52:54:00:aa:00:01",
            "2100-01-01",
            "00:00:00",
            "UTC",
            "(4102444800)",
        ],
        vec![
            "web01",
            "libvirt_guest",
            "192.168.122.10",
            "virbr0",
            "52:54:00:aa:00:01",
            "2100-01-01",
            "00:00:00",
            "UTC",
            "(4102444800)",
        ],
        vec![
            "web01",
            "libvirt_guest",
            "fd00:122::10",
            "virbr0",
            "52:54:00:aa:00:01",
            "2100-01-01",
            "00:00:00",
            "UTC",
            "(4102444800)",
        ],
    ];
    assert_eq!(rows[1..], expected[..], "{text}");
    assert!(!text.contains('\x1b'), "no colour when stdout is not a TTY");
}

/// DECISIONS.md N32: a guest-chosen name with a newline (or a terminal
/// escape) cannot forge a row of `list` or a line of `explain`/`resolve`.
#[test]
fn names_from_the_files_are_escaped_in_the_output() {
    let setup = Setup::new();
    write_file(
        &setup.leases.join("virbr9.status"),
        r#"[{"ip-address": "10.9.0.66", "mac-address": "52:54:00:09:00:66",
             "hostname": "evil\n10.0.0.66 injected-line\u001b[2J", "expiry-time": 0}]"#,
        0o644,
    );
    let out = setup.run(&["list"]);
    let text = stdout(&out);
    assert!(
        !text.lines().any(|l| l.starts_with("10.0.0.66")),
        "forged row in:\n{text}"
    );
    assert!(!text.contains('\u{1b}'), "terminal escape in:\n{text}");
    assert_line(&text, r"evil\n10.0.0.66 injected-line\u{001b}[2J");

    let (text, _) = setup.explain(GOOD_HOSTS, "evil\n10.0.0.66 injected-line\u{1b}[2J");
    for line in text.lines() {
        assert!(
            ["ok  ", "FAIL", "warn", "info"]
                .iter()
                .any(|tag| line.starts_with(tag)),
            "a line without a finding tag: {line:?} in:\n{text}"
        );
    }
    assert_line(&text, r"evil\n10.0.0.66 injected-line\u{001b}[2J");
}

#[test]
fn list_json_has_epoch_and_expired_flags() {
    let setup = Setup::new();
    let out = setup.run(&["list", "--json"]);
    assert_eq!(out.status.code(), Some(0));
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 9);
    let old = rows.iter().find(|r| r["name"] == "old-vm").unwrap();
    assert_eq!(old["expired"], true);
    assert_eq!(old["expiry"], 1_000_000_000);
    assert_eq!(old["expiry_utc"], "2001-09-09 01:46:40 UTC");
    assert_eq!(old["network"], "virbr0");
    let db = rows.iter().find(|r| r["name"] == "db01").unwrap();
    assert_eq!(db["expiry_utc"], "infinite");
    assert_eq!(db["expired"], false);
    let staging = rows.iter().find(|r| r["name"] == "staging").unwrap();
    assert_eq!(staging["lease"], false);
    assert_eq!(staging["module"], "libvirt_guest");
    let v6 = rows
        .iter()
        .find(|r| r["address"] == "fd00:122::10" && r["module"] == "libvirt")
        .unwrap();
    assert_eq!(v6["family"], 6);
}

#[test]
fn list_notes_ignored_files_on_stderr() {
    let setup = Setup::new();
    write_file(
        &setup.leases.join("virbr9.status"),
        "[{\"ip-address\": ",
        0o644,
    );
    let out = setup.run(&["list"]);
    assert_eq!(out.status.code(), Some(0));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("virbr9.status ignored: not valid JSON"),
        "{err}"
    );
}

// ------------------------------------------------------------- resolve --

#[test]
fn resolve_prints_status_then_addresses_in_module_order() {
    let setup = Setup::new();
    let out = setup.run(&["resolve", "web01"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        stdout(&out),
        "libvirt: SUCCESS\n192.168.122.10\nfd00:122::10\n"
    );

    let out = setup.run(&["resolve", "-6", "WEB01"]);
    assert_eq!(stdout(&out), "libvirt: SUCCESS\nfd00:122::10\n");

    let out = setup.run(&["resolve", "-4", "web01", "--guest"]);
    assert_eq!(stdout(&out), "libvirt_guest: SUCCESS\n192.168.122.10\n");

    let out = setup.run(&["resolve", "builder", "--guest"]);
    assert_eq!(stdout(&out), "libvirt_guest: SUCCESS\n192.168.122.12\n");
}

#[test]
fn resolve_failures_have_the_modules_status() {
    let setup = Setup::new();
    let out = setup.run(&["resolve", "builder"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stdout(&out), "libvirt: NOTFOUND (HOST_NOT_FOUND)\n");

    let out = setup.run(&["resolve", "-6", "app01"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stdout(&out),
        "libvirt: NOTFOUND (NO_DATA: the name has live leases, none IPv6)\n"
    );

    let out = setup.run(&["resolve", "old-vm"]);
    assert_eq!(stdout(&out), "libvirt: NOTFOUND (HOST_NOT_FOUND)\n");

    let missing = setup.tmp.0.join("no-such-dir");
    let out = Command::new(BIN)
        .arg("--lease-dir")
        .arg(&missing)
        .args(["resolve", "web01"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).starts_with("libvirt: UNAVAIL (lease dir "),
        "{}",
        stdout(&out)
    );
}

#[test]
fn resolve_reverse() {
    let setup = Setup::new();
    let out = setup.run(&["resolve", "--reverse", "fd00:122::10"]);
    assert_eq!(stdout(&out), "libvirt: SUCCESS\nweb01\n");
    let out = setup.run(&["resolve", "--reverse", "192.168.122.12", "--guest"]);
    assert_eq!(stdout(&out), "libvirt_guest: SUCCESS\nbuilder\n");
    let out = setup.run(&["resolve", "--reverse", "192.168.122.12"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stdout(&out), "libvirt: NOTFOUND (HOST_NOT_FOUND)\n");
    let out = setup.run(&["resolve", "--reverse", "not-an-ip"]);
    assert_eq!(out.status.code(), Some(2));
}

// ------------------------------------------------------------- explain --

const GOOD_HOSTS: &str = "files libvirt libvirt_guest dns";

#[test]
fn explain_module_missing_from_hosts_line() {
    let setup = Setup::new();
    let (text, code) = setup.explain("files dns", "web01");
    assert_eq!(code, 1, "{text}");
    assert_line(&text, "info hosts: files dns  (");
    assert_line(
        &text,
        "FAIL neither libvirt nor libvirt_guest is on the hosts: line of",
    );
    assert_line(
        &text,
        "FAIL web01 does not resolve: glibc stops at dns (NOTFOUND)",
    );
}

#[test]
fn explain_only_guest_answers_but_guest_missing_from_hosts_line() {
    let setup = Setup::new();
    let (text, code) = setup.explain("files libvirt dns", "builder");
    assert_eq!(code, 1, "{text}");
    assert_line(
        &text,
        "FAIL only libvirt_guest knows this name, and libvirt_guest is not on the hosts: line",
    );
}

#[test]
fn explain_placed_after_resolve_unavail_return() {
    let setup = Setup::new();
    let (text, code) = setup.explain(
        "mymachines resolve [!UNAVAIL=return] files myhostname dns libvirt libvirt_guest",
        "web01",
    );
    assert_eq!(code, 1, "{text}");
    // Whether it is FAIL or warn depends on systemd-resolved running here.
    assert_line(&text, "libvirt comes after `resolve [!UNAVAIL=return]`");
    assert_line(
        &text,
        "libvirt_guest comes after `resolve [!UNAVAIL=return]`",
    );
    assert_line(&text, "put libvirt before resolve");
}

#[test]
fn explain_after_resolve_fails_while_systemd_resolved_runs() {
    let setup = Setup::new();
    if !setup.install_fake_modules() {
        return;
    }
    let hosts = "files resolve [!UNAVAIL=return] dns libvirt libvirt_guest";
    // Not running: resolve is UNAVAIL, glibc goes on and reaches libvirt.
    let (text, code) = setup.explain(hosts, "web01");
    assert_eq!(code, 0, "{text}");
    assert_line(
        &text,
        "warn libvirt comes after `resolve [!UNAVAIL=return]`: whenever systemd-resolved runs (it does not now)",
    );
    // Running: resolve's NOTFOUND is final.
    let socket_dir = setup.tmp.0.join("run/systemd/resolve");
    fs::create_dir_all(&socket_dir).unwrap();
    fs::write(socket_dir.join("io.systemd.Resolve"), "").unwrap();
    let (text, code) = setup.explain(hosts, "web01");
    assert_eq!(code, 1, "{text}");
    assert_line(
        &text,
        "FAIL libvirt comes after `resolve [!UNAVAIL=return]` and systemd-resolved is running",
    );
    assert_line(
        &text,
        "FAIL web01 does not resolve: glibc stops at resolve (NOTFOUND)",
    );
}

#[test]
fn explain_warns_about_nscd() {
    let setup = Setup::new();
    let (text, _) = setup.explain(GOOD_HOSTS, "web01");
    assert!(!has_line(&text, "nscd"), "{text}");
    fs::create_dir_all(setup.tmp.0.join("run/nscd")).unwrap();
    fs::write(setup.tmp.0.join("run/nscd/socket"), "").unwrap();
    let (text, _) = setup.explain(GOOD_HOSTS, "web01");
    assert_line(&text, "warn nscd or nsncd is running (");
    assert_line(&text, "nscd -i hosts");
}

#[test]
fn explain_placed_after_dns_notfound_return() {
    let setup = Setup::new();
    let (text, code) = setup.explain("files dns [NOTFOUND=return] libvirt", "web01");
    assert_eq!(code, 1, "{text}");
    assert_line(
        &text,
        "FAIL libvirt comes after `dns [NOTFOUND=return]`: a name dns does not know stops there",
    );
}

#[test]
fn explain_mdns_minimal_notfound_return_does_not_block_vm_names() {
    let setup = Setup::new();
    let hosts = "files mdns4_minimal [NOTFOUND=return] libvirt libvirt_guest dns";
    let (text, _) = setup.explain(hosts, "web01");
    assert!(!has_line(&text, "comes after"), "{text}");
    assert_line(&text, "ok   libvirt is on the hosts: line (service 3 of 5)");
    let (text, _) = setup.explain(hosts, "web01.local");
    assert_line(
        &text,
        "libvirt comes after `mdns4_minimal [NOTFOUND=return]`",
    );
}

#[test]
fn explain_expired_lease() {
    let setup = Setup::new();
    let (text, code) = setup.explain(GOOD_HOSTS, "old-vm");
    assert_eq!(code, 1, "{text}");
    assert_line(
        &text,
        "FAIL lease of old-vm on virbr0 (192.168.122.13) expired 2001-09-09 01:46:40 UTC (",
    );
    assert_line(&text, "years ago)");
}

#[test]
fn explain_guest_without_hostname() {
    let setup = Setup::new();
    let (text, _) = setup.explain(GOOD_HOSTS, "builder");
    assert_line(
        &text,
        "ok   libvirt_guest: domain builder is in virbr0.macs (MAC 52:54:00:aa:00:03), leases 192.168.122.12",
    );
    assert_line(
        &text,
        "warn guest sent no hostname: the leases of domain builder (192.168.122.12 on virbr0) carry no DHCP hostname",
    );
    assert_line(&text, "libvirt_guest answers it");
}

#[test]
fn explain_domain_without_lease() {
    let setup = Setup::new();
    let (text, code) = setup.explain(GOOD_HOSTS, "staging");
    assert_eq!(code, 1, "{text}");
    assert_line(
        &text,
        "FAIL domain staging is in virbr1.macs (MAC 52:54:00:bb:00:02) but holds no lease",
    );
}

#[test]
fn explain_unknown_name() {
    let setup = Setup::new();
    let (text, code) = setup.explain(GOOD_HOSTS, "nosuch");
    assert_eq!(code, 1, "{text}");
    assert_line(
        &text,
        "FAIL unknown name: no lease has the hostname nosuch and no .macs file lists a domain nosuch",
    );
    assert_line(
        &text,
        "info names that resolve: app01, builder, db01, web01",
    );

    let (text, _) = setup.explain(GOOD_HOSTS, "web01.example.com");
    assert_line(&text, "web01 resolves: the modules match bare names");
    let (text, _) = setup.explain(GOOD_HOSTS, "web01.");
    assert_line(&text, "drop the trailing dot");
}

#[test]
fn explain_module_not_installed() {
    let setup = Setup::new();
    let (text, code) = setup.explain(GOOD_HOSTS, "web01");
    assert_eq!(code, 1, "{text}");
    assert_line(
        &text,
        "FAIL libnss_libvirt.so.2 is not installed (looked in",
    );
    assert_line(
        &text,
        "FAIL web01 does not resolve: glibc stops at dns (NOTFOUND)",
    );
}

#[test]
fn explain_module_not_an_elf_file() {
    let setup = Setup::new();
    write_file(&setup.libdir.join("libnss_libvirt.so.2"), "not elf", 0o644);
    let (text, _) = setup.explain(GOOD_HOSTS, "web01");
    assert_line(
        &text,
        "libnss_libvirt.so.2: not an ELF file: glibc cannot load it",
    );
}

#[test]
fn explain_resolves_with_installed_modules() {
    let setup = Setup::new();
    if !setup.install_fake_modules() {
        return;
    }
    let (text, code) = setup.explain(GOOD_HOSTS, "web01");
    assert_eq!(code, 0, "{text}");
    assert_line(&text, "ok   libvirt module: ");
    assert_line(&text, "ok   libvirt is on the hosts: line (service 2 of 4)");
    assert_line(
        &text,
        "ok   web01 resolves through libvirt: 192.168.122.10 fd00:122::10",
    );

    let (text, code) = setup.explain(GOOD_HOSTS, "builder");
    assert_eq!(code, 0, "{text}");
    assert_line(
        &text,
        "ok   builder resolves through libvirt_guest: 192.168.122.12",
    );

    // Not reached: dns [NOTFOUND=return] in front.
    let (text, code) = setup.explain("files dns [NOTFOUND=return] libvirt", "web01");
    assert_eq!(code, 1, "{text}");
}

#[test]
fn the_shipped_nsswitch_examples_reach_the_modules() {
    let setup = Setup::new();
    if !setup.install_fake_modules() {
        return;
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../nsswitch-examples");
    let mut checked = 0;
    for entry in fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension() != Some(std::ffi::OsStr::new("conf")) {
            continue;
        }
        for name in ["web01", "builder"] {
            let out = setup.run(&["--nsswitch", path.to_str().unwrap(), "explain", name]);
            let text = stdout(&out);
            assert_eq!(out.status.code(), Some(0), "{}:\n{text}", path.display());
            assert!(
                !has_line(&text, "comes after"),
                "{}:\n{text}",
                path.display()
            );
        }
        checked += 1;
    }
    assert!(checked >= 4);
}

#[test]
fn explain_ignored_files_are_reported() {
    let setup = Setup::new();
    write_file(&setup.leases.join("virbr2.status"), "[]", 0o666);
    let (text, _) = setup.explain(GOOD_HOSTS, "web01");
    assert_line(
        &text,
        "virbr2.status ignored, writable by group or others (mode 0666)",
    );
}

#[test]
fn explain_unusable_lease_dir() {
    let setup = Setup::new();
    fs::set_permissions(&setup.leases, fs::Permissions::from_mode(0o777)).unwrap();
    let (text, code) = setup.explain(GOOD_HOSTS, "web01");
    assert_eq!(code, 1, "{text}");
    assert_line(
        &text,
        "is writable by group or others: the modules ignore all of it",
    );
}

// --------------------------------------------------------------- check --

#[test]
fn check_clean_dir_passes() {
    let setup = Setup::new();
    let out = setup.run(&["check"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let text = stdout(&out);
    assert_line(&text, "ok   ");
    assert_line(&text, "virbr0.status: 5 leases (1 expired)");
    assert_line(&text, "virbr0.macs: 2 domains");
}

#[test]
fn check_reports_every_problem() {
    let setup = Setup::new();
    write_file(
        &setup.leases.join("broken.status"),
        "[\n  {\n    \"ip-address\": \"10.0.0.1\",\n  ]\n",
        0o644,
    );
    write_file(&setup.leases.join("open.status"), "[]", 0o664);
    write_file(
        &setup.leases.join("skips.status"),
        "[{\"ip-address\": \"10.1\"}, {\"ip-address\": \"10.0.0.1\"}]",
        0o644,
    );
    let out = setup.run(&["check"]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert_line(&text, "FAIL");
    assert_line(&text, "broken.status: ignored, not valid JSON: ");
    assert_line(&text, "line 4 column 3");
    assert_line(
        &text,
        "open.status: ignored, writable by group or others (mode 0664)",
    );
    assert_line(
        &text,
        "skips.status: 1 leases (0 expired), 1 unusable entries skipped",
    );
    assert_line(&text, "FAIL 3 files with problems");
}

// ---------------------------------------------------------------- misc --

#[test]
fn usage_errors_exit_2_and_help_exits_0() {
    let setup = Setup::new();
    for args in [
        &[][..],
        &["frobnicate"],
        &["resolve"],
        &["resolve", "a", "b"],
        &["resolve", "-4", "-6", "x"],
        &["list", "--bogus"],
        &["explain"],
        &["check", "extra"],
        &["--lease-dir"],
    ] {
        let out = Command::new(BIN).args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(!out.stderr.is_empty());
    }
    let out = setup.run(&["--help"]);
    assert_eq!(out.status.code(), Some(0));
    let text = stdout(&out);
    assert!(text.contains("Examples:"));
    assert!(text.contains("libvirt-nss explain vm-alpha"));
    assert!(text.contains("/var/lib/libvirt/dnsmasq") || text.contains("default: /"));
}

#[test]
fn color_only_on_request_or_terminal() {
    let setup = Setup::new();
    let nsswitch = setup.nsswitch(GOOD_HOSTS);
    let nsswitch = nsswitch.to_str().unwrap();
    let out = setup.run(&[
        "--nsswitch",
        nsswitch,
        "--color",
        "always",
        "explain",
        "web01",
    ]);
    assert!(stdout(&out).contains("\x1b[32mok  \x1b[0m"));
    let out = setup.run(&["--nsswitch", nsswitch, "explain", "web01"]);
    assert!(!stdout(&out).contains('\x1b'));
}
