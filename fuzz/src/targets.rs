//! The fuzz targets. Each returns a small "outcome" hash that the harness
//! uses as feedback (an input producing a new outcome joins the corpus), and
//! panics when a property fails.

use std::collections::hash_map::DefaultHasher;
use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::fs;
use std::hash::{Hash, Hasher};
use std::net::IpAddr;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::ptr;
use std::sync::OnceLock;

use common::ffi::{self, GaihAddrTuple, Module};
use common::json::JsonError;
use common::macs_file::MacsFile;
use common::status_file::LeaseFile;
use common::{Answer, Family, FileSet, LeaseDir, Service};

use crate::helper;
use crate::input::{self, Input, IPS, MACS, NAMES};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// `LeaseFile::parse` against a serde_json `Value` oracle, plus its indexes.
    StatusFile,
    /// `MacsFile::parse`: accepts all valid JSON arrays, index invariants.
    MacsFile,
    /// `LeaseDir` + `Service` lookups over generated files in a real dir,
    /// changed between refreshes: the cached snapshot must answer exactly
    /// like a fresh one.
    Lookup,
    /// The NSS entry points (`common::ffi`) with random names, buffer sizes
    /// and alignments: exact buffer protocol, nothing written out of bounds.
    Ffi,
    /// The lease helper's read-merge-write: round trip, nothing dropped,
    /// its output readable by itself and by the NSS modules.
    HelperMerge,
}

impl Target {
    pub const ALL: [Target; 5] = [
        Target::StatusFile,
        Target::MacsFile,
        Target::Lookup,
        Target::Ffi,
        Target::HelperMerge,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Target::StatusFile => "status_file",
            Target::MacsFile => "macs_file",
            Target::Lookup => "lookup",
            Target::Ffi => "ffi",
            Target::HelperMerge => "helper_merge",
        }
    }

    pub fn from_name(name: &str) -> Option<Target> {
        Target::ALL.into_iter().find(|t| t.name() == name)
    }

    /// Inputs longer than this are cut (files matter, not megabytes).
    pub fn max_len(self) -> usize {
        match self {
            Target::StatusFile | Target::MacsFile | Target::HelperMerge => 16 * 1024,
            Target::Lookup | Target::Ffi => 1024,
        }
    }
}

/// Per-process state: a scratch lease dir, and for `Ffi` the two modules
/// bound to it (a `Module` needs a `'static` path, and its snapshot cache
/// then lives across inputs, as in a real process).
pub struct Context {
    scratch: PathBuf,
    modules: Option<[&'static Module; 2]>,
}

impl Context {
    pub fn new(target: Target) -> Context {
        // tmpfs when there is one: thousands of small writes per second.
        let base = ["/dev/shm", "/tmp"]
            .iter()
            .map(Path::new)
            .find(|p| p.is_dir())
            .map_or_else(std::env::temp_dir, Path::to_path_buf);
        let scratch = base.join(format!("nss-fuzz-{}-{}", target.name(), std::process::id()));
        let _ = fs::remove_dir_all(&scratch);
        fs::create_dir(&scratch).expect("create the scratch lease dir");
        set_mode(&scratch, 0o755);
        // Leaked on purpose, once per process, and kept reachable from a
        // static (so that valgrind does not call them lost).
        static MODULES: OnceLock<[&'static Module; 2]> = OnceLock::new();
        let modules = (target == Target::Ffi).then(|| {
            *MODULES.get_or_init(|| {
                let path: &'static str = Box::leak(
                    scratch
                        .to_str()
                        .expect("UTF-8 temp path")
                        .to_owned()
                        .into_boxed_str(),
                );
                [Service::Libvirt, Service::LibvirtGuest]
                    .map(|service| &*Box::leak(Box::new(Module::new(service, path))))
            })
        });
        Context { scratch, modules }
    }

    /// Empties the scratch dir (and restores its mode).
    fn reset(&self) {
        set_mode(&self.scratch, 0o755);
        for entry in fs::read_dir(&self.scratch)
            .expect("list scratch dir")
            .flatten()
        {
            let path = entry.path();
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                let _ = fs::remove_dir_all(&path);
            } else {
                let _ = fs::remove_file(&path);
            }
        }
    }
}

impl Drop for Context {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.scratch);
    }
}

/// Runs `target` on `data`; panics when a property fails.
pub fn run(ctx: &mut Context, target: Target, data: &[u8]) -> u64 {
    match target {
        Target::StatusFile => status_file(data),
        Target::MacsFile => macs_file(data),
        Target::Lookup => lookup(ctx, data),
        Target::Ffi => ffi_target(ctx, data),
        Target::HelperMerge => helper_merge(data),
    }
}

fn outcome(parts: impl Hash) -> u64 {
    let mut h = DefaultHasher::new();
    parts.hash(&mut h);
    h.finish()
}

/// The kind of a serde_json error, without its position.
fn error_kind(e: &impl std::fmt::Display) -> String {
    let text = e.to_string();
    text.split(" at line").next().unwrap_or("").to_owned()
}

