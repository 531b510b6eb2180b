//! `resolve`: exactly what one module returns for one query.

use std::io::{self, Write};
use std::net::IpAddr;

use common::{Answer, Family, Service};

use crate::options::Globals;
use crate::report::{describe_dir_error, escape, read_lease_dir};

pub fn run(
    globals: &Globals,
    query: &[u8],
    family: Family,
    guest: bool,
    reverse: bool,
    out: &mut dyn Write,
) -> io::Result<u8> {
    let service = if guest {
        Service::LibvirtGuest
    } else {
        Service::Libvirt
    };
    let address = if reverse {
        match std::str::from_utf8(query)
            .ok()
            .and_then(|q| q.parse::<IpAddr>().ok())
        {
            Some(address) => Some(address),
            None => {
                eprintln!(
                    "libvirt-nss: resolve --reverse: '{}' is not an IP address",
                    String::from_utf8_lossy(query)
                );
                return Ok(2);
            }
        }
    } else {
        None
    };
    let label = service.name();
    let (dir, refreshed) = read_lease_dir(&globals.lease_dir);
    if let Err(error) = refreshed {
        // The module's answer: UNAVAIL with the dir's errno (DECISIONS.md N18).
        writeln!(
            out,
            "{label}: UNAVAIL ({})",
            describe_dir_error(&globals.lease_dir, error)
        )?;
        return Ok(1);
    }
    let now = common::now_epoch_seconds();
    if let Some(address) = address {
        return match service.lookup_address(&dir, address, now) {
            Some(name) => {
                writeln!(out, "{label}: SUCCESS")?;
                writeln!(out, "{}", escape(&name))?;
                Ok(0)
            }
            None => {
                writeln!(out, "{label}: NOTFOUND (HOST_NOT_FOUND)")?;
                Ok(1)
            }
        };
    }
    match service.lookup_name(&dir, query, family, now) {
        Answer::Found(addresses) => {
            writeln!(out, "{label}: SUCCESS")?;
            for address in addresses {
                writeln!(out, "{address}")?;
            }
            Ok(0)
        }
        Answer::NoAddressOfFamily => {
            let family = if family == Family::V6 { "IPv6" } else { "IPv4" };
            writeln!(
                out,
                "{label}: NOTFOUND (NO_DATA: the name has live leases, none {family})"
            )?;
            Ok(1)
        }
        Answer::NotFound => {
            writeln!(out, "{label}: NOTFOUND (HOST_NOT_FOUND)")?;
            Ok(1)
        }
    }
}
