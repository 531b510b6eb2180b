//! The glibc NSS boundary: the only module with `unsafe`.
//!
//! Each public entry point keeps its `unsafe` blocks to the pointer work
//! (reading the name or address, filling the caller's buffer and
//! out-parameters); the lookup and the layout arithmetic are safe code. The
//! decision IDs (N17, ...) are entries of `DECISIONS.md`.
//!
//! Every entry point follows one skeleton (after systemd's nss-resolve):
//! check arguments → run the lookup → compute the exact bytes needed → if the
//! buffer is short, return `TRYAGAIN`/`ERANGE`/`NETDB_INTERNAL` before writing
//! anything, so glibc retries with a bigger one (N17) → fill the buffer.
//! Each outcome maps to one (status, errno, h_errno) triple in
//! [`Failure::report`]; a panic is caught and becomes `UNAVAIL` (N25); on
//! success `*errnop` is left untouched (N21). Nothing is ever printed (N24).
//!
//! Buffer layouts put pointer-sized fields at addresses aligned for them,
//! whatever the alignment of the caller's buffer:
//!
//! ```text
//! hostent:        [pad][aliases: NULL][addr_list: n ptrs, NULL][n addresses][name NUL]
//! gaih_addrtuple: [pad][n tuples of 40 bytes][name NUL]
//! ```

use std::ffi::CStr;
use std::mem::{align_of, size_of};
use std::net::IpAddr;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::ptr;
use std::sync::Once;

use libc::{c_char, c_int, c_void, hostent, socklen_t, AF_INET, AF_INET6, AF_UNSPEC};

use crate::lookup::{Answer, Family, Service};
use crate::snapshot_cache::SnapshotCache;
use crate::{LeaseDir, OutOfMemory};

/// `enum nss_status` from `<nss.h>`.
pub type NssStatus = c_int;
pub const NSS_STATUS_TRYAGAIN: NssStatus = -2;
pub const NSS_STATUS_UNAVAIL: NssStatus = -1;
pub const NSS_STATUS_NOTFOUND: NssStatus = 0;
pub const NSS_STATUS_SUCCESS: NssStatus = 1;

// `h_errno` values from `<netdb.h>`.
const NETDB_INTERNAL: c_int = -1;
const NETDB_SUCCESS: c_int = 0;
const HOST_NOT_FOUND: c_int = 1;
const NO_RECOVERY: c_int = 3;
const NO_DATA: c_int = 4;

/// glibc's `struct gaih_addrtuple` (`<nss.h>`, not in the libc crate).
#[repr(C)]
pub struct GaihAddrTuple {
    pub next: *mut GaihAddrTuple,
    pub name: *mut c_char,
    pub family: c_int,
    pub addr: [u32; 4],
    pub scopeid: u32,
}

/// One NSS module: which service it answers and where it reads leases.
pub struct Module {
    service: Service,
    lease_dir: &'static str,
    cache: SnapshotCache,
}

impl Module {
    pub const fn new(service: Service, lease_dir: &'static str) -> Module {
        Module {
            service,
            lease_dir,
            cache: SnapshotCache::new(),
        }
    }

    fn lookup_name(&self, name: &[u8], family: Family) -> Result<Vec<IpAddr>, Failure> {
        let now = crate::now_epoch_seconds();
        match self.query(|dir| self.service.try_lookup_name(dir, name, family, now))? {
            Answer::Found(addresses) => Ok(addresses),
            Answer::NoAddressOfFamily => Err(Failure::NoAddressOfFamily),
            Answer::NotFound => Err(Failure::NotFound),
        }
    }

    fn lookup_address(&self, address: IpAddr) -> Result<String, Failure> {
        let now = crate::now_epoch_seconds();
        self.query(|dir| self.service.try_lookup_address(dir, address, now))?
            .ok_or(Failure::NotFound)
    }

