//! The bytes the real writers produce: `<bridge>.status` from
//! `libvirt_leaseshelper` and `<bridge>.macs` from libvirtd's virMacMap, both
//! yajl "beautify" output (2-space indent, `/` and UTF-8 unescaped, trailing
//! newline, an empty array as `[\n\n]\n`).

/// One lease, with the keys in the order `virLeaseNew` writes them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lease {
    pub iaid: Option<String>,
    pub ip_address: String,
    pub mac_address: String,
    pub hostname: Option<String>,
    pub client_id: Option<String>,
    pub server_duid: Option<String>,
    pub expiry_time: i64,
}

pub const SERVER_DUID: &str = "00:01:00:01:2c:6e:4a:1e:52:54:00:ca:02:01";

impl Lease {
    /// A DHCPv4 lease as dnsmasq reports it (client id `01:<mac>`).
    pub fn v4(ip: &str, mac: &str, hostname: Option<&str>, expiry: i64) -> Lease {
        Lease {
            iaid: None,
            ip_address: ip.to_owned(),
            mac_address: mac.to_owned(),
            hostname: hostname.map(str::to_owned),
            client_id: Some(format!("01:{mac}")),
            server_duid: None,
            expiry_time: expiry,
        }
    }

    /// A DHCPv6 lease of a client using a DUID-LL of its MAC.
    pub fn v6(iaid: u32, ip: &str, mac: &str, hostname: Option<&str>, expiry: i64) -> Lease {
        Lease {
            iaid: Some(iaid.to_string()),
            ip_address: ip.to_owned(),
            mac_address: mac.to_owned(),
            hostname: hostname.map(str::to_owned),
            client_id: Some(format!("00:03:00:01:{mac}")),
            server_duid: Some(SERVER_DUID.to_owned()),
            expiry_time: expiry,
        }
    }
}

/// One domain of a `.macs` file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DomainMacs {
    pub domain: String,
    pub macs: Vec<String>,
}

pub fn status_file(leases: &[Lease]) -> String {
    array(leases.iter().map(|lease| {
        let mut members = Vec::new();
        let mut string = |key: &str, value: &Option<String>| {
            if let Some(value) = value {
                members.push(format!("    {}: {}", quote(key), quote(value)));
            }
        };
        string("iaid", &lease.iaid);
        string("ip-address", &Some(lease.ip_address.clone()));
        string("mac-address", &Some(lease.mac_address.clone()));
        string("hostname", &lease.hostname);
        string("client-id", &lease.client_id);
        string("server-duid", &lease.server_duid);
        members.push(format!("    \"expiry-time\": {}", lease.expiry_time));
        format!("  {{\n{}\n  }}", members.join(",\n"))
    }))
}

/// virMacMap writes domains in `strcmp` order; so does this.
pub fn macs_file(domains: &[DomainMacs]) -> String {
    let mut sorted: Vec<&DomainMacs> = domains.iter().filter(|d| !d.macs.is_empty()).collect();
    sorted.sort_by(|a, b| a.domain.as_bytes().cmp(b.domain.as_bytes()));
    array(sorted.into_iter().map(|d| {
        let macs: Vec<String> = d
            .macs
            .iter()
            .map(|m| format!("      {}", quote(m)))
            .collect();
        format!(
            "  {{\n    \"domain\": {},\n    \"macs\": [\n{}\n    ]\n  }}",
            quote(&d.domain),
            macs.join(",\n")
        )
    }))
}

fn array(elements: impl Iterator<Item = String>) -> String {
    let elements: Vec<String> = elements.collect();
    format!("[\n{}\n]\n", elements.join(",\n"))
}

/// A JSON string as yajl_gen_string escapes it with libvirt's flags.
fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::temp_dir::fixtures_dir;

    const FUT: i64 = 4_102_444_800;

    fn fixture(path: &str) -> String {
        std::fs::read_to_string(fixtures_dir().join(path)).expect("fixture")
    }

    /// tests/fixtures/sunny-dual-stack/virbr1.status was written by the real
    /// C lease helper (scripts/make-fixtures.sh).
    #[test]
    fn status_file_matches_the_real_helper_byte_for_byte() {
        let leases = [
            Lease::v6(
                1,
                "2001:db8:124::10",
                "52:54:00:10:01:01",
                Some("vm-alpha"),
                FUT + 100,
            ),
            Lease::v4(
                "192.168.124.20",
                "52:54:00:10:01:02",
                Some("vm-beta"),
                FUT - 100,
            ),
            Lease::v6(
                2,
                "2001:db8:124::20",
                "52:54:00:10:01:02",
                Some("vm-beta"),
                FUT,
            ),
            Lease::v4(
                "192.168.124.30",
                "52:54:00:10:01:03",
                Some("mn-eth1"),
                FUT + 6,
            ),
            Lease::v6(
                3,
                "2001:db8:124::30",
                "52:54:00:10:01:03",
                Some("mn-eth1"),
                FUT + 6,
            ),
            Lease::v6(
                4,
                "2001:db8:124::40",
                "52:54:00:10:01:04",
                Some("vm-gone6"),
                1_000_000_000,
            ),
            Lease::v4(
                "192.168.124.15",
                "52:54:00:10:01:05",
                Some("WEB-SERVER01"),
                FUT + 7,
            ),
        ];
        assert_eq!(
            status_file(&leases),
            fixture("sunny-dual-stack/virbr1.status")
        );
    }

    #[test]
    fn lease_without_hostname_omits_the_key() {
        let lease = Lease::v4("192.168.122.14", "52:54:00:10:00:05", None, FUT);
        let expected = "[\n  {\n    \"ip-address\": \"192.168.122.14\",\n    \"mac-address\": \"52:54:00:10:00:05\",\n    \"client-id\": \"01:52:54:00:10:00:05\",\n    \"expiry-time\": 4102444800\n  }\n]\n";
        assert_eq!(status_file(&[lease]), expected);
    }

    #[test]
    fn empty_files_are_an_empty_yajl_array() {
        assert_eq!(status_file(&[]), "[\n\n]\n");
        assert_eq!(macs_file(&[]), "[\n\n]\n");
        assert_eq!(macs_file(&[]), fixture("sunny-dual-stack/virbr2.macs"));
    }

    #[test]
    fn macs_file_matches_libvirts_layout_and_order() {
        let domain = |name: &str, macs: &[&str]| DomainMacs {
            domain: name.to_owned(),
            macs: macs.iter().map(|m| (*m).to_owned()).collect(),
        };
        // libvirt's own tests/nssdata/virbr0.macs (not sorted: hand-made).
        let upstream = [
            domain("fedora", &["52:54:00:a4:6f:91", "52:54:00:a4:6f:92"]),
            domain("gentoo", &["52:54:00:3a:b5:0c"]),
        ];
        assert!(fixture("libvirt-upstream-nssdata/virbr0.macs")
            .starts_with(macs_file(&upstream).trim_end_matches("\n]\n")));
        let sunny = [
            domain("web", &["52:54:00:10:01:05"]),
            domain("alpha", &["52:54:00:10:01:01"]),
            domain("Multi-NIC", &["52:54:00:10:01:03"]),
            domain("beta", &["52:54:00:10:01:02"]),
            domain("gone6", &["52:54:00:10:01:04"]),
        ];
        assert_eq!(macs_file(&sunny), fixture("sunny-dual-stack/virbr1.macs"));
    }

    #[test]
    fn strings_are_escaped_like_yajl() {
        assert_eq!(quote("a/b\"c\\\t\u{1}é"), "\"a/b\\\"c\\\\\\t\\u0001é\"");
    }
}
