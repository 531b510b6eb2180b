//! Link as glibc expects of an NSS module: the soname glibc dlopens, and
//! `-z nodelete` so the module is never unloaded while threads may still
//! hold pointers into it (glibc never dlcloses NSS modules either); and
//! GCC's unwinder linked in statically (`static_unwinder.rs`), so that loading
//! the module never loads `libgcc_s.so.1`.
include!("../nss-libvirt/static_unwinder.rs");

fn main() {
    link_unwinder_statically();
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libnss_libvirt_guest.so.2");
    println!("cargo:rustc-cdylib-link-arg=-Wl,-z,nodelete");
    // Each segment starts on its own page (lld; GNU ld ignores it with a
    // warning): the relocated data then spans 2 pages instead of 3, one
    // copy-on-write fault less in every process that loads the module.
    println!("cargo:rustc-cdylib-link-arg=-Wl,-z,separate-loadable-segments");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=LIBVIRT_NSS_LEASE_DIR");
}
