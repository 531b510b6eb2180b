//! The built `.so` files, called in-process through `dlopen` like glibc does:
//! every entry point, every family, the buffer protocol byte by byte.
//!
//! The modules read the compiled-in `/var/lib/libvirt/dnsmasq`, so each check
//! runs as an `#[ignore]`d test re-executed inside `scripts/nsenv.sh` (a
//! private mount namespace with a fixture bind-mounted there); the visible
//! tests below start those runs and require them to pass.

use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::net::IpAddr;
use std::path::Path;
use std::ptr;

use integration_tests::nss_module::{hostent_addresses, GaihAddrTuple, NssModule};
use integration_tests::prerequisites;
use integration_tests::rerun_in_namespace::run_ignored_test_inside;
use integration_tests::temp_dir::TempDir;

const INSIDE: &str = "NSS_FFI_INSIDE_NAMESPACE";

// <nss.h> and <netdb.h> values the modules must produce.
const TRYAGAIN: c_int = -2;
const UNAVAIL: c_int = -1;
const NOTFOUND: c_int = 0;
const SUCCESS: c_int = 1;
const NETDB_INTERNAL: c_int = -1;
const NETDB_SUCCESS: c_int = 0;
const HOST_NOT_FOUND: c_int = 1;
const NO_RECOVERY: c_int = 3;
const NO_DATA: c_int = 4;
const POISON: u8 = 0xAA;
const ERRNO_SENTINEL: c_int = 4242;

/// Runs the ignored test `inner` inside a namespace holding `leases` (or no
/// lease dir at all), and fails unless it passed there.
fn run_inside(inner: &str, leases: Option<&Path>) {
    if !prerequisites::satisfied(inner, &prerequisites::getent_harness()) {
        return;
    }
    run_ignored_test_inside(inner, INSIDE, leases);
}

fn assert_inside() {
    assert!(
        std::env::var_os(INSIDE).is_some(),
        "run through the outer test, which sets up the namespace"
    );
}

fn upstream_fixture() -> TempDir {
    TempDir::from_fixture("libvirt-upstream-nssdata")
}

#[test]
fn entry_points_answer_like_glibc_expects() {
    let dir = upstream_fixture();
    run_inside(
        "inner_entry_points_answer_like_glibc_expects",
        Some(dir.path()),
    );
}

#[test]
fn short_buffers_ask_for_more_and_never_write_past_buflen() {
    let dir = upstream_fixture();
    run_inside(
        "inner_short_buffers_ask_for_more_and_never_write_past_buflen",
        Some(dir.path()),
    );
}

#[test]
fn unaligned_buffers_and_caller_supplied_tuples() {
    let dir = upstream_fixture();
    run_inside(
        "inner_unaligned_buffers_and_caller_supplied_tuples",
        Some(dir.path()),
    );
}

#[test]
fn missing_lease_dir_is_unavailable() {
    run_inside("inner_missing_lease_dir_is_unavailable", None);
}

// ---------------------------------------------------------------- calling --

/// Which entry point a call goes through.
#[derive(Clone, Copy, Debug)]
enum Entry {
    ByName,
    ByName2(c_int),
    ByName3(c_int),
    ByName4,
}

const ALL_ENTRIES: [Entry; 10] = [
    Entry::ByName,
    Entry::ByName2(libc::AF_INET),
    Entry::ByName2(libc::AF_INET6),
    Entry::ByName2(libc::AF_UNSPEC),
    Entry::ByName3(libc::AF_INET),
    Entry::ByName3(libc::AF_INET6),
    Entry::ByName3(libc::AF_UNSPEC),
    Entry::ByName4,
    Entry::ByName2(libc::AF_UNIX),
    Entry::ByName3(17),
];

/// Everything a call returned or wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Reply {
    status: c_int,
    errno: c_int,
    herrno: c_int,
    /// (h_name or tuple name, addresses) on success.
    answer: Option<(String, Vec<IpAddr>)>,
}

/// A buffer with poisoned guard bytes after `buflen`, at a chosen alignment.
struct Arena {
    bytes: Vec<u8>,
    offset: usize,
    buflen: usize,
}

const GUARD: usize = 64;

