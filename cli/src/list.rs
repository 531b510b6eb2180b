//! `list`: every name either module answers, one row per lease.

use std::collections::HashSet;
use std::io::{self, Write};
use std::net::IpAddr;

use common::lease_dir::{Content, DirFile};
use common::status_file::{Lease, LeaseFile};
use common::{LeaseDir, Service};
use serde_json::json;

use crate::options::Globals;
use crate::report::{describe_dir_error, describe_ignored, escape, network_of, read_lease_dir};
use crate::timefmt;

/// One name a module answers (or would, had its lease not expired).
pub struct Row {
    pub name: String,
    pub service: Service,
    /// `None`: a domain listed in `.macs` that holds no lease.
    pub lease: Option<RowLease>,
}

pub struct RowLease {
    pub address: IpAddr,
    pub network: String,
    pub mac: Option<String>,
    pub expiry: i64,
    pub live: bool,
}

fn row_lease(file: &DirFile, leases: &LeaseFile, lease: &Lease, now: i64) -> RowLease {
    RowLease {
        address: lease.address,
        network: network_of(file),
        mac: leases.mac(lease).map(str::to_owned),
        expiry: lease.expiry,
        live: lease.is_live(now),
    }
}

fn status_files(dir: &LeaseDir) -> impl Iterator<Item = (&DirFile, &LeaseFile)> {
    dir.files().iter().filter_map(|f| match f.content() {
        Content::Leases(leases) => Some((f, leases)),
        _ => None,
    })
}

/// All rows, sorted by name, then module, then the modules' own order
/// (live first, latest expiry first).
pub fn rows(dir: &LeaseDir, now: i64) -> Vec<Row> {
    let mut rows = Vec::new();
    // libvirt: every lease with a DHCP hostname.
    for (file, leases) in status_files(dir) {
        for lease in leases.leases() {
            if let Some(hostname) = leases.hostname(lease).filter(|h| !h.is_empty()) {
                rows.push(Row {
                    name: hostname.to_owned(),
                    service: Service::Libvirt,
                    lease: Some(row_lease(file, leases, lease, now)),
                });
            }
        }
    }
    // libvirt_guest: every domain in a .macs file, through its MACs.
    let mut seen: HashSet<(String, String, u32)> = HashSet::new();
    let mut domains_seen: HashSet<String> = HashSet::new();
    let mut leaseless: Vec<String> = Vec::new();
    for file in dir.files() {
        let Content::Macs(macs) = file.content() else {
            continue;
        };
        for (domain, domain_macs) in macs.domains() {
            let key = domain.to_ascii_lowercase();
            let domain_macs: Vec<&str> = domain_macs.collect();
            let mut found = false;
            for (lease_file, leases) in status_files(dir) {
                let mut ids = Vec::new();
                for mac in &domain_macs {
                    leases.find_by_mac(mac.as_bytes(), &mut ids);
                }
                for id in ids {
                    found = true;
                    let file_key = lease_file.name().to_string_lossy().into_owned();
                    if seen.insert((key.clone(), file_key, id)) {
                        rows.push(Row {
                            name: domain.to_owned(),
                            service: Service::LibvirtGuest,
                            lease: Some(row_lease(lease_file, leases, leases.lease(id), now)),
                        });
                    }
                }
            }
            if found {
                domains_seen.insert(key);
            } else {
                leaseless.push(domain.to_owned());
            }
        }
    }
    for domain in leaseless {
        if domains_seen.insert(domain.to_ascii_lowercase()) {
            rows.push(Row {
                name: domain,
                service: Service::LibvirtGuest,
                lease: None,
            });
        }
    }
    rows.sort_by(|a, b| {
        let order = |row: &Row| {
            (
                row.name.to_ascii_lowercase(),
                row.service == Service::LibvirtGuest,
                row.lease.is_none(),
                !row.lease.as_ref().is_some_and(|l| l.live),
                std::cmp::Reverse(row.lease.as_ref().map_or(0, |l| l.expiry)),
            )
        };
        order(a).cmp(&order(b))
    });
    rows
}

