//! A built NSS module loaded in-process with `dlopen`, as glibc loads it
//! (`nss-loader`): its six entry points with their C signatures.

use std::ffi::CStr;
use std::net::IpAddr;

pub use nss_loader::GaihAddrTuple;
use nss_loader::{
    EntryPoint, Gethostbyaddr2R, GethostbyaddrR, Gethostbyname2R, Gethostbyname3R, Gethostbyname4R,
    GethostbynameR, Library,
};

use crate::modules;

/// One module's entry points. The module stays loaded for the process's
/// life (it is linked `-z nodelete`, and nothing calls `dlclose`).
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
        let library = Library::open(&modules::ours().join(file)).unwrap_or_else(|e| panic!("{e}"));
        fn entry<E: EntryPoint>(library: &Library, service: &str) -> E {
            library
                .entry_point(service)
                .unwrap_or_else(|e| panic!("{e}"))
        }
        NssModule {
            service,
            gethostbyname_r: entry(&library, service),
            gethostbyname2_r: entry(&library, service),
            gethostbyname3_r: entry(&library, service),
            gethostbyname4_r: entry(&library, service),
            gethostbyaddr_r: entry(&library, service),
            gethostbyaddr2_r: entry(&library, service),
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