impl Arena {
    fn new(buflen: usize, misalign: usize) -> Arena {
        let mut bytes = vec![POISON; buflen + GUARD + 16];
        let offset = (16 - (bytes.as_mut_ptr() as usize % 16)) % 16 + misalign;
        bytes.truncate(offset + buflen + GUARD);
        Arena {
            bytes,
            offset,
            buflen,
        }
    }
    fn start(&mut self) -> *mut c_char {
        self.bytes[self.offset..].as_mut_ptr() as *mut c_char
    }
    fn region(&self) -> &[u8] {
        &self.bytes[self.offset..self.offset + self.buflen]
    }
    fn guard_intact(&self) -> bool {
        self.bytes[..self.offset]
            .iter()
            .chain(&self.bytes[self.offset + self.buflen..])
            .all(|&b| b == POISON)
    }
    fn untouched(&self) -> bool {
        self.bytes.iter().all(|&b| b == POISON)
    }
}

/// The addresses of a filled hostent, checking that every pointer glibc
/// will follow is aligned and that there are no aliases.
fn checked_hostent_addresses(h: &libc::hostent) -> Vec<IpAddr> {
    let pointer_align = std::mem::align_of::<*mut c_char>();
    assert_eq!(h.h_aliases as usize % pointer_align, 0, "h_aliases aligned");
    assert_eq!(
        h.h_addr_list as usize % pointer_align,
        0,
        "h_addr_list aligned"
    );
    // SAFETY: on SUCCESS the module filled h_aliases (NULL-terminated) and
    // h_addr_list inside our live buffer.
    unsafe {
        assert!((*h.h_aliases).is_null(), "no aliases");
        hostent_addresses(h)
    }
}

fn tuple_addresses(first: *const GaihAddrTuple) -> (String, Vec<IpAddr>) {
    let mut out = Vec::new();
    let mut name = String::new();
    let mut p = first;
    // SAFETY: on SUCCESS the module built a NULL-terminated tuple chain.
    unsafe {
        while !p.is_null() {
            assert_eq!(
                p as usize % std::mem::align_of::<GaihAddrTuple>(),
                0,
                "tuple aligned"
            );
            let t = *p;
            name = CStr::from_ptr(t.name).to_string_lossy().into_owned();
            let raw: [u8; 16] = std::mem::transmute(t.addr);
            out.push(match t.family {
                libc::AF_INET => IpAddr::from(<[u8; 4]>::try_from(&raw[..4]).unwrap()),
                libc::AF_INET6 => IpAddr::from(raw),
                f => panic!("family {f}"),
            });
            assert_eq!(t.scopeid, 0);
            p = t.next;
        }
    }
    (name, out)
}

/// Calls `entry` for `name` with a buffer of `buflen` bytes at `misalign`.
fn call(
    module: &NssModule,
    entry: Entry,
    name: &str,
    buflen: usize,
    misalign: usize,
) -> (Reply, Arena) {
    let name_c = CString::new(name).unwrap();
    let mut arena = Arena::new(buflen, misalign);
    let (mut errno, mut herrno) = (ERRNO_SENTINEL, ERRNO_SENTINEL);
    // SAFETY: all pointers are valid for the NSS contract; buflen is the
    // arena's usable length.
    let reply = unsafe {
        let mut result: libc::hostent = std::mem::zeroed();
        let (mut ttl, mut canon): (i32, *mut c_char) = (-7, ptr::null_mut());
        let mut pat: *mut GaihAddrTuple = ptr::null_mut();
        let buffer = arena.start();
        let n = name_c.as_ptr();
        let status = match entry {
            Entry::ByName => {
                (module.gethostbyname_r)(n, &mut result, buffer, buflen, &mut errno, &mut herrno)
            }
            Entry::ByName2(af) => (module.gethostbyname2_r)(
                n,
                af,
                &mut result,
                buffer,
                buflen,
                &mut errno,
                &mut herrno,
            ),
            Entry::ByName3(af) => (module.gethostbyname3_r)(
                n,
                af,
                &mut result,
                buffer,
                buflen,
                &mut errno,
                &mut herrno,
                &mut ttl,
                &mut canon,
            ),
            Entry::ByName4 => (module.gethostbyname4_r)(
                n,
                &mut pat,
                buffer,
                buflen,
                &mut errno,
                &mut herrno,
                &mut ttl,
            ),
        };
        let answer = (status == SUCCESS).then(|| match entry {
            Entry::ByName4 => {
                assert_eq!(ttl, 0);
                tuple_addresses(pat)
            }
            _ => {
                if let Entry::ByName3(_) = entry {
                    assert_eq!(ttl, 0);
                    assert_eq!(canon, result.h_name, "canonical name is h_name");
                }
                let h_name = CStr::from_ptr(result.h_name).to_string_lossy().into_owned();
                let addresses = checked_hostent_addresses(&result);
                let expected_family = match entry {
                    Entry::ByName2(libc::AF_INET6) | Entry::ByName3(libc::AF_INET6) => {
                        libc::AF_INET6
                    }
                    _ => libc::AF_INET,
                };
                assert_eq!(result.h_addrtype, expected_family);
                (h_name, addresses)
            }
        });
        if status != SUCCESS {
            assert!(
                pat.is_null() && result.h_name.is_null() && canon.is_null(),
                "nothing handed out on failure"
            );
        }
        Reply {
            status,
            errno,
            herrno,
            answer,
        }
    };
    (reply, arena)
}

