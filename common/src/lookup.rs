//! Name and address lookups over a [`LeaseDir`] snapshot, exactly as the
//! C modules answer on well-formed data (DECISIONS.md N7-N16, N22).

use std::collections::HashSet;
use std::net::IpAddr;

use crate::hostname::is_valid_hostname;
use crate::lease_dir::{FileSet, LeaseDir};
use crate::status_file::{Lease, LeaseFile};

/// The two NSS services.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Service {
    /// `libvirt`: matches the hostname a guest sent over DHCP.
    Libvirt,
    /// `libvirt_guest`: matches the libvirt domain name, through `.macs`.
    LibvirtGuest,
}

impl Service {
    pub fn files_read(self) -> FileSet {
        match self {
            Service::Libvirt => FileSet::Leases,
            Service::LibvirtGuest => FileSet::LeasesAndMacs,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Service::Libvirt => "libvirt",
            Service::LibvirtGuest => "libvirt_guest",
        }
    }

    /// Forward lookup of `name` (bytes as the caller gave them). The empty
    /// name never matches, not even a lease or domain with an empty name
    /// (N33). A name that is not a valid hostname still matches (N32): the
    /// answer's `h_name` is the caller's own query.
    pub fn lookup_name(self, dir: &LeaseDir, name: &[u8], family: Family, now: i64) -> Answer {
        if name.is_empty() {
            return Answer::NotFound;
        }
        match self {
            Service::Libvirt => lookup_hostname(dir, name, family, now),
            Service::LibvirtGuest => lookup_domain(dir, name, family, now),
        }
    }

    /// Reverse lookup: the name this service gives `address`, always a valid
    /// hostname (N32).
    pub fn lookup_address(self, dir: &LeaseDir, address: IpAddr, now: i64) -> Option<String> {
        match self {
            Service::Libvirt => hostname_of_address(dir, address, now),
            Service::LibvirtGuest => domain_of_address(dir, address, now),
        }
    }
}

/// Address families a query accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    V4,
    V6,
    /// Both, mixed (only `gethostbyname4_r` asks for this).
    Any,
}

impl Family {
    fn accepts(self, address: &IpAddr) -> bool {
        match self {
            Family::V4 => address.is_ipv4(),
            Family::V6 => address.is_ipv6(),
            Family::Any => true,
        }
    }
}

/// The outcome of a forward lookup.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    /// Live leases, de-duplicated, latest expiry first; never empty.
    Found(Vec<IpAddr>),
    /// The name has live leases, but none of the requested family.
    NoAddressOfFamily,
    NotFound,
}

/// `libvirt`: live leases whose hostname equals `name` ignoring ASCII case.
pub fn lookup_hostname(dir: &LeaseDir, name: &[u8], family: Family, now: i64) -> Answer {
    let mut collector = Collector::new(family, now);
    let mut ids = Vec::new();
    for file in dir.lease_files() {
        ids.clear();
        file.find_by_hostname(name, &mut ids);
        collector.add(file, &ids);
    }
    collector.finish()
}

/// `libvirt_guest`: live leases of any MAC that a `.macs` file lists for the
/// domain `name` (ignoring ASCII case), across all networks.
pub fn lookup_domain(dir: &LeaseDir, name: &[u8], family: Family, now: i64) -> Answer {
    let macs = macs_of_domain(dir, name);
    if macs.is_empty() {
        // Unlike C (UNAVAIL), an unknown domain is simply not found (N16).
        return Answer::NotFound;
    }
    lookup_macs(dir, &macs, family, now)
}

/// Live leases of any of `macs` (ignoring ASCII case, N8), across all
/// networks, ranked as a forward lookup ranks them. The SSH proxy asks this
/// with the MACs of a running domain's NICs.
pub fn lookup_macs<M: AsRef<str>>(dir: &LeaseDir, macs: &[M], family: Family, now: i64) -> Answer {
    let mut collector = Collector::new(family, now);
    let mut ids = Vec::new();
    for file in dir.lease_files() {
        ids.clear();
        for mac in macs {
            file.find_by_mac(mac.as_ref().as_bytes(), &mut ids);
        }
        ids.sort_unstable();
        ids.dedup();
        collector.add(file, &ids);
    }
    collector.finish()
}

