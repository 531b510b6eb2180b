//! Shared helpers for the integration tests.
//!
//! getent end-to-end harness: `prerequisites` (skip vs fail), `modules` (which
//! module dirs are compared), `temp_dir` (lease dirs with safe modes),
//! `lease_format` + `synthetic` (lease files in the real writers' bytes),
//! `nsenv` (the one writer of `scripts/nsenv.sh` command lines: private
//! namespaces with a given lease dir, modules and `hosts:` line);
//! `getent` (lookups inside such namespaces); `nss_module` (a built
//! module `dlopen`ed in-process) and `rerun_in_namespace` (an ignored test re-run
//! inside `nsenv.sh`, where such a module finds its fixture); `leasehelper`
//! (the helpers side by side);
//! `ssh_proxy` (the SSH proxy, its fixture, and a real sshd in a netns);
//! `tiny_guest` (a script in a throw-away qemu guest via `scripts/tiny-guest.sh`,
//! where the VSOCK tests use AF_VSOCK without touching this machine's).

pub mod getent;
pub mod lease_format;
pub mod leasehelper;
pub mod modules;
pub mod nsenv;
pub mod nss_module;
pub mod prerequisites;
pub mod rerun_in_namespace;
pub mod ssh_proxy;
pub mod synthetic;
pub mod temp_dir;
pub mod tiny_guest;