    /// Runs `lookup` on the fresh snapshot of the lease dir, and maps what
    /// can go wrong around it to the NSS failures both directions share.
    fn query<T>(
        &self,
        lookup: impl FnOnce(&LeaseDir) -> Result<T, OutOfMemory>,
    ) -> Result<T, Failure> {
        let (answer, transient) = self
            .cache
            .with_fresh(
                Path::new(self.lease_dir),
                self.service.files_read(),
                |dir| (lookup(dir), dir.transient_error()),
            )
            .map_err(|e| Failure::Unavailable { errno: e.errno() })?;
        // Out of memory: UNAVAIL/ENOMEM, never an abort of the host (N30).
        let answer = answer.map_err(|_| Failure::Unavailable {
            errno: libc::ENOMEM,
        })?;
        // A file we could not read for want of descriptors or memory may
        // hold the name: not an answer, whatever the others said (N29).
        if let Some(errno) = transient {
            return Err(Failure::Unavailable { errno });
        }
        Ok(answer)
    }
}

/// Every way an entry point can fail, each with one NSS triple.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Failure {
    NotFound,
    /// Known name, no address of the asked family: NOTFOUND + NO_DATA, as
    /// systemd's modules do (N15), not C's UNAVAIL.
    NoAddressOfFamily,
    /// glibc's protocol: with ERANGE it retries with a bigger buffer (N17).
    BufferTooSmall,
    UnsupportedFamily,
    InvalidArgument,
    /// The lease directory is missing or untrusted (N18): the next module runs.
    Unavailable {
        errno: c_int,
    },
    /// A bug of ours, caught before it could unwind into C (N25).
    Panicked,
}

impl Failure {
    fn triple(self) -> (NssStatus, c_int, c_int) {
        match self {
            Failure::NotFound => (NSS_STATUS_NOTFOUND, libc::ESRCH, HOST_NOT_FOUND),
            Failure::NoAddressOfFamily => (NSS_STATUS_NOTFOUND, libc::ESRCH, NO_DATA),
            Failure::BufferTooSmall => (NSS_STATUS_TRYAGAIN, libc::ERANGE, NETDB_INTERNAL),
            Failure::UnsupportedFamily => (NSS_STATUS_UNAVAIL, libc::EAFNOSUPPORT, NO_RECOVERY),
            Failure::InvalidArgument => (NSS_STATUS_UNAVAIL, libc::EINVAL, NO_RECOVERY),
            Failure::Unavailable { errno } => (NSS_STATUS_UNAVAIL, errno, NO_RECOVERY),
            Failure::Panicked => (NSS_STATUS_UNAVAIL, libc::EIO, NO_RECOVERY),
        }
    }

    /// Stores the triple through the caller's pointers and returns the status.
    ///
    /// # Safety
    /// `errnop` and `herrnop` are NULL or valid for writes.
    unsafe fn report(self, errnop: *mut c_int, herrnop: *mut c_int) -> NssStatus {
        let (status, errno, herrno) = self.triple();
        // SAFETY: the caller guarantees each pointer is NULL or writable.
        unsafe {
            if !errnop.is_null() {
                *errnop = errno;
            }
            if !herrnop.is_null() {
                *herrnop = herrno;
            }
        }
        status
    }
}

/// Runs an entry point's body, turning its failures and any panic into the
/// NSS triple.
///
/// # Safety
/// `errnop` and `herrnop` are NULL or valid for writes.
unsafe fn guarded(
    errnop: *mut c_int,
    herrnop: *mut c_int,
    body: impl FnOnce() -> Result<(), Failure>,
) -> NssStatus {
    silence_panic_messages();
    let failure = match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => {
            if !herrnop.is_null() {
                // SAFETY: the caller guarantees herrnop is NULL or writable.
                unsafe { *herrnop = NETDB_SUCCESS };
            }
            return NSS_STATUS_SUCCESS;
        }
        Ok(Err(failure)) => failure,
        Err(_) => Failure::Panicked,
    };
    // SAFETY: forwarded from our caller's contract.
    unsafe { failure.report(errnop, herrnop) }
}

/// Our copy of std (linked into this `.so` only) must never write a panic
/// message into the host process's stderr (N24).
fn silence_panic_messages() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| std::panic::set_hook(Box::new(|_| {})));
}

/// The caller's buffer, with the offsets of an aligned layout inside it.
struct Buffer {
    start: *mut u8,
    len: usize,
}

