//! The lease list: merging the existing `<bridge>.status` document with an
//! event, as libvirt's `virLeaseNew` and `virLeaseReadCustomLeaseFile` do
//! (DECISIONS.md H7 is where we differ).

use std::fmt;

use crate::expiry;
use crate::invocation::Event;
use crate::yajl_json::Value;

/// Why the existing document cannot be used (the C helper fails the same
/// way; the file is left untouched).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeaseError {
    /// Valid JSON, but the top level is not an array.
    NotAnArray,
    /// Element `index` is not an object with a string `ip-address` and an
    /// integer `expiry-time`.
    MalformedEntry { index: usize },
}

impl fmt::Display for LeaseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LeaseError::NotAnArray => write!(f, "couldn't fetch array of leases (the file is not a JSON array)"),
            LeaseError::MalformedEntry { index } => write!(
                f,
                "failed to parse json: lease #{} lacks a string \"ip-address\" or an integer \"expiry-time\"",
                index + 1
            ),
        }
    }
}

/// The merged list, plus the server DUID known after reading it (from the
/// environment, else adopted from the first IPv6 lease that has one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergedLeases {
    pub leases: Vec<Value>,
    pub server_duid: Option<Vec<u8>>,
}

/// Whether an `ip-address` is IPv6: purely textual, as in C.
pub fn is_ipv6(ip: &[u8]) -> bool {
    ip.contains(&b':')
}

/// The `expiry-time` of a lease already checked by [`merge_existing`].
pub fn expiry_of(lease: &Value) -> Option<i64> {
    lease
        .number_member("expiry-time")
        .and_then(|t| expiry::parse_c_long_long(t.as_bytes()))
}

/// `virLeaseReadCustomLeaseFile`: validate every element, drop those whose
/// `ip-address` equals `delete_ip` (byte comparison), and make IPv6 leases
/// carry the server DUID. Members and number texts are kept as they are.
///
/// H7: where C would add `"server-duid": null` (no DUID known) nothing is
/// added, and a non-string `server-duid` already present (e.g. a `null`
/// written by the C helper) is replaced by the known DUID, or removed.
pub fn merge_existing(
    existing: Option<Value>,
    delete_ip: Option<&[u8]>,
    server_duid: Option<Vec<u8>>,
) -> Result<MergedLeases, LeaseError> {
    let mut server_duid = server_duid;
    let elements = match existing {
        None => Vec::new(),
        Some(Value::Array(elements)) => elements,
        Some(_) => return Err(LeaseError::NotAnArray),
    };
    let mut leases = Vec::with_capacity(elements.len());
    for (index, mut lease) in elements.into_iter().enumerate() {
        let Some(ip) = lease.string_member("ip-address").map(<[u8]>::to_vec) else {
            return Err(LeaseError::MalformedEntry { index });
        };
        if expiry_of(&lease).is_none() {
            return Err(LeaseError::MalformedEntry { index });
        }
        if delete_ip == Some(ip.as_slice()) {
            continue;
        }
        if is_ipv6(&ip) {
            if let Some(duid) = lease.string_member("server-duid") {
                if server_duid.is_none() {
                    server_duid = Some(duid.to_vec());
                }
            } else {
                set_or_remove_server_duid(&mut lease, server_duid.as_deref());
            }
        }
        leases.push(lease);
    }
    Ok(MergedLeases {
        leases,
        server_duid,
    })
}

/// For an IPv6 lease without a string `server-duid`: give it `duid` (in
/// place of a non-string value, else appended at the end, where C appends
/// it), or make sure it has no `server-duid` member at all.
fn set_or_remove_server_duid(lease: &mut Value, duid: Option<&[u8]>) {
    let Value::Object(members) = lease else {
        return;
    };
    let existing = members
        .iter()
        .position(|(k, _)| k.as_slice() == b"server-duid");
    match (existing, duid) {
        (Some(i), Some(duid)) => members[i].1 = Value::String(duid.to_vec()),
        (Some(i), None) => {
            members.remove(i);
        }
        (None, Some(duid)) => members.push((b"server-duid".to_vec(), Value::String(duid.to_vec()))),
        (None, None) => {}
    }
}

