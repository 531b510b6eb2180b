//! The lease helper's parts, one job per module. The binary (`main.rs`)
//! only maps argv/env to an exit code; the fuzz targets drive these modules
//! directly.
//!
//! - [`invocation`]: argv and `DNSMASQ_*` environment → an event, exactly as
//!   libvirt 9.0.0 reads them; [`expiry`], [`duid`]: the fields that need
//!   parsing.
//! - [`yajl_json`]: JSON as libvirt's yajl reads and pretty-prints it (the
//!   byte-exact writer of `.status` files).
//! - [`leases`]: the merge (delete by IP, append); [`init_output`]: `init`.
//! - [`regular_file`], [`corrupt`], [`atomic_write`], [`lock`]: the file
//!   system side: touching and reading (with the 32 MiB cap) only regular
//!   files, moving an unparsable file aside, `.new` + fsync + rename +
//!   directory fsync, the `fcntl` lock.
//! - `sys`: the crate's only `unsafe`, two libc calls (`geteuid`/`getegid`,
//!   the `fcntl` lock) behind safe functions.
//! - [`run`]: one event from start to finish; [`config`]: compiled-in paths;
//!   [`error`]: the messages.

#![deny(unsafe_code)]

pub mod atomic_write;
pub mod config;
pub mod corrupt;
pub mod duid;
pub mod error;
pub mod expiry;
pub mod init_output;
pub mod invocation;
pub mod leases;
pub mod lock;
pub mod regular_file;
pub mod run;
mod sys;
#[cfg(test)]
mod test_dir;
pub mod yajl_json;
