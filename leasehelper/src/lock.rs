//! The global helper lock `/run/leaseshelper.pid`, taken exactly like
//! libvirt's `virPidFileAcquirePath(path, waitForLock=true, getpid())` so
//! that our helper and the C helper exclude each other.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use crate::regular_file::{explain_refusal, not_regular};
use crate::sys::lock_first_byte_blocking;

/// A held lock. Dropping it releases it the way libvirt does: `unlink(path)`
/// first, then `close(fd)` (closing drops the POSIX lock).
#[derive(Debug)]
pub struct PidLock {
    path: PathBuf,
    file: File,
}

impl PidLock {
    /// Loop: `open(path, O_WRONLY|O_CREAT|O_NOFOLLOW|O_NONBLOCK|O_CLOEXEC,
    /// 0644)` (umask applies), `fstat` (refused unless a regular file:
    /// DECISIONS.md H11, a symlink or FIFO planted at the lock path is never
    /// truncated or waited on; `O_NONBLOCK` does not affect the lock), then `fcntl(F_SETLKW)` for a write lock on byte 0, length 1,
    /// which blocks while another process (C or Rust helper) holds it. After
    /// getting it, `stat(path)`: if the file was unlinked or replaced
    /// meanwhile (the previous holder releases by unlinking), the lock is on
    /// a dead inode, so close and start again. Finally truncate the file and
    /// write our pid in decimal without a newline.
    pub fn acquire(path: &Path) -> Result<PidLock, (&'static str, io::Error)> {
        let file = loop {
            let file = OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(false)
                .mode(0o644)
                .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
                .open(path)
                .map_err(|e| ("Failed to open pid file", explain_refusal(path, e)))?;
            let locked = file
                .metadata()
                .map_err(|e| ("Unable to check status of pid file", e))?;
            if !locked.is_file() {
                return Err(("Refusing pid file", not_regular(locked.file_type())));
            }
            lock_first_byte_blocking(&file).map_err(|e| ("Failed to acquire pid file", e))?;
            match fs::metadata(path) {
                Ok(now) if now.dev() == locked.dev() && now.ino() == locked.ino() => break file,
                _ => continue, // someone else raced us: try again
            }
        };
        let mut lock = PidLock {
            path: path.to_path_buf(),
            file,
        };
        lock.file
            .set_len(0)
            .map_err(|e| ("Failed to truncate pid file", e))?;
        lock.file
            .write_all(std::process::id().to_string().as_bytes())
            .map_err(|e| ("Failed to write pid file", e))?;
        Ok(lock)
    }
}

impl Drop for PidLock {
    fn drop(&mut self) {
        // Unlink while still holding the lock, so that a waiter that gets the
        // lock next sees the inode is gone and retries on a fresh file. The
        // fd (and with it the lock) is closed when `self.file` drops, after
        // this body. Failure to unlink only leaves a stale, unlocked file.
        let _ = fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acquire_writes_pid_and_release_unlinks() {
        let dir = crate::test_dir::TestDir::new("lock");
        let path = dir.path().join("leaseshelper.pid");
        let lock = PidLock::acquire(&path).unwrap();
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            std::process::id().to_string()
        );
        drop(lock);
        assert!(!path.exists());
        // a stale file left by a killed holder is simply reused
        fs::write(&path, "99999999\n").unwrap();
        let lock = PidLock::acquire(&path).unwrap();
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            std::process::id().to_string()
        );
        drop(lock);
    }

    #[test]
    fn unopenable_lock_path_is_an_error() {
        let dir = crate::test_dir::TestDir::new("lock-missing");
        let err = PidLock::acquire(&dir.path().join("no/such/dir/pid")).unwrap_err();
        assert_eq!(err.0, "Failed to open pid file");
    }
}
