//! Driving `libvirt-ssh-proxy` in tests: the binary, a fixture (libvirt's
//! test driver + lease files), and a real sshd in a private network
//! namespace (`scripts/ssh-proxy-netns.sh`).
//!
//! VSOCK safety: the machines that run these tests may be VMs whose VSOCK
//! leads to their hypervisor. Every proxy this module starts, directly or
//! through ssh, has `LIBVIRT_SSH_PROXY_VSOCK=deny`, so the proxy refuses to
//! create an AF_VSOCK socket before calling `socket()`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::lease_format::{macs_file, status_file, DomainMacs, Lease};
use crate::temp_dir::{set_mode, TempDir, DIR_MODE};

pub const VSOCK_DENY: (&str, &str) = ("LIBVIRT_SSH_PROXY_VSOCK", "deny");

/// `<workspace>/target/release/libvirt-ssh-proxy`, (re)built once per test
/// process so that a test never runs a stale binary.
pub fn binary() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
            let cargo = option_env!("CARGO").unwrap_or("cargo");
            let status = Command::new(cargo)
                .args(["build", "--release", "-p", "ssh-proxy"])
                .current_dir(&root)
                .stdout(Stdio::null())
                .status();
            let binary = root.join("target/release/libvirt-ssh-proxy");
            assert!(
                status.is_ok_and(|s| s.success()) || binary.is_file(),
                "building libvirt-ssh-proxy failed"
            );
            binary
        })
        .clone()
}

/// Where libvirt's client library is installed, if it is.
pub fn libvirt_library() -> Option<PathBuf> {
    [
        "/usr/lib/x86_64-linux-gnu",
        "/usr/lib/aarch64-linux-gnu",
        "/usr/lib64",
        "/usr/lib",
    ]
    .iter()
    .map(|dir| Path::new(dir).join("libvirt.so.0"))
    .find(|path| path.exists())
}

/// Why libvirt's client library (for the `test:///` driver) is missing.
pub fn libvirt_client_missing() -> Option<String> {
    libvirt_library()
        .is_none()
        .then(|| "libvirt.so.0 (package libvirt0) not installed".to_string())
}

/// A domain's lease in the fixture: where its sshd listens in the netns.
pub struct Leased {
    pub domain: &'static str,
    pub mac: &'static str,
    pub address: &'static str,
}

/// The running domains of `tests/fixtures/ssh-proxy/node.xml` that have a
/// lease (and `fallback-vm`, known only to the `.macs` file).
pub const LEASED: &[Leased] = &[
    Leased {
        domain: "MixedCaseVM",
        mac: "52:54:00:00:00:44",
        address: "127.0.0.44",
    },
    Leased {
        domain: "7",
        mac: "52:54:00:00:00:55",
        address: "127.0.0.55",
    },
    Leased {
        domain: "both-routes",
        mac: "52:54:00:00:00:66",
        address: "127.0.0.66",
    },
    // Nothing listens there: connection refused.
    Leased {
        domain: "refusing",
        mac: "52:54:00:00:00:88",
        address: "127.0.0.88",
    },
    // A live lease of a stopped domain must never be dialled.
    Leased {
        domain: "stopped-static-cid",
        mac: "52:54:00:00:00:33",
        address: "127.0.0.33",
    },
    Leased {
        domain: "fallback-vm",
        mac: "52:54:00:00:00:99",
        address: "127.0.0.44",
    },
    // On the host's loopback, where a listener with a full backlog makes
    // connects time out (`SilentListener`).
    Leased {
        domain: "slow",
        mac: "52:54:00:00:00:aa",
        address: "127.0.0.1",
    },
];

/// Addresses sshd listens on (`refusing` and the stopped domain have none).
pub const LISTENING: &[&str] = &["127.0.0.44", "127.0.0.55", "127.0.0.66", "127.0.0.33"];

pub struct Fixture {
    pub dir: TempDir,
    pub node_xml: PathBuf,
    pub leases: PathBuf,
}