impl Buffer {
    /// Bytes to skip from the start so that the next byte is `align`-aligned.
    fn padding_for(&self, align: usize) -> usize {
        (self.start as usize).wrapping_neg() & (align - 1)
    }
}

/// Where each part of a `hostent` goes, and how many bytes that takes.
struct HostentLayout {
    aliases: usize,
    addr_list: usize,
    addresses: usize,
    name: usize,
    needed: usize,
}

impl HostentLayout {
    fn new(
        buffer: &Buffer,
        name_len: usize,
        count: usize,
        address_len: usize,
    ) -> Option<HostentLayout> {
        let pointer = size_of::<*mut c_char>();
        let aliases = buffer.padding_for(align_of::<*mut c_char>());
        let addr_list = aliases.checked_add(pointer)?;
        let addresses = addr_list.checked_add(count.checked_add(1)?.checked_mul(pointer)?)?;
        let name = addresses.checked_add(count.checked_mul(address_len)?)?;
        let needed = name.checked_add(name_len)?.checked_add(1)?;
        Some(HostentLayout {
            aliases,
            addr_list,
            addresses,
            name,
            needed,
        })
    }
}

/// Fills `result` and `buffer` with a hostent of `addresses` (all of
/// `family`) named `name`.
///
/// # Safety
/// `result` is valid for writes; `buffer` is valid for writes of `buflen` bytes.
unsafe fn write_hostent(
    name: &[u8],
    family: c_int,
    addresses: &[IpAddr],
    result: *mut hostent,
    buffer: Buffer,
) -> Result<*mut c_char, Failure> {
    let address_len = if family == AF_INET6 { 16 } else { 4 };
    let layout = HostentLayout::new(&buffer, name.len(), addresses.len(), address_len)
        .ok_or(Failure::BufferTooSmall)?;
    if layout.needed > buffer.len {
        return Err(Failure::BufferTooSmall);
    }
    // SAFETY: every offset written below is < layout.needed <= buffer.len, so
    // all writes stay inside the caller's buffer; pointer slots start at an
    // offset aligned for pointers (HostentLayout), and addresses/name are
    // written bytewise. `result` is writable per the caller's contract.
    unsafe {
        let base = buffer.start;
        let name_ptr = base.add(layout.name) as *mut c_char;
        ptr::copy_nonoverlapping(name.as_ptr(), name_ptr as *mut u8, name.len());
        *name_ptr.add(name.len()) = 0;

        let aliases = base.add(layout.aliases) as *mut *mut c_char;
        *aliases = ptr::null_mut();

        let addr_list = base.add(layout.addr_list) as *mut *mut c_char;
        for (i, address) in addresses.iter().enumerate() {
            let slot = base.add(layout.addresses + i * address_len);
            match address {
                IpAddr::V4(v4) => ptr::copy_nonoverlapping(v4.octets().as_ptr(), slot, 4),
                IpAddr::V6(v6) => ptr::copy_nonoverlapping(v6.octets().as_ptr(), slot, 16),
            }
            *addr_list.add(i) = slot as *mut c_char;
        }
        *addr_list.add(addresses.len()) = ptr::null_mut();

        (*result).h_name = name_ptr;
        (*result).h_aliases = aliases;
        (*result).h_addrtype = family;
        (*result).h_length = address_len as c_int;
        (*result).h_addr_list = addr_list;
        Ok(name_ptr)
    }
}

