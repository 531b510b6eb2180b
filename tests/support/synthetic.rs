//! Generated lease dirs in the real writers' format (see `lease_format`):
//! K hosts over N networks (`virbr0..`), IPv4, IPv6 or dual stack, with
//! optional mixed-case names, expired and infinite leases, second NICs on the
//! next network, and `.macs` files.
//!
//! Host `i` is `vm-<i:06>` (`VM-<i:06>` when mixed case picks it), its domain
//! `dom-<i:06>` (or `Dom-…`); its first NIC sits on network `i % N`.

use std::collections::BTreeMap;

use crate::lease_format::{macs_file, status_file, DomainMacs, Lease};
use crate::temp_dir::TempDir;

pub const EXPIRED: i64 = 1_000_000_000;
pub const INFINITE: i64 = 0;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    V4,
    V6,
    Dual,
}

#[derive(Clone, Debug)]
pub struct Synthetic {
    pub hosts: usize,
    pub networks: usize,
    pub family: Family,
    /// Expiry of host 0's active leases; host `i` gets `active_expiry + i`.
    pub active_expiry: i64,
    /// Every 4th host (i % 4 == 1) is written in upper case.
    pub mixed_case: bool,
    /// i % 6 == 3: infinite leases; i % 6 == 4: expired leases.
    pub lifetimes: bool,
    /// i % 5 == 2 and not infinite: a second NIC on the next network
    /// (needs 2+ networks).
    pub multi_nic: bool,
    pub macs: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lifetime {
    Active,
    Infinite,
    Expired,
}

#[derive(Clone, Debug)]
pub struct SyntheticHost {
    /// As written in the lease file.
    pub hostname: String,
    /// As written in the `.macs` file.
    pub domain: String,
    pub lifetime: Lifetime,
    pub nics: usize,
}

impl Synthetic {
    pub fn new(hosts: usize, networks: usize, family: Family, active_expiry: i64) -> Synthetic {
        Synthetic {
            hosts,
            networks,
            family,
            active_expiry,
            mixed_case: false,
            lifetimes: false,
            multi_nic: false,
            macs: false,
        }
    }

    /// Every variation at once.
    pub fn everything(
        hosts: usize,
        networks: usize,
        family: Family,
        active_expiry: i64,
    ) -> Synthetic {
        Synthetic {
            mixed_case: true,
            lifetimes: true,
            multi_nic: true,
            macs: true,
            ..Synthetic::new(hosts, networks, family, active_expiry)
        }
    }