/// Every MAC listed for `domain`, over all `.macs` files in name order.
pub fn macs_of_domain<'a>(dir: &'a LeaseDir, domain: &[u8]) -> Vec<&'a str> {
    let mut macs = Vec::new();
    for file in dir.macs_files() {
        file.for_each_mac_of_domain(domain, |mac| macs.push(mac));
    }
    macs
}

/// Gathers matching leases in visiting order (files by name, entries in file
/// order), then orders them as the C modules do.
struct Collector {
    family: Family,
    now: i64,
    any_live: bool,
    found: Vec<(IpAddr, i64)>,
    seen: HashSet<IpAddr>,
}

/// Below this many addresses a linear scan de-duplicates faster than hashing.
const LINEAR_DEDUP_LIMIT: usize = 16;

impl Collector {
    fn new(family: Family, now: i64) -> Collector {
        Collector {
            family,
            now,
            any_live: false,
            found: Vec::new(),
            seen: HashSet::new(),
        }
    }

    fn add(&mut self, file: &LeaseFile, ids: &[u32]) {
        for &id in ids {
            let lease = file.lease(id);
            if !lease.is_live(self.now) {
                continue;
            }
            self.any_live = true;
            if self.family.accepts(&lease.address) && self.first_sighting(lease.address) {
                self.found.push((lease.address, lease.expiry));
            }
        }
    }

    /// True the first time an address is offered (N11: first occurrence wins,
    /// with its expiry).
    fn first_sighting(&mut self, address: IpAddr) -> bool {
        if self.found.len() < LINEAR_DEDUP_LIMIT {
            return !self.found.iter().any(|(seen, _)| *seen == address);
        }
        if self.seen.is_empty() {
            self.seen.extend(self.found.iter().map(|(a, _)| *a));
        }
        self.seen.insert(address)
    }

    fn finish(mut self) -> Answer {
        if self.found.is_empty() {
            return if self.any_live {
                Answer::NoAddressOfFamily
            } else {
                Answer::NotFound
            };
        }
        // N12: latest expiry first, as signed 64-bit; stable, so ties keep
        // visiting order. Infinite leases (0) sort after every real timestamp.
        self.found
            .sort_by_key(|&(_, expiry)| std::cmp::Reverse(expiry));
        Answer::Found(self.found.into_iter().map(|(address, _)| address).collect())
    }
}

/// The live leases holding `address`, in the order a forward lookup would
/// rank them (latest expiry first, then files by name, then file order).
fn leases_holding(dir: &LeaseDir, address: IpAddr, now: i64) -> Vec<(&LeaseFile, &Lease)> {
    let mut holders = Vec::new();
    let mut ids = Vec::new();
    for file in dir.lease_files() {
        ids.clear();
        file.find_by_address(address, &mut ids);
        holders.extend(
            ids.iter()
                .map(|&id| (file, file.lease(id)))
                .filter(|(_, l)| l.is_live(now)),
        );
    }
    holders.sort_by_key(|(_, lease)| std::cmp::Reverse(lease.expiry));
    holders
}

/// `libvirt` reverse: the hostname of the best live lease on `address` that
/// has a valid one (N32: a lease whose hostname is not a valid hostname is
/// passed over like one without a hostname).
pub fn hostname_of_address(dir: &LeaseDir, address: IpAddr, now: i64) -> Option<String> {
    leases_holding(dir, address, now)
        .into_iter()
        .find_map(|(file, lease)| {
            file.hostname(lease)
                .filter(|h| is_valid_hostname(h.as_bytes()))
        })
        .map(str::to_owned)
}

/// `libvirt_guest` reverse: the domain owning the MAC of the best live lease
/// on `address` whose domain is a valid hostname (N32; libvirt allows any
/// domain name but `/`).
pub fn domain_of_address(dir: &LeaseDir, address: IpAddr, now: i64) -> Option<String> {
    leases_holding(dir, address, now)
        .into_iter()
        .find_map(|(file, lease)| {
            let mac = file.mac_key(lease)?;
            dir.macs_files()
                .find_map(|macs| macs.domain_of_mac(mac.as_bytes()))
                .filter(|domain| is_valid_hostname(domain.as_bytes()))
                .map(str::to_owned)
        })
}
