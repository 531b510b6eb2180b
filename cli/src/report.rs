//! Shared pieces: reading the lease dir as the modules do, describing why
//! something is ignored, and one-line findings with a level tag.

use std::borrow::Cow;
use std::fmt::Write as _;
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
        Ignored::OwnedByOther { uid } => {
            format!("owned by uid {uid}, neither root nor the lease dir's owner: chown it")
        }
        Ignored::UntrustedLinkTarget { uid, mode } => format!(
            "a symbolic link into a directory owned by uid {uid} with mode {mode:04o}: \
             the directory must belong to root or the lease dir's owner and not be \
             writable by group or others"
        ),
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

/// Writes `TAG  text` (tags are 4 wide; coloured on a terminal). The text
/// is [`escape`]d: names from lease files cannot add lines or terminal
/// escapes to a finding.
pub fn line(out: &mut dyn Write, style: &Style, level: Level, text: &str) -> io::Result<()> {
    let tag = match level {
        Level::Ok => style.green("ok  "),
        Level::Fail => style.red("FAIL"),
        Level::Warn => style.yellow("warn"),
        Level::Info => style.dim("info"),
    };
    writeln!(out, "{tag} {}", escape(text))
}

/// Text from a lease file (a guest's DHCP hostname, a domain name, a file
/// name) made safe to print on one line of a terminal or log (DECISIONS.md
/// N32): a backslash becomes `\\`, newline, carriage return and tab
/// `\n`, `\r`, `\t`, and every other control character (C0, DEL, C1) and
/// every invisible or direction-changing format character (zero-width
/// spaces and joiners, bidirectional embeddings, overrides and isolates,
/// line and paragraph separators, the BOM) `\u{XXXX}`. Valid hostnames
/// come out unchanged.
pub fn escape(text: &str) -> Cow<'_, str> {
    let needs = |c: char| {
        c == '\\'
            || c.is_control()
            || matches!(
                c,
                '\u{061c}'
                    | '\u{180e}'
                    | '\u{200b}'..='\u{200f}'
                    | '\u{2028}'..='\u{202e}'
                    | '\u{2060}'..='\u{2069}'
                    | '\u{feff}'
            )
    };
    if !text.contains(needs) {
        return Cow::Borrowed(text);
    }
    let mut escaped = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\\' => escaped.push_str("\\\\"),
            '\n' => escaped.push_str("\\n"),
            '\r' => escaped.push_str("\\r"),
            '\t' => escaped.push_str("\\t"),
            c if needs(c) => {
                let _ = write!(escaped, "\\u{{{:04x}}}", c as u32);
            }
            c => escaped.push(c),
        }
    }
    Cow::Owned(escaped)
}
