//! `check`: lint the lease dir the way the modules read it.

use std::io::{self, Write};

use common::lease_dir::Content;

use crate::options::Globals;
use crate::report::{describe_dir_error, describe_ignored, line, read_lease_dir, Level};

pub fn run(globals: &Globals, out: &mut dyn Write) -> io::Result<u8> {
    let style = &globals.style;
    let (dir, refreshed) = read_lease_dir(&globals.lease_dir);
    if let Err(error) = refreshed {
        line(
            out,
            style,
            Level::Fail,
            &describe_dir_error(&globals.lease_dir, error),
        )?;
        return Ok(1);
    }
    let now = common::now_epoch_seconds();
    let mut problems = 0;
    for file in dir.files() {
        let path = file.path().display();
        match file.content() {
            Content::Ignored(ignored) => {
                problems += 1;
                line(
                    out,
                    style,
                    Level::Fail,
                    &format!("{path}: ignored, {}", describe_ignored(ignored)),
                )?;
            }
            Content::Leases(leases) => {
                let total = leases.leases().len();
                let expired = leases.leases().iter().filter(|l| !l.is_live(now)).count();
                let skipped = leases.skipped_entries();
                let summary = format!("{path}: {total} leases ({expired} expired)");
                if skipped > 0 {
                    problems += 1;
                    line(
                        out,
                        style,
                        Level::Fail,
                        &format!("{summary}, {skipped} unusable entries skipped (bad ip-address or member types)"),
                    )?;
                } else {
                    line(out, style, Level::Ok, &summary)?;
                }
            }
            Content::Macs(macs) => {
                let domains = macs.domains().count();
                let skipped = macs.skipped_entries();
                let summary = format!("{path}: {domains} domains");
                if skipped > 0 {
                    problems += 1;
                    line(
                        out,
                        style,
                        Level::Fail,
                        &format!("{summary}, {skipped} entries without a domain skipped"),
                    )?;
                } else {
                    line(out, style, Level::Ok, &summary)?;
                }
            }
        }
    }
    if dir.files().is_empty() {
        line(
            out,
            style,
            Level::Info,
            &format!("{}: no .status or .macs files", globals.lease_dir.display()),
        )?;
    }
    if problems > 0 {
        line(
            out,
            style,
            Level::Fail,
            &format!("{problems} files with problems"),
        )?;
        Ok(1)
    } else {
        Ok(0)
    }
}
