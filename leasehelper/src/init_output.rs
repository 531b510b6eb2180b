//! The `init` answer (libvirt's `virLeasePrintLeases`): the lease database
//! in dnsmasq's lease-file format, which dnsmasq reads from our stdout when
//! it runs with `--leasefile-ro`.

use crate::leases::{expiry_of, is_ipv6};
use crate::yajl_json::Value;

/// IPv4 leases first (`EXPIRY MAC IP HOST|* CLIENTID|*`), then, only if a
/// server DUID is known, `duid DUID` and the IPv6 leases
/// (`EXPIRY IAID IP HOST|* CLIENTDUID|*`). Missing `mac-address`/`iaid`
/// print as glibc's `(null)`; missing or non-string hostname/client-id as
/// `*`. File order is kept; expired leases are included.
pub fn render_init_output(leases: &[Value], server_duid: Option<&[u8]>) -> Vec<u8> {
    let mut out = Vec::new();
    for lease in leases.iter().filter(|l| !lease_is_ipv6(l)) {
        render_line(&mut out, lease, "mac-address");
    }
    if let Some(duid) = server_duid {
        out.extend_from_slice(b"duid ");
        out.extend_from_slice(duid);
        out.push(b'\n');
        for lease in leases.iter().filter(|l| lease_is_ipv6(l)) {
            render_line(&mut out, lease, "iaid");
        }
    }
    out
}

fn lease_is_ipv6(lease: &Value) -> bool {
    lease.string_member("ip-address").is_some_and(is_ipv6)
}

fn render_line(out: &mut Vec<u8>, lease: &Value, second_field: &str) {
    let Some(expiry) = expiry_of(lease) else {
        return; // C skips such a lease (cannot happen after merging)
    };
    out.extend_from_slice(expiry.to_string().as_bytes());
    for (key, missing) in [
        (second_field, &b"(null)"[..]),
        ("ip-address", b"(null)"),
        ("hostname", b"*"),
        ("client-id", b"*"),
    ] {
        out.push(b' ');
        out.extend_from_slice(lease.string_member(key).unwrap_or(missing));
    }
    out.push(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yajl_json::parse;

    fn leases(text: &str) -> Vec<Value> {
        match parse(text.as_bytes()).unwrap() {
            Value::Array(a) => a,
            _ => unreachable!(),
        }
    }

    const MIXED: &str = r#"[
        {"ip-address":"192.168.122.10","mac-address":"52:54:00:00:00:01","hostname":"host1","expiry-time":1700000000},
        {"iaid":"12345","ip-address":"2001:db8::10","mac-address":"m","hostname":"host6","client-id":"00:04:de:ad","expiry-time":1700000200},
        {"ip-address":"10.0.0.2","hostname":7,"client-id":"01:aa","expiry-time":-0},
        {"ip-address":"fd00::2","hostname":"","expiry-time":0}
    ]"#;

    #[test]
    fn matches_the_c_helper_example() {
        let out = render_init_output(&leases(MIXED), Some(b"00:01:00:01:aa:bb"));
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "1700000000 52:54:00:00:00:01 192.168.122.10 host1 *\n\
             0 (null) 10.0.0.2 * 01:aa\n\
             duid 00:01:00:01:aa:bb\n\
             1700000200 12345 2001:db8::10 host6 00:04:de:ad\n\
             0 (null) fd00::2  *\n"
        );
    }

    #[test]
    fn ipv6_leases_need_a_server_duid() {
        let out = render_init_output(&leases(MIXED), None);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "1700000000 52:54:00:00:00:01 192.168.122.10 host1 *\n0 (null) 10.0.0.2 * 01:aa\n"
        );
    }

    #[test]
    fn empty() {
        assert_eq!(render_init_output(&[], None), b"");
        assert_eq!(render_init_output(&[], Some(b"S")), b"duid S\n");
    }
}
