//! From a parsed host to an ordered list of routes, or the failure that
//! explains why there is none. Shared by the proxy, `resolve` and `explain`.

use std::path::Path;

use common::{FileSet, LeaseDir};

use crate::failure::{one_line, Failure};
use crate::locate::{self, FoundDomain, UriAttempt, UriOutcome};
use crate::route::{self, Plan, VSOCK_XML};
use crate::target::{Scope, Target};
use crate::virt::Libvirt;

/// Where the domain's routes came from.
#[derive(Clone, Debug)]
pub enum Source {
    Libvirt(Box<FoundDomain>),
    /// libvirt could not be reached; the `.macs` files named the domain.
    MacsFiles,
}

#[derive(Clone, Debug)]
pub struct Resolution {
    pub source: Source,
    pub plan: Plan,
}

pub struct Settings<'a> {
    pub uris: Vec<String>,
    pub lease_dir: &'a Path,
    pub use_leases: bool,
}

/// Everything the search saw, whatever the verdict: `explain` prints it.
pub struct Search {
    pub libvirt_error: Option<String>,
    pub attempts: Vec<UriAttempt>,
    pub lease_dir: Option<LeaseDir>,
    pub lease_dir_error: Option<String>,
}

pub fn search(target: &Target, settings: &Settings<'_>) -> Search {
    let libvirt = Libvirt::load();
    let attempts = locate::search(
        libvirt.as_ref().map_err(String::as_str),
        &settings.uris,
        &target.name,
    );
    let (lease_dir, lease_dir_error) = if settings.use_leases {
        let mut dir = LeaseDir::new(settings.lease_dir, FileSet::LeasesAndMacs);
        match dir.refresh() {
            Ok(()) => (Some(dir), None),
            Err(e) => (
                None,
                Some(format!(
                    "{}: {}",
                    settings.lease_dir.display(),
                    nix::errno::Errno::from_raw(e.errno()).desc()
                )),
            ),
        }
    } else {
        (None, None)
    };
    Search {
        libvirt_error: libvirt.err(),
        attempts,
        lease_dir,
        lease_dir_error,
    }
}

