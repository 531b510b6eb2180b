//! Synthetic lease dirs in exactly the bytes the real writers produce:
//! `<bridge>.status` as `libvirt_leaseshelper` writes it and `<bridge>.macs`
//! as libvirtd's virMacMap writes it (yajl "beautify": 2-space indent, no
//! solidus escaping, file ends with `]\n`, an empty array is `[\n\n]\n`).
//! Key order is the order `virLeaseNew` appends them.
//!
//! Host `i` (0-based) is `vm-<i:06>` on network `i % N` (`virbr<net>`), its
//! libvirt domain `dom-<i:06>`; the hit name is host `K / 2`, the miss name
//! `no-such-host` never occurs.

use std::fmt::Write as _;
use std::fs;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

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

/// A JSON string as yajl writes it with libvirt's flags.
fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

enum Value {
    Str(String),
    Int(i64),
}

fn render_object(out: &mut String, members: &[(&str, Value)]) {
    out.push_str("  {\n");
    for (n, (key, value)) in members.iter().enumerate() {
        if n > 0 {
            out.push_str(",\n");
        }
        out.push_str("    ");
        out.push_str(&quote(key));
        out.push_str(": ");
        match value {
            Value::Str(s) => out.push_str(&quote(s)),
            Value::Int(v) => {
                let _ = write!(out, "{v}");
            }
        }
    }
    out.push_str("\n  }");
}

/// Renders a yajl-beautified array from already rendered objects.
fn render_array(objects: &[String]) -> String {
    if objects.is_empty() {
        return "[\n\n]\n".to_owned();
    }
    let mut out = String::with_capacity(objects.iter().map(|o| o.len() + 2).sum::<usize>() + 4);
    out.push_str("[\n");
    out.push_str(&objects.join(",\n"));
    out.push_str("\n]\n");
    out
}

fn v4_lease(i: usize, net: usize) -> String {
    let mac = mac(i, net);
    let mut out = String::new();
    render_object(
        &mut out,
        &[
            ("ip-address", Value::Str(v4(i).to_string())),
            ("mac-address", Value::Str(mac.clone())),
            ("hostname", Value::Str(hostname(i))),
            ("client-id", Value::Str(format!("01:{mac}"))),
            ("expiry-time", Value::Int(FAR_FUTURE)),
        ],
    );
    out
}

fn v6_lease(i: usize, net: usize) -> String {
    let client_id = (0..16)
        .map(|b| format!("{:02x}", ((i as u128) >> (8 * b)) & 0xff))
        .collect::<Vec<_>>()
        .join(":");
    let mut out = String::new();
    render_object(
        &mut out,
        &[
            (
                "iaid",
                Value::Str(((i as u64 * 2_654_435_761) & 0x7fff_ffff).to_string()),
            ),
            ("ip-address", Value::Str(v6(i, net).to_string())),
            ("mac-address", Value::Str(mac(i, net))),
            ("hostname", Value::Str(hostname(i))),
            ("client-id", Value::Str(format!("00:04:{client_id}"))),
            ("server-duid", Value::Str(SERVER_DUID.to_owned())),
            ("expiry-time", Value::Int(FAR_FUTURE)),
        ],
    );
    out
}

fn macs_entry(i: usize, net: usize) -> String {
    format!(
        "  {{\n    \"domain\": {},\n    \"macs\": [\n      {}\n    ]\n  }}",
        quote(&domain(i)),
        quote(&mac(i, net))
    )
}

/// Writes `virbr0..virbr<networks-1>` `.status` and `.macs` files for
/// `count` hosts into `out` (created, mode 0755; files 0644).
pub fn generate(out: &Path, count: usize, networks: usize, family: Family) -> io::Result<()> {
    let networks = networks.max(1);
    let mut status: Vec<Vec<String>> = vec![Vec::new(); networks];
    let mut macs: Vec<Vec<String>> = vec![Vec::new(); networks];
    for i in 0..count {
        let net = i % networks;
        status[net].push(v4_lease(i, net));
        if family == Family::Dual {
            status[net].push(v6_lease(i, net));
        }
        // Domain names are zero-padded, so host order is virMacMap's
        // sorted-by-name order.
        macs[net].push(macs_entry(i, net));
    }
    fs::create_dir_all(out)?;
    fs::set_permissions(out, fs::Permissions::from_mode(0o755))?;
    for net in 0..networks {
        for (ext, objects) in [("status", &status[net]), ("macs", &macs[net])] {
            let path = out.join(format!("virbr{net}.{ext}"));
            fs::write(&path, render_array(objects))?;
            fs::set_permissions(&path, fs::Permissions::from_mode(0o644))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v4_lease_bytes() {
        assert_eq!(
            v4_lease(1, 0),
            "  {\n    \"ip-address\": \"10.0.0.2\",\n    \"mac-address\": \"52:54:00:00:00:01\",\n    \
             \"hostname\": \"vm-000001\",\n    \"client-id\": \"01:52:54:00:00:00:01\",\n    \
             \"expiry-time\": 4102444800\n  }"
        );
    }

    #[test]
    fn v6_address_and_empty_array() {
        assert_eq!(v6(0, 0).to_string(), "2001:db8:1::10");
        assert_eq!(render_array(&[]), "[\n\n]\n");
    }
}
