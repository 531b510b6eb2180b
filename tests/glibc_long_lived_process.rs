//! One long-lived process (think sshd) resolving through glibc while the
//! lease dir changes under it: glibc keeps the module loaded, so every answer
//! comes through our per-process cache, which must never be stale
//! (DECISIONS.md N23), including for a lease that expires while no file changes
//! (N9) and a same-size rewrite in place within one timestamp tick.
//!
//! The checks run as an `#[ignore]`d test that the visible test re-executes
//! inside `scripts/nsenv.sh`, where the temp lease dir is
//! /var/lib/libvirt/dnsmasq.

use std::ffi::{CStr, CString};
use std::fs;
use std::net::IpAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::thread;
use std::time::Duration;

use integration_tests::lease_format::{macs_file, status_file, DomainMacs, Lease};
use integration_tests::modules;
use integration_tests::nsenv::Namespace;
use integration_tests::prerequisites;
use integration_tests::rerun_in_namespace::IgnoredTest;
use integration_tests::synthetic::now;
use integration_tests::temp_dir::TempDir;

const INSIDE: &str = "GLIBC_LONG_LIVED_INSIDE";
const INNER: &str = "inside_namespace_answers_follow_every_change";
const LEASE_DIR: &str = "/var/lib/libvirt/dnsmasq";
const FUT: i64 = 4_102_444_800;
const MAC_A: &str = "52:54:00:00:00:0a";

#[test]
fn one_process_sees_every_change_to_the_lease_dir() {
    if !prerequisites::satisfied(
        "one_process_sees_every_change_to_the_lease_dir",
        &prerequisites::getent_harness(),
    ) {
        return;
    }
    let leases = TempDir::new("long-lived");
    let namespace = Namespace::new()
        .leases(leases.path())
        .modules(&modules::ours())
        .hosts("libvirt libvirt_guest")
        .dual_net();
    IgnoredTest::new(INNER, INSIDE, namespace)
        .limit(Duration::from_secs(120))
        .run();
}

/// Addresses for `name` from `getaddrinfo(AF_UNSPEC)`, in glibc's order;
/// empty when the name does not resolve.
fn resolve(name: &str) -> Vec<IpAddr> {
    let node = CString::new(name).expect("no NUL");
    // SAFETY: all-zero is a valid addrinfo (null pointers, zero fields).
    let mut hints: libc::addrinfo = unsafe { std::mem::zeroed() };
    hints.ai_family = libc::AF_UNSPEC;
    hints.ai_socktype = libc::SOCK_STREAM;
    let mut list: *mut libc::addrinfo = std::ptr::null_mut();
    // SAFETY: node and hints are valid for the call; list receives an
    // allocation that is freed below.
    let rc = unsafe { libc::getaddrinfo(node.as_ptr(), std::ptr::null(), &hints, &mut list) };
    if rc != 0 {
        return Vec::new();
    }
    let mut addresses = Vec::new();
    let mut entry = list;
    while !entry.is_null() {
        // SAFETY: entry is a node of the list getaddrinfo returned, whose
        // ai_addr points to a sockaddr of the stated family.
        unsafe {
            let ai = &*entry;
            match ai.ai_family {
                libc::AF_INET => {
                    let sin = &*(ai.ai_addr as *const libc::sockaddr_in);
                    addresses.push(IpAddr::from(
                        u32::from_be(sin.sin_addr.s_addr).to_be_bytes(),
                    ));
                }
                libc::AF_INET6 => {
                    let sin6 = &*(ai.ai_addr as *const libc::sockaddr_in6);
                    addresses.push(IpAddr::from(sin6.sin6_addr.s6_addr));
                }
                _ => {}
            }
            entry = ai.ai_next;
        }
    }
    // SAFETY: list came from a successful getaddrinfo and is freed once.
    unsafe { libc::freeaddrinfo(list) };
    addresses
}

/// The name `getnameinfo(NI_NAMEREQD)` finds for an IPv4 address (through
/// the modules' `gethostbyaddr_r`), or `None`.
fn reverse(address: [u8; 4]) -> Option<String> {
    // SAFETY: all-zero is a valid sockaddr_in; the fields are set below.
    let mut sin: libc::sockaddr_in = unsafe { std::mem::zeroed() };
    sin.sin_family = libc::AF_INET as libc::sa_family_t;
    sin.sin_addr.s_addr = u32::from_be_bytes(address).to_be();
    let mut host = [0 as libc::c_char; 1025];
    // SAFETY: sin is a valid sockaddr_in of the given length; host is a
    // writable buffer of the given length; no service buffer is requested.
    let rc = unsafe {
        libc::getnameinfo(
            (&sin as *const libc::sockaddr_in).cast(),
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
            host.as_mut_ptr(),
            host.len() as libc::socklen_t,
            std::ptr::null_mut(),
            0,
            libc::NI_NAMEREQD,
        )
    };
    (rc == 0).then(|| {
        // SAFETY: on success getnameinfo wrote a NUL-terminated string into host.
        unsafe { CStr::from_ptr(host.as_ptr()) }
            .to_string_lossy()
            .into_owned()
    })
}

