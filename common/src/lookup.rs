//! Name and address lookups over a [`LeaseDir`] snapshot, exactly as the
//! C modules answer on well-formed data (DECISIONS.md N7-N16, N22).

use std::collections::HashSet;
use std::net::IpAddr;

use crate::hostname::is_valid_hostname;
use crate::lease_dir::{FileSet, LeaseDir};
use crate::status_file::{Lease, LeaseFile};
use crate::OutOfMemory;

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
        infallible(self.try_lookup_name(dir, name, family, now))
    }

    /// [`lookup_name`](Self::lookup_name), failing instead of aborting when
    /// an allocation fails (N30): what the NSS entry points call.
    pub fn try_lookup_name(
        self,
        dir: &LeaseDir,
        name: &[u8],
        family: Family,
        now: i64,
    ) -> Result<Answer, OutOfMemory> {
        if name.is_empty() {
            return Ok(Answer::NotFound);
        }
        match self {
            Service::Libvirt => try_lookup_hostname(dir, name, family, now),
            Service::LibvirtGuest => try_lookup_domain(dir, name, family, now),
        }
    }

    /// Reverse lookup: the name this service gives `address`, always a valid
    /// hostname (N32).
    pub fn lookup_address(self, dir: &LeaseDir, address: IpAddr, now: i64) -> Option<String> {
        infallible(self.try_lookup_address(dir, address, now))
    }

    /// [`lookup_address`](Self::lookup_address), failing instead of aborting
    /// when an allocation fails (N30).
    pub fn try_lookup_address(
        self,
        dir: &LeaseDir,
        address: IpAddr,
        now: i64,
    ) -> Result<Option<String>, OutOfMemory> {
        match self {
            Service::Libvirt => try_hostname_of_address(dir, address, now),
            Service::LibvirtGuest => try_domain_of_address(dir, address, now),
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

/// What the infallible functions (for the CLI and the SSH proxy) do when an
/// allocation fails: what an infallible `Vec::push` would do.
fn infallible<T>(result: Result<T, OutOfMemory>) -> T {
    result.unwrap_or_else(|OutOfMemory| crate::status_file::out_of_memory())
}

/// `libvirt`: live leases whose hostname equals `name` ignoring ASCII case.
pub fn lookup_hostname(dir: &LeaseDir, name: &[u8], family: Family, now: i64) -> Answer {
    infallible(try_lookup_hostname(dir, name, family, now))
}

fn try_lookup_hostname(
    dir: &LeaseDir,
    name: &[u8],
    family: Family,
    now: i64,
) -> Result<Answer, OutOfMemory> {
    let mut collector = Collector::new(family, now);
    let mut ids = Vec::new();
    for file in dir.lease_files() {
        ids.clear();
        file.try_find_by_hostname(name, &mut ids)?;
        collector.add(file, &ids)?;
    }
    collector.finish()
}

/// `libvirt_guest`: live leases of any MAC that a `.macs` file lists for the
/// domain `name` (ignoring ASCII case), across all networks.
pub fn lookup_domain(dir: &LeaseDir, name: &[u8], family: Family, now: i64) -> Answer {
    infallible(try_lookup_domain(dir, name, family, now))
}

fn try_lookup_domain(
    dir: &LeaseDir,
    name: &[u8],
    family: Family,
    now: i64,
) -> Result<Answer, OutOfMemory> {
    let macs = try_macs_of_domain(dir, name)?;
    if macs.is_empty() {
        // Unlike C (UNAVAIL), an unknown domain is simply not found (N16).
        return Ok(Answer::NotFound);
    }
    try_lookup_macs(dir, &macs, family, now)
}

/// Live leases of any of `macs` (ignoring ASCII case, N8), across all
/// networks, ranked as a forward lookup ranks them. The SSH proxy asks this
/// with the MACs of a running domain's NICs.
pub fn lookup_macs<M: AsRef<str>>(dir: &LeaseDir, macs: &[M], family: Family, now: i64) -> Answer {
    infallible(try_lookup_macs(dir, macs, family, now))
}

fn try_lookup_macs<M: AsRef<str>>(
    dir: &LeaseDir,
    macs: &[M],
    family: Family,
    now: i64,
) -> Result<Answer, OutOfMemory> {
    let mut collector = Collector::new(family, now);
    let mut ids = Vec::new();
    for file in dir.lease_files() {
        ids.clear();
        for mac in macs {
            file.try_find_by_mac(mac.as_ref().as_bytes(), &mut ids)?;
        }
        ids.sort_unstable();
        ids.dedup();
        collector.add(file, &ids)?;
    }
    collector.finish()
}

/// Every MAC listed for `domain`, over all `.macs` files in name order.
pub fn macs_of_domain<'a>(dir: &'a LeaseDir, domain: &[u8]) -> Vec<&'a str> {
    infallible(try_macs_of_domain(dir, domain))
}

fn try_macs_of_domain<'a>(dir: &'a LeaseDir, domain: &[u8]) -> Result<Vec<&'a str>, OutOfMemory> {
    let mut macs = Vec::new();
    let mut result = Ok(());
    for file in dir.macs_files() {
        file.try_for_each_mac_of_domain(domain, |mac| {
            if result.is_ok() {
                result = macs.try_reserve(1).map(|()| macs.push(mac));
            }
        })?;
    }
    result?;
    Ok(macs)
}