impl Fixture {
    pub fn new(label: &str) -> Fixture {
        let dir = TempDir::new(label);
        let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/ssh-proxy/node.xml");
        let node_xml = dir.write("node.xml", fs::read(&source).expect("node.xml fixture"));
        let leases = dir.path().join("leases");
        fs::create_dir(&leases).expect("mkdir leases");
        set_mode(&leases, DIR_MODE);
        let expiry = crate_now() + 3600;
        let status: Vec<Lease> = LEASED
            .iter()
            .map(|l| Lease::v4(l.address, l.mac, Some(l.domain), expiry))
            .collect();
        write_0644(&leases.join("virbr7.status"), status_file(&status));
        let macs = [DomainMacs {
            domain: "fallback-vm".into(),
            macs: vec!["52:54:00:00:00:99".into()],
        }];
        write_0644(&leases.join("virbr7.macs"), macs_file(&macs));
        Fixture {
            dir,
            node_xml,
            leases,
        }
    }

    pub fn uri(&self) -> String {
        format!("test://{}", self.node_xml.display())
    }

    /// The proxy with this fixture's URI and lease dir, VSOCK denied.
    pub fn proxy(&self, args: &[&str]) -> Command {
        let mut command = Command::new(binary());
        command
            .env(VSOCK_DENY.0, VSOCK_DENY.1)
            .arg("--uri")
            .arg(self.uri())
            .arg("--lease-dir")
            .arg(&self.leases)
            .args(args);
        command
    }

    /// The `ProxyCommand` line for an ssh_config, VSOCK denied.
    pub fn proxy_command(&self) -> String {
        format!(
            "env {}={} {} --uri {} --lease-dir {} %h %p %n",
            VSOCK_DENY.0,
            VSOCK_DENY.1,
            binary().display(),
            self.uri(),
            self.leases.display()
        )
    }
}

fn write_0644(path: &Path, contents: String) {
    fs::write(path, contents).expect("write lease file");
    set_mode(path, 0o644);
}

fn crate_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// What a failure must look like: nothing on stdout, exactly one line on
/// stderr from the proxy, and its exit code.
pub fn assert_one_line_failure(output: &Output, code: i32, needles: &[&str]) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(code),
        "exit code; stderr: {stderr}"
    );
    assert!(
        output.stdout.is_empty(),
        "stdout must stay empty: {:?}",
        output.stdout
    );
    assert_eq!(stderr.lines().count(), 1, "one line on stderr: {stderr:?}");
    assert!(stderr.starts_with("libvirt-ssh-proxy: "), "{stderr}");
    for needle in needles {
        assert!(stderr.contains(needle), "stderr lacks {needle:?}: {stderr}");
    }
}

/// A real sshd listening on [`LISTENING`] (port 22) in a private network
/// namespace; ended (by PID) on drop.
pub struct SshServer {
    pub work: PathBuf,
    holder: Child,
    pid: u32,
}

