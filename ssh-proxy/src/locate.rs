//! Finding the domain: every URI of the scope, read-only, and in each the
//! name as typed, then the name ignoring case (only when that is
//! unambiguous), then a UUID, then an ID: libvirt's order, plus the case
//! step so that `qemu/MixedCase` works even when ssh lowercased it.

use crate::domxml::{self, DomainFacts};
use crate::target::{as_id, as_uuid};
use crate::virt::{Connection, Domain, DomainState, Libvirt, VirtError};

/// How the name matched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MatchedBy {
    Name,
    NameIgnoringCase,
    Uuid,
    Id,
}

impl MatchedBy {
    pub fn describe(self) -> &'static str {
        match self {
            MatchedBy::Name => "name",
            MatchedBy::NameIgnoringCase => "name, ignoring case",
            MatchedBy::Uuid => "UUID",
            MatchedBy::Id => "ID",
        }
    }
}

/// A domain that matched, with what routing needs from it.
#[derive(Clone, Debug)]
pub struct FoundDomain {
    pub uri: String,
    pub name: String,
    pub uuid: String,
    pub id: Option<u32>,
    pub state: DomainState,
    pub matched_by: MatchedBy,
    /// From the live XML; only read while the domain runs (a stopped
    /// domain's static CID may belong to another VM by now).
    pub facts: Option<DomainFacts>,
    /// Why the live XML could not be read or parsed.
    pub xml_error: Option<String>,
}

/// What happened at one URI.
#[derive(Clone, Debug)]
pub enum UriOutcome {
    /// libvirt's client library could not be loaded.
    NoLibrary(String),
    /// The connection failed (daemon not running, permission denied, ...).
    Unreachable(VirtError),
    NotFound,
    /// Several domains match the name ignoring case and none exactly.
    Ambiguous(Vec<String>),
    Found(Box<FoundDomain>),
    /// A call on an open connection failed.
    Failed(VirtError),
}

#[derive(Clone, Debug)]
pub struct UriAttempt {
    pub uri: String,
    pub outcome: UriOutcome,
}

/// Searches `uris` in order and returns what each said.
pub fn search(libvirt: Result<&Libvirt, &str>, uris: &[String], name: &str) -> Vec<UriAttempt> {
    uris.iter()
        .map(|uri| UriAttempt {
            uri: uri.clone(),
            outcome: match libvirt {
                Err(why) => UriOutcome::NoLibrary(why.to_string()),
                Ok(lib) => search_uri(lib, uri, name),
            },
        })
        .collect()
}

fn search_uri(lib: &Libvirt, uri: &str, name: &str) -> UriOutcome {
    let conn = match lib.open_read_only(uri) {
        Ok(conn) => conn,
        Err(error) => return UriOutcome::Unreachable(error),
    };
    match find(&conn, name) {
        Ok(Found::One(dom, matched_by)) => {
            UriOutcome::Found(Box::new(describe(uri, &dom, matched_by)))
        }
        Ok(Found::Ambiguous(names)) => UriOutcome::Ambiguous(names),
        Ok(Found::None) => UriOutcome::NotFound,
        Err(error) => UriOutcome::Failed(error),
    }
}

enum Found<'a> {
    One(Domain<'a>, MatchedBy),
    Ambiguous(Vec<String>),
    None,
}

fn find<'a>(conn: &Connection<'a>, name: &str) -> Result<Found<'a>, VirtError> {
    if let Some(dom) = conn.lookup_by_name(name)? {
        return Ok(Found::One(dom, MatchedBy::Name));
    }
    let mut same_ignoring_case: Vec<Domain<'a>> = conn
        .all_domains()?
        .into_iter()
        .filter(|d| d.name().eq_ignore_ascii_case(name))
        .collect();
    match same_ignoring_case.len() {
        0 => {}
        1 => {
            let dom = same_ignoring_case.remove(0);
            return Ok(Found::One(dom, MatchedBy::NameIgnoringCase));
        }
        _ => {
            let mut names: Vec<String> = same_ignoring_case.iter().map(Domain::name).collect();
            names.sort();
            return Ok(Found::Ambiguous(names));
        }
    }
    if let Some(uuid) = as_uuid(name) {
        if let Some(dom) = conn.lookup_by_uuid(&uuid)? {
            return Ok(Found::One(dom, MatchedBy::Uuid));
        }
    }
    if let Some(id) = as_id(name) {
        if let Some(dom) = conn.lookup_by_id(id)? {
            return Ok(Found::One(dom, MatchedBy::Id));
        }
    }
    Ok(Found::None)
}

fn describe(uri: &str, dom: &Domain<'_>, matched_by: MatchedBy) -> FoundDomain {
    let state = dom.state().unwrap_or(DomainState::NoState);
    let mut found = FoundDomain {
        uri: uri.to_string(),
        name: dom.name(),
        uuid: dom.uuid(),
        id: dom.id(),
        state,
        matched_by,
        facts: None,
        xml_error: None,
    };
    if state.is_running() {
        match dom
            .xml()
            .map_err(|e| e.message)
            .and_then(|xml| domxml::parse(&xml))
        {
            Ok(facts) => found.facts = Some(facts),
            Err(error) => found.xml_error = Some(error),
        }
    }
    found
}

/// The domain to dial: the first running match, else the first match.
pub fn chosen(attempts: &[UriAttempt]) -> Option<&FoundDomain> {
    let found = || {
        attempts.iter().filter_map(|a| match &a.outcome {
            UriOutcome::Found(d) => Some(&**d),
            _ => None,
        })
    };
    found()
        .find(|d| d.state.is_running())
        .or_else(|| found().next())
}

/// True when no URI could even be opened: the `.macs` files are then the
/// only source of the domain's MACs.
pub fn libvirt_unreachable(attempts: &[UriAttempt]) -> bool {
    attempts.iter().all(|a| {
        matches!(
            a.outcome,
            UriOutcome::NoLibrary(_) | UriOutcome::Unreachable(_)
        )
    })
}
