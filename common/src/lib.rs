//! Shared core of the `libvirt` and `libvirt_guest` NSS modules.
//!
//! - [`status_file`], [`macs_file`]: parse the lease helper's `*.status` and
//!   libvirtd's `*.macs` into compact, indexed structures.
//! - [`lease_dir`]: the lease directory as a snapshot revalidated by `stat` on
//!   every call; [`snapshot_cache`]: the per-process copy of it.
//! - [`lookup`]: forward and reverse lookups with the C modules' semantics.
//! - [`ffi`]: the glibc NSS entry points — the only module with `unsafe`
//!   (the compiler holds the rest of the crate to that).
//!
//! Nothing here knows where the lease directory is: it is a parameter
//! everywhere, bound to [`LEASE_DIR`] only by the two cdylibs (and by the
//! lease helper, which writes there).
//!
//! Decision IDs in comments (N1, N17, ...) are entries of `DECISIONS.md` at
//! the root of the repository.

#![deny(unsafe_code)]

#[allow(unsafe_code)]
pub mod ffi;
pub mod hostname;
pub mod json;
mod key_index;
pub mod lease_dir;
pub mod lookup;
pub mod macs_file;
pub mod snapshot_cache;
pub mod status_file;
mod text_arena;

pub use lease_dir::{DirError, FileSet, LeaseDir};
pub use lookup::{Answer, Family, Service};

/// An allocation on the lookup path failed. Every allocation a lookup makes
/// (the directory listing, the read buffer, the parser, the indexes, the
/// text arena, the answer) is fallible: a module inside a process short of
/// memory answers UNAVAIL/ENOMEM instead of aborting it (DECISIONS.md N30).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutOfMemory;

impl From<std::collections::TryReserveError> for OutOfMemory {
    fn from(_: std::collections::TryReserveError) -> OutOfMemory {
        OutOfMemory
    }
}

/// Where libvirt's dnsmasq state lives (libvirt's `LOCALSTATEDIR
/// "/lib/libvirt/dnsmasq"`), for the modules and the lease helper alike.
/// Packagers may change it at build time
/// (`LIBVIRT_NSS_LEASE_DIR=/path cargo build`); nothing can at run time, since
/// the modules run inside setuid programs (DECISIONS.md N1).
pub const LEASE_DIR: &str = match option_env!("LIBVIRT_NSS_LEASE_DIR") {
    Some(dir) => dir,
    None => "/var/lib/libvirt/dnsmasq",
};

// Every path the modules hand to std (the directory, and `<dir>/<name>` with
// a name of at most 255 bytes) stays under the 384 bytes std turns into a C
// string on the stack: a longer one it would allocate, infallibly (N30).
const _: () = assert!(
    LEASE_DIR.len() < 128,
    "LIBVIRT_NSS_LEASE_DIR must be shorter than 128 bytes"
);

/// Seconds since the epoch, as the lookups' `now`.
pub fn now_epoch_seconds() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}
