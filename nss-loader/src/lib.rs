//! Loads a glibc hosts NSS module with `dlopen`, as glibc loads it, and
//! hands out its `_nss_<service>_gethostby*_r` entry points typed with their
//! C prototypes (glibc's `<nss.h>` and `nss/nss_module.h`). The integration
//! tests (`tests/support/nss_module.rs`) and the benchmarks
//! (`bench/src/nss.rs`) call our modules and libvirt's C modules through it.
//!
//! Only loading is here: calling an entry point is `unsafe` for the caller,
//! who owns the buffers and out-pointers it hands to the module.
//!
//! A module is never unloaded (no `dlclose`, as glibc never unloads NSS
//! modules either), so an entry point stays callable for the process's life,
//! also after its [`Library`] is dropped.

#![deny(unsafe_code)]

use std::ffi::{c_char, c_int, c_void};
use std::path::Path;

#[allow(unsafe_code)]
mod dl;

/// `_nss_<service>_gethostbyname_r`.
pub type GethostbynameR = unsafe extern "C" fn(
    *const c_char,
    *mut libc::hostent,
    *mut c_char,
    usize,
    *mut c_int,
    *mut c_int,
) -> c_int;
/// `_nss_<service>_gethostbyname2_r`.
pub type Gethostbyname2R = unsafe extern "C" fn(
    *const c_char,
    c_int,
    *mut libc::hostent,
    *mut c_char,
    usize,
    *mut c_int,
    *mut c_int,
) -> c_int;
/// `_nss_<service>_gethostbyname3_r`.
pub type Gethostbyname3R = unsafe extern "C" fn(
    *const c_char,
    c_int,
    *mut libc::hostent,
    *mut c_char,
    usize,
    *mut c_int,
    *mut c_int,
    *mut i32,
    *mut *mut c_char,
) -> c_int;
/// `_nss_<service>_gethostbyname4_r` (what `getaddrinfo(AF_UNSPEC)` calls).
pub type Gethostbyname4R = unsafe extern "C" fn(
    *const c_char,
    *mut *mut GaihAddrTuple,
    *mut c_char,
    usize,
    *mut c_int,
    *mut c_int,
    *mut i32,
) -> c_int;
/// `_nss_<service>_gethostbyaddr_r`.
pub type GethostbyaddrR = unsafe extern "C" fn(
    *const c_void,
    libc::socklen_t,
    c_int,
    *mut libc::hostent,
    *mut c_char,
    usize,
    *mut c_int,
    *mut c_int,
) -> c_int;
/// `_nss_<service>_gethostbyaddr2_r`.
pub type Gethostbyaddr2R = unsafe extern "C" fn(
    *const c_void,
    libc::socklen_t,
    c_int,
    *mut libc::hostent,
    *mut c_char,
    usize,
    *mut c_int,
    *mut c_int,
    *mut i32,
) -> c_int;

/// glibc's `struct gaih_addrtuple` (`<nss.h>`).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct GaihAddrTuple {
    pub next: *mut GaihAddrTuple,
    pub name: *mut c_char,
    pub family: c_int,
    pub addr: [u32; 4],
    pub scopeid: u32,
}

/// The type of one entry point, and the function name it is exported under
/// (after `_nss_<service>_`). Implemented only for the six types above, each
/// the C prototype of the function it names: that pairing is what makes
/// [`Library::entry_point`] sound.
pub trait EntryPoint: Copy + sealed::Sealed {
    const FUNCTION: &'static str;
}

mod sealed {
    pub trait Sealed {}
}

macro_rules! entry_points {
    ($($ty:ty => $function:literal),* $(,)?) => {$(
        impl sealed::Sealed for $ty {}
        impl EntryPoint for $ty {
            const FUNCTION: &'static str = $function;
        }
    )*};
}

entry_points! {
    GethostbynameR => "gethostbyname_r",
    Gethostbyname2R => "gethostbyname2_r",
    Gethostbyname3R => "gethostbyname3_r",
    Gethostbyname4R => "gethostbyname4_r",
    GethostbyaddrR => "gethostbyaddr_r",
    Gethostbyaddr2R => "gethostbyaddr2_r",
}

/// A module loaded with `dlopen(RTLD_NOW | RTLD_LOCAL)`.
pub struct Library {
    handle: dl::Handle,
}

impl Library {
    /// `dlopen`s `path`, which runs the module's initialisers.
    pub fn open(path: &Path) -> Result<Library, String> {
        dl::open(path).map(|handle| Library { handle })
    }

    /// `_nss_<service>_<E::FUNCTION>`, e.g.
    /// `let gbn4: Gethostbyname4R = library.entry_point("libvirt")?;`.
    pub fn entry_point<E: EntryPoint>(&self, service: &str) -> Result<E, String> {
        dl::entry_point(&self.handle, &format!("_nss_{service}_{}", E::FUNCTION))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // glibc's own `files` module: libnss_files.so.2 (a stub whose symbols
    // come from libc.so.6 since glibc 2.34) has no gethostbyaddr2_r.
    const FILES: &str = "libnss_files.so.2";

    #[test]
    fn entry_points_are_found_by_service_and_function() {
        let library = Library::open(Path::new(FILES)).unwrap();
        assert!(library.entry_point::<Gethostbyname4R>("files").is_ok());
        assert!(library.entry_point::<GethostbyaddrR>("files").is_ok());
        let missing = library.entry_point::<Gethostbyaddr2R>("files").err();
        assert!(
            missing
                .as_deref()
                .unwrap_or_default()
                .contains("dlsym _nss_files_gethostbyaddr2_r: "),
            "{missing:?}"
        );
        let other = library.entry_point::<Gethostbyname4R>("libvirt").err();
        assert!(
            other
                .as_deref()
                .unwrap_or_default()
                .contains("_nss_libvirt_gethostbyname4_r"),
            "{other:?}"
        );
    }

    #[test]
    fn a_missing_library_is_an_error() {
        let error = Library::open(Path::new("/nonexistent/libnss_x.so.2")).err();
        assert!(
            error
                .as_deref()
                .unwrap_or_default()
                .starts_with("dlopen /nonexistent/libnss_x.so.2: "),
            "{error:?}"
        );
    }
}