/// Fills `buffer` with a chain of `gaih_addrtuple`s and hands it to `*pat`.
///
/// # Safety
/// `pat` is valid for reads and writes, and `*pat` is NULL or valid for
/// writes of one tuple; `buffer` is valid for writes of `buflen` bytes.
unsafe fn write_addrtuples(
    name: &[u8],
    addresses: &[IpAddr],
    pat: *mut *mut GaihAddrTuple,
    buffer: Buffer,
) -> Result<(), Failure> {
    let tuple = size_of::<GaihAddrTuple>();
    let tuples = buffer.padding_for(align_of::<GaihAddrTuple>());
    let name_at = addresses
        .len()
        .checked_mul(tuple)
        .and_then(|bytes| bytes.checked_add(tuples))
        .ok_or(Failure::BufferTooSmall)?;
    let needed = name_at
        .checked_add(name.len() + 1)
        .ok_or(Failure::BufferTooSmall)?;
    if needed > buffer.len || addresses.is_empty() {
        return Err(Failure::BufferTooSmall);
    }
    // SAFETY: all writes are below `needed` <= buffer.len; tuples start at an
    // offset aligned for GaihAddrTuple. `pat`/`*pat` per the caller's contract.
    unsafe {
        let base = buffer.start;
        let name_ptr = base.add(name_at) as *mut c_char;
        ptr::copy_nonoverlapping(name.as_ptr(), name_ptr as *mut u8, name.len());
        *name_ptr.add(name.len()) = 0;

        let first = base.add(tuples) as *mut GaihAddrTuple;
        for (i, address) in addresses.iter().enumerate() {
            let next = if i + 1 < addresses.len() {
                first.add(i + 1)
            } else {
                ptr::null_mut()
            };
            let (family, addr) = match address {
                IpAddr::V4(v4) => (AF_INET, [u32::from_ne_bytes(v4.octets()), 0, 0, 0]),
                IpAddr::V6(v6) => {
                    let o = v6.octets();
                    let word = |k: usize| u32::from_ne_bytes([o[k], o[k + 1], o[k + 2], o[k + 3]]);
                    (AF_INET6, [word(0), word(4), word(8), word(12)])
                }
            };
            first.add(i).write(GaihAddrTuple {
                next,
                name: name_ptr,
                family,
                addr,
                scopeid: 0,
            });
        }
        // Old glibc (and nscd) pass a tuple of their own in *pat: fill it
        // with the first result, chained to the rest in the buffer.
        if (*pat).is_null() {
            *pat = first;
        } else {
            ptr::copy_nonoverlapping(first, *pat, 1);
        }
    }
    Ok(())
}

/// Stores `value` through an optional out-parameter (`ttlp`, `canonp`).
///
/// # Safety
/// `p` is NULL or valid for writes.
unsafe fn store_optional<T: Copy>(p: *mut T, value: T) {
    if !p.is_null() {
        // SAFETY: non-NULL, hence writable per the caller's contract.
        unsafe { *p = value };
    }
}

/// The query name, or `InvalidArgument` for NULL.
///
/// # Safety
/// `name` is NULL or a NUL-terminated string.
unsafe fn name_bytes<'a>(name: *const c_char) -> Result<&'a [u8], Failure> {
    if name.is_null() {
        return Err(Failure::InvalidArgument);
    }
    // SAFETY: non-NULL and NUL-terminated per the caller's contract.
    Ok(unsafe { CStr::from_ptr(name) }.to_bytes())
}

/// Calls `visit` with the name and the `d_type` (`DT_REG`, ..., `DT_UNKNOWN`
/// when the file system does not say) of every entry of the directory `path`
/// but `.` and `..`, in `readdir` order; stops at the first error (an errno
/// from `opendir`, `readdir` or `visit`).
///
/// For the lease directory listing (`LeaseDir`): `std::fs::read_dir`
/// allocates infallibly (its handle, the path, a copy of every entry's name)
/// and would abort the host process when memory runs out. Here the only
/// allocations are the C string of `path` (fallible: `ENOMEM`) and glibc's
/// directory stream (`opendir` fails with `ENOMEM`) (DECISIONS.md N30).
pub(crate) fn for_each_dir_entry(
    path: &Path,
    mut visit: impl FnMut(&[u8], u8) -> Result<(), c_int>,
) -> Result<(), c_int> {
    let c_path = c_path_of(path)?;

    /// Closes the stream however the walk ends (a panic in `visit` too).
    struct Stream(*mut libc::DIR);
    impl Drop for Stream {
        fn drop(&mut self) {
            // SAFETY: a stream opendir returned, closed exactly once, here.
            unsafe { libc::closedir(self.0) };
        }
    }
    // SAFETY: `c_path` is a NUL-terminated string that outlives the call.
    let stream = unsafe { libc::opendir(c_path.as_ptr()) };
    if stream.is_null() {
        return Err(last_errno());
    }
    let stream = Stream(stream);
    loop {
        // readdir reports an error only through errno: clear it first.
        // SAFETY: __errno_location returns this thread's errno, writable.
        unsafe { *libc::__errno_location() = 0 };
        // SAFETY: an open stream, used by this thread only.
        let entry = unsafe { libc::readdir64(stream.0) };
        if entry.is_null() {
            return match last_errno() {
                0 => Ok(()),
                errno => Err(errno),
            };
        }
        // SAFETY: a non-NULL entry is valid until the next readdir on this
        // stream, and its d_name is NUL-terminated.
        let name = unsafe { CStr::from_ptr((*entry).d_name.as_ptr()) }.to_bytes();
        if name != b"." && name != b".." {
            // SAFETY: as above.
            visit(name, unsafe { (*entry).d_type })?;
        }
    }
}

