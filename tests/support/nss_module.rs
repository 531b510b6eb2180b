//! A built NSS module loaded in-process with `dlopen`, as glibc loads it:
//! its six entry points with their C signatures from `<nss.h>`.

use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::net::IpAddr;

use crate::modules;

pub type GethostbynameR = unsafe extern "C" fn(
    *const c_char,
    *mut libc::hostent,
    *mut c_char,
    usize,
    *mut c_int,
    *mut c_int,
) -> c_int;
pub type Gethostbyname2R = unsafe extern "C" fn(
    *const c_char,
    c_int,
    *mut libc::hostent,
    *mut c_char,
    usize,
    *mut c_int,
    *mut c_int,
) -> c_int;
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
pub type Gethostbyname4R = unsafe extern "C" fn(
    *const c_char,
    *mut *mut GaihAddrTuple,
    *mut c_char,
    usize,
    *mut c_int,
    *mut c_int,
    *mut i32,
) -> c_int;
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

/// glibc's `struct gaih_addrtuple`.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct GaihAddrTuple {
    pub next: *mut GaihAddrTuple,
    pub name: *mut c_char,
    pub family: c_int,
    pub addr: [u32; 4],
    pub scopeid: u32,
}

/// One module's entry points. The module stays loaded for the process's
/// life (it is linked `-z nodelete`, and nothing here calls `dlclose`).
#[derive(Clone, Copy)]
pub struct NssModule {
    pub service: &'static str,
    pub gethostbyname_r: GethostbynameR,
    pub gethostbyname2_r: Gethostbyname2R,
    pub gethostbyname3_r: Gethostbyname3R,
    pub gethostbyname4_r: Gethostbyname4R,
    pub gethostbyaddr_r: GethostbyaddrR,
    pub gethostbyaddr2_r: Gethostbyaddr2R,
}

impl NssModule {
    /// `dlopen`s `file` from our module dir and resolves `_nss_<service>_*`.
    pub fn load(file: &str, service: &'static str) -> NssModule {
        let path = CString::new(
            modules::ours()
                .join(file)
                .into_os_string()
                .into_encoded_bytes(),
        )
        .expect("no NUL in path");
        // SAFETY: a valid path; loading runs the module's (trivial) initialisers.
        let handle = unsafe { libc::dlopen(path.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
        assert!(!handle.is_null(), "dlopen {file} failed");
        let symbol = |function: &str| {
            let name = CString::new(format!("_nss_{service}_{function}")).expect("no NUL");
            // SAFETY: a live handle and a NUL-terminated name.
            let address = unsafe { libc::dlsym(handle, name.as_ptr()) };
            assert!(!address.is_null(), "{file} lacks {name:?}");
            address
        };
        // SAFETY: each symbol has the glibc NSS signature its name promises.
        unsafe {
            NssModule {
                service,
                gethostbyname_r: std::mem::transmute::<*mut c_void, GethostbynameR>(symbol(
                    "gethostbyname_r",
                )),
                gethostbyname2_r: std::mem::transmute::<*mut c_void, Gethostbyname2R>(symbol(
                    "gethostbyname2_r",
                )),
                gethostbyname3_r: std::mem::transmute::<*mut c_void, Gethostbyname3R>(symbol(
                    "gethostbyname3_r",
                )),
                gethostbyname4_r: std::mem::transmute::<*mut c_void, Gethostbyname4R>(symbol(
                    "gethostbyname4_r",
                )),
                gethostbyaddr_r: std::mem::transmute::<*mut c_void, GethostbyaddrR>(symbol(
                    "gethostbyaddr_r",
                )),
                gethostbyaddr2_r: std::mem::transmute::<*mut c_void, Gethostbyaddr2R>(symbol(
                    "gethostbyaddr2_r",
                )),
            }
        }
    }

    /// Our `libvirt` and `libvirt_guest` modules.
    pub fn both() -> [NssModule; 2] {
        [
            NssModule::load(modules::LIBVIRT, "libvirt"),
            NssModule::load(modules::LIBVIRT_GUEST, "libvirt_guest"),
        ]
    }

    pub fn is_guest(&self) -> bool {
        self.service == "libvirt_guest"
    }
}

/// The addresses of a `hostent` a module filled on SUCCESS.
///
/// # Safety
/// `h` was filled by a successful `gethostbyname*_r`/`gethostbyaddr*_r` call
/// whose buffer is still alive.
pub unsafe fn hostent_addresses(h: &libc::hostent) -> Vec<IpAddr> {
    let mut list = Vec::new();
    // SAFETY: per the contract, a NULL-terminated h_addr_list of h_length-byte
    // addresses.
    unsafe {
        let mut p = h.h_addr_list;
        while !(*p).is_null() {
            let bytes = std::slice::from_raw_parts(*p as *const u8, h.h_length as usize);
            list.push(match bytes.len() {
                4 => IpAddr::from(<[u8; 4]>::try_from(bytes).expect("4 bytes")),
                16 => IpAddr::from(<[u8; 16]>::try_from(bytes).expect("16 bytes")),
                n => panic!("h_length {n}"),
            });
            p = p.add(1);
        }
    }
    list
}

/// The `h_name` of a filled `hostent`.
///
/// # Safety
/// As for [`hostent_addresses`].
pub unsafe fn hostent_name(h: &libc::hostent) -> String {
    // SAFETY: per the contract, h_name is a NUL-terminated string.
    unsafe { CStr::from_ptr(h.h_name) }
        .to_string_lossy()
        .into_owned()
}
