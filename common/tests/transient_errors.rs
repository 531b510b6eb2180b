//! DECISIONS.md N29: a transient error (here: the process is out of file
//! descriptors, EMFILE) is never cached as a fact about a lease file. While
//! it lasts the lookup is UNAVAIL with that errno, not an authoritative
//! NOTFOUND; the next call after it reads the file again and answers.
//!
//! Its own test binary: running out of descriptors is process-wide.

use std::fs::{self, File};
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::ptr;
use std::time::Duration;

use common::ffi::{gethostbyaddr2_r, NSS_STATUS_UNAVAIL};
use common::ffi::{gethostbyname3_r, Module, NSS_STATUS_NOTFOUND, NSS_STATUS_SUCCESS};
use common::Service;

const STATUS: &str = r#"[{"ip-address": "10.7.0.5", "mac-address": "52:54:00:00:07:05", "hostname": "vm", "expiry-time": 0}]"#;

/// (status, errno) of `gethostbyname3_r(name, AF_INET)`.
fn by_name(module: &Module, name: &str) -> (i32, i32) {
    let name = std::ffi::CString::new(name).unwrap();
    let mut result = libc::hostent {
        h_name: ptr::null_mut(),
        h_aliases: ptr::null_mut(),
        h_addrtype: 0,
        h_length: 0,
        h_addr_list: ptr::null_mut(),
    };
    let mut buffer = vec![0u8; 1024];
    let (mut errno, mut herrno) = (0, 0);
    // SAFETY: every pointer is valid for the whole call: a C string, a
    // writable hostent, a writable buffer of the length passed, two ints;
    // ttlp and canonp may be NULL.
    let status = unsafe {
        gethostbyname3_r(
            module,
            name.as_ptr(),
            libc::AF_INET,
            &mut result,
            buffer.as_mut_ptr().cast(),
            buffer.len(),
            &mut errno,
            &mut herrno,
            ptr::null_mut(),
            ptr::null_mut(),
        )
    };
    (status, errno)
}

/// (status, errno, h_name) of the reverse lookup of 10.7.0.5.
fn by_address(module: &Module) -> (i32, i32, Option<String>) {
    let address = [10u8, 7, 0, 5];
    let mut result = libc::hostent {
        h_name: ptr::null_mut(),
        h_aliases: ptr::null_mut(),
        h_addrtype: 0,
        h_length: 0,
        h_addr_list: ptr::null_mut(),
    };
    let mut buffer = vec![0u8; 1024];
    let (mut errno, mut herrno) = (0, 0);
    // SAFETY: as in by_name; the address is 4 readable bytes.
    let status = unsafe {
        gethostbyaddr2_r(
            module,
            address.as_ptr().cast(),
            4,
            libc::AF_INET,
            &mut result,
            buffer.as_mut_ptr().cast(),
            buffer.len(),
            &mut errno,
            &mut herrno,
            ptr::null_mut(),
        )
    };
    let name = (status == NSS_STATUS_SUCCESS).then(|| {
        // SAFETY: on success h_name points to a NUL-terminated string in
        // `buffer`, which is still alive.
        unsafe { std::ffi::CStr::from_ptr(result.h_name) }
            .to_string_lossy()
            .into_owned()
    });
    (status, errno, name)
}

/// Opens /dev/null until the process has no descriptor left.
fn exhaust_descriptors() -> Vec<File> {
    let limit = libc::rlimit {
        rlim_cur: 256,
        rlim_max: libc::RLIM_INFINITY,
    };
    let mut current = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: both pointers are to initialised, writable rlimit structs.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut current), 0);
        let lowered = libc::rlimit {
            rlim_max: current.rlim_max,
            ..limit
        };
        assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &lowered), 0);
    }
    let mut held = Vec::new();
    loop {
        match File::open("/dev/null") {
            Ok(file) => held.push(file),
            Err(e) if e.raw_os_error() == Some(libc::EMFILE) => return held,
            Err(e) => panic!("open /dev/null: {e}"),
        }
    }
}

#[test]
fn out_of_descriptors_is_unavailable_and_never_cached() {
    let dir = std::env::temp_dir().join(format!("common-transient-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir(&dir).unwrap();
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
    let file: PathBuf = dir.join("virbr7.status");
    fs::write(&file, STATUS).unwrap();
    fs::set_permissions(&file, fs::Permissions::from_mode(0o644)).unwrap();
    let path: &'static str = Box::leak(dir.to_str().unwrap().to_owned().into_boxed_str());
    let libvirt = Module::new(Service::Libvirt, path);
    let racy = common::lease_dir::RACY_WINDOW + Duration::from_millis(100);

    std::thread::sleep(racy);
    assert_eq!(by_name(&libvirt, "vm").0, NSS_STATUS_SUCCESS);
    assert_eq!(by_address(&libvirt).2.as_deref(), Some("vm"));
    // the entry points silence panic messages (N24); this test wants its own
    drop(std::panic::take_hook());
    // the file changes in place (the directory does not), so the next call
    // must open it again
    fs::write(&file, STATUS.replace("\"vm\"", "\"vm2\"")).unwrap();
    std::thread::sleep(racy);

    let held = exhaust_descriptors();
    let during = (by_name(&libvirt, "vm2"), by_address(&libvirt));
    drop(held);
    assert_eq!(
        during.0,
        (NSS_STATUS_UNAVAIL, libc::EMFILE),
        "forward lookup while out of descriptors"
    );
    assert_eq!(
        during.1,
        (NSS_STATUS_UNAVAIL, libc::EMFILE, None),
        "reverse lookup while out of descriptors"
    );

    // descriptors are free again: the very next call answers
    assert_eq!(by_name(&libvirt, "vm2").0, NSS_STATUS_SUCCESS);
    assert_eq!(by_address(&libvirt).2.as_deref(), Some("vm2"));
    assert_eq!(by_name(&libvirt, "vm"), (NSS_STATUS_NOTFOUND, libc::ESRCH));
    let _ = fs::remove_dir_all(&dir);
}