fn addresses(list: &[&str]) -> Vec<IpAddr> {
    list.iter().map(|a| a.parse().unwrap()).collect()
}

fn found(name: &str, list: &[&str]) -> Reply {
    Reply {
        status: SUCCESS,
        errno: ERRNO_SENTINEL,
        herrno: NETDB_SUCCESS,
        answer: Some((name.to_owned(), addresses(list))),
    }
}

fn failed(status: c_int, errno: c_int, herrno: c_int) -> Reply {
    Reply {
        status,
        errno,
        herrno,
        answer: None,
    }
}

const BIG: usize = 64 * 1024;

// ------------------------------------------------------------ inner tests --

#[test]
#[ignore = "runs inside a mount namespace, started by entry_points_answer_like_glibc_expects"]
fn inner_entry_points_answer_like_glibc_expects() {
    assert_inside();
    let [libvirt, guest] = NssModule::both();
    let fedora = [
        "192.168.122.197",
        "192.168.122.198",
        "192.168.122.199",
        "192.168.122.3",
    ];
    let no_data = failed(NOTFOUND, libc::ESRCH, NO_DATA);
    let not_found = failed(NOTFOUND, libc::ESRCH, HOST_NOT_FOUND);
    let bad_family = failed(UNAVAIL, libc::EAFNOSUPPORT, NO_RECOVERY);
    for module in [&libvirt, &guest] {
        for (name, entry, expected) in [
            ("fedora", Entry::ByName, found("fedora", &fedora)),
            (
                "fedora",
                Entry::ByName2(libc::AF_INET),
                found("fedora", &fedora),
            ),
            (
                "fedora",
                Entry::ByName2(libc::AF_UNSPEC),
                found("fedora", &fedora),
            ),
            ("fedora", Entry::ByName3(libc::AF_INET6), no_data.clone()),
            ("fedora", Entry::ByName4, found("fedora", &fedora)),
            (
                "Gentoo",
                Entry::ByName2(libc::AF_INET6),
                found("Gentoo", &["2001:1234:dead:beef::2"]),
            ),
            (
                "gentoo",
                Entry::ByName3(libc::AF_UNSPEC),
                found("gentoo", &["192.168.122.254"]),
            ),
            (
                "GENTOO",
                Entry::ByName4,
                found("GENTOO", &["192.168.122.254", "2001:1234:dead:beef::2"]),
            ),
            ("non-existent", Entry::ByName4, not_found.clone()),
            (
                "non-existent",
                Entry::ByName2(libc::AF_INET),
                not_found.clone(),
            ),
            ("fedora.", Entry::ByName4, not_found.clone()),
            ("fedora", Entry::ByName2(libc::AF_UNIX), bad_family.clone()),
            ("fedora", Entry::ByName3(17), bad_family.clone()),
        ] {
            let (reply, _) = call(module, entry, name, BIG, 0);
            assert_eq!(reply, expected, "{} {entry:?} {name}", module.service);
        }
    }
    // Names only one module knows: the DHCP hostname vs the domain name.
    let (reply, _) = call(&libvirt, Entry::ByName4, "debian", BIG, 0);
    assert_eq!(reply, not_found);
    let (reply, _) = call(&guest, Entry::ByName4, "debian", BIG, 0);
    assert_eq!(reply, found("debian", &["192.168.122.2"]));
    let (reply, _) = call(&guest, Entry::ByName2(libc::AF_INET), "suse", BIG, 0);
    assert_eq!(reply, found("suse", &["192.168.122.3"]));

    // Reverse lookups.
    for (module, address, name) in [
        (&libvirt, "192.168.122.254", Some("gentoo")),
        (&libvirt, "2001:1234:dead:beef::2", Some("gentoo")),
        (&libvirt, "192.168.122.2", None),
        (&guest, "192.168.122.2", Some("debian")),
        (&guest, "2001:1234:dead:beef::2", Some("gentoo")),
        (&libvirt, "10.11.12.13", None),
    ] {
        for with_ttl in [false, true] {
            let reply = reverse(module, address.parse().unwrap(), with_ttl);
            let expected = match name {
                Some(name) => found(name, &[address]),
                None => not_found.clone(),
            };
            assert_eq!(reply, expected, "{} reverse {address}", module.service);
        }
    }
}

