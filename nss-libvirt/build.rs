//! Link as glibc expects of an NSS module: the soname glibc dlopens, and
//! `-z nodelete` so the module is never unloaded while threads may still
//! hold pointers into it (glibc never dlcloses NSS modules either).
fn main() {
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libnss_libvirt.so.2");
    println!("cargo:rustc-cdylib-link-arg=-Wl,-z,nodelete");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=LIBVIRT_NSS_LEASE_DIR");
}
