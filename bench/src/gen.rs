//! Synthetic lease dirs in exactly the bytes the real writers produce:
//! `<bridge>.status` as `libvirt_leaseshelper` writes it and `<bridge>.macs`
//! as libvirtd's virMacMap writes it, both yajl "beautify" output, written
//! through the lease helper's own writer (`leasehelper::yajl_json`). Key
//! order is the order `virLeaseNew` appends them.
//!
//! Host `i` (0-based) is `vm-<i:06>` on network `i % N` (`virbr<net>`), its
//! libvirt domain `dom-<i:06>`; the hit name is host `K / 2`, the miss name
//! `no-such-host` never occurs.

use std::fs;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use leasehelper::yajl_json::{to_pretty_bytes, Value};

/// 2100-01-01T00:00:00Z: every generated lease is live.
pub const FAR_FUTURE: i64 = 4_102_444_800;
const SERVER_DUID: &str = "00:01:00:01:2c:6e:4a:1e:52:54:00:00:00:01";
pub const MISS_NAME: &str = "no-such-host";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    V4,
    Dual,
}

impl Family {
    pub fn parse(s: &str) -> Option<Family> {
        match s {
            "v4" => Some(Family::V4),
            "dual" => Some(Family::Dual),
            _ => None,
        }
    }
}

pub fn hostname(i: usize) -> String {
    format!("vm-{i:06}")
}

pub fn domain(i: usize) -> String {
    format!("dom-{i:06}")
}

fn mac(i: usize, net: usize) -> String {
    format!(
        "52:54:{:02x}:{:02x}:{:02x}:{:02x}",
        net & 0xff,
        (i >> 16) & 0xff,
        (i >> 8) & 0xff,
        i & 0xff
    )
}

fn v4(i: usize) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(Ipv4Addr::new(10, 0, 0, 0)) + 1 + i as u32)
}

fn v6(i: usize, net: usize) -> Ipv6Addr {
    let base = (0x2001_0db8_u128 << 96) | (((net as u128) + 1) << 80);
    Ipv6Addr::from(base + 0x10 + i as u128)
}

fn string(s: impl Into<String>) -> Value {
    Value::String(s.into().into_bytes())
}

/// A JSON object with its members in the order given.
fn object(members: Vec<(&str, Value)>) -> Value {
    Value::Object(
        members
            .into_iter()
            .map(|(key, value)| (key.as_bytes().to_vec(), value))
            .collect(),
    )
}

fn v4_lease(i: usize, net: usize) -> Value {
    let mac = mac(i, net);
    object(vec![
        ("ip-address", string(v4(i).to_string())),
        ("mac-address", string(mac.clone())),
        ("hostname", string(hostname(i))),
        ("client-id", string(format!("01:{mac}"))),
        ("expiry-time", Value::Number(FAR_FUTURE.to_string())),
    ])
}

fn v6_lease(i: usize, net: usize) -> Value {
    let client_id = (0..16)
        .map(|b| format!("{:02x}", ((i as u128) >> (8 * b)) & 0xff))
        .collect::<Vec<_>>()
        .join(":");
    object(vec![
        (
            "iaid",
            string(((i as u64 * 2_654_435_761) & 0x7fff_ffff).to_string()),
        ),
        ("ip-address", string(v6(i, net).to_string())),
        ("mac-address", string(mac(i, net))),
        ("hostname", string(hostname(i))),
        ("client-id", string(format!("00:04:{client_id}"))),
        ("server-duid", string(SERVER_DUID)),
        ("expiry-time", Value::Number(FAR_FUTURE.to_string())),
    ])
}

fn macs_entry(i: usize, net: usize) -> Value {
    object(vec![
        ("domain", string(domain(i))),
        ("macs", Value::Array(vec![string(mac(i, net))])),
    ])
}

/// Writes `document` as the lease helper does, mode 0644.
fn write(path: &Path, document: &Value) -> io::Result<()> {
    let bytes = to_pretty_bytes(document)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
    fs::write(path, bytes)?;
    fs::set_permissions(path, fs::Permissions::from_mode(0o644))
}

/// Writes `virbr0..virbr<networks-1>` `.status` and `.macs` files for
/// `count` hosts into `out` (created, mode 0755; files 0644).
pub fn generate(out: &Path, count: usize, networks: usize, family: Family) -> io::Result<()> {
    let networks = networks.max(1);
    fs::create_dir_all(out)?;
    fs::set_permissions(out, fs::Permissions::from_mode(0o755))?;
    for net in 0..networks {
        let mut status = Vec::new();
        let mut macs = Vec::new();
        for i in (net..count).step_by(networks) {
            status.push(v4_lease(i, net));
            if family == Family::Dual {
                status.push(v6_lease(i, net));
            }
            // Domain names are zero-padded, so host order is virMacMap's
            // sorted-by-name order.
            macs.push(macs_entry(i, net));
        }
        write(
            &out.join(format!("virbr{net}.status")),
            &Value::Array(status),
        )?;
        write(&out.join(format!("virbr{net}.macs")), &Value::Array(macs))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v4_lease_bytes() {
        assert_eq!(
            to_pretty_bytes(&Value::Array(vec![v4_lease(1, 0)])).unwrap(),
            b"[\n  {\n    \"ip-address\": \"10.0.0.2\",\n    \"mac-address\": \"52:54:00:00:00:01\",\n    \
              \"hostname\": \"vm-000001\",\n    \"client-id\": \"01:52:54:00:00:00:01\",\n    \
              \"expiry-time\": 4102444800\n  }\n]\n"
        );
    }

    #[test]
    fn v6_address() {
        assert_eq!(v6(0, 0).to_string(), "2001:db8:1::10");
    }
}