/// `virLeaseNew`: the lease an `add`/`old` event stores, or `None` when the
/// MAC is unknown (or, unlike C's out-of-bounds read, there is no IP).
/// Members in C's order: `iaid`, `ip-address`, `mac-address`, `hostname`,
/// `client-id`, `server-duid`, `expiry-time` (always; `0` if unset).
/// A bad `DNSMASQ_LEASE_EXPIRES` is an error carrying the trimmed text.
pub fn new_lease(event: &Event) -> Result<Option<Value>, Vec<u8>> {
    let (Some(mac), Some(ip)) = (&event.mac, &event.ip) else {
        return Ok(None);
    };
    let expiry = match &event.lease_expires {
        Some(raw) => expiry::parse_lease_expires(raw)?,
        None => 0,
    };
    let optional = [
        ("iaid", event.iaid.as_ref()),
        ("ip-address", Some(ip)),
        ("mac-address", Some(mac)),
        ("hostname", event.hostname.as_ref()),
        ("client-id", event.client_id.as_ref()),
        ("server-duid", event.server_duid.as_ref()),
    ];
    let mut members: Vec<(Vec<u8>, Value)> = optional
        .into_iter()
        .filter_map(|(key, value)| {
            value.map(|v| (key.as_bytes().to_vec(), Value::String(v.clone())))
        })
        .collect();
    members.push((b"expiry-time".to_vec(), Value::Number(expiry.to_string())));
    Ok(Some(Value::Object(members)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::invocation::Action;
    use crate::yajl_json::{parse, to_pretty_bytes};

    fn doc(text: &str) -> Option<Value> {
        Some(parse(text.as_bytes()).expect("valid test JSON"))
    }

    fn ips(merged: &MergedLeases) -> Vec<String> {
        merged
            .leases
            .iter()
            .map(|l| String::from_utf8(l.string_member("ip-address").unwrap().to_vec()).unwrap())
            .collect()
    }

    fn event(action: Action) -> Event {
        Event {
            action,
            interface: b"virbr0".to_vec(),
            mac: Some(b"52:54:00:00:00:01".to_vec()),
            ip: Some(b"192.168.122.10".to_vec()),
            hostname: None,
            client_id: None,
            iaid: None,
            server_duid: None,
            lease_expires: None,
        }
    }

    const TWO: &str = r#"[{"ip-address":"10.0.0.1","mac-address":"a","expiry-time":1},
                          {"ip-address":"10.0.0.2","mac-address":"b","expiry-time":2}]"#;

    #[test]
    fn delete_is_by_ip_string_only() {
        let merged = merge_existing(doc(TWO), Some(b"10.0.0.1"), None).unwrap();
        assert_eq!(ips(&merged), ["10.0.0.2"]);
        let merged = merge_existing(doc(TWO), Some(b"10.0.0.01"), None).unwrap();
        assert_eq!(ips(&merged), ["10.0.0.1", "10.0.0.2"]);
        let merged = merge_existing(
            doc(r#"[{"ip-address":"2001:db8::1","expiry-time":0}]"#),
            Some(b"2001:DB8::1"),
            None,
        );
        assert_eq!(merged.unwrap().leases.len(), 1);
    }

    #[test]
    fn empty_or_missing_document_gives_no_leases() {
        assert_eq!(merge_existing(None, None, None).unwrap().leases, vec![]);
        assert_eq!(
            merge_existing(doc("[]"), None, None).unwrap().leases,
            vec![]
        );
    }

    #[test]
    fn unknown_members_and_number_texts_survive() {
        let text = r#"[{"x-extra":{"n":[1.50,-0]},"ip-address":"10.0.0.1","expiry-time":-0,"big":12345678901234567890123}]"#;
        let merged = merge_existing(doc(text), None, None).unwrap();
        assert_eq!(
            merged.leases,
            match doc(text).unwrap() {
                Value::Array(a) => a,
                _ => unreachable!(),
            }
        );
    }

    #[test]
    fn malformed_documents_are_errors() {
        assert_eq!(
            merge_existing(doc(r#"{"a":1}"#), None, None),
            Err(LeaseError::NotAnArray)
        );
        assert_eq!(
            merge_existing(doc("null"), None, None),
            Err(LeaseError::NotAnArray)
        );
        for bad in [
            r#"[1]"#,
            r#"[{"expiry-time":1}]"#,
            r#"[{"ip-address":5,"expiry-time":1}]"#,
            r#"[{"ip-address":"a"}]"#,
            r#"[{"ip-address":"a","expiry-time":"1"}]"#,
            r#"[{"ip-address":"a","expiry-time":1.5}]"#,
            r#"[{"ip-address":"a","expiry-time":1E5}]"#,
            r#"[{"ip-address":"a","expiry-time":99999999999999999999}]"#,
        ] {
            assert!(
                matches!(
                    merge_existing(doc(bad), None, None),
                    Err(LeaseError::MalformedEntry { index: 0 })
                ),
                "{bad}"
            );
        }
        // an entry that is deleted must still be well formed
        let bad_second = r#"[{"ip-address":"a","expiry-time":1},{"ip-address":"b"}]"#;
        assert_eq!(
            merge_existing(doc(bad_second), Some(b"b"), None),
            Err(LeaseError::MalformedEntry { index: 1 })
        );
    }

    #[test]
    fn ipv6_leases_get_the_known_server_duid_appended() {
        let text = r#"[{"ip-address":"fd00::1","expiry-time":1},{"ip-address":"10.0.0.1","expiry-time":1}]"#;
        let merged = merge_existing(doc(text), None, Some(b"S".to_vec())).unwrap();
        assert_eq!(
            to_pretty_bytes(&Value::Array(merged.leases)).unwrap(),
            b"[\n  {\n    \"ip-address\": \"fd00::1\",\n    \"expiry-time\": 1,\n    \"server-duid\": \"S\"\n  },\n  {\n    \"ip-address\": \"10.0.0.1\",\n    \"expiry-time\": 1\n  }\n]\n".to_vec()
        );
    }

    #[test]
    fn server_duid_is_adopted_from_the_file_when_env_has_none() {
        let text = r#"[{"ip-address":"fd00::1","server-duid":"F1","expiry-time":1},
                       {"ip-address":"fd00::2","expiry-time":1},
                       {"ip-address":"fd00::3","server-duid":"F3","expiry-time":1}]"#;
        let merged = merge_existing(doc(text), None, None).unwrap();
        assert_eq!(merged.server_duid.as_deref(), Some(&b"F1"[..]));
        assert_eq!(
            merged.leases[1].string_member("server-duid"),
            Some(&b"F1"[..])
        );
        assert_eq!(
            merged.leases[2].string_member("server-duid"),
            Some(&b"F3"[..])
        );
        // the environment's DUID wins
        let merged = merge_existing(doc(text), None, Some(b"ENV".to_vec())).unwrap();
        assert_eq!(merged.server_duid.as_deref(), Some(&b"ENV"[..]));
        assert_eq!(
            merged.leases[1].string_member("server-duid"),
            Some(&b"ENV"[..])
        );
    }

    #[test]
    fn h7_never_null_and_tolerates_null() {
        // no DUID known: C would append "server-duid": null
        let merged = merge_existing(
            doc(r#"[{"ip-address":"fd00::1","expiry-time":1}]"#),
            None,
            None,
        )
        .unwrap();
        assert_eq!(merged.leases[0].member("server-duid"), None);
        // a null already in the file: removed when nothing is known ...
        let poisoned = r#"[{"ip-address":"fd00::1","expiry-time":1,"server-duid":null,"z":1}]"#;
        let merged = merge_existing(doc(poisoned), None, None).unwrap();
        assert_eq!(merged.leases[0].member("server-duid"), None);
        assert_eq!(merged.leases[0].number_member("z"), Some("1"));
        // ... replaced in place when one is known
        let merged = merge_existing(doc(poisoned), None, Some(b"S".to_vec())).unwrap();
        let Value::Object(members) = &merged.leases[0] else {
            panic!()
        };
        let keys: Vec<_> = members
            .iter()
            .map(|(k, _)| String::from_utf8(k.clone()).unwrap())
            .collect();
        assert_eq!(keys, ["ip-address", "expiry-time", "server-duid", "z"]);
        assert_eq!(
            merged.leases[0].string_member("server-duid"),
            Some(&b"S"[..])
        );
    }

    #[test]
    fn new_lease_member_order_and_expiry() {
        let mut e = event(Action::Add);
        e.iaid = Some(b"5".to_vec());
        e.hostname = Some(b"h".to_vec());
        e.client_id = Some(b"c".to_vec());
        e.server_duid = Some(b"s".to_vec());
        e.lease_expires = Some(b"1700000000 ".to_vec());
        let lease = new_lease(&e).unwrap().unwrap();
        let Value::Object(members) = &lease else {
            panic!()
        };
        let keys: Vec<_> = members
            .iter()
            .map(|(k, _)| String::from_utf8(k.clone()).unwrap())
            .collect();
        assert_eq!(
            keys,
            [
                "iaid",
                "ip-address",
                "mac-address",
                "hostname",
                "client-id",
                "server-duid",
                "expiry-time"
            ]
        );
        assert_eq!(lease.number_member("expiry-time"), Some("1700000000"));

        let e = event(Action::Add);
        let lease = new_lease(&e).unwrap().unwrap();
        assert_eq!(lease.number_member("expiry-time"), Some("0"));
        assert_eq!(lease.member("hostname"), None);
    }

    #[test]
    fn no_lease_without_mac_and_bad_expiry_is_an_error() {
        let mut e = event(Action::Add);
        e.lease_expires = Some(b"0x10".to_vec());
        assert_eq!(new_lease(&e), Err(b"0x10".to_vec()));
        e.mac = None;
        assert_eq!(new_lease(&e), Ok(None)); // expiry not even looked at
    }
}
