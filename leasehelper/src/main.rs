//! `libvirt_leaseshelper`: the `dnsmasq --dhcp-script` that keeps libvirt's
//! `<bridge>.status` lease database, a drop-in for libvirt 9.0.0's helper.
//! See README.md for what differs from the C helper (DECISIONS.md H6-H8).
//! The work is in the library (`lib.rs`); this is argv/env in, exit code out.

#![forbid(unsafe_code)]

use std::ffi::OsString;
use std::io::Write;
use std::process::ExitCode;

use leasehelper::invocation::{self, Invocation};
use leasehelper::run;

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().collect();
    match invocation::parse_invocation(&args, |name| std::env::var_os(name)) {
        Invocation::Help { argv0 } => print(
            &mut std::io::stdout(),
            &invocation::usage_text(&argv0),
            ExitCode::SUCCESS,
        ),
        Invocation::Version { argv0 } => print(
            &mut std::io::stdout(),
            &invocation::version_text(&argv0),
            ExitCode::SUCCESS,
        ),
        Invocation::WrongArgumentCount { argv0 } => print(
            &mut std::io::stderr(),
            &invocation::wrong_count_text(&argv0),
            ExitCode::FAILURE,
        ),
        Invocation::InterfaceNotSet => print(
            &mut std::io::stderr(),
            b"interface not set\n",
            ExitCode::FAILURE,
        ),
        Invocation::UnsupportedAction { action } => {
            let mut message = b"Unsupported action: ".to_vec();
            message.extend_from_slice(&action);
            message.push(b'\n');
            print(&mut std::io::stderr(), &message, ExitCode::FAILURE)
        }
        Invocation::Run(event) => match run::process_event_compiled_in(&event) {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => {
                eprintln!("libvirt: Network Driver error : {err}");
                ExitCode::FAILURE
            }
        },
    }
}

/// Write `bytes` and return `code`; a failed write to stdout/stderr turns
/// success into failure.
fn print(stream: &mut dyn Write, bytes: &[u8], code: ExitCode) -> ExitCode {
    match stream.write_all(bytes).and_then(|()| stream.flush()) {
        Ok(()) => code,
        Err(_) => ExitCode::FAILURE,
    }
}
