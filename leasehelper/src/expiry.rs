//! `DNSMASQ_LEASE_EXPIRES` and `expiry-time` parsing with libvirt's rules.

/// Bytes `c_isspace` treats as white space (and `strtoll` skips in the C
/// locale): space, `\t`, `\n`, `\v`, `\f`, `\r`.
fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r')
}

/// libvirt's `virStrToLong_ll(s, NULL, 10, &v)`: `strtoll` semantics
/// (leading white space, an optional `+`/`-`, decimal digits) where the
/// whole string must be consumed, at least one digit is required, and
/// overflow is an error.
pub fn parse_c_long_long(text: &[u8]) -> Option<i64> {
    let mut rest = text;
    while let [first, tail @ ..] = rest {
        if !is_c_space(*first) {
            break;
        }
        rest = tail;
    }
    let negative = match rest.first() {
        Some(b'-') => {
            rest = &rest[1..];
            true
        }
        Some(b'+') => {
            rest = &rest[1..];
            false
        }
        _ => false,
    };
    if rest.is_empty() || !rest.iter().all(u8::is_ascii_digit) {
        return None;
    }
    // Accumulate towards the sign so that i64::MIN is representable.
    let mut value: i64 = 0;
    for &digit in rest {
        let digit = i64::from(digit - b'0');
        value = value.checked_mul(10)?;
        value = if negative {
            value.checked_sub(digit)?
        } else {
            value.checked_add(digit)?
        };
    }
    Some(value)
}

/// `DNSMASQ_LEASE_EXPIRES`: white space around the value is trimmed (old
/// dnsmasq versions appended a space), then parsed with
/// [`parse_c_long_long`]. Returns the trimmed text on error, for the message.
pub fn parse_lease_expires(raw: &[u8]) -> Result<i64, Vec<u8>> {
    let start = raw
        .iter()
        .position(|&b| !is_c_space(b))
        .unwrap_or(raw.len());
    let end = raw
        .iter()
        .rposition(|&b| !is_c_space(b))
        .map_or(start, |i| i + 1);
    let trimmed = &raw[start..end];
    parse_c_long_long(trimmed).ok_or_else(|| trimmed.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_plain_signed_and_padded_values() {
        assert_eq!(parse_lease_expires(b"1700000000"), Ok(1_700_000_000));
        assert_eq!(parse_lease_expires(b"0"), Ok(0));
        assert_eq!(parse_lease_expires(b"1700000000 "), Ok(1_700_000_000));
        assert_eq!(parse_lease_expires(b" \t+42\n"), Ok(42));
        assert_eq!(parse_lease_expires(b"-5"), Ok(-5));
        assert_eq!(parse_lease_expires(b"-0"), Ok(0));
        assert_eq!(parse_lease_expires(b"007"), Ok(7));
        assert_eq!(parse_lease_expires(b"9223372036854775807"), Ok(i64::MAX));
        assert_eq!(parse_lease_expires(b"-9223372036854775808"), Ok(i64::MIN));
    }

    #[test]
    fn rejects_what_strtoll_with_full_consumption_rejects() {
        for bad in [
            &b""[..],
            b"   ",
            b"0x10",
            b"1.5",
            b"1e5",
            b"12a",
            b"- 1",
            b"+",
            b"-",
            b"1 2",
            b"99999999999999999999",
            b"9223372036854775808",
            b"-9223372036854775809",
        ] {
            assert!(
                parse_lease_expires(bad).is_err(),
                "accepted {:?}",
                String::from_utf8_lossy(bad)
            );
        }
        assert_eq!(parse_lease_expires(b" 0x10 "), Err(b"0x10".to_vec()));
    }

    #[test]
    fn json_number_texts() {
        assert_eq!(parse_c_long_long(b"-0"), Some(0));
        assert_eq!(parse_c_long_long(b"1E5"), None);
        assert_eq!(parse_c_long_long(b"2.50"), None);
        assert_eq!(parse_c_long_long(b"12345678901234567890123"), None);
    }
}
