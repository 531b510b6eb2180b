//! The host grammar: what `ssh` hands us as `%h` (and `%n`), turned into
//! the libvirt URIs to search and the domain to look for.
//!
//! `SCOPE SEP NAME` where SCOPE is `qemu` (system, then session),
//! `qemu:system` / `qemu-system` or `qemu:session` / `qemu-session`, and SEP
//! is `/` (libvirt's forms) or `%` (forms scp and rsync accept: they take
//! `qemu/vm:` for a local path). NAME is everything after the first SEP.

use std::fmt;

/// Which libvirt daemons to search.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// `qemu:///system`, then `qemu:///session` unless we run as root
    /// (libvirt's proxy does the same).
    Auto,
    System,
    Session,
}

pub const SYSTEM_URI: &str = "qemu:///system";
pub const SESSION_URI: &str = "qemu:///session";

impl Scope {
    /// The URIs to search, in order.
    pub fn uris(self, running_as_root: bool) -> Vec<String> {
        let uris: &[&str] = match self {
            Scope::Auto if running_as_root => &[SYSTEM_URI],
            Scope::Auto => &[SYSTEM_URI, SESSION_URI],
            Scope::System => &[SYSTEM_URI],
            Scope::Session => &[SESSION_URI],
        };
        uris.iter().map(|u| u.to_string()).collect()
    }
}

/// A parsed host specification.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// The host as we will report it (`%n` when it restored the case).
    pub spec: String,
    pub scope: Scope,
    /// Domain name, UUID or ID, as typed.
    pub name: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Parses `%h`, preferring `%n` (the host as typed) when it is the same
/// host with its case intact: ssh lowercases `%h` for `qemu/MyVM`, and
/// libvirt's domain names are case-sensitive.
pub fn parse(host: &str, typed: Option<&str>) -> Result<Target, UsageError> {
    let spec = match typed {
        Some(typed) if typed.eq_ignore_ascii_case(host) => typed,
        _ => host,
    };
    let Some(rest) = spec.strip_prefix("qemu") else {
        return Err(UsageError(format!(
            "'{spec}' is not a libvirt host (use qemu/NAME, qemu:system/NAME, qemu:session/NAME, or % instead of /)"
        )));
    };
    let sep = rest
        .find(['/', '%'])
        .ok_or_else(|| UsageError(format!("'{spec}' has no '/' or '%' before the domain name")))?;
    let scope = match &rest[..sep] {
        "" => Scope::Auto,
        ":system" | "-system" => Scope::System,
        ":session" | "-session" => Scope::Session,
        other => {
            let word = other.trim_start_matches([':', '-']);
            return Err(UsageError(format!(
                "unknown scope '{word}' in '{spec}' (use qemu, qemu:system or qemu:session)"
            )));
        }
    };
    let name = &rest[sep + 1..];
    if name.is_empty() {
        return Err(UsageError(format!("'{spec}' names no domain")));
    }
    Ok(Target {
        spec: spec.to_string(),
        scope,
        name: name.to_string(),
    })
}

/// ssh's `%p`: libvirt's proxy takes any unsigned 32-bit number (it is also
/// the VSOCK port); TCP needs 1-65535, checked when a TCP route is planned.
pub fn parse_port(text: &str) -> Result<u32, UsageError> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(UsageError(format!("port '{text}' is not a number")));
    }
    text.parse::<u32>()
        .ok()
        .filter(|&p| p != 0 && p != u32::MAX)
        .ok_or_else(|| UsageError(format!("port '{text}' is out of range")))
}

/// The canonical 8-4-4-4-12 form of a UUID typed with or without dashes
/// (libvirt accepts both), or `None` if `name` is not one.
pub fn as_uuid(name: &str) -> Option<String> {
    let hex: String = name.chars().filter(|&c| c != '-').collect();
    if hex.len() != 32 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    // Dashes only where a UUID may have them (or none at all).
    if name.contains('-') && name.len() != 36 {
        return None;
    }
    let hex = hex.to_ascii_lowercase();
    Some(format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    ))
}

