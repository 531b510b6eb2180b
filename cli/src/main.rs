//! `libvirt-nss`: what the libvirt NSS modules answer, and why.
//!
//! Every answer comes from the same `common` code the modules run, over the
//! same lease directory, so `resolve` prints exactly what `getent` would get
//! from the module. Unlike the modules, the CLI may take paths
//! (`--lease-dir`, `--nsswitch`, `--libdir`): it never runs inside someone
//! else's process.

mod check;
mod elf;
mod explain;
mod list;
mod nsswitch;
mod report;
mod resolve;
mod style;
mod timefmt;

use std::ffi::OsString;
use std::io::{self, Write};
use std::os::unix::ffi::OsStringExt;
use std::path::PathBuf;
use std::process::ExitCode;

use style::Style;

const USAGE: &str = "\
libvirt-nss - what the libvirt NSS modules answer, and why

Usage:
  libvirt-nss [OPTIONS] list [--json]
  libvirt-nss [OPTIONS] resolve NAME [-4|-6] [--guest]
  libvirt-nss [OPTIONS] resolve --reverse ADDRESS [--guest]
  libvirt-nss [OPTIONS] explain NAME
  libvirt-nss [OPTIONS] check

Commands:
  list       every name the libvirt (DHCP hostname) or libvirt_guest (domain
             name, via .macs) module answers, with address, network, MAC and
             expiry; expired leases are listed and marked
  resolve    exactly what the module returns: status, then the addresses in
             the module's order. Default both families (getaddrinfo /
             gethostbyname4_r); -4 / -6 as gethostbyname3_r(AF_INET/AF_INET6).
             --guest asks libvirt_guest instead of libvirt; --reverse looks
             up an address (gethostbyaddr_r)
  explain    why NAME resolves or not: lease data (expired, no hostname,
             domain without lease, ignored files), the hosts: line of
             nsswitch.conf, the installed modules, nscd caching
  check      lint every *.status and *.macs file in the lease dir

Options:
  --lease-dir DIR   lease dir to read (default: {LEASE_DIR})
  --nsswitch FILE   nsswitch.conf to check (default: /etc/nsswitch.conf)
  --libdir DIR      look for the modules only in DIR (repeatable; default:
                    LD_LIBRARY_PATH, then the system library dirs)
  --color WHEN      auto (default: when stdout is a terminal and NO_COLOR is
                    unset), always or never
  -h, --help        this help
  -V, --version     version

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
  libvirt-nss --lease-dir ./leases --nsswitch ./nsswitch.conf explain vm-alpha
";

/// Options that apply to every command.
pub struct Globals {
    pub lease_dir: PathBuf,
    pub nsswitch: PathBuf,
    pub libdirs: Option<Vec<PathBuf>>,
    pub style: Style,
}

enum Command {
    List {
        json: bool,
    },
    Resolve {
        name: Vec<u8>,
        family: common::Family,
        guest: bool,
        reverse: bool,
    },
    Explain {
        name: Vec<u8>,
    },
    Check,
    Help,
    Version,
}

/// A usage error: message for stderr, exit status 2.
pub struct UsageError(String);