pub fn expiry_text(expiry: i64, live: bool) -> String {
    if expiry == 0 {
        "infinite (0)".to_owned()
    } else if live {
        format!("{} ({expiry})", timefmt::utc(expiry))
    } else {
        format!("EXPIRED {} ({expiry})", timefmt::utc(expiry))
    }
}

pub fn run(globals: &Globals, json: bool, out: &mut dyn Write) -> io::Result<u8> {
    let (dir, refreshed) = read_lease_dir(&globals.lease_dir);
    if let Err(error) = refreshed {
        eprintln!(
            "libvirt-nss: {}",
            describe_dir_error(&globals.lease_dir, error)
        );
        if json {
            writeln!(out, "[]")?;
        }
        return Ok(1);
    }
    for file in dir.files() {
        if let Content::Ignored(ignored) = file.content() {
            eprintln!(
                "libvirt-nss: note: {} ignored: {}",
                escape(&file.path().display().to_string()),
                describe_ignored(ignored)
            );
        }
    }
    let now = common::now_epoch_seconds();
    let rows = rows(&dir, now);
    if json {
        let values: Vec<serde_json::Value> = rows.iter().map(row_json).collect();
        serde_json::to_writer_pretty(&mut *out, &values)?;
        writeln!(out)?;
        return Ok(0);
    }
    if rows.is_empty() {
        writeln!(
            out,
            "no names: no lease and no domain in {}",
            globals.lease_dir.display()
        )?;
        return Ok(0);
    }
    let style = &globals.style;
    let header = ["NAME", "MODULE", "ADDRESS", "NETWORK", "MAC", "EXPIRES"];
    let cells: Vec<[String; 6]> = rows
        .iter()
        .map(|row| match &row.lease {
            // names, networks and MACs come from the files: escaped, so a
            // name cannot forge a row (DECISIONS.md N32)
            Some(l) => [
                escape(&row.name).into_owned(),
                row.service.name().to_owned(),
                l.address.to_string(),
                escape(&l.network).into_owned(),
                l.mac
                    .as_deref()
                    .map_or_else(|| "-".to_owned(), |m| escape(m).into_owned()),
                expiry_text(l.expiry, l.live),
            ],
            None => [
                escape(&row.name).into_owned(),
                row.service.name().to_owned(),
                "-".to_owned(),
                "-".to_owned(),
                "-".to_owned(),
                "no lease".to_owned(),
            ],
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &cells {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let format_row = |cells: &[String]| -> String {
        let mut text = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                text.push_str(cell);
            } else {
                text.push_str(&format!("{cell:<w$}  ", w = widths[i]));
            }
        }
        text
    };
    let header: Vec<String> = header.iter().map(|h| h.to_string()).collect();
    writeln!(out, "{}", style.bold(&format_row(&header)))?;
    for (row, text) in rows.iter().zip(&cells) {
        let text = format_row(text);
        let live = row.lease.as_ref().is_some_and(|l| l.live);
        writeln!(out, "{}", if live { text } else { style.dim(&text) })?;
    }
    Ok(0)
}

fn row_json(row: &Row) -> serde_json::Value {
    let mut value = json!({
        "name": row.name,
        "module": row.service.name(),
    });
    let object = value.as_object_mut().expect("an object");
    match &row.lease {
        Some(l) => {
            object.insert("lease".into(), json!(true));
            object.insert("address".into(), json!(l.address.to_string()));
            object.insert(
                "family".into(),
                json!(if l.address.is_ipv4() { 4 } else { 6 }),
            );
            object.insert("network".into(), json!(l.network));
            object.insert("mac".into(), json!(l.mac));
            object.insert("expiry".into(), json!(l.expiry));
            object.insert(
                "expiry_utc".into(),
                if l.expiry == 0 {
                    json!("infinite")
                } else {
                    json!(timefmt::utc(l.expiry))
                },
            );
            object.insert("expired".into(), json!(!l.live));
        }
        None => {
            object.insert("address".into(), json!(null));
            object.insert("expired".into(), json!(false));
            object.insert("lease".into(), json!(false));
        }
    }
    value
}
