//! The one piece of per-process state: the last [`LeaseDir`] snapshot.
//!
//! A lookup never waits for another: if the lock is held (another thread is
//! mid-lookup, or a `fork()` copied a held lock into this child) the caller
//! reads the directory into a private snapshot instead. Slower, never stuck.

use std::path::Path;
use std::sync::{Mutex, TryLockError};

use crate::lease_dir::{DirError, FileSet, LeaseDir};
use crate::OutOfMemory;

pub struct SnapshotCache {
    snapshot: Mutex<Option<LeaseDir>>,
}

impl SnapshotCache {
    pub const fn new() -> SnapshotCache {
        SnapshotCache {
            snapshot: Mutex::new(None),
        }
    }

    /// Runs `query` on an up-to-date snapshot of `path`.
    pub fn with_fresh<R>(
        &self,
        path: &Path,
        files_read: FileSet,
        query: impl FnOnce(&LeaseDir) -> R,
    ) -> Result<R, DirError> {
        let mut guard = match self.snapshot.try_lock() {
            Ok(guard) => guard,
            // A panic mid-refresh may have left a half-updated snapshot:
            // start again from nothing.
            Err(TryLockError::Poisoned(poisoned)) => {
                self.snapshot.clear_poison();
                let mut guard = poisoned.into_inner();
                *guard = None;
                guard
            }
            Err(TryLockError::WouldBlock) => {
                let mut private = LeaseDir::try_new(path, files_read).map_err(out_of_memory)?;
                private.refresh()?;
                return Ok(query(&private));
            }
        };
        let stale_config = guard.as_ref().map_or(true, |dir| {
            dir.path() != path || dir.files_read() != files_read
        });
        if stale_config {
            *guard = Some(LeaseDir::try_new(path, files_read).map_err(out_of_memory)?);
        }
        let Some(dir) = guard.as_mut() else {
            unreachable!("a snapshot was just put in place");
        };
        dir.refresh()?;
        Ok(query(dir))
    }
}

/// A snapshot that could not even be allocated: the lookup is UNAVAIL/ENOMEM
/// (N30).
fn out_of_memory(_: OutOfMemory) -> DirError {
    DirError::Unreadable {
        errno: libc::ENOMEM,
    }
}

impl Default for SnapshotCache {
    fn default() -> Self {
        SnapshotCache::new()
    }
}
