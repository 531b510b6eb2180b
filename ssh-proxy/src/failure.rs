//! Every way the proxy can fail, each with its own exit code (sysexits.h)
//! and one line on stderr that says what happened and where. ssh itself
//! exits 255 whatever we return; the codes serve scripts and `explain`.

use std::fmt;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Failure {
    /// 64 EX_USAGE: bad arguments.
    Usage(String),
    /// 68 EX_NOHOST: no domain matched; says where we looked.
    NoSuchDomain { spec: String, detail: String },
    /// 69 EX_UNAVAILABLE: the domain exists but does not run.
    NotRunning { spec: String, detail: String },
    /// 78 EX_CONFIG: running, but no VSOCK CID and no live lease.
    NoRoute { spec: String, detail: String },
    /// 75 EX_TEMPFAIL: every route was refused or timed out.
    ConnectFailed { spec: String, detail: String },
    /// 77 EX_NOPERM: libvirt's socket refused us and nothing else knew.
    PermissionDenied { spec: String, detail: String },
    /// 71 EX_OSERR: connected, but could not give ssh the connection.
    Handoff { spec: String, detail: String },
    /// 70 EX_SOFTWARE: a bug (a caught panic).
    Internal(String),
}

impl Failure {
    pub fn exit_code(&self) -> i32 {
        match self {
            Failure::Usage(_) => 64,
            Failure::NoSuchDomain { .. } => 68,
            Failure::NotRunning { .. } => 69,
            Failure::Internal(_) => 70,
            Failure::Handoff { .. } => 71,
            Failure::ConnectFailed { .. } => 75,
            Failure::PermissionDenied { .. } => 77,
            Failure::NoRoute { .. } => 78,
        }
    }

    /// The short name `explain` and the README use for the class.
    pub fn class(&self) -> &'static str {
        match self {
            Failure::Usage(_) => "bad usage",
            Failure::NoSuchDomain { .. } => "no such domain",
            Failure::NotRunning { .. } => "domain not running",
            Failure::NoRoute { .. } => "no route",
            Failure::ConnectFailed { .. } => "connection failed",
            Failure::PermissionDenied { .. } => "permission denied",
            Failure::Handoff { .. } => "hand-off failed",
            Failure::Internal(_) => "internal error",
        }
    }
}

/// The end of `--help`: host forms and exit codes.
pub const HELP_FOOTER: &str = "\
Host forms: qemu/NAME (system, then session unless root), qemu:system/NAME,
qemu:session/NAME; '%' may replace '/' (scp file 'qemu%vm:'). NAME is a domain
name, UUID or ID.

Exit codes: 0 connected (fd passed or relay ended), 64 bad usage, 68 no such domain,
69 domain not running, 70 internal error, 71 could not hand the connection to ssh,
75 every route refused or timed out, 77 permission denied on libvirt's socket,
78 no route (no VSOCK CID and no live DHCP lease).";

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Usage(detail) => write!(
                f,
                "bad usage: {detail}; usage: libvirt-ssh-proxy HOST PORT [TYPED_HOST] (see --help)"
            ),
            Failure::Internal(detail) => write!(f, "internal error: {detail}"),
            Failure::NoSuchDomain { spec, detail }
            | Failure::NotRunning { spec, detail }
            | Failure::NoRoute { spec, detail }
            | Failure::ConnectFailed { spec, detail }
            | Failure::PermissionDenied { spec, detail }
            | Failure::Handoff { spec, detail } => write!(f, "{spec}: {detail}"),
        }
    }
}

/// One line, whatever the detail holds: a guest-chosen string or a libvirt
/// message must not forge a second line on the user's terminal.
pub fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .trim()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct() {
        let s = String::new;
        let all = [
            Failure::Usage(s()),
            Failure::NoSuchDomain {
                spec: s(),
                detail: s(),
            },
            Failure::NotRunning {
                spec: s(),
                detail: s(),
            },
            Failure::NoRoute {
                spec: s(),
                detail: s(),
            },
            Failure::ConnectFailed {
                spec: s(),
                detail: s(),
            },
            Failure::PermissionDenied {
                spec: s(),
                detail: s(),
            },
            Failure::Handoff {
                spec: s(),
                detail: s(),
            },
            Failure::Internal(s()),
        ];
        let mut codes: Vec<i32> = all.iter().map(Failure::exit_code).collect();
        codes.sort();
        codes.dedup();
        assert_eq!(codes.len(), all.len());
        for failure in &all {
            assert!(HELP_FOOTER.contains(&failure.exit_code().to_string()));
        }
    }

    #[test]
    fn one_line_strips_control_characters() {
        assert_eq!(one_line("a\nb\r\x1b[31mc\n"), "a b  [31mc");
    }
}