fn reverse(module: &NssModule, address: IpAddr, with_ttl: bool) -> Reply {
    let (bytes, af): (Vec<u8>, c_int) = match address {
        IpAddr::V4(a) => (a.octets().to_vec(), libc::AF_INET),
        IpAddr::V6(a) => (a.octets().to_vec(), libc::AF_INET6),
    };
    let mut arena = Arena::new(BIG, 0);
    let (mut errno, mut herrno, mut ttl) = (ERRNO_SENTINEL, ERRNO_SENTINEL, -1);
    // SAFETY: valid pointers per the NSS contract.
    unsafe {
        let mut result: libc::hostent = std::mem::zeroed();
        let addr = bytes.as_ptr() as *const c_void;
        let len = bytes.len() as libc::socklen_t;
        let status = if with_ttl {
            (module.gethostbyaddr2_r)(
                addr,
                len,
                af,
                &mut result,
                arena.start(),
                BIG,
                &mut errno,
                &mut herrno,
                &mut ttl,
            )
        } else {
            (module.gethostbyaddr_r)(
                addr,
                len,
                af,
                &mut result,
                arena.start(),
                BIG,
                &mut errno,
                &mut herrno,
            )
        };
        let answer = (status == SUCCESS).then(|| {
            assert_eq!(result.h_addrtype, af);
            let name = CStr::from_ptr(result.h_name).to_string_lossy().into_owned();
            (name, checked_hostent_addresses(&result))
        });
        Reply {
            status,
            errno,
            herrno,
            answer,
        }
    }
}

#[test]
#[ignore = "runs inside a mount namespace, started by short_buffers_ask_for_more_and_never_write_past_buflen"]
fn inner_short_buffers_ask_for_more_and_never_write_past_buflen() {
    assert_inside();
    let too_small = failed(TRYAGAIN, libc::ERANGE, NETDB_INTERNAL);
    for module in NssModule::both() {
        for entry in ALL_ENTRIES {
            for name in ["fedora", "gentoo", "nope"] {
                let (reference, _) = call(&module, entry, name, BIG, 0);
                if reference.status != SUCCESS {
                    // Failures don't depend on the buffer: even 0 bytes give
                    // the same answer, and nothing is written.
                    let (reply, arena) = call(&module, entry, name, 0, 0);
                    assert_eq!(
                        reply, reference,
                        "{} {entry:?} {name} at buflen 0",
                        module.service
                    );
                    assert!(arena.untouched());
                    continue;
                }
                let mut smallest = None;
                for buflen in 0..=4096 {
                    let (reply, arena) = call(&module, entry, name, buflen, 0);
                    assert!(
                        arena.guard_intact(),
                        "{} {entry:?} {name}: wrote past buflen {buflen}",
                        module.service
                    );
                    if reply.status == SUCCESS {
                        assert_eq!(
                            reply, reference,
                            "{} {entry:?} {name} at buflen {buflen}",
                            module.service
                        );
                        smallest.get_or_insert(buflen);
                    } else {
                        assert!(
                            smallest.is_none(),
                            "{entry:?} {name}: failed at {buflen} after succeeding"
                        );
                        assert_eq!(
                            reply, too_small,
                            "{} {entry:?} {name} at buflen {buflen}",
                            module.service
                        );
                        assert!(
                            arena.untouched(),
                            "{entry:?} {name}: wrote into a short buffer ({buflen})"
                        );
                    }
                    if smallest.is_some_and(|s| buflen >= s + 64) {
                        break;
                    }
                }
                let smallest = smallest.expect("some buffer size succeeds");
                assert!(
                    smallest > 0 && smallest < 512,
                    "{entry:?} {name}: needs {smallest}"
                );
            }
        }
    }
}

