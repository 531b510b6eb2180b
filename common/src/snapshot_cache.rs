//! The one piece of per-process state: the last [`LeaseDir`] snapshot.
//!
//! A lookup never waits for another: if the lock is held (another thread is
//! mid-lookup, or a `fork()` copied a held lock into this child) the caller
//! reads the directory into a private snapshot instead. Slower, never stuck.

use std::path::Path;
use std::sync::{Mutex, TryLockError};

use crate::lease_dir::{DirError, FileSet, LeaseDir};

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
                let mut private = LeaseDir::new(path, files_read);
                private.refresh()?;
                return Ok(query(&private));
            }
        };
        let stale_config = guard.as_ref().map_or(true, |dir| {
            dir.path() != path || dir.files_read() != files_read
        });
        if stale_config {
            *guard = None;
        }
        let dir = guard.get_or_insert_with(|| LeaseDir::new(path, files_read));
        dir.refresh()?;
        Ok(query(dir))
    }
}

impl Default for SnapshotCache {
    fn default() -> Self {
        SnapshotCache::new()
    }
}