/// Gathers matching leases in visiting order (files by name, entries in file
/// order), then orders them as the C modules do.
struct Collector {
    family: Family,
    now: i64,
    any_live: bool,
    /// Expiry, visiting rank, address.
    found: Vec<(i64, u32, IpAddr)>,
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

    fn add(&mut self, file: &LeaseFile, ids: &[u32]) -> Result<(), OutOfMemory> {
        for &id in ids {
            let lease = file.lease(id);
            if !lease.is_live(self.now) {
                continue;
            }
            self.any_live = true;
            if self.family.accepts(&lease.address) && self.first_sighting(lease.address)? {
                self.found.try_reserve(1)?;
                let rank = self.found.len() as u32;
                self.found.push((lease.expiry, rank, lease.address));
            }
        }
        Ok(())
    }

    /// True the first time an address is offered (N11: first occurrence wins,
    /// with its expiry).
    fn first_sighting(&mut self, address: IpAddr) -> Result<bool, OutOfMemory> {
        if self.found.len() < LINEAR_DEDUP_LIMIT {
            return Ok(!self.found.iter().any(|(_, _, seen)| *seen == address));
        }
        if self.seen.is_empty() {
            self.seen.try_reserve(self.found.len() * 2)?;
            self.seen.extend(self.found.iter().map(|(_, _, a)| *a));
        }
        self.seen.try_reserve(1)?;
        Ok(self.seen.insert(address))
    }

    fn finish(mut self) -> Result<Answer, OutOfMemory> {
        if self.found.is_empty() {
            return Ok(if self.any_live {
                Answer::NoAddressOfFamily
            } else {
                Answer::NotFound
            });
        }
        // N12: latest expiry first, as signed 64-bit; ties keep visiting
        // order (the rank: an unstable sort, which allocates nothing, gives
        // the stable order). Infinite leases (0) sort after every real
        // timestamp.
        self.found
            .sort_unstable_by_key(|&(expiry, rank, _)| (std::cmp::Reverse(expiry), rank));
        let mut addresses = Vec::new();
        addresses.try_reserve_exact(self.found.len())?;
        addresses.extend(self.found.iter().map(|&(_, _, address)| address));
        Ok(Answer::Found(addresses))
    }
}

/// What `pick` gives for the first live lease holding `address`, in the
/// order a forward lookup would rank them (latest expiry first, then files
/// by name, then file order), among those it gives something for. Allocates
/// nothing but the id list (N30).
fn best_holder<'a, T>(
    dir: &'a LeaseDir,
    address: IpAddr,
    now: i64,
    mut pick: impl FnMut(&'a LeaseFile, &'a Lease) -> Option<T>,
) -> Result<Option<T>, OutOfMemory> {
    let mut best: Option<(i64, T)> = None;
    let mut ids = Vec::new();
    for file in dir.lease_files() {
        ids.clear();
        file.try_find_by_address(address, &mut ids)?;
        for &id in &ids {
            let lease = file.lease(id);
            // A later lease of the same expiry ranks after the one we hold.
            if !lease.is_live(now) || best.as_ref().is_some_and(|(e, _)| *e >= lease.expiry) {
                continue;
            }
            if let Some(value) = pick(file, lease) {
                best = Some((lease.expiry, value));
            }
        }
    }
    Ok(best.map(|(_, value)| value))
}

/// A copy of `text`, allocated fallibly.
fn owned(text: &str) -> Result<String, OutOfMemory> {
    let mut copy = String::new();
    copy.try_reserve_exact(text.len())?;
    copy.push_str(text);
    Ok(copy)
}

/// `libvirt` reverse: the hostname of the best live lease on `address` that
/// has a valid one (N32: a lease whose hostname is not a valid hostname is
/// passed over like one without a hostname).
pub fn hostname_of_address(dir: &LeaseDir, address: IpAddr, now: i64) -> Option<String> {
    infallible(try_hostname_of_address(dir, address, now))
}

fn try_hostname_of_address(
    dir: &LeaseDir,
    address: IpAddr,
    now: i64,
) -> Result<Option<String>, OutOfMemory> {
    best_holder(dir, address, now, |file, lease| {
        file.hostname(lease)
            .filter(|h| is_valid_hostname(h.as_bytes()))
    })?
    .map(owned)
    .transpose()
}

/// `libvirt_guest` reverse: the domain owning the MAC of the best live lease
/// on `address` whose domain is a valid hostname (N32; libvirt allows any
/// domain name but `/`).
pub fn domain_of_address(dir: &LeaseDir, address: IpAddr, now: i64) -> Option<String> {
    infallible(try_domain_of_address(dir, address, now))
}

fn try_domain_of_address(
    dir: &LeaseDir,
    address: IpAddr,
    now: i64,
) -> Result<Option<String>, OutOfMemory> {
    // The MAC indexes are built on first use: here, where that may fail.
    for macs in dir.macs_files() {
        macs.try_mac_index()?;
    }
    best_holder(dir, address, now, |file, lease| {
        let mac = file.mac_key(lease)?;
        dir.macs_files()
            .find_map(|macs| macs.domain_of_mac(mac.as_bytes()))
            .filter(|domain| is_valid_hostname(domain.as_bytes()))
    })?
    .map(owned)
    .transpose()
}