/// A path as a NUL-terminated C string.
struct CPath(Vec<u8>);

impl CPath {
    fn as_ptr(&self) -> *const c_char {
        self.0.as_ptr().cast()
    }
}

/// `path` as a C string, allocated fallibly (`ENOMEM`, N30; not `CString`,
/// whose conversions may reallocate infallibly); `EINVAL` for a path
/// holding a NUL byte.
fn c_path_of(path: &Path) -> Result<CPath, c_int> {
    use std::os::unix::ffi::OsStrExt;
    let bytes = path.as_os_str().as_bytes();
    if bytes.contains(&0) {
        return Err(libc::EINVAL);
    }
    let mut c_path = Vec::new();
    c_path
        .try_reserve_exact(bytes.len() + 1)
        .map_err(|_| libc::ENOMEM)?;
    c_path.extend_from_slice(bytes);
    c_path.push(0);
    Ok(CPath(c_path))
}

/// This thread's errno after a libc call that failed (`EIO` if none).
fn last_errno() -> c_int {
    std::io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EIO)
}

/// The canonical path of `path` (`realpath`), or an errno. Unlike
/// `std::fs::canonicalize`, which copies glibc's result into a `PathBuf`
/// infallibly, every allocation here may fail (`ENOMEM`, N30). A result of
/// 384 bytes or more is refused with `ENAMETOOLONG`: std turns shorter paths
/// into C strings on the stack, longer ones on the heap, infallibly, and the
/// caller opens it with std.
pub(crate) fn real_path(path: &Path) -> Result<std::path::PathBuf, c_int> {
    use std::os::unix::ffi::OsStringExt;
    let c_path = c_path_of(path)?;
    // SAFETY: a NUL-terminated string; with a NULL buffer realpath returns a
    // malloc'ed string or NULL with errno set.
    let resolved = unsafe { libc::realpath(c_path.as_ptr(), ptr::null_mut()) };
    if resolved.is_null() {
        return Err(last_errno());
    }
    // SAFETY: realpath returned a NUL-terminated string.
    let text = unsafe { CStr::from_ptr(resolved) }.to_bytes();
    let mut copy = Vec::new();
    let copied = if text.len() >= 384 {
        Err(libc::ENAMETOOLONG)
    } else if copy.try_reserve_exact(text.len()).is_err() {
        Err(libc::ENOMEM)
    } else {
        copy.extend_from_slice(text);
        Ok(())
    };
    // SAFETY: malloc'ed by realpath, freed once, not used after.
    unsafe { libc::free(resolved as *mut c_void) };
    copied.map(|()| std::ffi::OsString::from_vec(copy).into())
}

