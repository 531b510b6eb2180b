//! Every allocation a lookup makes may fail without aborting the process
//! (DECISIONS.md N30). A global allocator fails exactly the N-th allocation
//! of one cold lookup through the NSS entry points (`common::ffi`), for every
//! N from 1 to the number of allocations that lookup makes: each time the
//! answer must be the right one or UNAVAIL/ENOMEM, and the next lookup in the
//! same "process" (the same `Module`) must answer right again. An infallible
//! allocation left anywhere on the path (`Vec::push`, `String::from`,
//! `std::fs::read_dir`, ...) would abort this test binary with "memory
//! allocation of N bytes failed".
//!
//! The lease dir exercises every allocating path: a file with bytes that are
//! not UTF-8 (the lossy copy), escaped strings, a name with 40 addresses
//! (the de-duplication set), `.macs` files, forward and reverse lookups in
//! both modules.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::fs;
use std::net::IpAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::ptr;

use common::ffi::{self, GaihAddrTuple, Module, NSS_STATUS_SUCCESS, NSS_STATUS_UNAVAIL};
use common::Service;

struct FailingAllocator;

thread_local! {
    /// Allocations on this thread since the count was armed; `None`: not
    /// counting.
    static COUNT: Cell<Option<u64>> = const { Cell::new(None) };
    /// The allocation (1-based) that fails; 0: none.
    static FAIL_AT: Cell<u64> = const { Cell::new(0) };
}

/// Counts one allocation; true if it must fail.
fn must_fail() -> bool {
    COUNT
        .try_with(|count| {
            let Some(n) = count.get() else {
                return false;
            };
            count.set(Some(n + 1));
            FAIL_AT.with(|at| at.get() == n + 1)
        })
        .unwrap_or(false)
}

// SAFETY: forwards to the system allocator, or returns NULL (allowed: an
// allocation may fail) without touching it.
unsafe impl GlobalAlloc for FailingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if must_fail() {
            return ptr::null_mut();
        }
        // SAFETY: the caller's contract, passed on.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if must_fail() {
            return ptr::null_mut();
        }
        // SAFETY: the caller's contract, passed on.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, block: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if must_fail() {
            return ptr::null_mut();
        }
        // SAFETY: the caller's contract, passed on.
        unsafe { System.realloc(block, layout, new_size) }
    }

    unsafe fn dealloc(&self, block: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract, passed on.
        unsafe { System.dealloc(block, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: FailingAllocator = FailingAllocator;

/// Runs `f` counting its allocations on this thread, failing the
/// `fail_at`-th (0: none); returns its result and the count.
fn counted<T>(fail_at: u64, f: impl FnOnce() -> T) -> (T, u64) {
    FAIL_AT.with(|at| at.set(fail_at));
    COUNT.with(|count| count.set(Some(0)));
    let result = f();
    let count = COUNT.with(|count| count.replace(None)).unwrap_or(0);
    FAIL_AT.with(|at| at.set(0));
    (result, count)
}

const FUT: i64 = 4_102_444_800;

/// A trusted lease dir (0755, files 0644), kept for the process's life: a
/// `Module` needs a `'static` path.
fn lease_dir() -> &'static str {
    let dir = std::env::temp_dir().join(format!("nss-failing-alloc-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir(&dir).expect("mkdir");
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).expect("chmod dir");
    let write = |name: &str, bytes: &[u8]| {
        let path: PathBuf = dir.join(name);
        fs::write(&path, bytes).expect("write");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).expect("chmod");
    };
    let mut many = String::from("[\n");
    for i in 0..40 {
        many += &format!(
            "  {{\"ip-address\": \"10.0.0.{}\", \"mac-address\": \"52:54:00:00:01:{i:02x}\", \
             \"hostname\": \"m\\u0061ny\", \"expiry-time\": {}, \"client-id\": \"x\\ty\"}},\n",
            i + 1,
            FUT - i
        );
    }
    many += &format!(
        "  {{\"ip-address\": \"10.0.1.1\", \"mac-address\": \"52:54:00:00:02:01\", \
         \"hostname\": \"vm1\", \"expiry-time\": {FUT}}}\n]\n"
    );
    write("a.status", many.as_bytes());
    // Bytes that are not UTF-8: the whole file is copied lossily.
    let mut latin1 = b"[{\"ip-address\": \"10.0.2.1\", \"hostname\": \"bad\xffname\"},\n ".to_vec();
    latin1.extend_from_slice(
        format!(
            "{{\"ip-address\": \"fd00::1\", \"mac-address\": \"52:54:00:00:02:01\", \
             \"hostname\": \"vm1\", \"expiry-time\": {FUT}}}]"
        )
        .as_bytes(),
    );
    write("b.status", &latin1);
    // A symbolic link (resolved by hand, N34) to a file in a trusted dir.
    fs::create_dir(dir.join("targets")).expect("mkdir targets");
    fs::set_permissions(dir.join("targets"), fs::Permissions::from_mode(0o755)).expect("chmod");
    write(
        "targets/c.json",
        br#"[{"ip-address": "10.0.3.1", "hostname": "linked"}]"#,
    );
    std::os::unix::fs::symlink("targets/c.json", dir.join("c.status")).expect("symlink");
    write(
        "n.macs",
        br#"[{"domain": "dom1", "macs": ["52:54:00:00:02:01", "52:54:00:00:01:00"]},
            {"domain": "d\u006fm2", "macs": ["52:54:00:00:01:01"], "x": [[{"y": null}]]}]"#,
    );
    Box::leak(
        dir.into_os_string()
            .into_string()
            .expect("UTF-8 temp dir")
            .into_boxed_str(),
    )
}

/// What a call gave: status, errno, and the answer on success.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Reply {
    status: c_int,
    errno: c_int,
    answer: Vec<String>,
}

