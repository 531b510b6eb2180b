//! Giving ssh the connection: pass the socket itself (`ProxyUseFdpass yes`)
//! or relay bytes both ways (pipes: `ProxyUseFdpass no`, or a remote
//! `ProxyCommand ssh hypervisor libvirt-ssh-proxy %h %p`).

use std::fs::File;
use std::io::{self, IoSlice, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::{FileTypeExt, MetadataExt};

use nix::sys::socket::{
    getsockname, sendmsg, shutdown, ControlMessage, MsgFlags, Shutdown, UnixAddr,
};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    PassFd,
    Relay,
}

/// ssh's fd-passing mode gives its ProxyCommand one AF_UNIX socket as both
/// stdin and stdout; anything else (pipes, a terminal, sshd's session
/// pipes) gets the byte relay.
pub fn detect_mode() -> Mode {
    let stdin = io::stdin();
    let stdout = io::stdout();
    let (Ok(inp), Ok(out)) = (metadata(stdin.as_fd()), metadata(stdout.as_fd())) else {
        return Mode::Relay;
    };
    let same_socket =
        out.file_type().is_socket() && inp.dev() == out.dev() && inp.ino() == out.ino();
    if same_socket && getsockname::<UnixAddr>(stdout.as_raw_fd()).is_ok() {
        Mode::PassFd
    } else {
        Mode::Relay
    }
}

fn metadata(fd: BorrowedFd<'_>) -> io::Result<std::fs::Metadata> {
    File::from(fd.try_clone_to_owned()?).metadata()
}

/// Sends `conn` to ssh over stdout with exactly one data byte, as OpenSSH's
/// `mm_receive_fd` expects. ssh waits for us to exit before it uses the fd.
pub fn pass_fd(conn: &OwnedFd) -> io::Result<()> {
    let fds = [conn.as_raw_fd()];
    let byte = [0u8];
    let iov = [IoSlice::new(&byte)];
    let cmsg = [ControlMessage::ScmRights(&fds)];
    let sent = sendmsg::<()>(
        io::stdout().as_raw_fd(),
        &iov,
        &cmsg,
        MsgFlags::MSG_NOSIGNAL,
        None,
    )?;
    if sent != 1 {
        return Err(io::Error::new(
            io::ErrorKind::WriteZero,
            "sendmsg sent no byte",
        ));
    }
    Ok(())
}

/// Copies stdin to the connection and the connection to stdout until the
/// connection's peer closes. Stdin's end is passed on as a half-close, so
/// the server sees EOF and the session still drains.
pub fn relay(conn: OwnedFd) -> io::Result<()> {
    let mut stdin = File::from(io::stdin().as_fd().try_clone_to_owned()?);
    let mut stdout = File::from(io::stdout().as_fd().try_clone_to_owned()?);
    let mut upstream = File::from(conn.try_clone()?);
    let half_close = conn.try_clone()?;
    std::thread::spawn(move || {
        let _ = pump(&mut stdin, &mut upstream);
        let _ = shutdown(half_close.as_raw_fd(), Shutdown::Write);
    });
    match pump(&mut File::from(conn), &mut stdout) {
        // ssh went away first: not our failure.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

/// Copies until EOF, passing on each read at once. Not `io::copy`: std's
/// line-buffered stdout would hold back SSH packets without a newline, and
/// its `splice` fast path stalled the session between a socket and ssh's
/// pipes (measured: no banner ever reached ssh).
fn pump(from: &mut File, to: &mut File) -> io::Result<()> {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        to.write_all(&buf[..n])?;
    }
}