/// `_nss_*_gethostbyname3_r`; `_r` and `2_r` are thin calls of this one.
/// `AF_UNSPEC` means IPv4 here, as in the C modules (N13).
///
/// # Safety
/// The glibc NSS contract: `name` is a C string, `result` writable, `buffer`
/// writable for `buflen` bytes, `errnop`/`herrnop` writable, `ttlp`/`canonp`
/// NULL or writable.
#[allow(clippy::too_many_arguments)]
pub unsafe fn gethostbyname3_r(
    module: &Module,
    name: *const c_char,
    af: c_int,
    result: *mut hostent,
    buffer: *mut c_char,
    buflen: usize,
    errnop: *mut c_int,
    herrnop: *mut c_int,
    ttlp: *mut i32,
    canonp: *mut *mut c_char,
) -> NssStatus {
    let body = || {
        let (family, af) = match af {
            AF_UNSPEC | AF_INET => (Family::V4, AF_INET),
            AF_INET6 => (Family::V6, AF_INET6),
            _ => return Err(Failure::UnsupportedFamily),
        };
        // SAFETY: `name` is NULL or a C string (the contract above).
        let name = unsafe { name_bytes(name) }?;
        let addresses = module.lookup_name(name, family)?;
        let buffer = Buffer {
            start: buffer as *mut u8,
            len: buflen,
        };
        // SAFETY: `result` is writable and `buffer` is writable for `buflen`
        // bytes (the contract above).
        let h_name = unsafe { write_hostent(name, af, &addresses, result, buffer) }?;
        // SAFETY: `ttlp` and `canonp` are NULL or writable (the contract above).
        unsafe {
            store_optional(ttlp, 0);
            store_optional(canonp, h_name);
        }
        Ok(())
    };
    // SAFETY: `errnop` and `herrnop` are writable (the contract above).
    unsafe { guarded(errnop, herrnop, body) }
}

/// `_nss_*_gethostbyname4_r`: both families, mixed, in lease order.
///
/// # Safety
/// The glibc NSS contract: `name` is a C string, `pat` writable with `*pat`
/// NULL or a writable tuple, `buffer` writable for `buflen` bytes,
/// `errnop`/`herrnop` writable, `ttlp` NULL or writable.
#[allow(clippy::too_many_arguments)]
pub unsafe fn gethostbyname4_r(
    module: &Module,
    name: *const c_char,
    pat: *mut *mut GaihAddrTuple,
    buffer: *mut c_char,
    buflen: usize,
    errnop: *mut c_int,
    herrnop: *mut c_int,
    ttlp: *mut i32,
) -> NssStatus {
    let body = || {
        if pat.is_null() {
            return Err(Failure::InvalidArgument);
        }
        // SAFETY: `name` is NULL or a C string (the contract above).
        let name = unsafe { name_bytes(name) }?;
        let addresses = module.lookup_name(name, Family::Any)?;
        let buffer = Buffer {
            start: buffer as *mut u8,
            len: buflen,
        };
        // SAFETY: `pat` is non-NULL, hence readable and writable, `*pat` is
        // NULL or a writable tuple, and `buffer` is writable for `buflen`
        // bytes (the contract above).
        unsafe { write_addrtuples(name, &addresses, pat, buffer) }?;
        // SAFETY: `ttlp` is NULL or writable (the contract above).
        unsafe { store_optional(ttlp, 0) };
        Ok(())
    };
    // SAFETY: `errnop` and `herrnop` are writable (the contract above).
    unsafe { guarded(errnop, herrnop, body) }
}

