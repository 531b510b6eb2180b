//! Shared pieces: reading the lease dir as the modules do, describing why
//! something is ignored, and one-line findings with a level tag.

use std::io::{self, Write};
use std::path::Path;

use common::lease_dir::{DirFile, FileSet, Ignored};
use common::{DirError, LeaseDir};

use crate::style::Style;

/// The lease dir with both file kinds: `libvirt` lookups only ever use the
/// `.status` files of it, `libvirt_guest` lookups both, so one snapshot gives
/// each module's exact answer.
pub fn read_lease_dir(path: &Path) -> (LeaseDir, Result<(), DirError>) {
    let mut dir = LeaseDir::new(path, FileSet::LeasesAndMacs);
    let result = dir.refresh();
    (dir, result)
}

pub fn errno_text(errno: i32) -> String {
    let text = io::Error::from_raw_os_error(errno).to_string();
    // "No such file or directory (os error 2)" -> "No such file or directory"
    match text.find(" (os error") {
        Some(at) => text[..at].to_owned(),
        None => text,
    }
}

pub fn describe_dir_error(path: &Path, error: DirError) -> String {
    match error {
        DirError::Unreadable { errno } if errno == libc::ENOENT => format!(
            "lease dir {} does not exist: libvirt is not installed or has not started a network yet",
            path.display()
        ),
        DirError::Unreadable { errno } => {
            format!("lease dir {}: {}", path.display(), errno_text(errno))
        }
        DirError::WritableByOthers => format!(
            "lease dir {} is writable by group or others: the modules ignore all of it (chmod go-w)",
            path.display()
        ),
    }
}

pub fn describe_ignored(ignored: &Ignored) -> String {
    match ignored {
        Ignored::NotARegularFile => "not a regular file".to_owned(),
        Ignored::WritableByOthers { mode } => {
            format!("writable by group or others (mode {mode:04o}): chmod go-w")
        }
        Ignored::TooLarge { bytes } => format!("too large ({bytes} bytes; the limit is 32 MiB)"),
        Ignored::Unreadable { errno } => format!("unreadable: {}", errno_text(*errno)),
        Ignored::Malformed { message } => format!("not valid JSON: {message}"),
    }
}

/// The network of a lease file: its name without `.status` (the bridge).
pub fn network_of(file: &DirFile) -> String {
    let name = file.name().to_string_lossy();
    name.strip_suffix(".status")
        .or_else(|| name.strip_suffix(".macs"))
        .unwrap_or(&name)
        .to_owned()
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Level {
    Ok,
    Fail,
    Warn,
    Info,
}

/// Writes `TAG  text` (tags are 4 wide; coloured on a terminal).
pub fn line(out: &mut dyn Write, style: &Style, level: Level, text: &str) -> io::Result<()> {
    let tag = match level {
        Level::Ok => style.green("ok  "),
        Level::Fail => style.red("FAIL"),
        Level::Warn => style.yellow("warn"),
        Level::Info => style.dim("info"),
    };
    writeln!(out, "{tag} {text}")
}