impl SshServer {
    pub fn start(work: &Path) -> SshServer {
        let key = work.join("userkey");
        run_ok(
            Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-C", "test-user", "-f"])
                .arg(&key),
        );
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/ssh-proxy-netns.sh");
        let holder = Command::new("unshare")
            .args(["--net", "--mount", "--fork", "bash"])
            .arg(&script)
            .arg(work)
            .args(LISTENING)
            .stdin(Stdio::null())
            .spawn()
            .expect("spawn unshare");
        let pid_file = work.join("holder.pid");
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut server = SshServer {
            work: work.to_owned(),
            holder,
            pid: 0,
        };
        loop {
            if let Some(pid) = fs::read_to_string(&pid_file)
                .ok()
                .and_then(|s| s.trim().parse().ok())
            {
                server.pid = pid;
                if server.listening() {
                    return server;
                }
            }
            if let Ok(Some(status)) = server.holder.try_wait() {
                panic!(
                    "sshd namespace exited ({status}); sshd.log: {}",
                    server.log()
                );
            }
            assert!(
                Instant::now() < deadline,
                "sshd did not listen within 20 s; sshd.log: {}",
                server.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn listening(&self) -> bool {
        LISTENING.iter().all(|address| {
            self.command("bash")
                .args(["-c", &format!("exec 3<>/dev/tcp/{address}/22")])
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        })
    }

    pub fn log(&self) -> String {
        fs::read_to_string(self.work.join("sshd.log")).unwrap_or_default()
    }

    /// `program` inside the server's network namespace, VSOCK denied.
    pub fn command(&self, program: &str) -> Command {
        let mut command = Command::new("nsenter");
        command
            .arg("-t")
            .arg(self.pid.to_string())
            .args(["-n", "--"])
            .arg(program)
            .env(VSOCK_DENY.0, VSOCK_DENY.1)
            .stdin(Stdio::null());
        command
    }

    /// An ssh_config for `qemu/*` through `proxy_command`, with this
    /// server's user key and a private known_hosts (trust on first use).
    pub fn ssh_config(&self, proxy_command: &str) -> PathBuf {
        let path = self.work.join("ssh_config");
        let config = format!(
            "Host qemu/* qemu%* qemu:system/* qemu:session/* qemu:system%*\n\
             \x20   ProxyCommand {proxy_command}\n\
             \x20   ProxyUseFdpass yes\n\
             \x20   CheckHostIP no\n\
             Host *\n\
             \x20   User root\n\
             \x20   IdentityFile {work}/userkey\n\
             \x20   UserKnownHostsFile {work}/known_hosts\n\
             \x20   StrictHostKeyChecking accept-new\n\
             \x20   BatchMode yes\n\
             \x20   ConnectTimeout 20\n",
            work = self.work.display()
        );
        fs::write(&path, config).expect("write ssh_config");
        path
    }
}

impl Drop for SshServer {
    fn drop(&mut self) {
        // sshd is the holder's child (bash exec'ed it): end both by PID.
        if self.pid != 0 {
            // SAFETY: kill has no memory-safety preconditions; the PID is
            // the sshd this test started.
            unsafe { libc::kill(self.pid as libc::pid_t, libc::SIGTERM) };
        }
        let _ = self.holder.kill();
        let _ = self.holder.wait();
    }
}

/// A listener on 127.0.0.1 that never accepts, with its backlog filled:
/// a new connection to it waits for a SYN-ACK that never comes.
pub struct SilentListener {
    _listener: std::os::fd::OwnedFd,
    _queued: Vec<std::net::TcpStream>,
    pub port: u16,
}

impl SilentListener {
    pub fn start() -> SilentListener {
        use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
        // SAFETY: plain socket calls on a descriptor we own; `addr` is a
        // fully initialised sockaddr_in that outlives the calls.
        let (fd, port) = unsafe {
            let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
            assert!(fd >= 0, "socket");
            let fd = OwnedFd::from_raw_fd(fd);
            let mut addr: libc::sockaddr_in = std::mem::zeroed();
            addr.sin_family = libc::AF_INET as libc::sa_family_t;
            addr.sin_addr.s_addr = u32::from(std::net::Ipv4Addr::LOCALHOST).to_be();
            let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
            assert_eq!(
                libc::bind(
                    fd.as_raw_fd(),
                    (&addr as *const libc::sockaddr_in).cast(),
                    len
                ),
                0,
                "bind"
            );
            assert_eq!(libc::listen(fd.as_raw_fd(), 0), 0, "listen");
            let mut len = len;
            assert_eq!(
                libc::getsockname(
                    fd.as_raw_fd(),
                    (&mut addr as *mut libc::sockaddr_in).cast(),
                    &mut len
                ),
                0
            );
            (fd, u16::from_be(addr.sin_port))
        };
        let target = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        let mut queued = Vec::new();
        // Fill the accept queue until a connect no longer completes.
        while let Ok(stream) =
            std::net::TcpStream::connect_timeout(&target, Duration::from_millis(300))
        {
            queued.push(stream);
            assert!(queued.len() < 64, "backlog never filled");
        }
        SilentListener {
            _listener: fd,
            _queued: queued,
            port,
        }
    }
}

fn run_ok(command: &mut Command) {
    let output = command.output().expect("spawn");
    assert!(
        output.status.success(),
        "{command:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}
