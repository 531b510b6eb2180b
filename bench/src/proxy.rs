//! `proxy-bench`: how long `libvirt-ssh-proxy` takes from exec to the
//! connected socket in ssh's hands, as ssh runs it (`ProxyUseFdpass yes`).
//!
//! ```text
//! proxy-bench --proxy BIN --node-xml FILE [--runs N]
//! ```
//!
//! A TCP listener on 127.0.0.1 (ephemeral port) stands in for the guest's
//! sshd; a generated lease dir gives the fixture's domains that address.
//! Each sample spawns the proxy with one end of a socketpair as stdin and
//! stdout (as ssh does), waits for the fd with its one byte, and checks it
//! is connected to the listener. Two routes:
//!   lease    libvirt unreachable: `.macs` file -> lease -> TCP
//!   libvirt  `test:///` driver (libvirt.so.0 loaded, domain looked up, live
//!            XML parsed) -> lease -> TCP
//! Never VSOCK: the proxy runs with LIBVIRT_SSH_PROXY_VSOCK=deny.
//! Prints a Markdown table of medians (and p10/p90) on stdout.

mod stats;

use std::fs;
use std::io::IoSliceMut;
use std::net::{SocketAddr, TcpListener};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};

const MAC: &str = "52:54:00:00:00:44";
const DOMAIN: &str = "MixedCaseVM";

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("proxy-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let proxy = PathBuf::from(value("--proxy").ok_or("--proxy BIN is required")?);
    let node_xml = PathBuf::from(value("--node-xml").ok_or("--node-xml FILE is required")?);
    let runs: usize = value("--runs")
        .map_or(Ok(200), |r| r.parse())
        .map_err(|e| format!("--runs: {e}"))?;

    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("listen: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let leases = std::env::temp_dir().join(format!("proxy-bench-{}", std::process::id()));
    write_leases(&leases, addr)?;
    let node_uri = format!(
        "test://{}",
        fs::canonicalize(&node_xml)
            .map_err(|e| e.to_string())?
            .display()
    );
    let unreachable_uri = format!(
        "qemu+unix:///system?socket={}/no-such-socket",
        leases.display()
    );

    let mut rows = Vec::new();
    for (route, uri) in [
        ("lease (libvirt unreachable, .macs)", &unreachable_uri),
        ("libvirt (test:/// driver)", &node_uri),
    ] {
        let mut samples = Vec::with_capacity(runs);
        for _ in 0..runs {
            samples.push(sample(&proxy, uri, &leases, addr, &listener)?);
        }
        rows.push((route, samples));
    }
    let _ = fs::remove_dir_all(&leases);

    println!("| libvirt-ssh-proxy, exec to fd handed over | median | p10 | p90 | runs |");
    println!("|---|---:|---:|---:|---:|");
    for (route, samples) in rows {
        println!(
            "| {route} | {:.2} ms | {:.2} ms | {:.2} ms | {runs} |",
            stats::median(&samples),
            percentile(&samples, 0.10),
            percentile(&samples, 0.90)
        );
    }
    Ok(())
}

fn write_leases(dir: &Path, addr: SocketAddr) -> Result<(), String> {
    let io = |e: std::io::Error| format!("{}: {e}", dir.display());
    fs::create_dir_all(dir).map_err(io)?;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o755)).map_err(io)?;
    let expiry = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
        + 3600;
    let status = format!(
        "[\n  {{\n    \"ip-address\": \"{}\",\n    \"mac-address\": \"{MAC}\",\n    \"expiry-time\": {expiry}\n  }}\n]\n",
        addr.ip()
    );
    let macs = format!("[\n  {{\n    \"domain\": \"{DOMAIN}\",\n    \"macs\": [\n      \"{MAC}\"\n    ]\n  }}\n]\n");
    for (name, text) in [("virbr7.status", status), ("virbr7.macs", macs)] {
        let path = dir.join(name);
        fs::write(&path, text).map_err(io)?;
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).map_err(io)?;
    }
    Ok(())
}

/// One run, in milliseconds: spawn to fd received.
fn sample(
    proxy: &Path,
    uri: &str,
    leases: &Path,
    addr: SocketAddr,
    listener: &TcpListener,
) -> Result<f64, String> {
    let (ours, theirs) = UnixStream::pair().map_err(|e| e.to_string())?;
    let stdin = theirs.try_clone().map_err(|e| e.to_string())?;
    let started = Instant::now();
    let mut child = Command::new(proxy)
        .env("LIBVIRT_SSH_PROXY_VSOCK", "deny")
        .args(["--uri", uri, "--lease-dir"])
        .arg(leases)
        .args([
            &format!("qemu/{}", DOMAIN.to_lowercase()),
            &addr.port().to_string(),
            &format!("qemu/{DOMAIN}"),
        ])
        .stdin(Stdio::from(OwnedFd::from(stdin)))
        .stdout(Stdio::from(OwnedFd::from(theirs)))
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("spawn {}: {e}", proxy.display()))?;
    let received = receive_fd(&ours);
    let elapsed = started.elapsed().as_secs_f64() * 1e3;
    let status = child.wait().map_err(|e| e.to_string())?;
    let fd = received?;
    if !status.success() {
        return Err(format!("proxy exited {status}"));
    }
    let peer = std::net::TcpStream::from(fd)
        .peer_addr()
        .map_err(|e| format!("not a connected TCP socket: {e}"))?;
    if peer != addr {
        return Err(format!("fd connected to {peer}, not {addr}"));
    }
    // Drain the listener's backlog.
    let _ = listener.accept();
    Ok(elapsed)
}

/// ssh's `mm_receive_fd`: one byte and one SCM_RIGHTS fd.
fn receive_fd(socket: &UnixStream) -> Result<OwnedFd, String> {
    let mut byte = [0u8; 1];
    let mut iov = [IoSliceMut::new(&mut byte)];
    let mut space = nix::cmsg_space!([std::os::fd::RawFd; 1]);
    let msg = recvmsg::<()>(
        socket.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        MsgFlags::empty(),
    )
    .map_err(|e| format!("recvmsg: {e}"))?;
    if msg.bytes != 1 {
        return Err(format!("expected 1 byte with the fd, got {}", msg.bytes));
    }
    for cmsg in msg.cmsgs().map_err(|e| e.to_string())? {
        if let ControlMessageOwned::ScmRights(fds) = cmsg {
            if let Some(&fd) = fds.first() {
                // SAFETY: the kernel just installed this descriptor in our
                // table for us; nothing else owns it.
                return Ok(unsafe { OwnedFd::from_raw_fd(fd) });
            }
        }
    }
    Err("no fd received".into())
}

fn percentile(values: &[f64], q: f64) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    v.get(((v.len() as f64 - 1.0) * q).round() as usize)
        .copied()
        .unwrap_or(f64::NAN)
}
