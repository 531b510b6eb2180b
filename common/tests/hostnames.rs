//! Which names the modules hand out and match: DECISIONS.md N32 (a reverse
//! lookup only ever returns a valid hostname; forward lookups of other names
//! still match, the answer's name being the query) and N33 (the empty name
//! never matches).

use std::fs;
use std::net::IpAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use common::{Answer, Family, FileSet, LeaseDir, Service};

const NOW: i64 = 1_800_000_000;

struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let path = std::env::temp_dir().join(format!(
            "common-hostnames-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir(&path).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
        TempDir(path)
    }

    fn write(&self, name: &str, text: &str) {
        let path = self.0.join(name);
        fs::write(&path, text).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
    }

    fn snapshot(&self) -> LeaseDir {
        let mut dir = LeaseDir::new(&self.0, FileSet::LeasesAndMacs);
        dir.refresh().unwrap();
        dir
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// A lease; `host` is JSON string content (escapes allowed).
fn lease(ip: &str, mac: &str, host: &str, expiry: i64) -> String {
    format!(
        r#"{{"ip-address": "{ip}", "mac-address": "{mac}", "hostname": "{host}", "expiry-time": {expiry}}}"#
    )
}

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

#[test]
fn reverse_lookups_never_return_a_name_that_is_not_a_hostname() {
    let dir = TempDir::new();
    dir.write(
        "virbr0.status",
        &format!(
            "[{}]",
            [
                // the guest's latest lease on .66 forges a line of `getent hosts`
                lease(
                    "10.0.0.66",
                    "52:54:00:00:00:66",
                    r"evil\n10.0.0.66 injected-line",
                    NOW + 200
                ),
                // an older live lease on the same address, with a real name
                lease("10.0.0.66", "52:54:00:00:00:67", "honest", NOW + 100),
                lease("10.0.0.67", "52:54:00:00:00:68", "with space", NOW + 100),
                lease("10.0.0.68", "52:54:00:00:00:69", r"tab\there", NOW + 100),
                lease("10.0.0.69", "52:54:00:00:00:70", "-leading", NOW + 100),
                lease("10.0.0.70", "52:54:00:00:00:71", "a..b", NOW + 100),
                lease("10.0.0.71", "52:54:00:00:00:72", r"rtl\u202egpj", NOW + 100),
                lease("10.0.0.72", "52:54:00:00:00:73", "Web-01.lab_x", NOW + 100),
            ]
            .join(",\n")
        ),
    );
    dir.write(
        "virbr0.macs",
        r#"[{"domain": "my vm", "macs": ["52:54:00:00:00:68"]},
            {"domain": "line\nbreak", "macs": ["52:54:00:00:00:66"]},
            {"domain": "ok-domain", "macs": ["52:54:00:00:00:67"]},
            {"domain": "MixedCaseVM", "macs": ["52:54:00:00:00:73"]}]"#,
    );
    let snapshot = dir.snapshot();
    let libvirt = |a: &str| Service::Libvirt.lookup_address(&snapshot, ip(a), NOW);
    let guest = |a: &str| Service::LibvirtGuest.lookup_address(&snapshot, ip(a), NOW);

    // the forged name is passed over like a missing one: the next live
    // lease on the address names it
    assert_eq!(libvirt("10.0.0.66").as_deref(), Some("honest"));
    for address in [
        "10.0.0.67",
        "10.0.0.68",
        "10.0.0.69",
        "10.0.0.70",
        "10.0.0.71",
    ] {
        assert_eq!(libvirt(address), None, "{address}");
    }
    assert_eq!(libvirt("10.0.0.72").as_deref(), Some("Web-01.lab_x"));
    // libvirt_guest: a domain name that is not a hostname is passed over too
    assert_eq!(guest("10.0.0.66").as_deref(), Some("ok-domain"));
    assert_eq!(guest("10.0.0.67"), None, "domain 'my vm'");
    assert_eq!(guest("10.0.0.72").as_deref(), Some("MixedCaseVM"));

    // forward lookups still match such names exactly (the answer's name is
    // the caller's own query; the addresses are the guest's own leases)
    let forward =
        |service: Service, name: &[u8]| service.lookup_name(&snapshot, name, Family::Any, NOW);
    assert_eq!(
        forward(Service::Libvirt, b"evil\n10.0.0.66 injected-line"),
        Answer::Found(vec![ip("10.0.0.66")])
    );
    assert_eq!(
        forward(Service::LibvirtGuest, b"my vm"),
        Answer::Found(vec![ip("10.0.0.67")])
    );
}

#[test]
fn the_empty_name_never_matches() {
    let dir = TempDir::new();
    dir.write(
        "virbr0.status",
        &format!(
            "[{}]",
            [
                lease("10.0.1.1", "52:54:00:00:01:01", "", NOW + 100),
                lease("10.0.1.2", "52:54:00:00:01:02", "named", NOW + 100),
            ]
            .join(",\n")
        ),
    );
    dir.write(
        "virbr0.macs",
        r#"[{"domain": "", "macs": ["52:54:00:00:01:01", "52:54:00:00:01:02"]}]"#,
    );
    let snapshot = dir.snapshot();
    for service in [Service::Libvirt, Service::LibvirtGuest] {
        for family in [Family::V4, Family::V6, Family::Any] {
            assert_eq!(
                service.lookup_name(&snapshot, b"", family, NOW),
                Answer::NotFound,
                "{service:?} {family:?}"
            );
        }
        assert_eq!(
            service.lookup_address(&snapshot, ip("10.0.1.1"), NOW),
            None,
            "{service:?}"
        );
    }
    assert_eq!(
        Service::Libvirt.lookup_name(&snapshot, b"named", Family::Any, NOW),
        Answer::Found(vec![ip("10.0.1.2")])
    );
}
