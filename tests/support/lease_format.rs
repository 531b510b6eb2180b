//! The bytes the real writers produce: `<bridge>.status` from
//! `libvirt_leaseshelper` and `<bridge>.macs` from libvirtd's virMacMap, both
//! yajl "beautify" output, written through the lease helper's own writer
//! (`leasehelper::yajl_json`, checked against the C helper's files below).

// `::` because this crate has a `leasehelper` module of its own.
use ::leasehelper::yajl_json::{to_pretty_bytes, Value};

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

impl Lease {
    /// The lease as a JSON object, members in `virLeaseNew`'s order.
    fn to_json(&self) -> Value {
        let strings = [
            ("iaid", self.iaid.as_deref()),
            ("ip-address", Some(self.ip_address.as_str())),
            ("mac-address", Some(self.mac_address.as_str())),
            ("hostname", self.hostname.as_deref()),
            ("client-id", self.client_id.as_deref()),
            ("server-duid", self.server_duid.as_deref()),
        ];
        let mut members: Vec<(Vec<u8>, Value)> = strings
            .into_iter()
            .filter_map(|(key, value)| value.map(|v| member(key, string(v))))
            .collect();
        members.push(member(
            "expiry-time",
            Value::Number(self.expiry_time.to_string()),
        ));
        Value::Object(members)
    }
}

pub fn status_file(leases: &[Lease]) -> String {
    pretty(&Value::Array(leases.iter().map(Lease::to_json).collect()))
}

/// virMacMap writes domains in `strcmp` order; so does this.
pub fn macs_file(domains: &[DomainMacs]) -> String {
    let mut sorted: Vec<&DomainMacs> = domains.iter().filter(|d| !d.macs.is_empty()).collect();
    sorted.sort_by(|a, b| a.domain.as_bytes().cmp(b.domain.as_bytes()));
    pretty(&Value::Array(
        sorted
            .into_iter()
            .map(|d| {
                Value::Object(vec![
                    member("domain", string(&d.domain)),
                    member(
                        "macs",
                        Value::Array(d.macs.iter().map(|m| string(m)).collect()),
                    ),
                ])
            })
            .collect(),
    ))
}

fn string(s: &str) -> Value {
    Value::String(s.as_bytes().to_vec())
}

fn member(key: &str, value: Value) -> (Vec<u8>, Value) {
    (key.as_bytes().to_vec(), value)
}

fn pretty(document: &Value) -> String {
    let bytes = to_pretty_bytes(document).expect("yajl can write it");
    String::from_utf8(bytes).expect("written from UTF-8 strings")
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
        let lease = Lease::v4("10.0.0.1", "m", Some("a/b\"c\\\t\u{1}é"), FUT);
        assert!(status_file(&[lease]).contains("\"hostname\": \"a/b\\\"c\\\\\\t\\u0001é\""));
    }
}
