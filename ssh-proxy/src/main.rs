//! `libvirt-ssh-proxy`: `ssh user@qemu/vm` for every libvirt VM.
//!
//! ssh runs us as its ProxyCommand with `%h %p %n`. We find the domain
//! through libvirt (read-only), try its VSOCK CID, then its live DHCP
//! leases, and hand ssh the first connection that works: the socket itself
//! when ssh passes fds, else a byte relay. Without libvirt, libvirtd's
//! `.macs` files still lead to the leases. See README.md in this crate.
#![deny(unsafe_code)]

mod dial;
mod domxml;
mod explain;
mod failure;
mod handoff;
mod locate;
mod resolve;
mod route;
mod target;
mod virt;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};

use crate::dial::{VsockPolicy, VSOCK_ENV};
use crate::failure::{one_line, Failure, HELP_FOOTER};
use crate::handoff::Mode;
use crate::resolve::{Resolution, Settings};
use crate::target::Target;

/// The ssh_config snippet, as installed in /etc/ssh/ssh_config.d/.
const SSH_CONFIG: &str = include_str!("../29-libvirt-nss-rs-ssh-proxy.conf");

#[derive(Parser, Debug)]
#[command(
    name = "libvirt-ssh-proxy",
    version,
    about = "ssh ProxyCommand for libvirt domains: `ssh user@qemu/vm` over VSOCK or the VM's DHCP lease",
    long_about = None,
    subcommand_negates_reqs = true,
    after_help = HELP_FOOTER
)]
struct Cli {
    #[command(flatten)]
    options: Options,
    #[command(subcommand)]
    command: Option<Command>,
    /// ssh's %h: qemu/NAME, qemu:system/NAME, qemu:session/NAME, or with '%'
    #[arg(required = true)]
    host: Option<String>,
    /// ssh's %p: the TCP port, and the VSOCK port
    #[arg(required = true)]
    port: Option<String>,
    /// ssh's %n, the host as typed: restores the case ssh drops from %h
    typed_host: Option<String>,
}

#[derive(clap::Args, Debug)]
struct Options {
    /// Search this libvirt URI instead of the host's scope (repeatable)
    #[arg(short = 'c', long = "uri", value_name = "URI", global = true)]
    uris: Vec<String>,
    /// Where libvirt's dnsmasq keeps <bridge>.status and <bridge>.macs
    #[arg(long, value_name = "DIR", default_value = common::LEASE_DIR, global = true)]
    lease_dir: PathBuf,
    /// Never dial VSOCK (also: LIBVIRT_SSH_PROXY_VSOCK=deny)
    #[arg(long, global = true)]
    no_vsock: bool,
    /// Never dial the DHCP lease addresses
    #[arg(long, global = true)]
    no_lease: bool,
    /// Deadline for each connection attempt, in milliseconds
    #[arg(long, value_name = "MS", default_value_t = 1500, global = true)]
    connect_timeout: u64,
    /// How to give ssh the connection (default: fd-pass when stdout is ssh's socket)
    #[arg(long, value_enum, default_value_t = ModeArg::Auto, global = true)]
    mode: ModeArg,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum ModeArg {
    Auto,
    FdPass,
    Relay,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Print the routes the proxy would try, in order, without dialling
    Resolve {
        host: String,
        #[arg(default_value = "22")]
        port: String,
    },
    /// Walk every step: URIs, domain state, CID, NICs and leases, what
    /// `ssh -G` selects, and a TCP probe
    Explain {
        host: String,
        #[arg(default_value = "22")]
        port: String,
        /// ssh_config file for the `ssh -G` step (ssh's -F)
        #[arg(short = 'F', long, value_name = "FILE")]
        ssh_config: Option<PathBuf>,
        /// Also probe the VSOCK route (off by default)
        #[arg(long)]
        probe_vsock: bool,
    },
    /// Print the ssh_config snippet
    PrintConfig,
    /// Write the man page or a shell completion script to stdout (packaging)
    #[command(hide = true)]
    Generate {
        #[arg(value_enum)]
        what: Generated,
    },
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Generated {
    Man,
    Bash,
    Zsh,
    Fish,
}

fn main() -> ExitCode {
    // One line on stderr for a bug too, never a backtrace.
    std::panic::set_hook(Box::new(|info| {
        eprintln!(
            "libvirt-ssh-proxy: internal error: {}",
            one_line(&info.to_string())
        );
    }));
    // Never spawn a session daemon that lingers after we exit: no daemon
    // means no running session domains anyway. Set before any libvirt call,
    // while we are single-threaded.
    std::env::set_var("LIBVIRT_AUTOSTART", "0");
    let outcome =
        std::panic::catch_unwind(run).unwrap_or_else(|_| Err(Failure::Internal("panic".into())));
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Internal(_)) => ExitCode::from(70),
        Err(failure) => {
            eprintln!("libvirt-ssh-proxy: {}", one_line(&failure.to_string()));
            ExitCode::from(failure.exit_code() as u8)
        }
    }
}