#[derive(Clone, Copy, Debug)]
enum Query {
    Name(&'static str),
    Address(&'static str),
}

/// Calls the entry point for `query`, counting the allocations of the call
/// alone and failing the `fail_at`-th (0: none); returns the reply and the
/// count.
fn call_counted(module: &Module, query: Query, fail_at: u64) -> (Reply, u64) {
    let allocations;
    let mut buffer = vec![0u8; 64 * 1024];
    let (mut errno, mut herrno, mut ttl) = (0, 0, 0);
    let mut answer = Vec::new();
    let status = match query {
        Query::Name(name) => {
            let name = CString::new(name).expect("no NUL");
            let mut tuple: *mut GaihAddrTuple = ptr::null_mut();
            // SAFETY: the NSS contract: a C string, a writable tuple pointer,
            // a buffer of the length given, writable out-parameters.
            let (status, count) = counted(fail_at, || unsafe {
                ffi::gethostbyname4_r(
                    module,
                    name.as_ptr(),
                    &mut tuple,
                    buffer.as_mut_ptr() as *mut c_char,
                    buffer.len(),
                    &mut errno,
                    &mut herrno,
                    &mut ttl,
                )
            });
            allocations = count;
            while status == NSS_STATUS_SUCCESS && !tuple.is_null() {
                // SAFETY: on SUCCESS the chain lives in our buffer.
                let t = unsafe { &*tuple };
                let o: Vec<u8> = t.addr.iter().flat_map(|w| w.to_ne_bytes()).collect();
                answer.push(if t.family == libc::AF_INET {
                    IpAddr::from(<[u8; 4]>::try_from(&o[..4]).expect("4")).to_string()
                } else {
                    IpAddr::from(<[u8; 16]>::try_from(&o[..]).expect("16")).to_string()
                });
                tuple = t.next;
            }
            status
        }
        Query::Address(address) => {
            let address: IpAddr = address.parse().expect("an address");
            let (octets, af): (Vec<u8>, c_int) = match address {
                IpAddr::V4(v4) => (v4.octets().to_vec(), libc::AF_INET),
                IpAddr::V6(v6) => (v6.octets().to_vec(), libc::AF_INET6),
            };
            // SAFETY: all-zero is a valid hostent (NULL pointers).
            let mut result: libc::hostent = unsafe { std::mem::zeroed() };
            // SAFETY: the NSS contract: `octets` readable for its length, a
            // writable hostent and buffer, writable out-parameters.
            let (status, count) = counted(fail_at, || unsafe {
                ffi::gethostbyaddr2_r(
                    module,
                    octets.as_ptr() as *const c_void,
                    octets.len() as libc::socklen_t,
                    af,
                    &mut result,
                    buffer.as_mut_ptr() as *mut c_char,
                    buffer.len(),
                    &mut errno,
                    &mut herrno,
                    &mut ttl,
                )
            });
            allocations = count;
            if status == NSS_STATUS_SUCCESS {
                // SAFETY: on SUCCESS h_name is a C string in our buffer.
                let name = unsafe { CStr::from_ptr(result.h_name) };
                answer.push(name.to_string_lossy().into_owned());
            }
            status
        }
    };
    let reply = Reply {
        status,
        errno: if status == NSS_STATUS_SUCCESS {
            0
        } else {
            errno
        },
        answer,
    };
    (reply, allocations)
}

fn call(module: &Module, query: Query) -> Reply {
    call_counted(module, query, 0).0
}

#[test]
fn failing_any_one_allocation_of_a_lookup_gives_enomem_or_the_answer() {
    let dir = lease_dir();
    let cases = [
        (Service::Libvirt, Query::Name("many")),
        (Service::Libvirt, Query::Name("vm1")),
        (Service::Libvirt, Query::Name("absent")),
        (Service::Libvirt, Query::Name("linked")),
        (Service::Libvirt, Query::Address("10.0.1.1")),
        (Service::LibvirtGuest, Query::Name("dom1")),
        (Service::LibvirtGuest, Query::Name("DOM2")),
        (Service::LibvirtGuest, Query::Address("fd00::1")),
    ];
    let out_of_memory = Reply {
        status: NSS_STATUS_UNAVAIL,
        errno: libc::ENOMEM,
        answer: Vec::new(),
    };
    let mut failures_seen = 0;
    for (service, query) in cases {
        // The answer, and how many allocations a cold lookup makes.
        let (expected, allocations) = call_counted(&Module::new(service, dir), query, 0);
        assert!(
            expected.status == NSS_STATUS_SUCCESS || matches!(query, Query::Name("absent")),
            "{service:?} {query:?}: {expected:?}"
        );
        assert!(allocations > 3, "{service:?} {query:?}: {allocations}");
        for fail_at in 1..=allocations {
            let module = Module::new(service, dir);
            let (reply, _) = call_counted(&module, query, fail_at);
            assert!(
                reply == expected || reply == out_of_memory,
                "{service:?} {query:?}, allocation {fail_at} of {allocations} failed: {reply:?}"
            );
            failures_seen += usize::from(reply == out_of_memory);
            // Nothing of the failure is kept: the same module recovers.
            assert_eq!(
                call(&module, query),
                expected,
                "{service:?} {query:?} after allocation {fail_at} failed"
            );
        }
    }
    assert!(failures_seen > 0);
    let _ = fs::remove_dir_all(dir);
}
