//! Crash-safe replacement of a file (libvirt's `virFileRewriteStr(path,
//! 0644, data)`, plus a directory fsync).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::error::HelperError;

/// `<path>.new`.
pub fn temp_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_os_string();
    name.push(".new");
    PathBuf::from(name)
}

/// Replace `path` with `contents` so that at every instant `path` is either
/// the complete old file or the complete new one:
///
/// 1. `unlink(<path>.new)` (a leftover of a crash, or anything planted
///    there), then `open(<path>.new, O_WRONLY|O_CREAT|O_EXCL|O_NOFOLLOW,
///    0644)`: only a file this call created is ever written (DECISIONS.md
///    H11; C's `O_TRUNC` open follows a symlink and overwrites its target);
/// 2. `fchown` to our euid/egid and `fchmod` to exactly 0644 when they
///    differ (overrides the umask and a setgid directory);
/// 3. write everything, `fsync`, `close`;
/// 4. `rename(<path>.new, <path>)` (atomic within a file system);
/// 5. `fsync` the directory so that the rename itself survives a power cut.
///
/// On failure before the rename `<path>.new` is removed and `path` is
/// untouched (e.g. a full disk never truncates the existing file).
pub fn replace_file(path: &Path, contents: &[u8]) -> Result<(), HelperError> {
    let new_path = temp_path(path);
    let result = write_new_file(&new_path, contents).and_then(|()| {
        fs::rename(&new_path, path).map_err(|e| {
            HelperError::new(format!(
                "cannot rename file '{}' as '{}': {e}",
                new_path.display(),
                path.display()
            ))
        })
    });
    if result.is_err() {
        let _ = fs::remove_file(&new_path);
        return result;
    }
    sync_parent_dir(path).map_err(|e| HelperError::io("cannot sync directory of", path, &e))
}

fn write_new_file(new_path: &Path, contents: &[u8]) -> Result<(), HelperError> {
    match fs::remove_file(new_path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(HelperError::io("cannot remove stale file", new_path, &e)),
    }
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o644)
        .custom_flags(libc::O_NOFOLLOW)
        .open(new_path)
        .map_err(|e| HelperError::io("Failed to create file", new_path, &e))?;
    force_owner_and_mode(&file)
        .map_err(|e| HelperError::io("cannot set owner/mode of file", new_path, &e))?;
    file.write_all(contents)
        .map_err(|e| HelperError::io("cannot write data to file", new_path, &e))?;
    file.sync_all()
        .map_err(|e| HelperError::io("cannot sync file", new_path, &e))?;
    Ok(())
}

fn force_owner_and_mode(file: &File) -> io::Result<()> {
    let meta = file.metadata()?;
    let (euid, egid) = crate::sys::effective_ids();
    if meta.uid() != euid || meta.gid() != egid {
        std::os::unix::fs::fchown(file, Some(euid), Some(egid))?;
    }
    if meta.mode() & 0o7777 != 0o644 {
        file.set_permissions(fs::Permissions::from_mode(0o644))?;
    }
    Ok(())
}

/// `open(dir, O_RDONLY)` + `fsync`: makes a completed rename durable.
pub fn sync_parent_dir(path: &Path) -> io::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_dir::TestDir;

    #[test]
    fn replaces_content_with_mode_0644_and_leaves_no_temp_file() {
        let dir = TestDir::new("atomic");
        let path = dir.path().join("x.status");
        fs::write(&path, b"old").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        fs::write(temp_path(&path), b"stale temp from a crash").unwrap();
        fs::set_permissions(temp_path(&path), fs::Permissions::from_mode(0o666)).unwrap();
        replace_file(&path, b"new").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"new");
        assert_eq!(fs::metadata(&path).unwrap().mode() & 0o7777, 0o644);
        assert!(!temp_path(&path).exists());
    }

    #[test]
    fn failure_keeps_the_old_file() {
        let dir = TestDir::new("atomic-fail");
        let path = dir.path().join("x.status");
        fs::write(&path, b"old").unwrap();
        // <path>.new is a directory: open fails, nothing changes
        fs::create_dir(temp_path(&path)).unwrap();
        assert!(replace_file(&path, b"new").is_err());
        assert_eq!(fs::read(&path).unwrap(), b"old");
    }
}
