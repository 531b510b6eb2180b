//! The one place that writes `scripts/nsenv.sh` command lines: a private
//! mount namespace (and, on request, network namespace) in which a given
//! lease dir is `/var/lib/libvirt/dnsmasq`, given modules are bound over the
//! system ones and `nsswitch.conf` has a given `hosts:` line, leaving the host
//! untouched. The script's header says what each option does.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::modules;

/// `<workspace>/scripts/nsenv.sh`.
pub fn script() -> PathBuf {
    modules::workspace_root().join("scripts/nsenv.sh")
}

/// What `/var/lib/libvirt/dnsmasq` is inside.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
enum LeaseDir {
    /// An empty private dir (the script's default).
    #[default]
    Empty,
    /// This dir, bind-mounted read-write (`--leases`).
    Dir(PathBuf),
    /// None at all (`--no-lease-dir`).
    Absent,
}

/// What `/run` is inside.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
enum Run {
    /// The host's, with `/run/nscd` masked (the script's default).
    #[default]
    Host,
    /// An empty tmpfs (`--private-run`).
    Private,
    /// This dir (`--run`).
    Dir(PathBuf),
}

/// The options of one `nsenv.sh` run. `Namespace::new()` is the script's
/// defaults: an empty lease dir, the system modules, `hosts: files libvirt
/// libvirt_guest`, the host's `/run` and network.
#[derive(Clone, Debug, Default)]
pub struct Namespace {
    leases: LeaseDir,
    modules: Option<PathBuf>,
    hosts: Option<String>,
    run: Run,
    dual_net: bool,
}

impl Namespace {
    pub fn new() -> Namespace {
        Namespace::default()
    }

    /// `dir` is `/var/lib/libvirt/dnsmasq` inside.
    pub fn leases(self, dir: &Path) -> Namespace {
        self.lease_dir(Some(dir))
    }

    /// `Some(dir)`: as [`Namespace::leases`]; `None`: there is no
    /// `/var/lib/libvirt/dnsmasq` inside at all.
    pub fn lease_dir(mut self, dir: Option<&Path>) -> Namespace {
        self.leases = match dir {
            Some(dir) => LeaseDir::Dir(dir.to_path_buf()),
            None => LeaseDir::Absent,
        };
        self
    }

    /// The modules in `dir` replace the system ones (one missing from `dir`
    /// is masked).
    pub fn modules(mut self, dir: &Path) -> Namespace {
        self.modules = Some(dir.to_path_buf());
        self
    }

    /// The `hosts:` line of `nsswitch.conf` inside (without `hosts:`).
    pub fn hosts(mut self, line: &str) -> Namespace {
        self.hosts = Some(line.to_owned());
        self
    }

    /// An empty tmpfs on `/run` (a private `/run/leaseshelper.pid` lock).
    pub fn private_run(mut self) -> Namespace {
        self.run = Run::Private;
        self
    }

    /// `dir` is `/run` inside: namespaces given the same dir share
    /// `/run/leaseshelper.pid`.
    pub fn run_dir(mut self, dir: &Path) -> Namespace {
        self.run = Run::Dir(dir.to_path_buf());
        self
    }

    /// A network namespace of its own, with 192.168.123.1/24 and
    /// fd00:123::1/64 (deterministic AI_ADDRCONFIG and RFC 6724 sorting).
    pub fn dual_net(mut self) -> Namespace {
        self.dual_net = true;
        self
    }

    /// `nsenv.sh [options] -- program`: the caller adds the program's
    /// arguments, environment (passed through to it) and stdio.
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut command = Command::new(script());
        match &self.leases {
            LeaseDir::Empty => {}
            LeaseDir::Dir(dir) => {
                command.arg("--leases").arg(dir);
            }
            LeaseDir::Absent => {
                command.arg("--no-lease-dir");
            }
        }
        if let Some(dir) = &self.modules {
            command.arg("--modules").arg(dir);
        }
        if let Some(line) = &self.hosts {
            command.args(["--hosts", line]);
        }
        match &self.run {
            Run::Host => {}
            Run::Private => {
                command.arg("--private-run");
            }
            Run::Dir(dir) => {
                command.arg("--run").arg(dir);
            }
        }
        if self.dual_net {
            command.args(["--net", "dual"]);
        }
        command.arg("--").arg(program);
        command
    }
}
