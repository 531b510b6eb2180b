//! The command line: clap's derive definition, and the [`Globals`] every
//! command reads. The man page and shell completions are generated from the
//! same definition (`libvirt-nss generate ...`, run by `make build`).

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::style::Style;

const AFTER_HELP: &str = "\
Exit status: 0 success / the name resolves, 1 not found / problems found,
2 usage error.

Examples:
  libvirt-nss list
  libvirt-nss list --json | jq -r '.[] | select(.expired | not) | .name'
  libvirt-nss resolve vm-alpha            # what `getent ahosts vm-alpha` gets
  libvirt-nss resolve -4 --guest my-domain
  libvirt-nss resolve --reverse 192.168.122.10
  libvirt-nss explain vm-alpha            # why doesn't `ssh vm-alpha` work?
  libvirt-nss check || echo 'something in the lease dir is ignored'
  libvirt-nss --lease-dir ./leases --nsswitch ./nsswitch.conf explain vm-alpha";

#[derive(Parser, Debug)]
#[command(
    name = "libvirt-nss",
    version,
    about = "libvirt-nss - what the libvirt NSS modules answer, and why",
    after_help = AFTER_HELP
)]
pub struct Cli {
    #[command(flatten)]
    pub globals: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Args, Debug)]
pub struct GlobalArgs {
    /// Lease dir to read
    #[arg(long, value_name = "DIR", default_value = common::LEASE_DIR, global = true)]
    lease_dir: PathBuf,
    /// nsswitch.conf to check
    #[arg(
        long,
        value_name = "FILE",
        default_value = "/etc/nsswitch.conf",
        global = true
    )]
    nsswitch: PathBuf,
    /// Look for the modules only in DIR (repeatable; default: LD_LIBRARY_PATH,
    /// then the system library dirs)
    #[arg(long = "libdir", value_name = "DIR", global = true)]
    libdirs: Vec<PathBuf>,
    /// Colour: auto (when stdout is a terminal and NO_COLOR is unset), always or never
    #[arg(long, value_name = "WHEN", value_enum, default_value_t = Color::Auto, global = true)]
    color: Color,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Color {
    Auto,
    Always,
    Never,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Every name the libvirt (DHCP hostname) or libvirt_guest (domain name,
    /// via .macs) module answers, with address, network, MAC and expiry;
    /// expired leases are listed and marked
    List {
        /// JSON instead of a table
        #[arg(long)]
        json: bool,
    },
    /// Exactly what the module returns: status, then the addresses in the
    /// module's order (default both families, as getaddrinfo /
    /// gethostbyname4_r)
    Resolve {
        /// NAME, or ADDRESS with --reverse
        #[arg(value_name = "NAME")]
        name: OsString,
        /// IPv4 only, as gethostbyname3_r(AF_INET)
        #[arg(short = '4', conflicts_with_all = ["v6", "reverse"])]
        v4: bool,
        /// IPv6 only, as gethostbyname3_r(AF_INET6)
        #[arg(short = '6', conflicts_with = "reverse")]
        v6: bool,
        /// Ask libvirt_guest (domain names) instead of libvirt
        #[arg(long)]
        guest: bool,
        /// Look up an address (gethostbyaddr_r)
        #[arg(long)]
        reverse: bool,
    },
    /// Why NAME resolves or not: lease data (expired, no hostname, domain
    /// without lease, ignored files), the hosts: line of nsswitch.conf, the
    /// installed modules, nscd caching
    Explain {
        #[arg(value_name = "NAME")]
        name: OsString,
    },
    /// Lint every *.status and *.macs file in the lease dir
    Check,
    /// Write the man page or a shell completion script to stdout (packaging)
    #[command(hide = true)]
    Generate {
        #[arg(value_enum)]
        what: Generated,
    },
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Generated {
    Man,
    Bash,
    Zsh,
    Fish,
}

/// Options that apply to every command.
pub struct Globals {
    pub lease_dir: PathBuf,
    pub nsswitch: PathBuf,
    /// `None`: the default search (LD_LIBRARY_PATH, then system dirs).
    pub libdirs: Option<Vec<PathBuf>>,
    pub style: Style,
}

impl GlobalArgs {
    pub fn resolve(self) -> Globals {
        Globals {
            lease_dir: self.lease_dir,
            nsswitch: self.nsswitch,
            libdirs: (!self.libdirs.is_empty()).then_some(self.libdirs),
            style: match self.color {
                Color::Auto => Style::auto(),
                Color::Always => Style::new(true),
                Color::Never => Style::new(false),
            },
        }
    }
}

/// Names are bytes: a lease may hold a hostname that is not UTF-8.
pub fn name_bytes(name: &OsString) -> Vec<u8> {
    name.clone().into_vec()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("libvirt-nss").chain(args.iter().copied()))
    }

    #[test]
    fn definition_is_valid() {
        Cli::command().debug_assert();
    }

    #[test]
    fn globals_before_or_after_the_command() {
        for args in [
            &["--lease-dir", "/x", "list"][..],
            &["list", "--lease-dir", "/x"],
            &["list", "--lease-dir=/x"],
        ] {
            let cli = parse(args).unwrap();
            assert_eq!(cli.globals.lease_dir, PathBuf::from("/x"), "{args:?}");
        }
        let cli =
            parse(&["--libdir", "/a", "check", "--libdir=/b"]).unwrap_or_else(|e| panic!("{e}"));
        // clap: a global given after the command replaces the one before it.
        assert_eq!(cli.globals.resolve().libdirs, Some(vec!["/b".into()]));
        let cli = parse(&["check", "--libdir", "/a", "--libdir", "/b"]).unwrap();
        assert_eq!(
            cli.globals.resolve().libdirs,
            Some(vec!["/a".into(), "/b".into()])
        );
        assert_eq!(parse(&["check"]).unwrap().globals.resolve().libdirs, None);
    }

    #[test]
    fn usage_errors() {
        for args in [
            &[][..],
            &["frobnicate"],
            &["resolve"],
            &["resolve", "a", "b"],
            &["resolve", "-4", "-6", "x"],
            &["resolve", "--reverse", "-4", "10.0.0.1"],
            &["list", "extra"],
            &["explain"],
            &["check", "--json"],
            &["--color", "sometimes", "list"],
        ] {
            let err = parse(args).expect_err(&format!("{args:?} should be refused"));
            assert_eq!(err.exit_code(), 2, "{args:?}");
        }
    }

    #[test]
    fn resolve_flags() {
        let Command::Resolve {
            v4,
            v6,
            guest,
            reverse,
            name,
        } = parse(&["resolve", "-6", "--guest", "dom"]).unwrap().command
        else {
            panic!("not resolve");
        };
        assert_eq!(
            (v4, v6, guest, reverse, name_bytes(&name)),
            (false, true, true, false, b"dom".to_vec())
        );
    }
}
