//! `libvirt-nss`: what the libvirt NSS modules answer, and why.
//!
//! Every answer comes from the same `common` code the modules run, over the
//! same lease directory, so `resolve` prints exactly what `getent` would get
//! from the module. Unlike the modules, the CLI may take paths
//! (`--lease-dir`, `--nsswitch`, `--libdir`): it never runs inside someone
//! else's process.

#![forbid(unsafe_code)]

mod check;
mod elf;
mod explain;
mod list;
mod nsswitch;
mod options;
mod report;
mod resolve;
mod style;
mod timefmt;

use std::io::{self, Write};
use std::process::ExitCode;

use clap::Parser;

use options::{name_bytes, Cli, Command, Generated};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // Help and version on stdout (exit 0); usage errors on stderr (exit 2).
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(e.exit_code().clamp(0, 255) as u8);
        }
    };
    let globals = cli.globals.resolve();
    let mut out = io::stdout().lock();
    let result = match cli.command {
        Command::List { json } => list::run(&globals, json, &mut out),
        Command::Resolve {
            name,
            v4,
            v6,
            guest,
            reverse,
        } => {
            let family = match (v4, v6) {
                (true, _) => common::Family::V4,
                (_, true) => common::Family::V6,
                _ => common::Family::Any,
            };
            resolve::run(
                &globals,
                &name_bytes(&name),
                family,
                guest,
                reverse,
                &mut out,
            )
        }
        Command::Explain { name } => explain::run(&globals, &name_bytes(&name), &mut out),
        Command::Check => check::run(&globals, &mut out),
        Command::Generate { what } => generate(what, &mut out).map(|()| 0),
    };
    let result = result.and_then(|code| out.flush().map(|()| code));
    match result {
        Ok(code) => ExitCode::from(code),
        // Output closed early (`| head`): not worth a message.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::from(1),
        Err(e) => {
            eprintln!("libvirt-nss: {e}");
            ExitCode::from(1)
        }
    }
}

/// The man page and completions, from the same definition as the parser.
fn generate(what: Generated, out: &mut dyn Write) -> io::Result<()> {
    use clap::CommandFactory;
    use clap_complete::Shell;
    let mut command = Cli::command();
    let shell = match what {
        Generated::Man => return clap_mangen::Man::new(command).render(out),
        Generated::Bash => Shell::Bash,
        Generated::Zsh => Shell::Zsh,
        Generated::Fish => Shell::Fish,
    };
    clap_complete::generate(shell, &mut command, "libvirt-nss", out);
    Ok(())
}
