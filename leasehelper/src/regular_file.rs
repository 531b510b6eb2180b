//! Touching and reading a file only when it is a regular file, without ever
//! blocking on one that is not (DECISIONS.md H11): `<bridge>.status`
//! (libvirt's `virFileTouch`, and `virFileReadAll` with a size limit), and
//! the refusal messages the lock file shares.

use std::fs::{self, File, FileType, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

/// `stat(path)` (a missing file is fine), then
/// `open(path, O_WRONLY|O_CREAT|O_NONBLOCK|O_NOCTTY, 0644)`, `fstat`, close:
/// creates an empty file (umask applies) and never truncates an existing
/// one. libvirt does this so that a network's status file exists as soon as
/// dnsmasq starts. A FIFO, device, socket or directory (also behind a
/// symlink) is refused before it is opened, and checked again on the open
/// descriptor: C's blocking `open` of a FIFO here stalls dnsmasq for ever.
pub fn touch(path: &Path) -> io::Result<()> {
    match fs::metadata(path) {
        Ok(meta) if !meta.is_file() => return Err(not_regular(meta.file_type())),
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o644)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(|e| explain_refusal(path, e))?;
    check_regular(&file)
}

/// The error for a file that is not a regular file: "it is a FIFO, not a
/// regular file".
pub fn not_regular(file_type: FileType) -> io::Error {
    let kind = if file_type.is_symlink() {
        "a symbolic link"
    } else if file_type.is_fifo() {
        "a FIFO"
    } else if file_type.is_dir() {
        "a directory"
    } else if file_type.is_socket() {
        "a socket"
    } else if file_type.is_char_device() || file_type.is_block_device() {
        "a device"
    } else {
        "of an unknown type"
    };
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("it is {kind}, not a regular file"),
    )
}

/// `fstat` of an open descriptor: an error unless it is a regular file.
pub fn check_regular(file: &File) -> io::Result<()> {
    let meta = file.metadata()?;
    if meta.is_file() {
        Ok(())
    } else {
        Err(not_regular(meta.file_type()))
    }
}

/// Turns the errors a non-blocking, no-follow `open` gives for what it
/// refuses (`ELOOP`: a symlink under `O_NOFOLLOW`; `ENXIO`: a FIFO without
/// reader or a socket) into [`not_regular`]; others pass unchanged.
pub fn explain_refusal(path: &Path, err: io::Error) -> io::Error {
    match err.raw_os_error() {
        Some(libc::ELOOP) | Some(libc::ENXIO) => match fs::symlink_metadata(path) {
            Ok(meta) if !meta.is_file() => not_regular(meta.file_type()),
            _ => err,
        },
        _ => err,
    }
}

/// Why the file could not be read.
#[derive(Debug)]
pub enum ReadError {
    Io(io::Error),
    /// Not a regular file (checked on the open descriptor).
    NotRegular(io::Error),
    /// Larger than the limit (libvirt: EOVERFLOW).
    TooLarge {
        limit: u64,
    },
}

/// Read the whole file, refusing more than `limit` bytes (exactly `limit`
/// is fine). Reads at most `limit + 1` bytes, whatever the file's size.
/// Opened `O_NONBLOCK|O_NOCTTY` and checked with `fstat`: a file swapped
/// for a FIFO or device after [`touch`] is refused, never waited on.
pub fn read_limited(path: &Path, limit: u64) -> Result<Vec<u8>, ReadError> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(ReadError::Io)?;
    check_regular(&file).map_err(ReadError::NotRegular)?;
    let mut contents = Vec::new();
    file.take(limit.saturating_add(1))
        .read_to_end(&mut contents)
        .map_err(ReadError::Io)?;
    if contents.len() as u64 > limit {
        return Err(ReadError::TooLarge { limit });
    }
    Ok(contents)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_dir::TestDir;
    use std::fs;

    #[test]
    fn touch_creates_but_never_truncates() {
        let dir = TestDir::new("touch");
        let path = dir.path().join("a.status");
        touch(&path).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"");
        fs::write(&path, b"[]").unwrap();
        touch(&path).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"[]");
    }

    #[test]
    fn limit_is_inclusive() {
        let dir = TestDir::new("limit");
        let path = dir.path().join("a.status");
        fs::write(&path, b"12345").unwrap();
        assert_eq!(read_limited(&path, 5).unwrap(), b"12345");
        assert!(matches!(
            read_limited(&path, 4),
            Err(ReadError::TooLarge { limit: 4 })
        ));
    }
}