/// The verdict on a search.
pub fn resolve(
    target: &Target,
    port: u32,
    settings: &Settings<'_>,
    search: &Search,
) -> Result<Resolution, Failure> {
    let spec = target.spec.clone();
    if let Some(found) = locate::chosen(&search.attempts) {
        let domain = format!("domain '{}' ({})", found.name, found.uri);
        if !found.state.is_running() {
            return Err(Failure::NotRunning {
                detail: format!(
                    "{domain} is {}; start it: {}",
                    found.state.describe(),
                    start_hint(found)
                ),
                spec,
            });
        }
        let Some(facts) = &found.facts else {
            return Err(Failure::NoRoute {
                detail: format!(
                    "{domain}: cannot read its live XML: {}",
                    one_line(found.xml_error.as_deref().unwrap_or("unknown error"))
                ),
                spec,
            });
        };
        let plan = route::for_domain(facts, port, search.lease_dir.as_ref());
        if plan.routes.is_empty() {
            return Err(Failure::NoRoute {
                detail: format!(
                    "{domain} is running but has {}; {}",
                    no_route_reason(&plan, settings, search),
                    if facts.has_vsock {
                        "check the guest's DHCP client".to_string()
                    } else {
                        format!(
                            "add {VSOCK_XML} to its <devices> (virsh -c {} edit {}), or check the guest's DHCP client",
                            found.uri, found.name
                        )
                    }
                ),
                spec,
            });
        }
        return Ok(Resolution {
            source: Source::Libvirt(Box::new(found.clone())),
            plan,
        });
    }
    if let Some((uri, names)) = search.attempts.iter().find_map(|a| match &a.outcome {
        UriOutcome::Ambiguous(names) => Some((&a.uri, names)),
        _ => None,
    }) {
        return Err(Failure::NoSuchDomain {
            detail: format!(
                "'{}' matches {} domains ignoring case in {uri} ({}); type the exact name (qemu:system/NAME and qemu%NAME keep its case)",
                target.name,
                names.len(),
                names.join(", ")
            ),
            spec,
        });
    }
    // libvirt could not be asked: libvirtd's .macs files still map domain
    // names to MACs (session domains have none).
    let fallback = locate::libvirt_unreachable(&search.attempts) && target.scope != Scope::Session;
    if fallback {
        if let Some(dir) = &search.lease_dir {
            let plan = route::for_macs_files(&target.name, port, dir);
            let known = !common::lookup::macs_of_domain(dir, target.name.as_bytes()).is_empty();
            if known && !plan.routes.is_empty() {
                return Ok(Resolution {
                    source: Source::MacsFiles,
                    plan,
                });
            }
            if known {
                return Err(Failure::NoRoute {
                    detail: format!(
                        "domain '{}' is in the .macs files of {} but has no live DHCP lease, and libvirt could not be asked for its VSOCK CID ({})",
                        target.name,
                        dir.path().display(),
                        searched(&search.attempts)
                    ),
                    spec,
                });
            }
        }
    }
    let mut where_ = searched(&search.attempts);
    if fallback {
        where_.push_str(&format!(
            "; {}",
            match &search.lease_dir {
                Some(dir) => format!("{}/*.macs: not found", dir.path().display()),
                None => format!(
                    "*.macs: {}",
                    search.lease_dir_error.as_deref().unwrap_or("not read")
                ),
            }
        ));
    }
    let denied = search.attempts.iter().find(|a| {
        matches!(&a.outcome, UriOutcome::Unreachable(e) if e.errno == Some(libc::EACCES) || e.message.contains("Permission denied"))
    });
    if let Some(denied) = denied {
        return Err(Failure::PermissionDenied {
            detail: format!(
                "permission denied on libvirt's socket ({}) and no .macs entry for '{}'; ask for read access (libvirt group) or use qemu:session/NAME",
                outcome_text(denied),
                target.name
            ),
            spec,
        });
    }
    Err(Failure::NoSuchDomain {
        detail: format!("no domain '{}' ({where_})", target.name),
        spec,
    })
}

fn start_hint(found: &FoundDomain) -> String {
    use crate::virt::DomainState::*;
    let verb = match found.state {
        Paused => "resume",
        PmSuspended => "dompmwakeup",
        _ => "start",
    };
    format!("virsh -c {} {verb} {}", found.uri, found.name)
}

fn no_route_reason(plan: &Plan, settings: &Settings<'_>, search: &Search) -> String {
    let mut reasons = plan.notes.clone();
    if !settings.use_leases {
        reasons.push("no lease route (--no-lease)".into());
    } else if let Some(e) = &search.lease_dir_error {
        reasons.push(format!("no readable lease dir ({e})"));
    }
    reasons.join(" and ")
}

/// `qemu:///system: not found; qemu:///session: cannot connect: ...`
pub fn searched(attempts: &[UriAttempt]) -> String {
    attempts
        .iter()
        .map(outcome_text)
        .collect::<Vec<_>>()
        .join("; ")
}

pub fn outcome_text(attempt: &UriAttempt) -> String {
    let what = match &attempt.outcome {
        UriOutcome::NoLibrary(why) => format!("libvirt client library not loaded: {why}"),
        UriOutcome::Unreachable(e) => format!("cannot connect: {}", one_line(&e.message)),
        UriOutcome::NotFound => "not found".into(),
        UriOutcome::Ambiguous(names) => format!("ambiguous: {}", names.join(", ")),
        UriOutcome::Found(d) => format!("'{}' {}", d.name, d.state.describe()),
        UriOutcome::Failed(e) => format!("error: {}", one_line(&e.message)),
    };
    format!("{}: {what}", attempt.uri)
}
