//! A hosts NSS module loaded with `dlopen`, called the way glibc calls it.
//! This file holds all of the crate's `unsafe`.

use std::ffi::{CStr, CString};
use std::ptr;

use libc::{c_char, c_int, c_void, hostent, size_t, AF_INET};

/// `enum nss_status` values from `<nss.h>`.
pub const NSS_STATUS_SUCCESS: c_int = 1;

/// glibc's `struct gaih_addrtuple` (`<nss.h>`).
#[repr(C)]
struct GaihAddrTuple {
    next: *mut GaihAddrTuple,
    name: *mut c_char,
    family: c_int,
    addr: [u32; 4],
    scopeid: u32,
}

type Gbn4 = unsafe extern "C" fn(
    *const c_char,
    *mut *mut GaihAddrTuple,
    *mut c_char,
    size_t,
    *mut c_int,
    *mut c_int,
    *mut i32,
) -> c_int;

type Gbn2 = unsafe extern "C" fn(
    *const c_char,
    c_int,
    *mut hostent,
    *mut c_char,
    size_t,
    *mut c_int,
    *mut c_int,
) -> c_int;

/// The entry points the benchmark calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Func {
    /// `gethostbyname4_r` (what `getaddrinfo(AF_UNSPEC)` calls).
    Gbn4,
    /// `gethostbyname2_r(AF_INET)` (what `gethostbyname` calls).
    Gbn2V4,
}

impl Func {
    pub fn label(self) -> &'static str {
        match self {
            Func::Gbn4 => "gbn4",
            Func::Gbn2V4 => "gbn2v4",
        }
    }
}

/// glibc's first scratch buffer is 1 KiB; a big one keeps ERANGE retries
/// out of the measurement.
const BUFLEN: usize = 64 * 1024;

/// One loaded module. It is never unloaded (glibc never unloads NSS modules
/// either).
pub struct Module {
    gbn4: Gbn4,
    gbn2: Gbn2,
    buffer: Vec<u8>,
}

impl Module {
    /// `dlopen`s `path` and resolves `_nss_<service>_gethostbyname{4,2}_r`.
    pub fn load(path: &str, service: &str) -> Result<Module, String> {
        let cpath = CString::new(path).map_err(|e| e.to_string())?;
        // SAFETY: cpath is a valid NUL-terminated string. Loading runs the
        // library's initialisers, which is the point of the exercise.
        let handle = unsafe { libc::dlopen(cpath.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
        if handle.is_null() {
            return Err(format!("dlopen {path}: {}", dlerror()));
        }
        let gbn4 = symbol(handle, &format!("_nss_{service}_gethostbyname4_r"))?;
        let gbn2 = symbol(handle, &format!("_nss_{service}_gethostbyname2_r"))?;
        // SAFETY: both symbols are the NSS entry points whose C prototypes
        // (glibc's nss_module.h) Gbn4 and Gbn2 transcribe; a data pointer and
        // a function pointer have the same size and representation on Linux.
        let (gbn4, gbn2) = unsafe {
            (
                std::mem::transmute::<*mut c_void, Gbn4>(gbn4),
                std::mem::transmute::<*mut c_void, Gbn2>(gbn2),
            )
        };
        Ok(Module {
            gbn4,
            gbn2,
            buffer: vec![0; BUFLEN],
        })
    }

    /// One lookup; returns the `nss_status`.
    #[inline]
    pub fn call(&mut self, func: Func, name: &CStr) -> c_int {
        let mut errno: c_int = 0;
        let mut h_errno: c_int = 0;
        let buf = self.buffer.as_mut_ptr().cast::<c_char>();
        match func {
            Func::Gbn4 => {
                let mut tuples: *mut GaihAddrTuple = ptr::null_mut();
                let mut ttl: i32 = 0;
                // SAFETY: name is NUL-terminated; every out pointer is a live
                // local; buf is valid for BUFLEN bytes and outlives the call.
                unsafe {
                    (self.gbn4)(
                        name.as_ptr(),
                        &mut tuples,
                        buf,
                        BUFLEN,
                        &mut errno,
                        &mut h_errno,
                        &mut ttl,
                    )
                }
            }
            Func::Gbn2V4 => {
                // SAFETY: hostent is plain old data; all-zero is a valid value.
                let mut result: hostent = unsafe { std::mem::zeroed() };
                // SAFETY: as above, with result a live local.
                unsafe {
                    (self.gbn2)(
                        name.as_ptr(),
                        AF_INET,
                        &mut result,
                        buf,
                        BUFLEN,
                        &mut errno,
                        &mut h_errno,
                    )
                }
            }
        }
    }
}

fn symbol(handle: *mut c_void, name: &str) -> Result<*mut c_void, String> {
    let cname = CString::new(name).map_err(|e| e.to_string())?;
    // SAFETY: handle came from a successful dlopen; cname is NUL-terminated.
    let sym = unsafe { libc::dlsym(handle, cname.as_ptr()) };
    if sym.is_null() {
        Err(format!("dlsym {name}: {}", dlerror()))
    } else {
        Ok(sym)
    }
}

fn dlerror() -> String {
    // SAFETY: dlerror returns NULL or a NUL-terminated string owned by libdl,
    // valid until the next dl* call; we copy it at once.
    unsafe {
        let msg = libc::dlerror();
        if msg.is_null() {
            "unknown error".to_owned()
        } else {
            CStr::from_ptr(msg).to_string_lossy().into_owned()
        }
    }
}

/// Resident set size in bytes (`/proc/self/statm`, field 2).
pub fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * page_size()
}

/// Peak resident set size in bytes (`VmHWM` of `/proc/self/status`).
pub fn peak_rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

fn page_size() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if size > 0 {
        size as u64
    } else {
        4096
    }
}

/// CPU time of the calling thread, in ns (`CLOCK_THREAD_CPUTIME_ID`): time
/// the thread spent running, in user space or in the kernel on its behalf,
/// but not time it waited for a CPU - the figure that other jobs on the
/// machine disturb least.
pub fn thread_cpu_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: ts is a valid, writable timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Resource usage of this process (`who = RUSAGE_SELF`) or of its waited-for
/// children (`RUSAGE_CHILDREN`): (user + system CPU ns, minor page faults).
fn rusage(who: c_int) -> (u64, u64) {
    // SAFETY: rusage is plain old data; all-zero is a valid value.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: ru is a valid, writable rusage.
    unsafe { libc::getrusage(who, &mut ru) };
    let ns = |tv: libc::timeval| tv.tv_sec as u64 * 1_000_000_000 + tv.tv_usec as u64 * 1000;
    (ns(ru.ru_utime) + ns(ru.ru_stime), ru.ru_minflt as u64)
}

/// Minor page faults of this process so far.
pub fn minor_faults() -> u64 {
    rusage(libc::RUSAGE_SELF).1
}

/// User + system CPU ns of all children waited for so far.
pub fn children_cpu_ns() -> u64 {
    rusage(libc::RUSAGE_CHILDREN).0
}
