//! The helper's only `unsafe`: two libc calls that std does not wrap, each
//! behind a safe function. The rest of the crate denies `unsafe_code`.
#![allow(unsafe_code)]

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;

/// The process's effective user and group ids (`geteuid`, `getegid`).
pub(crate) fn effective_ids() -> (libc::uid_t, libc::gid_t) {
    // SAFETY: geteuid/getegid have no preconditions and cannot fail.
    unsafe { (libc::geteuid(), libc::getegid()) }
}

/// `fcntl(fd, F_SETLKW, {F_WRLCK, SEEK_SET, start 0, len 1})`: a POSIX
/// record lock owned by this process, released automatically on close or
/// process death. Retried on `EINTR`.
pub(crate) fn lock_first_byte_blocking(file: &File) -> io::Result<()> {
    let request = libc::flock {
        l_type: libc::F_WRLCK as libc::c_short,
        l_whence: libc::SEEK_SET as libc::c_short,
        l_start: 0,
        l_len: 1,
        l_pid: 0,
    };
    loop {
        // SAFETY: the fd is owned by `file` and open for the whole call;
        // `request` is a fully initialised `struct flock` that outlives it,
        // and F_SETLKW only reads it.
        let rc = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_SETLKW, &request) };
        if rc == 0 {
            return Ok(());
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}
