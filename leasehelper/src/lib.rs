//! The lease helper's parts, one job per module. The binary (`main.rs`)
//! only maps argv/env to an exit code; the fuzz targets drive these modules
//! directly.
//!
//! - [`cli`]: argv and `DNSMASQ_*` environment → an event, exactly as libvirt
//!   9.0.0 reads them; [`expiry`], [`duid`]: the fields that need parsing.
//! - [`json`]: a yajl-compatible reader and byte-exact pretty writer.
//! - [`leases`]: the merge (delete by IP, append); [`init_output`]: `init`.
//! - [`status_file`], [`corrupt`], [`atomic_write`], [`lock`]: the file
//!   system side: reading with the 32 MiB cap, moving an unparsable file
//!   aside, `.new` + fsync + rename + directory fsync, the `fcntl` lock.
//! - `sys`: the crate's only `unsafe`, two libc calls (`geteuid`/`getegid`,
//!   the `fcntl` lock) behind safe functions.
//! - [`run`]: one event from start to finish; [`config`]: compiled-in paths;
//!   [`error`]: the messages.

#![deny(unsafe_code)]

pub mod atomic_write;
pub mod cli;
pub mod config;
pub mod corrupt;
pub mod duid;
pub mod error;
pub mod expiry;
pub mod init_output;
pub mod json;
pub mod leases;
pub mod lock;
pub mod run;
pub mod status_file;
mod sys;
#[cfg(test)]
mod test_dir;
