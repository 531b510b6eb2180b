//! Running lease helpers (ours and libvirt's C one) the way dnsmasq runs
//! them, each inside a private mount namespace (`scripts/nsenv.sh`) where the
//! test's lease dir is `/var/lib/libvirt/dnsmasq` and the test's run dir is
//! `/run` (so `/run/leaseshelper.pid` is the test's own lock).

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

use crate::modules::workspace_root;
use crate::nsenv::Namespace;
use crate::prerequisites::{find_on_path, satisfied};
use crate::temp_dir::TempDir;

/// Debian's C helper (package libvirt-daemon). When our helper has been
/// installed in its place with dpkg-divert, the original is `.c-orig`.
const C_HELPER_CANDIDATES: &[&str] = &[
    "/usr/lib/libvirt/libvirt_leaseshelper.c-orig",
    "/usr/lib/libvirt/libvirt_leaseshelper",
];

/// Commands the namespace script needs.
const NS_COMMANDS: &[&str] = &["bash", "unshare", "mount", "awk", "env"];

/// Our helper, `<workspace>/target/release/libvirt_leaseshelper`, (re)built
/// once per test process so that a test never runs a stale binary.
pub fn ours() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let cargo = option_env!("CARGO").unwrap_or("cargo");
            let status = Command::new(cargo)
                .args([
                    "build",
                    "--release",
                    "-p",
                    "leasehelper",
                    "--bin",
                    "libvirt_leaseshelper",
                ])
                .current_dir(workspace_root())
                .stdout(Stdio::null())
                .status();
            let binary = workspace_root().join("target/release/libvirt_leaseshelper");
            match status {
                Ok(s) if s.success() => {}
                other => assert!(
                    binary.is_file(),
                    "building the helper failed ({other:?}) and {} does not exist",
                    binary.display()
                ),
            }
            binary
        })
        .clone()
}

/// libvirt's C helper: a real ELF linked against libvirt (not a symlink to
/// ours), or why it is unavailable.
pub fn libvirt_c() -> Result<PathBuf, String> {
    for candidate in C_HELPER_CANDIDATES.iter().map(Path::new) {
        let Ok(meta) = candidate.symlink_metadata() else {
            continue;
        };
        if meta.file_type().is_symlink() {
            continue;
        }
        if fs::read(candidate).is_ok_and(|b| b.windows(9).any(|w| w == b"libvirt.s")) {
            return Ok(candidate.to_path_buf());
        }
    }
    Err(format!(
        "libvirt's C lease helper (Debian package libvirt-daemon) not found at {C_HELPER_CANDIDATES:?}"
    ))
}

/// Root + the commands of the namespace script; fails in CI, skips loudly
/// elsewhere (see `prerequisites::satisfied`).
#[must_use]
pub fn harness_available(test: &str, extra_commands: &[&str]) -> bool {
    let mut missing = Vec::new();
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        missing.push("not root (mount namespaces and bind mounts)".to_owned());
    }
    for command in NS_COMMANDS.iter().chain(extra_commands) {
        if find_on_path(command).is_none() {
            missing.push(format!("command `{command}` not on PATH"));
        }
    }
    satisfied(test, &missing)
}

/// One helper invocation: argv after argv[0], and the complete environment
/// (the helper runs under `env -i`).
#[derive(Debug, Clone)]
pub struct Event {
    pub args: Vec<OsString>,
    pub env: Vec<(String, OsString)>,
}

impl Event {
    pub fn new(args: &[&str]) -> Event {
        Event {
            args: args.iter().map(OsString::from).collect(),
            env: Vec::new(),
        }
    }

    pub fn env(mut self, key: &str, value: &str) -> Event {
        self.env.push((key.to_owned(), value.into()));
        self
    }

    pub fn env_bytes(mut self, key: &str, value: &[u8]) -> Event {
        self.env
            .push((key.to_owned(), OsStr::from_bytes(value).to_owned()));
        self
    }

    pub fn arg_bytes(mut self, value: &[u8]) -> Event {
        self.args.push(OsStr::from_bytes(value).to_owned());
        self
    }

    /// An IPv4 event as dnsmasq sends it for bridge `br`.
    pub fn v4(
        br: &str,
        action: &str,
        mac: &str,
        ip: &str,
        expires: &str,
        host: Option<&str>,
    ) -> Event {
        let mut args = vec![action, mac, ip];
        args.extend(host);
        Event::new(&args)
            .env("DNSMASQ_INTERFACE", br)
            .env("VIR_BRIDGE_NAME", br)
            .env("DNSMASQ_LEASE_EXPIRES", expires)
            .env("DNSMASQ_CLIENT_ID", &format!("01:{mac}"))
    }

    /// A DHCPv6 event (argv[2] is the client DUID); `mac` is
    /// `DNSMASQ_MAC` (omitted when `None`), `server_duid` likewise.
    #[allow(clippy::too_many_arguments)]
    pub fn v6(
        br: &str,
        action: &str,
        duid: &str,
        ip: &str,
        iaid: &str,
        mac: Option<&str>,
        server_duid: Option<&str>,
        expires: &str,
        host: Option<&str>,
    ) -> Event {
        let mut args = vec![action, duid, ip];
        args.extend(host);
        let mut event = Event::new(&args)
            .env("DNSMASQ_INTERFACE", br)
            .env("VIR_BRIDGE_NAME", br)
            .env("DNSMASQ_LEASE_EXPIRES", expires)
            .env("DNSMASQ_IAID", iaid);
        if let Some(mac) = mac {
            event = event.env("DNSMASQ_MAC", mac);
        }
        if let Some(duid) = server_duid {
            event = event.env("DNSMASQ_SERVER_DUID", duid);
        }
        event
    }