fn ips(list: &[&str]) -> Vec<IpAddr> {
    list.iter().map(|a| a.parse().expect("address")).collect()
}

/// As the lease helper and libvirtd write: a new file renamed into place.
fn replace(name: &str, contents: &str) {
    let path = Path::new(LEASE_DIR).join(name);
    let staged = path.with_extension("new");
    fs::write(&staged, contents).expect("write .new");
    fs::set_permissions(&staged, fs::Permissions::from_mode(0o644)).expect("chmod .new");
    fs::rename(&staged, &path).expect("rename into place");
}

fn lease(ip: &str, host: &str, expiry: i64) -> String {
    status_file(&[Lease::v4(ip, MAC_A, Some(host), expiry)])
}

#[test]
#[ignore = "runs inside nsenv.sh, started by one_process_sees_every_change_to_the_lease_dir"]
fn inside_namespace_answers_follow_every_change() {
    assert!(
        std::env::var_os(INSIDE).is_some(),
        "run through the outer test, which sets up the namespace"
    );
    let status = Path::new(LEASE_DIR).join("virbr0.status");

    replace("virbr0.status", &lease("10.0.0.1", "vm-a", FUT));
    assert_eq!(resolve("vm-a"), ips(&["10.0.0.1"]), "first read");

    replace("virbr0.status", &lease("10.0.0.2", "vm-a", FUT));
    assert_eq!(resolve("vm-a"), ips(&["10.0.0.2"]), "atomic rewrite");

    // Same size, same inode, within one timestamp tick: stat alone cannot
    // tell, repeated to give the race many chances.
    for round in 0..50 {
        let (old, new) = ("10.0.0.3", "10.0.0.4");
        fs::write(&status, lease(old, "vm-a", FUT)).expect("write in place");
        assert_eq!(resolve("vm-a"), ips(&[old]), "round {round}: in place");
        fs::write(&status, lease(new, "vm-a", FUT)).expect("rewrite in place");
        assert_eq!(
            resolve("vm-a"),
            ips(&[new]),
            "round {round}: same-size rewrite in place"
        );
    }

    replace("virbr1.status", &lease("10.0.1.1", "vm-b", FUT));
    assert_eq!(resolve("vm-b"), ips(&["10.0.1.1"]), "new file");
    fs::remove_file(Path::new(LEASE_DIR).join("virbr1.status")).expect("rm");
    assert_eq!(resolve("vm-b"), ips(&[]), "removed file");

    fs::set_permissions(&status, fs::Permissions::from_mode(0o666)).expect("chmod");
    assert_eq!(resolve("vm-a"), ips(&[]), "world-writable file (N6)");
    fs::set_permissions(&status, fs::Permissions::from_mode(0o644)).expect("chmod");
    assert_eq!(resolve("vm-a"), ips(&["10.0.0.4"]), "safe again");

    assert_eq!(reverse([10, 0, 0, 4]).as_deref(), Some("vm-a"), "reverse");
    replace("virbr0.status", &lease("10.0.0.4", "vm-renamed", FUT));
    assert_eq!(
        reverse([10, 0, 0, 4]).as_deref(),
        Some("vm-renamed"),
        "reverse after rename"
    );

    let domain = |name: &str| DomainMacs {
        domain: name.to_owned(),
        macs: vec![MAC_A.to_owned()],
    };
    replace("virbr0.macs", &macs_file(&[domain("dom-a")]));
    assert_eq!(resolve("dom-a"), ips(&["10.0.0.4"]), "guest domain");
    replace("virbr0.macs", &macs_file(&[domain("dom-z")]));
    assert_eq!(resolve("dom-a"), ips(&[]), "domain gone from .macs");
    assert_eq!(
        resolve("dom-z"),
        ips(&["10.0.0.4"]),
        "domain added to .macs"
    );

    // Expiry is judged at lookup time, not when the file was read.
    let expires = now() + 2;
    replace("virbr0.status", &lease("10.0.0.5", "vm-expiring", expires));
    assert_eq!(resolve("vm-expiring"), ips(&["10.0.0.5"]), "before expiry");
    while now() <= expires {
        thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        resolve("vm-expiring"),
        ips(&[]),
        "expired without any file change"
    );
}
