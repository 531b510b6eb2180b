//! Planning: which connections to try, in order. VSOCK first (it works
//! without a guest network), then the domain's live DHCP leases.

use std::fmt;
use std::net::{IpAddr, SocketAddr};

use common::lookup::{self, Answer, Family};
use common::LeaseDir;

use crate::domxml::DomainFacts;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    Vsock { cid: u32, port: u32 },
    Tcp(SocketAddr),
}

impl fmt::Display for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Route::Vsock { cid, port } => write!(f, "vsock cid {cid} port {port}"),
            Route::Tcp(addr) => write!(f, "{addr}"),
        }
    }
}

/// Routes to try, and why others were not planned.
#[derive(Clone, Debug, Default)]
pub struct Plan {
    pub routes: Vec<Route>,
    pub notes: Vec<String>,
}

/// The XML to add for a VSOCK route (libvirt picks the CID).
pub const VSOCK_XML: &str = "<vsock model='virtio'><cid auto='yes'/></vsock>";

/// Routes to a running domain described by its live XML.
pub fn for_domain(facts: &DomainFacts, port: u32, dir: Option<&LeaseDir>) -> Plan {
    let mut plan = Plan::default();
    match facts.cid {
        Some(cid) if (3..u64::from(u32::MAX)).contains(&cid) => {
            plan.routes.push(Route::Vsock {
                cid: cid as u32,
                port,
            });
        }
        Some(cid) => plan.notes.push(format!(
            "vsock cid {cid} is not a guest CID (3 to 4294967294)"
        )),
        None if facts.has_vsock => plan
            .notes
            .push("a vsock device without a CID address".into()),
        None => plan.notes.push("no vsock device".into()),
    }
    let macs: Vec<&str> = facts.nics.iter().flat_map(|nic| nic.macs()).collect();
    if macs.is_empty() {
        plan.notes.push("no NIC with a MAC address".into());
    } else if let Some(dir) = dir {
        add_leases(
            &mut plan,
            lookup::lookup_macs(dir, &macs, Family::Any, common::now_epoch_seconds()),
            port,
        );
    }
    plan
}

/// Routes from the `.macs` files alone (libvirt unreachable): the leases of
/// every MAC listed for `name`.
pub fn for_macs_files(name: &str, port: u32, dir: &LeaseDir) -> Plan {
    let mut plan = Plan::default();
    add_leases(
        &mut plan,
        lookup::lookup_domain(
            dir,
            name.as_bytes(),
            Family::Any,
            common::now_epoch_seconds(),
        ),
        port,
    );
    plan
}

fn add_leases(plan: &mut Plan, answer: Answer, port: u32) {
    let Answer::Found(addresses) = answer else {
        plan.notes.push("no live DHCP lease".into());
        return;
    };
    let Ok(port) = u16::try_from(port) else {
        plan.notes
            .push(format!("port {port} is a VSOCK port, not a TCP port"));
        return;
    };
    // IPv4 first: a guest's v4 lease is the one its sshd most surely
    // listens on; within a family, latest expiry first.
    let (v4, v6): (Vec<IpAddr>, Vec<IpAddr>) = addresses.into_iter().partition(IpAddr::is_ipv4);
    plan.routes.extend(
        v4.into_iter()
            .chain(v6)
            .map(|ip| Route::Tcp(SocketAddr::new(ip, port))),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domxml::Nic;

    fn facts(cid: Option<u64>) -> DomainFacts {
        DomainFacts {
            has_vsock: cid.is_some(),
            cid,
            nics: vec![Nic {
                mac: Some("52:54:00:00:00:01".into()),
                ..Nic::default()
            }],
        }
    }

    #[test]
    fn guest_cids_only() {
        for (cid, ok) in [
            (Some(3), true),
            (Some(4294967294), true),
            (Some(2), false),
            (Some(1), false),
            (Some(4294967295), false),
            (None, false),
        ] {
            let plan = for_domain(&facts(cid), 22, None);
            assert_eq!(plan.routes.len(), ok as usize, "{cid:?}");
        }
    }

    #[test]
    fn missing_vsock_is_noted() {
        let plan = for_domain(&facts(None), 22, None);
        assert_eq!(plan.notes, ["no vsock device"]);
    }
}