/// `_nss_*_gethostbyaddr2_r` (`_r` is this without `ttlp`): the name of a
/// lease address (N22). Addresses that are not ours are NOTFOUND at once.
///
/// # Safety
/// The glibc NSS contract: `addr` readable for `len` bytes, `result`
/// writable, `buffer` writable for `buflen` bytes, `errnop`/`herrnop`
/// writable, `ttlp` NULL or writable.
#[allow(clippy::too_many_arguments)]
pub unsafe fn gethostbyaddr2_r(
    module: &Module,
    addr: *const c_void,
    len: socklen_t,
    af: c_int,
    result: *mut hostent,
    buffer: *mut c_char,
    buflen: usize,
    errnop: *mut c_int,
    herrnop: *mut c_int,
    ttlp: *mut i32,
) -> NssStatus {
    let body = || {
        if addr.is_null() {
            return Err(Failure::InvalidArgument);
        }
        let address = match (af, len) {
            (AF_INET, 4) => {
                // SAFETY: `addr` is non-NULL and readable for `len` = 4 bytes
                // (the contract above); the read is unaligned.
                let octets = unsafe { ptr::read_unaligned(addr as *const [u8; 4]) };
                IpAddr::from(octets)
            }
            (AF_INET6, 16) => {
                // SAFETY: `addr` is non-NULL and readable for `len` = 16 bytes
                // (the contract above); the read is unaligned.
                let octets = unsafe { ptr::read_unaligned(addr as *const [u8; 16]) };
                IpAddr::from(octets)
            }
            (AF_INET | AF_INET6, _) => return Err(Failure::InvalidArgument),
            _ => return Err(Failure::UnsupportedFamily),
        };
        let name = module.lookup_address(address)?;
        let buffer = Buffer {
            start: buffer as *mut u8,
            len: buflen,
        };
        // SAFETY: `result` is writable and `buffer` is writable for `buflen`
        // bytes (the contract above).
        unsafe { write_hostent(name.as_bytes(), af, &[address], result, buffer) }?;
        // SAFETY: `ttlp` is NULL or writable (the contract above).
        unsafe { store_optional(ttlp, 0) };
        Ok(())
    };
    // SAFETY: `errnop` and `herrnop` are writable (the contract above).
    unsafe { guarded(errnop, herrnop, body) }
}