/// A domain ID, when `name` is all digits (libvirt tries IDs last).
pub fn as_id(name: &str) -> Option<i32> {
    if name.bytes().all(|b| b.is_ascii_digit()) {
        name.parse().ok()
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(h: &str, n: Option<&str>) -> (Scope, String, String) {
        let t = parse(h, n).unwrap();
        (t.scope, t.name, t.spec)
    }

    #[test]
    fn libvirt_forms() {
        assert_eq!(
            target("qemu/web", None),
            (Scope::Auto, "web".into(), "qemu/web".into())
        );
        assert_eq!(target("qemu:system/web", None).0, Scope::System);
        assert_eq!(target("qemu:session/web", None).0, Scope::Session);
    }

    #[test]
    fn percent_forms_for_scp_and_rsync() {
        assert_eq!(target("qemu%web", None).0, Scope::Auto);
        assert_eq!(target("qemu:system%web", None).0, Scope::System);
        assert_eq!(target("qemu-system%web", None).0, Scope::System);
        assert_eq!(target("qemu-session%web", None).0, Scope::Session);
        assert_eq!(target("qemu%web", None).1, "web");
    }

    #[test]
    fn name_is_everything_after_the_first_separator() {
        assert_eq!(target("qemu/a/b", None).1, "a/b");
        assert_eq!(target("qemu%a%b", None).1, "a%b");
        assert_eq!(target("qemu/a%b", None).1, "a%b");
        assert_eq!(target("qemu%a/b", None).1, "a/b");
    }

    #[test]
    fn typed_name_restores_case_that_ssh_dropped() {
        assert_eq!(
            target("qemu/mixedcasevm", Some("qemu/MixedCaseVM")).1,
            "MixedCaseVM"
        );
        assert_eq!(
            target("qemu/mixedcasevm", Some("qemu/MixedCaseVM")).2,
            "qemu/MixedCaseVM"
        );
        // %n of an alias (Host dev / HostName qemu/x) is not the same host.
        assert_eq!(target("qemu/web", Some("dev")).1, "web");
        assert_eq!(target("qemu/web", Some("")).1, "web");
    }

    #[test]
    fn bad_hosts() {
        for h in [
            "",
            "qemu",
            "qemu/",
            "qemu%",
            "qemu:system",
            "qemu:system/",
            "vm",
            "QEMU/x",
            "libvirt/x",
        ] {
            assert!(parse(h, None).is_err(), "{h:?} should be refused");
        }
        let err = parse("qemu:sytem/web", None).unwrap_err();
        assert!(err.0.contains("unknown scope 'sytem'"), "{err}");
        assert!(parse("qemu:/web", None).is_err());
    }

    #[test]
    fn scopes_and_root() {
        assert_eq!(Scope::Auto.uris(false), [SYSTEM_URI, SESSION_URI]);
        assert_eq!(Scope::Auto.uris(true), [SYSTEM_URI]);
        assert_eq!(Scope::Session.uris(true), [SESSION_URI]);
    }

    #[test]
    fn ports() {
        assert_eq!(parse_port("22"), Ok(22));
        assert_eq!(parse_port("70000"), Ok(70000)); // a VSOCK port may be larger
        for p in ["", "0", "-1", "+22", "22a", "4294967295", "99999999999"] {
            assert!(parse_port(p).is_err(), "{p:?}");
        }
    }

    #[test]
    fn uuids_with_and_without_dashes() {
        let canonical = "6695eb01-f6a4-8304-79aa-97f2502e193f";
        assert_eq!(as_uuid(canonical).as_deref(), Some(canonical));
        assert_eq!(
            as_uuid("6695EB01F6A4830479AA97F2502E193F").as_deref(),
            Some(canonical)
        );
        assert_eq!(as_uuid("6695eb01-f6a4-8304-79aa-97f2502e193"), None);
        assert_eq!(as_uuid("web"), None);
        assert_eq!(as_uuid("6695eb01-f6a4-8304-79aa-97f2502e193f-"), None);
    }

    #[test]
    fn numeric_names_may_be_ids() {
        assert_eq!(as_id("7"), Some(7));
        assert_eq!(as_id("07"), Some(7));
        assert_eq!(as_id("7a"), None);
        assert_eq!(as_id("99999999999"), None);
    }
}
