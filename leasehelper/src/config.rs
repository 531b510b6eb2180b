//! Compiled-in locations. A packager may change them at build time only
//! (`LIBVIRT_NSS_LEASE_DIR=... LIBVIRT_LEASESHELPER_LOCK=... cargo build`);
//! there is deliberately no run-time switch.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

// The lease dir is the NSS modules' own (libvirt's `LOCALSTATEDIR
// "/lib/libvirt/dnsmasq"`, `LIBVIRT_NSS_LEASE_DIR` at build time).
use common::LEASE_DIR;

/// libvirt's `RUNSTATEDIR "/leaseshelper.pid"`: the global lock shared with
/// the C helper.
pub const LOCK_PATH: &str = match option_env!("LIBVIRT_LEASESHELPER_LOCK") {
    Some(path) => path,
    None => "/run/leaseshelper.pid",
};

/// `<LEASE_DIR>/<interface>.status`, like C: no sanitising of the name.
pub fn status_file_path(interface: &[u8]) -> PathBuf {
    let mut path = LEASE_DIR.trim_end_matches('/').as_bytes().to_vec();
    path.push(b'/');
    path.extend_from_slice(interface);
    path.extend_from_slice(b".status");
    PathBuf::from(OsStr::from_bytes(&path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_file_is_named_after_the_interface() {
        let expected = format!("{}/virbr0.status", LEASE_DIR.trim_end_matches('/'));
        assert_eq!(status_file_path(b"virbr0"), PathBuf::from(expected));
        assert!(status_file_path(b"").ends_with(".status"));
    }
}
