//! Reading and creating `<bridge>.status` (libvirt's `virFileTouch` and
//! `virFileReadAll` with the 32 MiB limit).

use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// `open(path, O_WRONLY|O_CREAT, 0644)` then close: creates an empty file
/// (umask applies) and never truncates an existing one. libvirt does this
/// so that a network's status file exists as soon as dnsmasq starts.
pub fn touch(path: &Path) -> io::Result<()> {
    OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o644)
        .open(path)
        .map(drop)
}

/// Why the file could not be read.
#[derive(Debug)]
pub enum ReadError {
    Io(io::Error),
    /// Larger than the limit (libvirt: EOVERFLOW).
    TooLarge {
        limit: u64,
    },
}

/// Read the whole file, refusing more than `limit` bytes (exactly `limit`
/// is fine). Reads at most `limit + 1` bytes, whatever the file's size.
pub fn read_limited(path: &Path, limit: u64) -> Result<Vec<u8>, ReadError> {
    let file = File::open(path).map_err(ReadError::Io)?;
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