    pub fn write_into(&self, dir: &TempDir) -> Vec<SyntheticHost> {
        assert!(
            self.networks >= 1 && self.hosts < 1 << 15,
            "generator address plan"
        );
        let mut leases: BTreeMap<usize, Vec<Lease>> =
            (0..self.networks).map(|n| (n, Vec::new())).collect();
        let mut macs: BTreeMap<usize, BTreeMap<String, Vec<String>>> = BTreeMap::new();
        let mut hosts = Vec::with_capacity(self.hosts);
        for i in 0..self.hosts {
            let upper = self.mixed_case && i % 4 == 1;
            let hostname = if upper {
                format!("VM-{i:06}")
            } else {
                format!("vm-{i:06}")
            };
            let domain = if upper {
                format!("Dom-{i:06}")
            } else {
                format!("dom-{i:06}")
            };
            let lifetime = match i % 6 {
                3 if self.lifetimes => Lifetime::Infinite,
                4 if self.lifetimes => Lifetime::Expired,
                _ => Lifetime::Active,
            };
            // Not for infinite leases: two NICs in two files would tie at
            // expiry 0, and C orders ties across files by readdir order.
            let multi_nic =
                self.multi_nic && self.networks > 1 && i % 5 == 2 && lifetime != Lifetime::Infinite;
            let nics = if multi_nic { 2 } else { 1 };
            for nic in 0..nics {
                let net = (i + nic) % self.networks;
                let mac = format!(
                    "52:54:{nic:02x}:{:02x}:{:02x}:{:02x}",
                    i >> 16,
                    (i >> 8) & 0xff,
                    i & 0xff
                );
                let expiry = match lifetime {
                    Lifetime::Active => self.active_expiry + i as i64 - 1000 * nic as i64,
                    Lifetime::Infinite => INFINITE,
                    Lifetime::Expired => EXPIRED,
                };
                // Second NICs use the upper half of the third octet / a ::1:x
                // suffix so they never collide with another host's first NIC.
                let v4 = format!(
                    "10.{}.{}.{}",
                    net + 1,
                    ((i >> 8) & 0x7f) + 128 * nic,
                    i & 0xff
                );
                let v6 = format!(
                    "2001:db8:{:x}::{}{:x}",
                    net + 1,
                    if nic == 1 { "1:" } else { "" },
                    i + 0x10
                );
                let file = leases.get_mut(&net).expect("network");
                if self.family != Family::V6 {
                    file.push(Lease::v4(&v4, &mac, Some(&hostname), expiry));
                }
                if self.family != Family::V4 {
                    file.push(Lease::v6(i as u32 + 1, &v6, &mac, Some(&hostname), expiry));
                }
                macs.entry(net)
                    .or_default()
                    .entry(domain.clone())
                    .or_default()
                    .push(mac);
            }
            hosts.push(SyntheticHost {
                hostname,
                domain,
                lifetime,
                nics,
            });
        }
        for (net, file) in &leases {
            dir.write(&format!("virbr{net}.status"), status_file(file));
            if self.macs {
                let domains: Vec<DomainMacs> = macs
                    .get(net)
                    .into_iter()
                    .flatten()
                    .map(|(domain, macs)| DomainMacs {
                        domain: domain.clone(),
                        macs: macs.clone(),
                    })
                    .collect();
                dir.write(&format!("virbr{net}.macs"), macs_file(&domains));
            }
        }
        hosts
    }
}

/// `count` IPv4 leases for one name, all active, distinct expiries.
pub fn one_name_with_addresses(name: &str, count: usize, active_expiry: i64) -> Vec<Lease> {
    assert!(count < 1 << 16, "one /16");
    (0..count)
        .map(|i| {
            let ip = format!("10.200.{}.{}", i >> 8, i & 0xff);
            let mac = format!("52:54:00:c8:{:02x}:{:02x}", i >> 8, i & 0xff);
            Lease::v4(&ip, &mac, Some(name), active_expiry + i as i64)
        })
        .collect()
}

/// Seconds since the epoch.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs() as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_covers_every_variation() {
        let dir = TempDir::new("synthetic-plan");
        let hosts = Synthetic::everything(12, 3, Family::Dual, 2_000_000_000).write_into(&dir);
        assert_eq!(hosts[1].hostname, "VM-000001");
        assert_eq!(hosts[1].domain, "Dom-000001");
        assert_eq!(hosts[3].lifetime, Lifetime::Infinite);
        assert_eq!(hosts[4].lifetime, Lifetime::Expired);
        assert_eq!(hosts[2].nics, 2);
        let virbr0 = std::fs::read_to_string(dir.path().join("virbr0.status")).unwrap();
        // host 0: v4 + v6 on virbr0; host 2's second NIC lands on virbr0 (2+1 = 3 % 3).
        assert!(virbr0.contains("\"ip-address\": \"10.1.0.0\""), "{virbr0}");
        assert!(
            virbr0.contains("\"ip-address\": \"2001:db8:1::10\""),
            "{virbr0}"
        );
        assert!(
            virbr0.contains("\"ip-address\": \"10.1.128.2\""),
            "{virbr0}"
        );
        let virbr0_macs = std::fs::read_to_string(dir.path().join("virbr0.macs")).unwrap();
        assert!(
            virbr0_macs.contains(
                "\"domain\": \"dom-000002\",\n    \"macs\": [\n      \"52:54:01:00:00:02\""
            ),
            "{virbr0_macs}"
        );
    }
}
