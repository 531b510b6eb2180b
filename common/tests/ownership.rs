//! DECISIONS.md N34: a lease file is trusted only if it (after following a
//! symbolic link) is owned by root or by the lease directory's owner, and,
//! for a link, the directory holding its target is owned by one of them and
//! not writable by group or others (OpenSSH `StrictModes`-style).
//!
//! Needs root (files are given to other users); skipped otherwise.

use std::fs;
use std::os::unix::fs::{chown, symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use common::lease_dir::{Content, Ignored};
use common::{Answer, Family, FileSet, LeaseDir, Service};

const NOW: i64 = 1_800_000_000;
/// Users that own nothing else here.
const OTHER: u32 = 64_321;
const HELPER: u32 = 64_322;

struct TempDir(PathBuf);

impl TempDir {
    fn new(mode: u32) -> TempDir {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let path = std::env::temp_dir().join(format!(
            "common-ownership-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir(&path).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
        TempDir(path)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// A 0644 `.status` file at `path` with one live lease of `host` on `ip`,
/// owned by `uid`.
fn lease_file(path: &Path, host: &str, ip: &str, uid: u32) {
    fs::write(
        path,
        format!(
            r#"[{{"ip-address": "{ip}", "mac-address": "52:54:00:00:00:01", "hostname": "{host}", "expiry-time": 0}}]"#
        ),
    )
    .unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(0o644)).unwrap();
    chown(path, Some(uid), None).unwrap();
}

fn is_root() -> bool {
    let probe = std::env::temp_dir().join(format!("common-ownership-probe-{}", std::process::id()));
    fs::write(&probe, b"").unwrap();
    let root = chown(&probe, Some(OTHER), None).is_ok();
    let _ = fs::remove_file(&probe);
    root
}

fn resolves(dir: &LeaseDir, host: &str) -> bool {
    matches!(
        Service::Libvirt.lookup_name(dir, host.as_bytes(), Family::Any, NOW),
        Answer::Found(_)
    )
}

fn ignored(dir: &LeaseDir, file: &str) -> Option<Ignored> {
    dir.files()
        .iter()
        .find(|f| f.name() == file)
        .and_then(|f| match f.content() {
            Content::Ignored(why) => Some(why.clone()),
            _ => None,
        })
}

#[test]
fn files_and_link_targets_must_belong_to_root_or_the_lease_dir_owner() {
    if !is_root() {
        eprintln!("SKIPPED: needs root to give files to other users");
        return;
    }
    let leases = TempDir::new(0o755);
    // a world-writable (sticky) directory like /tmp, and a 0755 one that
    // belongs to another user, and a safe one
    let open_dir = TempDir::new(0o1777);
    let users_dir = TempDir::new(0o755);
    chown(users_dir.path(), Some(OTHER), None).unwrap();
    let safe_dir = TempDir::new(0o755);

    // the issue's case: a symlink (planted by root) to a 0644 file owned by
    // another user, in a world-writable directory
    lease_file(
        &open_dir.path().join("theirs"),
        "planted",
        "10.8.0.1",
        OTHER,
    );
    symlink(
        open_dir.path().join("theirs"),
        leases.path().join("a.status"),
    )
    .unwrap();
    // a root-owned file, but in that world-writable directory
    lease_file(&open_dir.path().join("roots"), "swappable", "10.8.0.2", 0);
    symlink(
        open_dir.path().join("roots"),
        leases.path().join("b.status"),
    )
    .unwrap();
    // a root-owned file in a directory of another user
    lease_file(&users_dir.path().join("roots"), "users-dir", "10.8.0.3", 0);
    symlink(
        users_dir.path().join("roots"),
        leases.path().join("c.status"),
    )
    .unwrap();
    // a regular file in the lease dir, owned by another user
    lease_file(
        &leases.path().join("d.status"),
        "other-owner",
        "10.8.0.4",
        OTHER,
    );
    // trusted: root's file in the lease dir, and a link into a safe directory
    lease_file(&leases.path().join("e.status"), "good", "10.8.0.5", 0);
    lease_file(&safe_dir.path().join("roots"), "linked", "10.8.0.6", 0);
    symlink(
        safe_dir.path().join("roots"),
        leases.path().join("f.status"),
    )
    .unwrap();

    let mut dir = LeaseDir::new(leases.path(), FileSet::Leases);
    dir.refresh().unwrap();
    for host in ["planted", "swappable", "users-dir", "other-owner"] {
        assert!(
            !resolves(&dir, host),
            "{host} resolves from an untrusted file"
        );
    }
    assert!(resolves(&dir, "good"));
    assert!(resolves(&dir, "linked"));
    assert_eq!(
        ignored(&dir, "a.status"),
        Some(Ignored::UntrustedLinkTarget {
            uid: 0,
            mode: 0o1777
        })
    );
    assert_eq!(
        ignored(&dir, "c.status"),
        Some(Ignored::UntrustedLinkTarget {
            uid: OTHER,
            mode: 0o755
        })
    );
    assert_eq!(
        ignored(&dir, "d.status"),
        Some(Ignored::OwnedByOther { uid: OTHER })
    );

    // fixed without the file changing: the next refresh trusts it
    fs::set_permissions(open_dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    dir.refresh().unwrap();
    assert!(resolves(&dir, "swappable"));
    assert!(!resolves(&dir, "planted"), "still owned by another user");
}

#[test]
fn a_lease_dir_owned_by_a_helper_account_trusts_that_account_and_root() {
    if !is_root() {
        eprintln!("SKIPPED: needs root to give files to other users");
        return;
    }
    let leases = TempDir::new(0o755);
    chown(leases.path(), Some(HELPER), None).unwrap();
    lease_file(
        &leases.path().join("a.status"),
        "helpers",
        "10.9.0.1",
        HELPER,
    );
    lease_file(&leases.path().join("b.status"), "roots", "10.9.0.2", 0);
    lease_file(&leases.path().join("c.status"), "others", "10.9.0.3", OTHER);
    let mut dir = LeaseDir::new(leases.path(), FileSet::Leases);
    dir.refresh().unwrap();
    assert!(resolves(&dir, "helpers"));
    assert!(resolves(&dir, "roots"));
    assert!(!resolves(&dir, "others"));
    assert_eq!(
        ignored(&dir, "c.status"),
        Some(Ignored::OwnedByOther { uid: OTHER })
    );
}
