//! Fuzz targets for everything that reads bytes an attacker may influence,
//! driven by a small stable-toolchain harness (`src/main.rs`): cargo-fuzz
//! and libFuzzer need nightly, this needs nothing.
//!
//! Each target takes arbitrary bytes, runs the code under test and panics
//! when a property fails; the harness treats a panic, an abort, a signal or
//! a hang as a crash and saves the input under `fuzz/artifacts/<target>/`.
//!
//! The lease helper is a binary crate, so its JSON reader/writer, merge and
//! event parsing are compiled in here straight from its sources (read-only:
//! the helper owns them).

pub mod input;
pub mod mutate;
pub mod targets;

// The helper's modules sit at this crate's root so that their own
// `crate::json`, `crate::cli`, ... paths resolve unchanged.
#[allow(dead_code)]
#[path = "../../leasehelper/src/cli.rs"]
mod cli;
#[allow(dead_code)]
#[path = "../../leasehelper/src/duid.rs"]
mod duid;
#[allow(dead_code)]
#[path = "../../leasehelper/src/expiry.rs"]
mod expiry;
#[allow(dead_code)]
#[path = "../../leasehelper/src/init_output.rs"]
mod init_output;
#[allow(dead_code)]
#[path = "../../leasehelper/src/json.rs"]
mod json;
#[allow(dead_code)]
#[path = "../../leasehelper/src/leases.rs"]
mod leases;

/// The helper's parts the `helper_merge` target drives.
pub(crate) mod helper {
    pub use crate::cli::{parse_invocation, Action, Invocation};
    pub use crate::init_output::render_init_output;
    pub use crate::json::{parse, to_pretty_bytes, ParseError, Value};
    pub use crate::leases::{merge_existing, new_lease};
}
