//! Connecting a route, each with its own deadline. The only place the proxy
//! creates an AF_VSOCK socket, behind [`VsockPolicy`].

use std::io;
use std::net::TcpStream;
use std::os::fd::{AsFd, OwnedFd};
use std::time::Duration;

use nix::errno::Errno;
use nix::fcntl::{fcntl, FcntlArg, OFlag};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::socket::{
    connect, getsockopt, socket, sockopt, AddressFamily, SockFlag, SockType, VsockAddr,
};

use crate::route::Route;

/// Environment variable that forbids AF_VSOCK sockets when set to `deny`.
/// Every host test sets it: the machines that run them may be VMs whose
/// VSOCK leads to their hypervisor.
pub const VSOCK_ENV: &str = "LIBVIRT_SSH_PROXY_VSOCK";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VsockPolicy {
    Allow,
    /// `--no-vsock`, or `LIBVIRT_SSH_PROXY_VSOCK=deny`.
    Deny(&'static str),
}

/// Why a route did not connect.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DialError {
    Refused,
    TimedOut(Duration),
    Unreachable(String),
    /// The route was not dialled at all.
    Skipped(&'static str),
    Other(String),
}

impl std::fmt::Display for DialError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DialError::Refused => f.write_str("connection refused"),
            DialError::TimedOut(after) => write!(f, "timed out after {:.1} s", after.as_secs_f64()),
            DialError::Unreachable(why) | DialError::Other(why) => f.write_str(why),
            DialError::Skipped(why) => write!(f, "not dialled ({why})"),
        }
    }
}

pub fn dial(route: Route, timeout: Duration, vsock: VsockPolicy) -> Result<OwnedFd, DialError> {
    match route {
        Route::Tcp(addr) => TcpStream::connect_timeout(&addr, timeout)
            .map(OwnedFd::from)
            .map_err(|e| io_error(e, timeout)),
        Route::Vsock { cid, port } => match vsock {
            VsockPolicy::Deny(why) => Err(DialError::Skipped(why)),
            VsockPolicy::Allow => dial_vsock(cid, port, timeout),
        },
    }
}

/// Non-blocking connect, bounded by `timeout` (the kernel's own default is
/// 2 s; a guest without a VSOCK listener usually resets at once), then back
/// to blocking for the byte relay.
fn dial_vsock(cid: u32, port: u32, timeout: Duration) -> Result<OwnedFd, DialError> {
    let errno = |e: Errno| io_error(io::Error::from(e), timeout);
    let fd = socket(
        AddressFamily::Vsock,
        SockType::Stream,
        SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK,
        None,
    )
    .map_err(|e| match e {
        Errno::EAFNOSUPPORT => DialError::Unreachable("this kernel has no VSOCK support".into()),
        e => errno(e),
    })?;
    match connect(
        std::os::fd::AsRawFd::as_raw_fd(&fd),
        &VsockAddr::new(cid, port),
    ) {
        Ok(()) => {}
        Err(Errno::EINPROGRESS) => {
            let millis = u16::try_from(timeout.as_millis()).unwrap_or(u16::MAX);
            let mut fds = [PollFd::new(fd.as_fd(), PollFlags::POLLOUT)];
            match poll(&mut fds, PollTimeout::from(millis)) {
                Ok(0) => return Err(DialError::TimedOut(timeout)),
                Ok(_) => {}
                Err(e) => return Err(errno(e)),
            }
            match getsockopt(&fd, sockopt::SocketError) {
                Ok(0) => {}
                Ok(code) => return Err(errno(Errno::from_raw(code))),
                Err(e) => return Err(errno(e)),
            }
        }
        Err(e) => return Err(errno(e)),
    }
    fcntl(&fd, FcntlArg::F_SETFL(OFlag::O_RDWR)).map_err(errno)?;
    Ok(fd)
}

fn io_error(error: io::Error, timeout: Duration) -> DialError {
    match error.raw_os_error() {
        Some(libc::ECONNREFUSED) => DialError::Refused,
        Some(libc::ETIMEDOUT) => DialError::TimedOut(timeout),
        Some(libc::ECONNRESET) => {
            DialError::Other("connection reset (nothing listens on that port in the guest?)".into())
        }
        Some(libc::ENODEV) => DialError::Unreachable("no such CID on this host".into()),
        Some(libc::ENETUNREACH | libc::EHOSTUNREACH) => DialError::Unreachable(error.to_string()),
        _ if error.kind() == io::ErrorKind::TimedOut => DialError::TimedOut(timeout),
        _ => DialError::Other(error.to_string()),
    }
}