fn run() -> Result<(), Failure> {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e)
            if matches!(
                e.kind(),
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion
            ) =>
        {
            // Asked for by a person, never by ssh: stdout is fine.
            let _ = e.print();
            return Ok(());
        }
        Err(e) => {
            let text = e.to_string();
            let first = text
                .lines()
                .next()
                .unwrap_or("")
                .trim_start_matches("error: ");
            return Err(Failure::Usage(first.to_string()));
        }
    };
    let options = &cli.options;
    match &cli.command {
        Some(Command::PrintConfig) => {
            print!("{SSH_CONFIG}");
            Ok(())
        }
        Some(Command::Generate { what }) => {
            generate(*what).map_err(|e| Failure::Internal(format!("generate: {e}")))
        }
        Some(Command::Resolve { host, port }) => {
            let (target, port) = parse_target(host, port, None)?;
            let resolution = resolve_target(&target, port, options)?;
            print!("{}", explain::routes_text(&target, &resolution));
            Ok(())
        }
        Some(Command::Explain {
            host,
            port,
            ssh_config,
            probe_vsock,
        }) => {
            let (target, port) = parse_target(host, port, None)?;
            let settings = settings(&target, options);
            let probe = explain::Probe {
                timeout: Duration::from_millis(options.connect_timeout),
                vsock: if *probe_vsock {
                    vsock_policy(options)
                } else {
                    VsockPolicy::Deny("--probe-vsock not given")
                },
            };
            explain::explain(&target, port, &settings, ssh_config.as_deref(), probe);
            Ok(())
        }
        None => {
            let (Some(host), Some(port)) = (&cli.host, &cli.port) else {
                return Err(Failure::Usage("HOST and PORT are required".into()));
            };
            let (target, port) = parse_target(host, port, cli.typed_host.as_deref())?;
            proxy(&target, port, options)
        }
    }
}

/// The man page and completions, from the same definition as the parser.
fn generate(what: Generated) -> std::io::Result<()> {
    use clap::CommandFactory;
    use clap_complete::Shell;
    let mut command = Cli::command();
    let mut out = std::io::stdout().lock();
    let shell = match what {
        Generated::Man => return clap_mangen::Man::new(command).render(&mut out),
        Generated::Bash => Shell::Bash,
        Generated::Zsh => Shell::Zsh,
        Generated::Fish => Shell::Fish,
    };
    clap_complete::generate(shell, &mut command, "libvirt-ssh-proxy", &mut out);
    Ok(())
}

fn parse_target(host: &str, port: &str, typed: Option<&str>) -> Result<(Target, u32), Failure> {
    let target = target::parse(host, typed).map_err(|e| Failure::Usage(e.0))?;
    let port = target::parse_port(port).map_err(|e| Failure::Usage(e.0))?;
    Ok((target, port))
}

