//! A hosts NSS module loaded with `dlopen` (`nss-loader`), called the way
//! glibc calls it, and the process's clocks and memory figures. This file
//! holds all of `nss-bench`'s `unsafe`.

use std::ffi::CStr;
use std::path::Path;
use std::ptr;

use libc::{c_char, c_int, hostent, AF_INET};
use nss_loader::{GaihAddrTuple, Gethostbyname2R, Gethostbyname4R, Library};

/// `enum nss_status` values from `<nss.h>`.
pub const NSS_STATUS_SUCCESS: c_int = 1;

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
    gbn4: Gethostbyname4R,
    gbn2: Gethostbyname2R,
    buffer: Vec<u8>,
}

impl Module {
    /// `dlopen`s `path` and resolves `_nss_<service>_gethostbyname{4,2}_r`.
    pub fn load(path: &str, service: &str) -> Result<Module, String> {
        let library = Library::open(Path::new(path))?;
        Ok(Module {
            gbn4: library.entry_point(service)?,
            gbn2: library.entry_point(service)?,
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
