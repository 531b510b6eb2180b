//! A lookup on a thread with the smallest stack a thread may have (16 KiB,
//! `PTHREAD_STACK_MIN`) over the deepest document the modules accept: one
//! unread member nested to the 128-level limit, in a `.status` and a `.macs`
//! file (DECISIONS.md N28). The built `.so` files are called through
//! `dlopen` inside `scripts/nsenv.sh`, as in `ffi_dlopen.rs`.

use std::ffi::{c_char, c_int, CString};
use std::ptr;

use integration_tests::nss_module::{GaihAddrTuple, NssModule};
use integration_tests::prerequisites;
use integration_tests::rerun_in_namespace::run_ignored_test_inside;
use integration_tests::temp_dir::TempDir;

const INSIDE: &str = "NSS_SMALL_STACK_INSIDE_NAMESPACE";
const STACK: usize = 16 * 1024;
const SUCCESS: c_int = 1;
const NOTFOUND: c_int = 0;
/// The JSON reader's nesting limit (`common::json::MAX_DEPTH`).
const MAX_DEPTH: usize = 128;

/// `{"x": <value>}` members nested so that the document is `MAX_DEPTH +
/// extra` containers deep: top array, entry object, then the member.
fn deep_value(extra: usize) -> String {
    let nested = MAX_DEPTH - 2 + extra;
    format!(
        "{}{}1{}{}",
        "[{\"y\": ".repeat(nested / 2),
        "[".repeat(nested % 2),
        "]".repeat(nested % 2),
        "}]".repeat(nested / 2)
    )
}

fn lease_dir() -> TempDir {
    let dir = TempDir::new("small-stack");
    for (file, name, ip, mac, extra) in [
        (
            "deep.status",
            "deep",
            "192.168.122.10",
            "52:54:00:00:00:0a",
            0,
        ),
        (
            "deeper.status",
            "deeper",
            "192.168.122.11",
            "52:54:00:00:00:0b",
            1,
        ),
    ] {
        dir.write(
            file,
            format!(
                "[\n  {{\"ip-address\": \"{ip}\", \"mac-address\": \"{mac}\", \"hostname\": \"{name}\", \
                 \"expiry-time\": 0, \"x\": {}}}\n]\n",
                deep_value(extra)
            ),
        );
    }
    dir.write(
        "deep.macs",
        format!(
            "[{{\"domain\": \"deep-domain\", \"macs\": [\"52:54:00:00:00:0a\"], \"x\": {}}}]",
            deep_value(0)
        ),
    );
    dir
}

#[test]
fn a_lookup_on_a_16_kib_thread_survives_the_deepest_accepted_document() {
    if !prerequisites::satisfied(
        "a_lookup_on_a_16_kib_thread_survives_the_deepest_accepted_document",
        &prerequisites::getent_harness(),
    ) {
        return;
    }
    let dir = lease_dir();
    let inner = "inner_lookups_on_a_16_kib_thread";
    run_ignored_test_inside(inner, INSIDE, Some(dir.path()));
}

/// Runs `work` on a pthread whose whole stack is `STACK` bytes, as a C
/// program gets with `pthread_attr_setstacksize(&attr, 16384)` (glibc carves
/// its TLS out of that). `std::thread::Builder::stack_size` would not do: it
/// raises the size to `__pthread_get_minstack`, which adds the TLS and a page.
fn on_a_16_kib_pthread<F: FnOnce() -> T + Send, T: Send>(work: F) -> T {
    struct Job<F, T> {
        work: Option<F>,
        result: Option<T>,
    }
    extern "C" fn run<F: FnOnce() -> T, T>(job: *mut libc::c_void) -> *mut libc::c_void {
        // SAFETY: `job` is the `Job` the spawning thread keeps alive until
        // pthread_join returns.
        let job = unsafe { &mut *(job as *mut Job<F, T>) };
        job.result = job.work.take().map(|work| work());
        ptr::null_mut()
    }
    let mut job = Job {
        work: Some(work),
        result: None,
    };
    // SAFETY: plain pthread calls on local, initialised objects; the thread
    // only touches `job`, which outlives it (joined before returning).
    unsafe {
        let mut attr: libc::pthread_attr_t = std::mem::zeroed();
        assert_eq!(libc::pthread_attr_init(&mut attr), 0);
        assert_eq!(libc::pthread_attr_setstacksize(&mut attr, STACK), 0);
        let mut thread: libc::pthread_t = 0;
        let rc = libc::pthread_create(
            &mut thread,
            &attr,
            run::<F, T>,
            &mut job as *mut Job<F, T> as *mut libc::c_void,
        );
        assert_eq!(rc, 0, "pthread_create");
        assert_eq!(libc::pthread_join(thread, ptr::null_mut()), 0);
        libc::pthread_attr_destroy(&mut attr);
    }
    job.result.expect("the thread ran its work")
}

/// `gethostbyname4_r` of `name`: the status and the first address's family.
fn lookup4(module: &NssModule, name: &str) -> (c_int, c_int) {
    let name = CString::new(name).expect("no NUL");
    let mut buffer = vec![0u8; 4096];
    let mut tuple: *mut GaihAddrTuple = ptr::null_mut();
    let (mut errno, mut herrno, mut ttl) = (0, 0, 0);
    // SAFETY: the NSS contract: a C string, a writable tuple pointer, a
    // buffer of the length given, writable out-parameters.
    let status = unsafe {
        (module.gethostbyname4_r)(
            name.as_ptr(),
            &mut tuple,
            buffer.as_mut_ptr() as *mut c_char,
            buffer.len(),
            &mut errno,
            &mut herrno,
            &mut ttl,
        )
    };
    let family = if status == SUCCESS {
        // SAFETY: on SUCCESS *pat points at a tuple inside our buffer.
        unsafe { (*tuple).family }
    } else {
        0
    };
    (status, family)
}

#[test]
#[ignore = "run by a_lookup_on_a_16_kib_thread_survives_the_deepest_accepted_document inside a namespace"]
fn inner_lookups_on_a_16_kib_thread() {
    assert!(std::env::var_os(INSIDE).is_some(), "run the outer test");
    let [libvirt, guest] = NssModule::both();
    // Every lookup is cold: each module parses the files on this thread.
    let replies = on_a_16_kib_pthread(move || {
        [
            lookup4(&libvirt, "deep"),
            lookup4(&libvirt, "deeper"),
            lookup4(&guest, "deep-domain"),
        ]
    });
    assert_eq!(
        replies,
        [
            (SUCCESS, libc::AF_INET),
            // One level more than accepted: the file is malformed (N3).
            (NOTFOUND, 0),
            (SUCCESS, libc::AF_INET),
        ]
    );
}
