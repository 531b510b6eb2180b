//! Which names a module may hand out (DECISIONS.md N32).
//!
//! A reverse lookup returns a name taken from a file a guest wrote into
//! (its DHCP hostname), and programs print, log and parse what
//! `gethostbyaddr` returns: a name with a newline in it forges a line in
//! `getent hosts`, a log, or a `known_hosts`-style file. glibc's DNS backend
//! refuses such PTR answers with `res_hnok`; the modules apply the same rule
//! to every name they return.

/// The longest name in text form: 255 bytes on the wire, less the length
/// byte of the first label and the root label.
pub const MAX_HOSTNAME_LEN: usize = 253;

/// The longest label.
pub const MAX_LABEL_LEN: usize = 63;

/// glibc's `res_hnok` (`resolv/res-name-checking.c`, glibc 2.36), a little
/// stricter: one or more labels of 1 to 63 bytes separated by single dots,
/// each byte an ASCII letter, digit, `-` or `_`, the name not starting with
/// `-`, at most 253 bytes. Unlike `res_hnok`, no backslash escapes and no
/// trailing root dot (no writer puts either in a lease or a domain name).
pub fn is_valid_hostname(name: &[u8]) -> bool {
    if name.is_empty() || name.len() > MAX_HOSTNAME_LEN || name[0] == b'-' {
        return false;
    }
    name.split(|&b| b == b'.').all(|label| {
        !label.is_empty()
            && label.len() <= MAX_LABEL_LEN
            && label
                .iter()
                .all(|&b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_names() {
        for name in [
            "a",
            "vm1",
            "web-01",
            "Gentoo",
            "MixedCaseVM",
            "under_score",
            "_srv",
            "a-",
            "host.example.com",
            "0",
            "1.2.3.4",
        ] {
            assert!(is_valid_hostname(name.as_bytes()), "{name:?}");
        }
        let label = "x".repeat(MAX_LABEL_LEN);
        assert!(is_valid_hostname(label.as_bytes()));
        let longest = [&label[..], &label, &label, &"y".repeat(61)].join(".");
        assert_eq!(longest.len(), MAX_HOSTNAME_LEN);
        assert!(is_valid_hostname(longest.as_bytes()));
    }

    #[test]
    fn invalid_names() {
        for name in [
            &b""[..],
            b"evil\n10.0.0.66 injected-line",
            b"with space",
            b"tab\there",
            b"nul\0byte",
            b"-leading-hyphen",
            b"a..b",
            b".leading",
            b"trailing.",
            b".",
            b"back\\slash",
            b"semi;colon",
            b"quote\"",
            b"bad\xffname",
            "caf\u{e9}".as_bytes(),
            "bad\u{FFFD}name".as_bytes(),
            "rtl\u{202E}gpj.exe".as_bytes(),
            b"a/b",
            b"esc\x1b[31m",
        ] {
            assert!(
                !is_valid_hostname(name),
                "{:?}",
                String::from_utf8_lossy(name)
            );
        }
        let label = "x".repeat(MAX_LABEL_LEN + 1);
        assert!(!is_valid_hostname(label.as_bytes()));
        let label = "x".repeat(MAX_LABEL_LEN);
        let too_long = [&label[..], &label, &label, &"y".repeat(62)].join(".");
        assert_eq!(too_long.len(), MAX_HOSTNAME_LEN + 1);
        assert!(!is_valid_hostname(too_long.as_bytes()));
    }
}