fn parse_args(args: Vec<OsString>) -> Result<(Globals, Command), UsageError> {
    let mut lease_dir = PathBuf::from(common::LEASE_DIR);
    let mut nsswitch = PathBuf::from("/etc/nsswitch.conf");
    let mut libdirs: Option<Vec<PathBuf>> = None;
    let mut color = "auto".to_owned();
    let mut command: Option<String> = None;
    let mut operands: Vec<OsString> = Vec::new();
    let mut flags: Vec<String> = Vec::new();
    let mut help = false;
    let mut version = false;

    let mut args = args.into_iter();
    let mut only_operands = false;
    while let Some(arg) = args.next() {
        let text = arg.to_str().map(str::to_owned);
        let mut value_of = |option: &str| -> Result<OsString, UsageError> {
            args.next()
                .ok_or_else(|| UsageError(format!("{option} needs a value")))
        };
        match text.as_deref() {
            _ if only_operands => operands.push(arg),
            Some("--") => only_operands = true,
            Some("--lease-dir") => lease_dir = value_of("--lease-dir")?.into(),
            Some("--nsswitch") => nsswitch = value_of("--nsswitch")?.into(),
            Some("--libdir") => libdirs
                .get_or_insert_with(Vec::new)
                .push(value_of("--libdir")?.into()),
            Some("--color") => {
                color = value_of("--color")?
                    .into_string()
                    .map_err(|_| UsageError("--color takes auto, always or never".into()))?
            }
            Some(option) if option.starts_with("--") && option.contains('=') => {
                let (key, value) = option.split_once('=').unwrap_or_default();
                match key {
                    "--lease-dir" => lease_dir = value.into(),
                    "--nsswitch" => nsswitch = value.into(),
                    "--libdir" => libdirs.get_or_insert_with(Vec::new).push(value.into()),
                    "--color" => color = value.to_owned(),
                    _ => return Err(UsageError(format!("unknown option {key}"))),
                }
            }
            Some("-h" | "--help") => help = true,
            Some("-V" | "--version") => version = true,
            Some(flag) if flag.starts_with('-') && flag.len() > 1 => flags.push(flag.to_owned()),
            Some(word) if command.is_none() => command = Some(word.to_owned()),
            _ => operands.push(arg),
        }
    }

    let style = match color.as_str() {
        "auto" => Style::auto(),
        "always" => Style::new(true),
        "never" => Style::new(false),
        _ => return Err(UsageError("--color takes auto, always or never".into())),
    };
    let globals = Globals {
        lease_dir,
        nsswitch,
        libdirs,
        style,
    };
    if help || command.as_deref() == Some("help") {
        return Ok((globals, Command::Help));
    }
    if version {
        return Ok((globals, Command::Version));
    }

    let Some(command) = command else {
        return Err(UsageError("no command given".into()));
    };
    let allow_flags = |allowed: &[&str]| -> Result<(), UsageError> {
        match flags.iter().find(|f| !allowed.contains(&f.as_str())) {
            Some(flag) => Err(UsageError(format!("{command}: unknown option {flag}"))),
            None => Ok(()),
        }
    };
    let has = |flag: &str| flags.iter().any(|f| f == flag);
    let one_operand = |what: &str| -> Result<Vec<u8>, UsageError> {
        match operands.as_slice() {
            [one] => Ok(one.clone().into_vec()),
            [] => Err(UsageError(format!("{command}: {what} missing"))),
            _ => Err(UsageError(format!(
                "{command}: exactly one {what} expected"
            ))),
        }
    };
    let no_operands = || -> Result<(), UsageError> {
        match operands.first() {
            Some(extra) => Err(UsageError(format!(
                "{command}: unexpected argument {}",
                extra.to_string_lossy()
            ))),
            None => Ok(()),
        }
    };
    let command = match command.as_str() {
        "list" => {
            allow_flags(&["--json"])?;
            no_operands()?;
            Command::List {
                json: has("--json"),
            }
        }
        "resolve" => {
            allow_flags(&["-4", "-6", "--guest", "--reverse"])?;
            let family = match (has("-4"), has("-6")) {
                (true, true) => {
                    return Err(UsageError("resolve: -4 and -6 exclude each other".into()))
                }
                (true, false) => common::Family::V4,
                (false, true) => common::Family::V6,
                (false, false) => common::Family::Any,
            };
            let reverse = has("--reverse");
            if reverse && family != common::Family::Any {
                return Err(UsageError("resolve: --reverse takes no -4/-6".into()));
            }
            Command::Resolve {
                name: one_operand(if reverse { "ADDRESS" } else { "NAME" })?,
                family,
                guest: has("--guest"),
                reverse,
            }
        }
        "explain" => {
            allow_flags(&[])?;
            Command::Explain {
                name: one_operand("NAME")?,
            }
        }
        "check" => {
            allow_flags(&[])?;
            no_operands()?;
            Command::Check
        }
        other => return Err(UsageError(format!("unknown command {other}"))),
    };
    Ok((globals, command))
}

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    let (globals, command) = match parse_args(args) {
        Ok(parsed) => parsed,
        Err(UsageError(message)) => {
            eprintln!("libvirt-nss: {message}");
            eprintln!("Try 'libvirt-nss --help'.");
            return ExitCode::from(2);
        }
    };
    let mut out = io::stdout().lock();
    let result = match command {
        Command::Help => out
            .write_all(USAGE.replace("{LEASE_DIR}", common::LEASE_DIR).as_bytes())
            .map(|()| 0),
        Command::Version => writeln!(out, "libvirt-nss {}", env!("CARGO_PKG_VERSION")).map(|()| 0),
        Command::List { json } => list::run(&globals, json, &mut out),
        Command::Resolve {
            name,
            family,
            guest,
            reverse,
        } => resolve::run(&globals, &name, family, guest, reverse, &mut out),
        Command::Explain { name } => explain::run(&globals, &name, &mut out),
        Command::Check => check::run(&globals, &mut out),
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