fn settings<'a>(target: &Target, options: &'a Options) -> Settings<'a> {
    let uris = if options.uris.is_empty() {
        target.scope.uris(nix::unistd::geteuid().is_root())
    } else {
        options.uris.clone()
    };
    Settings {
        uris,
        lease_dir: &options.lease_dir,
        use_leases: !options.no_lease,
    }
}

fn resolve_target(target: &Target, port: u32, options: &Options) -> Result<Resolution, Failure> {
    let settings = settings(target, options);
    let search = resolve::search(target, &settings);
    resolve::resolve(target, port, &settings, &search)
}

fn vsock_policy(options: &Options) -> VsockPolicy {
    if options.no_vsock {
        VsockPolicy::Deny("--no-vsock")
    } else if std::env::var_os(VSOCK_ENV).is_some_and(|v| v == "deny") {
        VsockPolicy::Deny("LIBVIRT_SSH_PROXY_VSOCK=deny")
    } else {
        VsockPolicy::Allow
    }
}

/// The ProxyCommand itself: dial the routes in order, hand over the first
/// connection.
fn proxy(target: &Target, port: u32, options: &Options) -> Result<(), Failure> {
    let resolution = resolve_target(target, port, options)?;
    let timeout = Duration::from_millis(options.connect_timeout);
    let vsock = vsock_policy(options);
    let mut failures = Vec::new();
    for &route in &resolution.plan.routes {
        match dial::dial(route, timeout, vsock) {
            Ok(conn) => return hand_over(target, conn, options.mode),
            Err(e) => failures.push(format!("{route}: {e}")),
        }
    }
    Err(Failure::ConnectFailed {
        spec: target.spec.clone(),
        detail: format!(
            "could not connect to {}: {}",
            explain::source_text(&resolution.source),
            failures.join("; ")
        ),
    })
}

fn hand_over(target: &Target, conn: std::os::fd::OwnedFd, mode: ModeArg) -> Result<(), Failure> {
    let mode = match mode {
        ModeArg::Auto => handoff::detect_mode(),
        ModeArg::FdPass => Mode::PassFd,
        ModeArg::Relay => Mode::Relay,
    };
    let result = match mode {
        Mode::PassFd => handoff::pass_fd(&conn)
            .map_err(|e| format!("cannot pass the connection to ssh: sendmsg: {e}")),
        Mode::Relay => handoff::relay(conn).map_err(|e| format!("relay: {e}")),
    };
    result.map_err(|detail| Failure::Handoff {
        spec: target.spec.clone(),
        detail,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_valid() {
        Cli::command().debug_assert();
    }

    #[test]
    fn exit_code_help_matches_the_table() {
        let help = Cli::command().render_long_help().to_string();
        let flat = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(flat(&help).contains(&flat(HELP_FOOTER)), "{help}");
    }

    #[test]
    fn argv_variants() {
        let parse = |args: &[&str]| {
            Cli::try_parse_from(std::iter::once("libvirt-ssh-proxy").chain(args.iter().copied()))
        };
        let cli = parse(&["qemu/vm", "22"]).unwrap();
        assert_eq!(
            (cli.host.as_deref(), cli.port.as_deref(), cli.typed_host),
            (Some("qemu/vm"), Some("22"), None)
        );
        let cli = parse(&["qemu/vm", "22", "qemu/VM"]).unwrap();
        assert_eq!(cli.typed_host.as_deref(), Some("qemu/VM"));
        let cli = parse(&["--uri", "test:///default", "qemu/vm", "22"]).unwrap();
        assert_eq!(cli.options.uris, ["test:///default"]);
        assert!(parse(&["qemu/vm"]).is_err());
        assert!(parse(&[]).is_err());
        assert!(parse(&["qemu/vm", "22", "x", "y"]).is_err());
        assert!(matches!(
            parse(&["resolve", "qemu/vm"]).unwrap().command,
            Some(Command::Resolve { .. })
        ));
        assert!(matches!(
            parse(&["print-config"]).unwrap().command,
            Some(Command::PrintConfig)
        ));
    }
}