    pub fn init(br: &str) -> Event {
        Event::new(&["init"]).env("VIR_BRIDGE_NAME", br)
    }
}

/// What one invocation did (stdout/stderr with the helper's path replaced
/// by `HELPER`, so that argv[0] echoes compare equal).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// A lease dir + run dir pair, i.e. one simulated host.
pub struct Sandbox {
    pub leases: TempDir,
    pub run: TempDir,
}

impl Default for Sandbox {
    fn default() -> Self {
        Sandbox::new()
    }
}

impl Sandbox {
    pub fn new() -> Sandbox {
        Sandbox {
            leases: TempDir::new("lh-leases"),
            run: TempDir::new("lh-run"),
        }
    }

    /// The command that runs `helper` for `event` in this sandbox.
    pub fn command(&self, helper: &Path, event: &Event) -> Command {
        self.command_with_run_dir(helper, event, self.run.path())
    }

    /// Like [`Sandbox::command`] but with another `/run` (to share a lock
    /// between sandboxes, or to make it unwritable).
    pub fn command_with_run_dir(&self, helper: &Path, event: &Event, run_dir: &Path) -> Command {
        let mut command = Namespace::new()
            .leases(self.leases.path())
            .run_dir(run_dir)
            .command("env");
        command.arg("-i");
        for (key, value) in &event.env {
            let mut pair = OsString::from(key);
            pair.push("=");
            pair.push(value);
            command.arg(pair);
        }
        command.arg(helper).args(&event.args);
        command
    }

    /// `program` in this sandbox's namespace (its arguments, environment
    /// and stdio are the caller's).
    pub fn namespace_command(&self, program: impl AsRef<OsStr>) -> Command {
        Namespace::new()
            .leases(self.leases.path())
            .run_dir(self.run.path())
            .command(program)
    }

    pub fn run(&self, helper: &Path, event: &Event) -> Outcome {
        let output = self
            .command(helper, event)
            .stdin(Stdio::null())
            .output()
            .expect("spawn nsenv.sh");
        outcome(helper, output)
    }

    /// Every file in the lease dir: name → (mode, bytes).
    pub fn snapshot(&self) -> BTreeMap<String, (u32, Vec<u8>)> {
        snapshot(self.leases.path())
    }

    pub fn read(&self, name: &str) -> Vec<u8> {
        fs::read(self.leases.path().join(name)).unwrap_or_else(|e| panic!("read {name}: {e}"))
    }

    pub fn read_string(&self, name: &str) -> String {
        String::from_utf8(self.read(name)).expect("UTF-8 status file")
    }
}

pub fn outcome(helper: &Path, output: Output) -> Outcome {
    let helper = helper.to_string_lossy();
    let clean = |bytes: &[u8]| String::from_utf8_lossy(bytes).replace(helper.as_ref(), "HELPER");
    let outcome = Outcome {
        code: output.status.code(),
        stdout: clean(&output.stdout),
        stderr: clean(&output.stderr),
    };
    assert_ne!(
        outcome.code,
        Some(125),
        "namespace set-up failed: {}",
        outcome.stderr
    );
    outcome
}

pub fn snapshot(dir: &Path) -> BTreeMap<String, (u32, Vec<u8>)> {
    let mut files = BTreeMap::new();
    for entry in fs::read_dir(dir).expect("read lease dir") {
        let entry = entry.expect("dir entry");
        let meta = entry.metadata().expect("stat");
        let content = if meta.is_file() {
            fs::read(entry.path()).expect("read")
        } else {
            b"<dir>".to_vec()
        };
        files.insert(
            entry.file_name().to_string_lossy().into_owned(),
            (meta.permissions().mode() & 0o7777, content),
        );
    }
    files
}

/// A readable diff of two snapshots for assertion messages.
pub fn describe_difference(
    left: &BTreeMap<String, (u32, Vec<u8>)>,
    right: &BTreeMap<String, (u32, Vec<u8>)>,
) -> String {
    let mut out = String::new();
    let names: std::collections::BTreeSet<_> = left.keys().chain(right.keys()).collect();
    for name in names {
        let (l, r) = (left.get(name), right.get(name));
        if l != r {
            let show = |f: Option<&(u32, Vec<u8>)>| match f {
                None => "<absent>".to_owned(),
                Some((mode, bytes)) => {
                    format!("mode {mode:o}:\n{}", String::from_utf8_lossy(bytes))
                }
            };
            out.push_str(&format!(
                "--- {name}: C: {}\n+++ {name}: ours: {}\n",
                show(l),
                show(r)
            ));
        }
    }
    out
}

/// Waits for `child` at most `timeout`; on timeout kills its process group
/// (the child must have been spawned with `process_group(0)`) or the child
/// itself, and panics.
pub fn wait_bounded(
    mut child: std::process::Child,
    timeout: std::time::Duration,
    what: &str,
) -> Output {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        match child.try_wait().expect("try_wait") {
            Some(_) => return child.wait_with_output().expect("collect output"),
            None if std::time::Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{what}: still running after {timeout:?}, killed");
            }
            None => std::thread::sleep(std::time::Duration::from_millis(20)),
        }
    }
}
