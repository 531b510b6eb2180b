//! `libnss_libvirt_guest.so.2`: the glibc NSS module `libvirt_guest`.
//! All logic lives in `common`; this crate only binds the service to the
//! compiled-in lease directory and exports the six entry points (the
//! `unsafe` they need is written in `common::ffi`, not here).

#![forbid(unsafe_code)]

common::export_nss_module! {
    module: common::ffi::Module::new(common::Service::LibvirtGuest, common::LEASE_DIR),
    gethostbyname_r: _nss_libvirt_guest_gethostbyname_r,
    gethostbyname2_r: _nss_libvirt_guest_gethostbyname2_r,
    gethostbyname3_r: _nss_libvirt_guest_gethostbyname3_r,
    gethostbyname4_r: _nss_libvirt_guest_gethostbyname4_r,
    gethostbyaddr_r: _nss_libvirt_guest_gethostbyaddr_r,
    gethostbyaddr2_r: _nss_libvirt_guest_gethostbyaddr2_r,
}