/// Nothing but JSON whitespace: an empty lease list (the helper creates a
/// 0-byte file before its first lease).
fn is_blank(bytes: &[u8]) -> bool {
    bytes
        .iter()
        .all(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
}

// ------------------------------------------------------------ status_file --

type OracleLease = (IpAddr, i64, Option<String>, Option<String>);

/// The `.status` rules (DECISIONS.md N4, N10) re-stated over a serde_json `Value`.
/// `Ok(None)`: valid JSON the oracle cannot judge (serde_json reads `-0` as
/// a float, the C modules and ours as the integer 0; `-0.0` is a float to
/// all, and serde_json does not tell them apart).
fn oracle_leases(bytes: &[u8]) -> Result<Option<(Vec<OracleLease>, usize)>, ()> {
    use serde_json::Value;
    if is_blank(bytes) {
        return Ok(Some((Vec::new(), 0)));
    }
    // Like ours, read bytes that are not UTF-8 as U+FFFD.
    let document: Value = serde_json::from_str(&String::from_utf8_lossy(bytes)).map_err(drop)?;
    let entries = document.as_array().ok_or(())?;
    let mut leases = Vec::new();
    let mut skipped = 0;
    for entry in entries {
        let Some(object) = entry.as_object() else {
            continue;
        };
        let negative_zero = |v: Option<&Value>| {
            v.and_then(Value::as_f64)
                .is_some_and(|f| f == 0.0 && f.is_sign_negative())
        };
        if negative_zero(object.get("expiry-time")) {
            return Ok(None);
        }
        let lease = (|| {
            let address: IpAddr = object.get("ip-address")?.as_str()?.parse().ok()?;
            let expiry = match object.get("expiry-time") {
                None => 0,
                Some(value) => value.as_i64()?,
            };
            let text = |key: &str, lower: bool| -> Option<Option<String>> {
                match object.get(key) {
                    None | Some(Value::Null) => Some(None),
                    Some(Value::String(s)) if lower => Some(Some(s.to_ascii_lowercase())),
                    Some(Value::String(s)) => Some(Some(s.clone())),
                    Some(_) => None,
                }
            };
            Some((
                address,
                expiry,
                text("hostname", false)?,
                text("mac-address", true)?,
            ))
        })();
        match lease {
            Some(lease) => leases.push(lease),
            None => skipped += 1,
        }
    }
    Ok(Some((leases, skipped)))
}

/// The leases of a parsed file, as the oracle states them.
fn leases_of(file: &LeaseFile) -> Vec<OracleLease> {
    file.leases()
        .iter()
        .map(|l| {
            (
                l.address,
                l.expiry,
                file.hostname(l).map(str::to_owned),
                file.mac(l).map(str::to_owned),
            )
        })
        .collect()
}

/// The leases of a parse, or its error, for comparing two parses.
fn lease_summary(
    parsed: &Result<LeaseFile, JsonError>,
) -> Result<(Vec<OracleLease>, usize), String> {
    let file = parsed.as_ref().map_err(JsonError::to_string)?;
    Ok((leases_of(file), file.skipped_entries()))
}

fn status_file(data: &[u8]) -> u64 {
    let ours = LeaseFile::parse(data);
    // Read through the smallest buffer (64 bytes), every token may be cut
    // by a chunk's end: the result must be the same.
    let chunked = LeaseFile::read_from(data, 0, u64::MAX).map_err(|e| e.into_json_error(data));
    assert_eq!(
        lease_summary(&chunked),
        lease_summary(&ours),
        "a chunked read differs from a whole one"
    );
    let oracle = oracle_leases(data);
    let file = match (ours, oracle) {
        (Err(e), Err(())) => return outcome(("err", error_kind(&e))),
        (Ok(file), Ok(None)) => file,
        (Ok(file), Ok(Some((expected, skipped)))) => {
            assert_eq!(
                leases_of(&file),
                expected,
                "leases differ from the serde_json oracle"
            );
            assert_eq!(file.skipped_entries(), skipped, "skipped entry count");
            file
        }
        // Leniency is allowed (serde_json does not check an ignored
        // string's bytes, nor does yajl); rejecting valid JSON is not.
        (Ok(file), Err(())) => file,
        (ours, oracle) => panic!(
            "validity differs: ours {:?}, serde_json oracle ok = {}",
            ours.map(|f| f.leases().len()),
            oracle.is_ok()
        ),
    };
    // Every lease is found again through each of its keys, case-folded,
    // except a garbled one (not UTF-8 or a lone surrogate escape: read as
    // U+FFFD, matched by nothing, DECISIONS.md N27).
    let mut ids = Vec::new();
    for (id, lease) in file.leases().iter().enumerate() {
        let id = id as u32;
        if file.hostname_key(lease).is_none() {
            if let Some(shown) = file.hostname(lease) {
                ids.clear();
                file.find_by_hostname(shown.as_bytes(), &mut ids);
                assert!(!ids.contains(&id), "a garbled hostname matched");
            }
        }
        if let Some(hostname) = file.hostname_key(lease) {
            for query in [hostname.to_owned(), hostname.to_ascii_uppercase()] {
                ids.clear();
                file.find_by_hostname(query.as_bytes(), &mut ids);
                assert!(ids.contains(&id), "hostname index misses lease {id}");
                assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids in file order");
                for &other in &ids {
                    let name = file.hostname(file.lease(other)).unwrap_or_default();
                    assert!(
                        name.eq_ignore_ascii_case(&query),
                        "hostname index false hit"
                    );
                }
            }
        }
        if let Some(mac) = file.mac_key(lease) {
            ids.clear();
            file.find_by_mac(mac.to_ascii_uppercase().as_bytes(), &mut ids);
            assert!(ids.contains(&id), "MAC index misses lease {id}");
        }
        ids.clear();
        file.find_by_address(lease.address, &mut ids);
        assert!(ids.contains(&id), "address index misses lease {id}");
        assert!(ids.iter().all(|&o| file.lease(o).address == lease.address));
    }
    outcome((
        "ok",
        file.leases().len().min(8),
        file.skipped_entries().min(8),
    ))
}

// -------------------------------------------------------------- macs_file --

/// Every (domain, MACs) entry and the skipped count, for comparing parses.
fn macs_summary(file: &MacsFile) -> (Vec<(String, Vec<String>)>, usize) {
    let domains = file
        .domains()
        .map(|(d, macs)| (d.to_owned(), macs.map(str::to_owned).collect()))
        .collect();
    (domains, file.skipped_entries())
}

fn macs_file(data: &[u8]) -> u64 {
    let ours = MacsFile::parse(data);
    let chunked = MacsFile::read_from(data, 0, u64::MAX).map_err(|e| e.into_json_error(data));
    assert_eq!(
        chunked
            .as_ref()
            .map(macs_summary)
            .map_err(|e| e.to_string()),
        ours.as_ref().map(macs_summary).map_err(|e| e.to_string()),
        "a chunked read differs from a whole one"
    );
    let oracle_ok = is_blank(data)
        || serde_json::from_slice::<serde_json::Value>(data).is_ok_and(|v| v.is_array());
    let file = match ours {
        Err(e) => {
            assert!(!oracle_ok, "ours rejects what serde_json accepts: {e}");
            return outcome(("err", error_kind(&e)));
        }
        // Leniency about invalid JSON is allowed, as for `.status`.
        Ok(file) => file,
    };
    let domains: Vec<(String, Vec<String>)> = file
        .domains()
        .map(|(d, macs)| (d.to_owned(), macs.map(str::to_owned).collect()))
        .collect();
    for (domain, macs) in &domains {
        // A garbled name or MAC (shown with U+FFFD) matches nothing (N27);
        // the oracle cannot tell it from a U+FFFD spelled in the file.
        if domain.contains('\u{fffd}') {
            continue;
        }
        let mut listed = Vec::new();
        file.for_each_mac_of_domain(domain.to_ascii_uppercase().as_bytes(), |m| {
            listed.push(m.to_owned())
        });
        for mac in macs.iter().filter(|m| !m.contains('\u{fffd}')) {
            assert_eq!(
                mac,
                &mac.to_ascii_lowercase(),
                "MACs are stored lower-cased"
            );
            assert!(listed.contains(mac), "{domain}: {mac} not listed");
            // The owner reported is the first entry (in file order) listing it.
            let owner = file
                .domain_of_mac(mac.to_ascii_uppercase().as_bytes())
                .expect("a listed MAC has an owner");
            let first = domains
                .iter()
                .find(|(_, m)| m.contains(mac))
                .map(|(d, _)| d.as_str());
            assert_eq!(Some(owner), first, "owner of {mac}");
        }
    }
    outcome(("ok", domains.len().min(8), file.skipped_entries().min(8)))
}

// ----------------------------------------------------------------- lookup --

const FILE_NAMES: &[&str] = &[
    "a.status",
    "b.status",
    "virbr0.status",
    "n.macs",
    "m.macs",
    ".status",
    "x.status.new",
    "b.macs",
];

fn set_mode(path: &Path, mode: u32) {
    let _ = fs::set_permissions(path, fs::Permissions::from_mode(mode));
}

fn remove_any(path: &Path) {
    if path.is_dir() && !path.is_symlink() {
        let _ = fs::remove_dir_all(path);
    } else {
        let _ = fs::remove_file(path);
    }
}

fn content_for(name: &str, input: &mut Input) -> Vec<u8> {
    if name.ends_with(".macs") {
        input::macs_file(input)
    } else {
        input::lease_file(input)
    }
}

/// One change to the lease dir, the way writers and admins change it.
fn change_dir(dir: &Path, input: &mut Input) {
    let name = input.pick(FILE_NAMES);
    let path = dir.join(name);
    match input.below(12) {
        0..=3 => {
            // atomic replace, as the helper and libvirtd write
            let tmp = dir.join(".tmp-new");
            fs::write(&tmp, content_for(name, input)).expect("write temp file");
            set_mode(&tmp, 0o644);
            remove_any(&path);
            fs::rename(&tmp, &path).expect("rename into place");
        }
        4 | 5 => {
            // rewrite in place (same inode); only over a regular file or
            // nothing (writing to a FIFO would block the harness)
            if path.symlink_metadata().map_or(true, |m| m.is_file()) {
                let _ = fs::write(&path, content_for(name, input));
                set_mode(&path, 0o644);
            }
        }
        6 => remove_any(&path),
        7 => set_mode(
            &path,
            input.pick(&[0o644, 0o664, 0o646, 0o600, 0o000, 0o4644]),
        ),
        8 => {
            remove_any(&path);
            let c = CString::new(path.to_str().expect("UTF-8 path")).unwrap();
            // SAFETY: a valid NUL-terminated path.
            unsafe { libc::mkfifo(c.as_ptr(), 0o644) };
        }
        9 => {
            remove_any(&path);
            let _ = fs::create_dir(&path);
        }
        10 => {
            remove_any(&path);
            let _ = symlink(input.pick(FILE_NAMES), &path);
        }
        _ => {
            // the directory itself becomes group-writable, or safe again
            set_mode(dir, input.pick(&[0o755, 0o755, 0o775, 0o757, 0o700]));
        }
    }
}

/// Queries every name, family and address of interest on `dir`.
fn answers(
    dir: &LeaseDir,
    service: Service,
    extra_name: &[u8],
    extra_address: IpAddr,
    now: i64,
) -> Vec<String> {
    let mut out = Vec::new();
    let names = NAMES
        .iter()
        .map(|n| n.as_bytes())
        .chain([extra_name, b"Gamma.Example.ORG"]);
    for name in names {
        for family in [Family::V4, Family::V6, Family::Any] {
            let answer = service.lookup_name(dir, name, family, now);
            if let Answer::Found(list) = &answer {
                assert!(!list.is_empty(), "Found(empty)");
                for (i, a) in list.iter().enumerate() {
                    assert!(!list[..i].contains(a), "duplicate address {a}");
                    match family {
                        Family::V4 => assert!(a.is_ipv4()),
                        Family::V6 => assert!(a.is_ipv6()),
                        Family::Any => {}
                    }
                }
            }
            out.push(format!("{name:?} {family:?} {answer:?}"));
        }
    }
    let addresses = IPS
        .iter()
        .filter_map(|ip| ip.parse::<IpAddr>().ok())
        .chain([extra_address]);
    for address in addresses {
        let name = service.lookup_address(dir, address, now);
        out.push(format!("{address} {name:?}"));
    }
    out
}

fn random_address(input: &mut Input) -> IpAddr {
    if input.byte() & 1 == 0 {
        IpAddr::from([10, 0, 0, input.byte() % 4])
    } else {
        let mut v6 = [0u8; 16];
        v6[0] = 0xfd;
        v6[15] = input.byte() % 4;
        IpAddr::from(v6)
    }
}

fn lookup(ctx: &mut Context, data: &[u8]) -> u64 {
    ctx.reset();
    let dir = ctx.scratch.clone();
    let mut input = Input::new(data);
    for _ in 0..1 + input.below(4) {
        change_dir(&dir, &mut input);
    }
    let extra_name = input.bytes(16).to_vec();
    let extra_address = random_address(&mut input);
    let now = common::now_epoch_seconds();
    let mut cached = [
        (Service::Libvirt, LeaseDir::new(&dir, FileSet::Leases)),
        (
            Service::LibvirtGuest,
            LeaseDir::new(&dir, FileSet::LeasesAndMacs),
        ),
    ];
    let mut summary = Vec::new();
    for step in 0..1 + input.below(5) {
        if step > 0 {
            for _ in 0..1 + input.below(3) {
                change_dir(&dir, &mut input);
            }
        }
        for (service, snapshot) in &mut cached {
            let refreshed = snapshot.refresh();
            let mut fresh = LeaseDir::new(&dir, service.files_read());
            assert_eq!(refreshed, fresh.refresh(), "refresh result");
            if refreshed.is_err() {
                summary.push(0);
                continue;
            }
            // Files are read lazily (on a lookup's first need, or through
            // `content()` as the CLI does): load some of them out of band.
            let load_mask = input.byte();
            for (i, file) in snapshot.files().iter().enumerate() {
                if load_mask & (1 << (i % 8)) != 0 {
                    let _ = file.content();
                }
            }
            let expected = answers(&fresh, *service, &extra_name, extra_address, now);
            let got = answers(snapshot, *service, &extra_name, extra_address, now);
            assert_eq!(
                got, expected,
                "cached snapshot answers differ from a fresh read"
            );
            let describe = |dir: &LeaseDir| -> Vec<String> {
                dir.files()
                    .iter()
                    .map(|f| format!("{:?} {:?} {:?}", f.name(), f.kind(), f.content()))
                    .collect()
            };
            assert_eq!(
                describe(snapshot),
                describe(&fresh),
                "cached snapshot files differ from a fresh read"
            );
            summary.push(expected.iter().filter(|a| a.contains("Found")).count());
        }
        if input.exhausted() {
            break;
        }
    }
    outcome(summary)
}

// -------------------------------------------------------------------- ffi --

const POISON: u8 = 0xA5;
const GUARD: usize = 64;
const ERRNO_SENTINEL: c_int = 4242;
const PTR: usize = std::mem::size_of::<*mut c_char>();

/// A poisoned buffer of `len` usable bytes starting `misalign` bytes past a
/// 16-byte boundary, with guard bytes on both sides.
struct Arena {
    bytes: Vec<u8>,
    offset: usize,
    len: usize,
}

impl Arena {
    fn new(len: usize, misalign: usize) -> Arena {
        let mut bytes = vec![POISON; GUARD + 16 + misalign + len + GUARD];
        let base = bytes.as_mut_ptr() as usize + GUARD;
        let offset = GUARD + (16 - base % 16) % 16 + misalign;
        bytes.truncate(offset + len + GUARD);
        Arena { bytes, offset, len }
    }
    fn start(&mut self) -> *mut c_char {
        // SAFETY: offset + len + GUARD == bytes.len(), so offset is in bounds.
        unsafe { self.bytes.as_mut_ptr().add(self.offset) as *mut c_char }
    }
    fn contains(&self, p: *const u8, len: usize) -> bool {
        let start = self.bytes.as_ptr() as usize + self.offset;
        let p = p as usize;
        p >= start && p + len <= start + self.len
    }
    fn guard_intact(&self) -> bool {
        self.bytes[..self.offset]
            .iter()
            .chain(&self.bytes[self.offset + self.len..])
            .all(|&b| b == POISON)
    }
    fn untouched(&self) -> bool {
        self.bytes.iter().all(|&b| b == POISON)
    }
}

fn padding(arena: &mut Arena, align: usize) -> usize {
    (arena.start() as usize).wrapping_neg() & (align - 1)
}

/// (status, errno, h_errno) the entry points must return for an answer.
fn failure_triple(answer: &Answer) -> Option<(c_int, c_int, c_int)> {
    match answer {
        Answer::Found(_) => None,
        Answer::NoAddressOfFamily => Some((ffi::NSS_STATUS_NOTFOUND, libc::ESRCH, 4)),
        Answer::NotFound => Some((ffi::NSS_STATUS_NOTFOUND, libc::ESRCH, 1)),
    }
}

const TRYAGAIN: (c_int, c_int, c_int) = (ffi::NSS_STATUS_TRYAGAIN, libc::ERANGE, -1);

fn ffi_target(ctx: &mut Context, data: &[u8]) -> u64 {
    ctx.reset();
    let dir = ctx.scratch.clone();
    let modules = ctx.modules.expect("Ffi context has modules");
    let mut input = Input::new(data);
    for _ in 0..1 + input.below(5) {
        change_dir(&dir, &mut input);
    }
    let now = common::now_epoch_seconds();
    let mut summary = std::collections::BTreeSet::new();
    for _ in 0..1 + input.below(8) {
        let which = input.below(2);
        let (module, service) = (
            modules[which],
            [Service::Libvirt, Service::LibvirtGuest][which],
        );
        let mut fresh = LeaseDir::new(&dir, service.files_read());
        let dir_state = fresh.refresh();
        let buflen = match input.below(6) {
            0 => input.below(64),
            1 => 64 * 1024,
            _ => usize::from(input.u16()) % 1024,
        };
        let misalign = input.below(16);
        let mut arena = Arena::new(buflen, misalign);
        let mut name = match input.below(4) {
            0 => input.bytes(24).to_vec(),
            _ => input.pick(NAMES).as_bytes().to_vec(),
        };
        name.retain(|&b| b != 0);
        let name_c = CString::new(name.clone()).expect("no NUL");
        let (mut errno, mut herrno) = (ERRNO_SENTINEL, ERRNO_SENTINEL);
        let mut ttl: i32 = -7;
        let mut canon: *mut c_char = ptr::null_mut();
        // SAFETY: hostent is plain data; all-zero is a valid value.
        let mut result: libc::hostent = unsafe { std::mem::zeroed() };
        let kind = input.below(3);
        let status;
        let expected_fail: Option<(c_int, c_int, c_int)>;
        match kind {
            0 => {
                let af = input.pick(&[libc::AF_INET, libc::AF_INET6, libc::AF_UNSPEC, 17]);
                // SAFETY: every pointer is valid per the NSS contract and
                // `arena` has `buflen` writable bytes at `start()`.
                status = unsafe {
                    ffi::gethostbyname3_r(
                        module,
                        name_c.as_ptr(),
                        af,
                        &mut result,
                        arena.start(),
                        buflen,
                        &mut errno,
                        &mut herrno,
                        &mut ttl,
                        &mut canon,
                    )
                };
                let (family, out_af, alen) = match af {
                    libc::AF_INET6 => (Family::V6, libc::AF_INET6, 16),
                    _ => (Family::V4, libc::AF_INET, 4),
                };
                expected_fail = if af == 17 {
                    Some((ffi::NSS_STATUS_UNAVAIL, libc::EAFNOSUPPORT, 3))
                } else if let Err(e) = dir_state {
                    Some((ffi::NSS_STATUS_UNAVAIL, e.errno(), 3))
                } else {
                    let answer = service.lookup_name(&fresh, &name, family, now);
                    match (&answer, failure_triple(&answer)) {
                        (Answer::Found(list), None) => {
                            let needed = padding(&mut arena, PTR)
                                + PTR
                                + (list.len() + 1) * PTR
                                + list.len() * alen
                                + name.len()
                                + 1;
                            if buflen < needed {
                                Some(TRYAGAIN)
                            } else {
                                assert_eq!(status, ffi::NSS_STATUS_SUCCESS, "by3 {name:?}");
                                check_hostent(&result, &arena, &name, out_af, list);
                                assert_eq!(canon, result.h_name, "canonical name");
                                assert_eq!(ttl, 0);
                                None
                            }
                        }
                        (_, fail) => fail,
                    }
                };
            }
            1 => {
                let mut own = GaihAddrTuple {
                    next: ptr::null_mut(),
                    name: ptr::null_mut(),
                    family: -1,
                    addr: [0; 4],
                    scopeid: 9,
                };
                let caller_tuple = input.byte() & 1 == 1;
                let mut pat: *mut GaihAddrTuple = if caller_tuple {
                    &mut own
                } else {
                    ptr::null_mut()
                };
                // SAFETY: as above; `pat` is NULL or points at `own`.
                status = unsafe {
                    ffi::gethostbyname4_r(
                        module,
                        name_c.as_ptr(),
                        &mut pat,
                        arena.start(),
                        buflen,
                        &mut errno,
                        &mut herrno,
                        &mut ttl,
                    )
                };
                expected_fail = if let Err(e) = dir_state {
                    Some((ffi::NSS_STATUS_UNAVAIL, e.errno(), 3))
                } else {
                    let answer = service.lookup_name(&fresh, &name, Family::Any, now);
                    match (&answer, failure_triple(&answer)) {
                        (Answer::Found(list), None) => {
                            let tuple = std::mem::size_of::<GaihAddrTuple>();
                            let needed = padding(&mut arena, std::mem::align_of::<GaihAddrTuple>())
                                + list.len() * tuple
                                + name.len()
                                + 1;
                            if buflen < needed {
                                Some(TRYAGAIN)
                            } else {
                                assert_eq!(status, ffi::NSS_STATUS_SUCCESS, "by4 {name:?}");
                                if caller_tuple {
                                    assert!(ptr::eq(pat, &own), "the caller's tuple is kept");
                                }
                                check_tuples(pat, caller_tuple, &arena, &name, list);
                                assert_eq!(ttl, 0);
                                None
                            }
                        }
                        (_, fail) => fail,
                    }
                };
                if status != ffi::NSS_STATUS_SUCCESS {
                    if caller_tuple {
                        assert!(ptr::eq(pat, &own) && own.family == -1, "tuple untouched");
                    } else {
                        assert!(pat.is_null(), "nothing handed out on failure");
                    }
                }
            }
            _ => {
                let address = random_address(&mut input);
                let bytes: Vec<u8> = match address {
                    IpAddr::V4(a) => a.octets().to_vec(),
                    IpAddr::V6(a) => a.octets().to_vec(),
                };
                let natural_af = if address.is_ipv4() {
                    libc::AF_INET
                } else {
                    libc::AF_INET6
                };
                let (af, len) = match input.below(8) {
                    0 => (natural_af, input.pick(&[0u32, 1, 4, 15, 16, 17])),
                    1 => (libc::AF_UNIX, bytes.len() as u32),
                    _ => (natural_af, bytes.len() as u32),
                };
                let mut padded = bytes.clone();
                padded.resize(32, 0);
                // SAFETY: `padded` has 32 readable bytes >= len.
                status = unsafe {
                    ffi::gethostbyaddr2_r(
                        module,
                        padded.as_ptr() as *const c_void,
                        len,
                        af,
                        &mut result,
                        arena.start(),
                        buflen,
                        &mut errno,
                        &mut herrno,
                        &mut ttl,
                    )
                };
                expected_fail = if af == libc::AF_UNIX {
                    Some((ffi::NSS_STATUS_UNAVAIL, libc::EAFNOSUPPORT, 3))
                } else if len as usize != bytes.len() {
                    Some((ffi::NSS_STATUS_UNAVAIL, libc::EINVAL, 3))
                } else if let Err(e) = dir_state {
                    Some((ffi::NSS_STATUS_UNAVAIL, e.errno(), 3))
                } else {
                    match service.lookup_address(&fresh, address, now) {
                        None => Some((ffi::NSS_STATUS_NOTFOUND, libc::ESRCH, 1)),
                        Some(found) => {
                            let alen = bytes.len();
                            let needed =
                                padding(&mut arena, PTR) + 3 * PTR + alen + found.len() + 1;
                            if buflen < needed {
                                Some(TRYAGAIN)
                            } else {
                                assert_eq!(status, ffi::NSS_STATUS_SUCCESS, "reverse {address}");
                                // A name with an embedded NUL reads as its prefix.
                                let visible = found.split('\0').next().unwrap_or("");
                                check_hostent(&result, &arena, visible.as_bytes(), af, &[address]);
                                assert_eq!(ttl, 0);
                                None
                            }
                        }
                    }
                };
            }
        }
        assert!(
            arena.guard_intact(),
            "wrote outside the buffer (kind {kind}, buflen {buflen})"
        );
        match expected_fail {
            None => {
                assert_eq!(errno, ERRNO_SENTINEL, "errno untouched on success");
                assert_eq!(herrno, 0, "h_errno NETDB_SUCCESS");
            }
            Some(triple) => {
                assert_eq!(
                    (status, errno, herrno),
                    triple,
                    "kind {kind} {name:?} buflen {buflen}"
                );
                assert!(arena.untouched(), "wrote into the buffer on failure");
                assert!(
                    result.h_name.is_null() && canon.is_null(),
                    "result untouched"
                );
            }
        }
        summary.insert((kind, status));
    }
    outcome(summary)
}

fn check_hostent(h: &libc::hostent, arena: &Arena, name: &[u8], af: c_int, list: &[IpAddr]) {
    let alen = if af == libc::AF_INET6 { 16 } else { 4 };
    assert_eq!((h.h_addrtype, h.h_length), (af, alen));
    assert!(
        arena.contains(h.h_name as *const u8, name.len() + 1),
        "h_name in buffer"
    );
    // SAFETY: h_name points into the arena (checked) at a NUL-terminated name.
    let got = unsafe { CStr::from_ptr(h.h_name) }.to_bytes();
    assert_eq!(got, name, "h_name");
    assert!(
        arena.contains(h.h_aliases as *const u8, PTR),
        "h_aliases in buffer"
    );
    assert_eq!(h.h_aliases as usize % PTR, 0, "h_aliases aligned");
    // SAFETY: checked to be inside the arena and aligned.
    assert!(unsafe { *h.h_aliases }.is_null(), "no aliases");
    let slots = (list.len() + 1) * PTR;
    assert!(
        arena.contains(h.h_addr_list as *const u8, slots),
        "h_addr_list in buffer"
    );
    assert_eq!(h.h_addr_list as usize % PTR, 0, "h_addr_list aligned");
    for (i, expected) in list.iter().enumerate() {
        // SAFETY: the slots were checked to lie inside the arena.
        let p = unsafe { *h.h_addr_list.add(i) } as *const u8;
        assert!(arena.contains(p, alen as usize), "address {i} in buffer");
        // SAFETY: checked to be inside the arena.
        let bytes = unsafe { std::slice::from_raw_parts(p, alen as usize) };
        let got = match expected {
            IpAddr::V4(_) => IpAddr::from(<[u8; 4]>::try_from(bytes).expect("4 bytes")),
            IpAddr::V6(_) => IpAddr::from(<[u8; 16]>::try_from(bytes).expect("16 bytes")),
        };
        assert_eq!(&got, expected, "address {i}");
    }
    // SAFETY: the terminating slot is inside the arena (checked above).
    let terminator = unsafe { *h.h_addr_list.add(list.len()) };
    assert!(terminator.is_null(), "list terminated");
}

fn check_tuples(
    first: *const GaihAddrTuple,
    caller_tuple: bool,
    arena: &Arena,
    name: &[u8],
    list: &[IpAddr],
) {
    let size = std::mem::size_of::<GaihAddrTuple>();
    let mut p = first;
    for (i, expected) in list.iter().enumerate() {
        assert!(!p.is_null(), "chain too short at {i}");
        if !(i == 0 && caller_tuple) {
            assert!(arena.contains(p as *const u8, size), "tuple {i} in buffer");
            assert_eq!(p as usize % std::mem::align_of::<GaihAddrTuple>(), 0);
        }
        // SAFETY: p is the caller's tuple or was checked to be in the arena.
        let t = unsafe { ptr::read(p) };
        assert!(
            arena.contains(t.name as *const u8, name.len() + 1),
            "name in buffer"
        );
        // SAFETY: checked to be inside the arena.
        assert_eq!(unsafe { CStr::from_ptr(t.name) }.to_bytes(), name);
        // SAFETY: [u32; 4] and [u8; 16] have the same size; any bytes are valid.
        let raw: [u8; 16] = unsafe { std::mem::transmute(t.addr) };
        let got = match t.family {
            libc::AF_INET => IpAddr::from(<[u8; 4]>::try_from(&raw[..4]).expect("4 bytes")),
            libc::AF_INET6 => IpAddr::from(raw),
            f => panic!("family {f}"),
        };
        assert_eq!(&got, expected, "tuple {i}");
        assert_eq!(t.scopeid, 0);
        p = t.next;
    }
    assert!(p.is_null(), "chain too long");
}

// ----------------------------------------------------------- helper_merge --

const ACTIONS: &[&str] = &["add", "old", "del", "init", "tftp"];
const DUIDS: &[&str] = &[
    "00:03:00:01:52:54:00:00:00:01",
    "00:01:00:01:2a:2b:2c:2d:52:54:00:aa:00:02",
    "00:04:aa:bb",
];
const EXPIRES: &[&str] = &[
    "0",
    "100",
    "4102444800",
    " 7 ",
    "-1",
    "0x10",
    "",
    "99999999999999999999",
];

fn choice(input: &mut Input, pool: &[&str]) -> Vec<u8> {
    match input.below(6) {
        0 => input.bytes(12).to_vec(),
        _ => input.pick(pool).as_bytes().to_vec(),
    }
}

/// An argv or environment string: never contains a NUL byte.
fn os(mut bytes: Vec<u8>) -> std::ffi::OsString {
    use std::os::unix::ffi::OsStringExt;
    bytes.retain(|&b| b != 0);
    std::ffi::OsString::from_vec(bytes)
}

fn helper_merge(data: &[u8]) -> u64 {
    use helper::{Action, Invocation, ParseError, Value};
    let mut input = Input::new(data);

    // argv and env as dnsmasq would pass them (or not).
    let argc = input.pick(&[2usize, 4, 4, 4, 5, 5, 3]);
    let mut args = vec![os(b"libvirt_leaseshelper".to_vec())];
    args.push(os(choice(&mut input, ACTIONS)));
    let v6 = input.below(3) == 0;
    if argc >= 3 {
        args.push(os(choice(&mut input, if v6 { DUIDS } else { MACS })));
    }
    if argc >= 4 {
        args.push(os(choice(&mut input, IPS)));
    }
    if argc >= 5 {
        args.push(os(choice(&mut input, NAMES)));
    }
    let mut env: Vec<(&str, Vec<u8>)> = vec![("DNSMASQ_INTERFACE", b"virbr0".to_vec())];
    let flags = input.byte();
    if v6 {
        env.push(("DNSMASQ_IAID", choice(&mut input, &["1191936", ""])));
    }
    if flags & 1 != 0 {
        env.push(("DNSMASQ_SERVER_DUID", choice(&mut input, DUIDS)));
    }
    if flags & 2 != 0 {
        env.push(("DNSMASQ_MAC", choice(&mut input, MACS)));
    }
    if flags & 4 != 0 {
        env.push(("DNSMASQ_SUPPLIED_HOSTNAME", choice(&mut input, NAMES)));
    }
    if flags & 8 != 0 {
        env.push(("DNSMASQ_CLIENT_ID", choice(&mut input, DUIDS)));
    }
    if flags & 16 != 0 {
        env.push(("DNSMASQ_LEASE_EXPIRES", choice(&mut input, EXPIRES)));
    }
    let existing_bytes = match input.below(4) {
        0 => {
            let mut structured = Input::new(&data[data.len() / 2..]);
            input::lease_file(&mut structured)
        }
        _ => data[data.len().min(input.below(256) + 16)..].to_vec(),
    };
    let invocation = helper::parse_invocation(&args, |name| {
        env.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| os(v.clone()))
    });
    let Invocation::Run(event) = invocation else {
        return outcome("no-run");
    };

    // process_event's order: new lease, delete ip, read, merge, write.
    let new_lease = match event.action {
        Action::Add | Action::Old => match helper::new_lease(&event) {
            Ok(lease) => lease,
            Err(_) => return outcome("bad-expiry"),
        },
        Action::Del | Action::Init => None,
    };
    let delete_ip = match event.action {
        Action::Del => event.ip.as_deref(),
        Action::Add | Action::Old if new_lease.is_some() => event.ip.as_deref(),
        _ => None,
    };
    let existing = if existing_bytes.is_empty() {
        None
    } else {
        match helper::parse(&existing_bytes) {
            Ok(value) => Some(value),
            Err(ParseError::TooDeep) => return outcome("too-deep"),
            // moved aside (H6) and continued without: nothing is lost.
            Err(ParseError::Invalid { .. }) => None,
        }
    };
    let merged =
        match helper::merge_existing(existing.clone(), delete_ip, event.server_duid.clone()) {
            Ok(merged) => merged,
            Err(_) => return outcome("merge-refused"),
        };

    // Nothing dropped: every existing lease not deleted is still there, in
    // order, identical but for the IPv6 `server-duid` member.
    let before: Vec<&Value> = match &existing {
        Some(Value::Array(all)) => all
            .iter()
            .filter(|l| l.string_member("ip-address") != delete_ip)
            .collect(),
        _ => Vec::new(),
    };
    assert_eq!(
        merged.leases.len(),
        before.len(),
        "merge dropped or added leases"
    );
    for (kept, old) in merged.leases.iter().zip(&before) {
        let strip = |v: &Value| match v {
            Value::Object(members) => Value::Object(
                members
                    .iter()
                    .filter(|(k, _)| k.as_slice() != b"server-duid")
                    .cloned()
                    .collect(),
            ),
            other => other.clone(),
        };
        assert_eq!(strip(kept), strip(old), "a kept lease changed");
        if let (Some(Value::String(_)), true) = (
            old.member("server-duid"),
            kept.member("server-duid").is_some(),
        ) {
            assert_eq!(kept.member("server-duid"), old.member("server-duid"));
        }
    }
    if event.action == Action::Init {
        let _ = helper::render_init_output(&merged.leases, merged.server_duid.as_deref());
        return outcome(("init", merged.leases.len().min(8)));
    }
    let mut all = merged.leases;
    all.extend(new_lease);
    let document = Value::Array(all);
    let Ok(written) = helper::to_pretty_bytes(&document) else {
        return outcome("unwritable");
    };

    // Round trip: what it writes it reads back identically, and a second
    // write of that is byte-identical.
    let reread = helper::parse(&written).expect("the helper reads back what it wrote");
    assert_eq!(reread, document, "round trip changed the document");
    assert_eq!(
        helper::to_pretty_bytes(&reread).expect("rewritable"),
        written,
        "second write differs"
    );
    // Its next run accepts the file (no wedge like C's `null` DUID, H7).
    let next = helper::merge_existing(Some(reread), None, event.server_duid.clone())
        .expect("the next run accepts what this run wrote");
    let Value::Array(all) = &document else {
        unreachable!()
    };
    assert_eq!(
        next.leases.len(),
        all.len(),
        "the next run keeps every lease"
    );

    // The NSS modules read it too, even where the helper (checking UTF-8
    // structurally, like yajl) kept an overlong form or an encoded surrogate:
    // the modules read such bytes as U+FFFD within their string.
    let file = LeaseFile::parse(&written).unwrap_or_else(|e| {
        panic!(
            "the NSS parser rejects the helper's output ({e}):\n{}",
            String::from_utf8_lossy(&written)
        )
    });
    let usable = all
        .iter()
        .filter(|l| {
            l.string_member("ip-address")
                .and_then(|ip| std::str::from_utf8(ip).ok())
                .and_then(|ip| ip.parse::<IpAddr>().ok())
                .is_some()
        })
        .count();
    assert!(file.leases().len() <= usable);
    outcome(("write", all.len().min(8), file.leases().len().min(8)))
}
