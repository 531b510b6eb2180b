//! MAC address recovery from a DHCPv6 client DUID (DECISIONS.md H8).

/// dnsmasq passes the client DUID as colon-separated hex bytes. If it is a
/// DUID-LLT (type 1) or DUID-LL (type 3) with hardware type 1 (Ethernet),
/// return the embedded link-layer address as a lowercase `xx:xx:xx:xx:xx:xx`
/// string; any other DUID (DUID-EN, DUID-UUID, other hardware) yields `None`.
///
/// * DUID-LLT: `00:01` `00:01` + 4 bytes of time + 6 bytes of MAC (14 bytes)
/// * DUID-LL:  `00:03` `00:01` + 6 bytes of MAC (10 bytes)
pub fn mac_from_client_duid(duid: &[u8]) -> Option<Vec<u8>> {
    let bytes = parse_hex_colon(duid)?;
    let mac = match bytes.as_slice() {
        [0, 1, 0, 1, _, _, _, _, mac @ ..] if mac.len() == 6 => mac,
        [0, 3, 0, 1, mac @ ..] if mac.len() == 6 => mac,
        _ => return None,
    };
    let text = mac
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":");
    Some(text.into_bytes())
}

/// `aa:0b:..` → bytes; every group must be one or two hex digits.
fn parse_hex_colon(text: &[u8]) -> Option<Vec<u8>> {
    text.split(|&c| c == b':')
        .map(|group| {
            if group.is_empty() || group.len() > 2 {
                return None;
            }
            let group = std::str::from_utf8(group).ok()?;
            u8::from_str_radix(group, 16).ok()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mac(duid: &str) -> Option<String> {
        mac_from_client_duid(duid.as_bytes()).map(|m| String::from_utf8(m).unwrap())
    }

    #[test]
    fn duid_ll_ethernet() {
        assert_eq!(
            mac("00:03:00:01:52:54:00:12:30:00").as_deref(),
            Some("52:54:00:12:30:00")
        );
        assert_eq!(
            mac("00:03:00:01:52:54:00:AB:CD:EF").as_deref(),
            Some("52:54:00:ab:cd:ef")
        );
    }

    #[test]
    fn duid_llt_ethernet() {
        assert_eq!(
            mac("00:01:00:01:2c:6e:4a:1e:52:54:00:ca:02:01").as_deref(),
            Some("52:54:00:ca:02:01")
        );
    }

    #[test]
    fn other_duids_give_nothing() {
        assert_eq!(
            mac("00:04:b1:6e:a4:36:f1:4c:77:97:96:c5:17:3e:d1:0a:9e:01"),
            None
        ); // UUID
        assert_eq!(mac("00:02:00:00:ab:11:01:02:03:04"), None); // EN
        assert_eq!(mac("00:03:00:06:52:54:00:12:30:00"), None); // not Ethernet
        assert_eq!(mac("00:03:00:01:52:54:00:12:30"), None); // too short
        assert_eq!(mac("00:03:00:01:52:54:00:12:30:00:11"), None); // too long
        assert_eq!(mac("00:01:00:01:52:54:00:12:30:00"), None); // LLT without time
        assert_eq!(mac("00:03:00:01:52:54:00:12:30:zz"), None);
        assert_eq!(mac("00:03:00:01:52:54:00:12:30:"), None);
        assert_eq!(mac("00:03:00:01:52:54:00:12:30:000"), None);
        assert_eq!(mac(""), None);
    }
}