#[test]
#[ignore = "runs inside a mount namespace, started by unaligned_buffers_and_caller_supplied_tuples"]
fn inner_unaligned_buffers_and_caller_supplied_tuples() {
    assert_inside();
    for module in NssModule::both() {
        for entry in ALL_ENTRIES {
            let (reference, _) = call(&module, entry, "gentoo", BIG, 0);
            for misalign in 1..8 {
                // `call` asserts every pointer it follows is aligned.
                let (reply, arena) = call(&module, entry, "gentoo", 512, misalign);
                assert_eq!(
                    reply, reference,
                    "{} {entry:?} misaligned by {misalign}",
                    module.service
                );
                assert!(arena.guard_intact());
                if reply.status == SUCCESS {
                    assert_ne!(arena.region(), &[POISON; 512][..]);
                }
            }
        }

        // nscd and old glibc hand in a tuple of their own through *pat.
        let name = CString::new("GENTOO").unwrap();
        let mut arena = Arena::new(BIG, 3);
        let mut own = GaihAddrTuple {
            next: ptr::null_mut(),
            name: ptr::null_mut(),
            family: -1,
            addr: [0; 4],
            scopeid: 9,
        };
        let mut pat: *mut GaihAddrTuple = &mut own;
        let (mut errno, mut herrno) = (ERRNO_SENTINEL, ERRNO_SENTINEL);
        // SAFETY: valid pointers per the NSS contract; *pat is writable.
        let status = unsafe {
            (module.gethostbyname4_r)(
                name.as_ptr(),
                &mut pat,
                arena.start(),
                BIG,
                &mut errno,
                &mut herrno,
                ptr::null_mut(),
            )
        };
        assert_eq!(status, SUCCESS);
        assert_eq!(errno, ERRNO_SENTINEL, "errno untouched on success");
        assert!(ptr::eq(pat, &own), "the caller's tuple is kept");
        let (tuple_name, list) = tuple_addresses(pat);
        assert_eq!(tuple_name, "GENTOO");
        assert_eq!(
            list,
            addresses(&["192.168.122.254", "2001:1234:dead:beef::2"])
        );
    }
}

#[test]
#[ignore = "runs inside a mount namespace, started by missing_lease_dir_is_unavailable"]
fn inner_missing_lease_dir_is_unavailable() {
    assert_inside();
    assert!(!Path::new("/var/lib/libvirt/dnsmasq").exists());
    for module in NssModule::both() {
        for entry in [
            Entry::ByName,
            Entry::ByName2(libc::AF_INET6),
            Entry::ByName3(libc::AF_INET),
            Entry::ByName4,
        ] {
            let (reply, arena) = call(&module, entry, "fedora", BIG, 0);
            assert_eq!(
                reply,
                failed(UNAVAIL, libc::ENOENT, NO_RECOVERY),
                "{} {entry:?}",
                module.service
            );
            assert!(arena.untouched());
        }
        let reply = reverse(&module, "192.168.122.254".parse().unwrap(), true);
        assert_eq!(reply, failed(UNAVAIL, libc::ENOENT, NO_RECOVERY));
    }
}
