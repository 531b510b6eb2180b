//! Fuzz targets for everything that reads bytes an attacker may influence,
//! driven by a small stable-toolchain harness (`src/main.rs`): cargo-fuzz
//! and libFuzzer need nightly, this needs nothing.
//!
//! Each target takes arbitrary bytes, runs the code under test and panics
//! when a property fails; the harness treats a panic, an abort, a signal or
//! a hang as a crash and saves the input under `fuzz/artifacts/<target>/`.
//!
//! The lease helper's JSON reader/writer, merge and event parsing come from
//! its library crate.

pub mod input;
pub mod mutate;
pub mod targets;

/// The helper's parts the `helper_merge` target drives.
pub(crate) mod helper {
    pub use leasehelper::init_output::render_init_output;
    pub use leasehelper::invocation::{parse_invocation, Action, Invocation};
    pub use leasehelper::leases::{merge_existing, new_lease};
    pub use leasehelper::yajl_json::{parse, to_pretty_bytes, ParseError, Value};
}
