//! DECISIONS.md H6: an existing status file that is not JSON is kept under
//! a new name instead of being silently overwritten (C loses every lease).

use std::ffi::OsString;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// Candidate names, in order: `<file>.corrupt`, `<file>.corrupt.1`,
/// `<file>.corrupt.2`, ...
pub fn corrupt_name(path: &Path, attempt: u32) -> PathBuf {
    let mut name = OsString::from(path.as_os_str());
    name.push(".corrupt");
    if attempt > 0 {
        name.push(format!(".{attempt}"));
    }
    PathBuf::from(name)
}

/// Give up after this many existing `.corrupt*` files.
const MAX_ATTEMPTS: u32 = 100_000;

/// Move `path` to the first free [`corrupt_name`] without ever replacing
/// an existing file: `link(path, candidate)` fails with `EEXIST` if the
/// name is taken (then the next is tried); once linked, `unlink(path)`.
/// On file systems without hard links, fall back to `rename` after checking
/// the name is free (callers hold the global helper lock, so no other
/// helper can race). Returns the new name.
pub fn move_aside(path: &Path) -> io::Result<PathBuf> {
    for attempt in 0..MAX_ATTEMPTS {
        let candidate = corrupt_name(path, attempt);
        match fs::hard_link(path, &candidate) {
            Ok(()) => {
                fs::remove_file(path)?;
                return Ok(candidate);
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(link_err) => {
                if candidate.symlink_metadata().is_ok() {
                    continue;
                }
                return match fs::rename(path, &candidate) {
                    Ok(()) => Ok(candidate),
                    Err(_) => Err(link_err),
                };
            }
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AlreadyExists,
        "too many .corrupt files",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_dir::TestDir;

    #[test]
    fn names() {
        let p = Path::new("/d/virbr0.status");
        assert_eq!(
            corrupt_name(p, 0),
            PathBuf::from("/d/virbr0.status.corrupt")
        );
        assert_eq!(
            corrupt_name(p, 1),
            PathBuf::from("/d/virbr0.status.corrupt.1")
        );
        assert_eq!(
            corrupt_name(p, 12),
            PathBuf::from("/d/virbr0.status.corrupt.12")
        );
    }

    #[test]
    fn never_overwrites_an_earlier_corrupt_file() {
        let dir = TestDir::new("corrupt");
        let path = dir.path().join("virbr0.status");
        fs::write(&path, b"first {").unwrap();
        assert_eq!(move_aside(&path).unwrap(), corrupt_name(&path, 0));
        fs::write(&path, b"second {").unwrap();
        assert_eq!(move_aside(&path).unwrap(), corrupt_name(&path, 1));
        fs::write(&path, b"third {").unwrap();
        assert_eq!(move_aside(&path).unwrap(), corrupt_name(&path, 2));
        assert!(!path.exists());
        assert_eq!(fs::read(corrupt_name(&path, 0)).unwrap(), b"first {");
        assert_eq!(fs::read(corrupt_name(&path, 1)).unwrap(), b"second {");
        assert_eq!(fs::read(corrupt_name(&path, 2)).unwrap(), b"third {");
    }
}