/// Stamps out one module's six exported entry points, all thin calls of the
/// functions above. Each cdylib invokes it once with its full symbol names
/// (greppable, and exactly what `nm -D` shows).
#[macro_export]
macro_rules! export_nss_module {
    (
        module: $module:expr,
        gethostbyname_r: $gethostbyname_r:ident,
        gethostbyname2_r: $gethostbyname2_r:ident,
        gethostbyname3_r: $gethostbyname3_r:ident,
        gethostbyname4_r: $gethostbyname4_r:ident,
        gethostbyaddr_r: $gethostbyaddr_r:ident,
        gethostbyaddr2_r: $gethostbyaddr2_r:ident $(,)?
    ) => {
        static MODULE: $crate::ffi::Module = $module;

        /// glibc NSS `gethostbyname_r`: IPv4 only.
        ///
        /// # Safety
        /// See `common::ffi::gethostbyname3_r`.
        #[no_mangle]
        pub unsafe extern "C" fn $gethostbyname_r(
            name: *const ::libc::c_char,
            result: *mut ::libc::hostent,
            buffer: *mut ::libc::c_char,
            buflen: usize,
            errnop: *mut ::libc::c_int,
            herrnop: *mut ::libc::c_int,
        ) -> $crate::ffi::NssStatus {
            // SAFETY: glibc calls this entry point under the NSS contract
            // that `common::ffi::gethostbyname3_r` requires; the arguments are
            // passed on unchanged, or NULL where it allows NULL.
            unsafe {
                $crate::ffi::gethostbyname3_r(
                    &MODULE,
                    name,
                    ::libc::AF_INET,
                    result,
                    buffer,
                    buflen,
                    errnop,
                    herrnop,
                    ::std::ptr::null_mut(),
                    ::std::ptr::null_mut(),
                )
            }
        }

        /// glibc NSS `gethostbyname2_r`.
        ///
        /// # Safety
        /// See `common::ffi::gethostbyname3_r`.
        #[no_mangle]
        pub unsafe extern "C" fn $gethostbyname2_r(
            name: *const ::libc::c_char,
            af: ::libc::c_int,
            result: *mut ::libc::hostent,
            buffer: *mut ::libc::c_char,
            buflen: usize,
            errnop: *mut ::libc::c_int,
            herrnop: *mut ::libc::c_int,
        ) -> $crate::ffi::NssStatus {
            // SAFETY: glibc calls this entry point under the NSS contract
            // that `common::ffi::gethostbyname3_r` requires; the arguments are
            // passed on unchanged, or NULL where it allows NULL.
            unsafe {
                $crate::ffi::gethostbyname3_r(
                    &MODULE,
                    name,
                    af,
                    result,
                    buffer,
                    buflen,
                    errnop,
                    herrnop,
                    ::std::ptr::null_mut(),
                    ::std::ptr::null_mut(),
                )
            }
        }

        /// glibc NSS `gethostbyname3_r`.
        ///
        /// # Safety
        /// See `common::ffi::gethostbyname3_r`.
        #[no_mangle]
        pub unsafe extern "C" fn $gethostbyname3_r(
            name: *const ::libc::c_char,
            af: ::libc::c_int,
            result: *mut ::libc::hostent,
            buffer: *mut ::libc::c_char,
            buflen: usize,
            errnop: *mut ::libc::c_int,
            herrnop: *mut ::libc::c_int,
            ttlp: *mut i32,
            canonp: *mut *mut ::libc::c_char,
        ) -> $crate::ffi::NssStatus {
            // SAFETY: glibc calls this entry point under the NSS contract
            // that `common::ffi::gethostbyname3_r` requires; the arguments are
            // passed on unchanged, or NULL where it allows NULL.
            unsafe {
                $crate::ffi::gethostbyname3_r(
                    &MODULE, name, af, result, buffer, buflen, errnop, herrnop, ttlp, canonp,
                )
            }
        }

        /// glibc NSS `gethostbyname4_r` (getaddrinfo with AF_UNSPEC).
        ///
        /// # Safety
        /// See `common::ffi::gethostbyname4_r`.
        #[no_mangle]
        pub unsafe extern "C" fn $gethostbyname4_r(
            name: *const ::libc::c_char,
            pat: *mut *mut $crate::ffi::GaihAddrTuple,
            buffer: *mut ::libc::c_char,
            buflen: usize,
            errnop: *mut ::libc::c_int,
            herrnop: *mut ::libc::c_int,
            ttlp: *mut i32,
        ) -> $crate::ffi::NssStatus {
            // SAFETY: glibc calls this entry point under the NSS contract
            // that `common::ffi::gethostbyname4_r` requires; the arguments are
            // passed on unchanged, or NULL where it allows NULL.
            unsafe {
                $crate::ffi::gethostbyname4_r(
                    &MODULE, name, pat, buffer, buflen, errnop, herrnop, ttlp,
                )
            }
        }

        /// glibc NSS `gethostbyaddr_r`.
        ///
        /// # Safety
        /// See `common::ffi::gethostbyaddr2_r`.
        #[no_mangle]
        pub unsafe extern "C" fn $gethostbyaddr_r(
            addr: *const ::libc::c_void,
            len: ::libc::socklen_t,
            af: ::libc::c_int,
            result: *mut ::libc::hostent,
            buffer: *mut ::libc::c_char,
            buflen: usize,
            errnop: *mut ::libc::c_int,
            herrnop: *mut ::libc::c_int,
        ) -> $crate::ffi::NssStatus {
            // SAFETY: glibc calls this entry point under the NSS contract
            // that `common::ffi::gethostbyaddr2_r` requires; the arguments are
            // passed on unchanged, or NULL where it allows NULL.
            unsafe {
                $crate::ffi::gethostbyaddr2_r(
                    &MODULE,
                    addr,
                    len,
                    af,
                    result,
                    buffer,
                    buflen,
                    errnop,
                    herrnop,
                    ::std::ptr::null_mut(),
                )
            }
        }

        /// glibc NSS `gethostbyaddr2_r`.
        ///
        /// # Safety
        /// See `common::ffi::gethostbyaddr2_r`.
        #[no_mangle]
        pub unsafe extern "C" fn $gethostbyaddr2_r(
            addr: *const ::libc::c_void,
            len: ::libc::socklen_t,
            af: ::libc::c_int,
            result: *mut ::libc::hostent,
            buffer: *mut ::libc::c_char,
            buflen: usize,
            errnop: *mut ::libc::c_int,
            herrnop: *mut ::libc::c_int,
            ttlp: *mut i32,
        ) -> $crate::ffi::NssStatus {
            // SAFETY: glibc calls this entry point under the NSS contract
            // that `common::ffi::gethostbyaddr2_r` requires; the arguments are
            // passed on unchanged, or NULL where it allows NULL.
            unsafe {
                $crate::ffi::gethostbyaddr2_r(
                    &MODULE, addr, len, af, result, buffer, buflen, errnop, herrnop, ttlp,
                )
            }
        }
    };
}
