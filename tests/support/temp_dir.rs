//! Self-removing scratch directories under the system temp dir.
//!
//! A lease dir must be mode 0755 with 0644 files: the modules ignore group- or
//! world-writable lease files and dirs (DECISIONS.md N6), so modes are set
//! explicitly instead of trusting the umask or git.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

pub const DIR_MODE: u32 = 0o755;
pub const FILE_MODE: u32 = 0o644;

#[derive(Debug)]
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    pub fn new(label: &str) -> TempDir {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let path = std::env::temp_dir().join(format!(
            "nss-it-{}-{}-{label}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        fs::create_dir(&path).unwrap_or_else(|e| panic!("mkdir {}: {e}", path.display()));
        set_mode(&path, DIR_MODE);
        TempDir { path }
    }

    /// A fresh copy of `tests/fixtures/<name>`.
    pub fn from_fixture(name: &str) -> TempDir {
        let dir = TempDir::new(name);
        let source = fixtures_dir().join(name);
        let entries =
            fs::read_dir(&source).unwrap_or_else(|e| panic!("fixture {}: {e}", source.display()));
        for entry in entries {
            let entry = entry.expect("readdir fixture");
            dir.write(
                entry.file_name().to_str().expect("UTF-8 fixture name"),
                fs::read(entry.path()).expect("read fixture file"),
            );
        }
        dir
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes `name` (mode 0644) and returns its path.
    pub fn write(&self, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let file = self.path.join(name);
        fs::write(&file, contents).unwrap_or_else(|e| panic!("write {}: {e}", file.display()));
        set_mode(&file, FILE_MODE);
        file
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.path);
    }
}

pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

pub fn set_mode(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("chmod {mode:o} {}: {e}", path.display()));
}
