//! `explain NAME`: every reason the name resolves or not, one line each.

use std::fs;
use std::io::{self, Write};
use std::net::IpAddr;
use std::path::PathBuf;

use common::lease_dir::Content;
use common::lookup::macs_of_domain;
use common::{Answer, Family, LeaseDir, Service};

use crate::elf;
use crate::list;
use crate::nsswitch::{self, HostsLine, Status};
use crate::options::Globals;
use crate::report::{
    describe_dir_error, describe_ignored, line, network_of, read_lease_dir, Level,
};
use crate::timefmt;

/// Present while systemd-resolved runs (nss-resolve talks to it there).
const RESOLVED_SOCKET: &str = "systemd/resolve/io.systemd.Resolve";
/// Present while nscd or nsncd runs; glibc then asks it before any module.
const NSCD_SOCKET: &str = "nscd/socket";

/// `/run`, or `LIBVIRT_NSS_CLI_RUN_DIR` (for tests: where to look for the
/// systemd-resolved and nscd sockets).
fn run_dir() -> PathBuf {
    std::env::var_os("LIBVIRT_NSS_CLI_RUN_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/run"))
}

const SERVICES: [Service; 2] = [Service::Libvirt, Service::LibvirtGuest];

struct Findings(Vec<(Level, String)>);

impl Findings {
    fn add(&mut self, level: Level, text: impl Into<String>) {
        self.0.push((level, text.into()));
    }
}

fn join(addresses: &[IpAddr]) -> String {
    addresses
        .iter()
        .map(IpAddr::to_string)
        .collect::<Vec<_>>()
        .join(" ")
}

fn expired_text(expiry: i64, now: i64) -> String {
    format!(
        "expired {} ({})",
        timefmt::utc(expiry),
        timefmt::relative(expiry, now)
    )
}

/// One lease found for the name, live or not.
struct Held {
    network: String,
    address: IpAddr,
    expiry: i64,
    live: bool,
    hostname: Option<String>,
}

fn held_leases(
    dir: &LeaseDir,
    now: i64,
    find: impl Fn(&common::status_file::LeaseFile, &mut Vec<u32>),
) -> Vec<Held> {
    let mut held = Vec::new();
    for file in dir.files() {
        let Content::Leases(leases) = file.content() else {
            continue;
        };
        let mut ids = Vec::new();
        find(leases, &mut ids);
        ids.sort_unstable();
        ids.dedup();
        for id in ids {
            let lease = leases.lease(id);
            held.push(Held {
                network: network_of(file),
                address: lease.address,
                expiry: lease.expiry,
                live: lease.is_live(now),
                hostname: leases
                    .hostname(lease)
                    .filter(|h| !h.is_empty())
                    .map(str::to_owned),
            });
        }
    }
    held
}

/// What the lease data says, in four parts: the hostname (libvirt), the
/// domain (libvirt_guest), an unknown name, ignored files. Returns each
/// service's answer.
fn lease_data(dir: &LeaseDir, name: &[u8], shown: &str, now: i64, f: &mut Findings) -> [Answer; 2] {
    let libvirt = Service::Libvirt.lookup_name(dir, name, Family::Any, now);
    let guest = Service::LibvirtGuest.lookup_name(dir, name, Family::Any, now);
    let by_hostname = held_leases(dir, now, |leases, ids| leases.find_by_hostname(name, ids));
    let hostname_found = matches!(libvirt, Answer::Found(_));
    let macs: Vec<String> = macs_of_domain(dir, name)
        .into_iter()
        .map(str::to_owned)
        .collect();

    hostname_findings(&libvirt, &by_hostname, shown, now, f);
    let query = Query {
        dir,
        name,
        shown,
        now,
    };
    domain_findings(&query, &macs, &guest, &by_hostname, hostname_found, f);
    if !hostname_found && by_hostname.is_empty() && macs.is_empty() {
        unknown_name_findings(dir, shown, now, f);
    }
    ignored_file_findings(dir, f);
    [libvirt, guest]
}

/// libvirt: the leases whose DHCP hostname is the name, live and expired.
fn hostname_findings(
    libvirt: &Answer,
    by_hostname: &[Held],
    shown: &str,
    now: i64,
    f: &mut Findings,
) {
    let hostname_found = matches!(libvirt, Answer::Found(_));
    if let Answer::Found(addresses) = libvirt {
        let mut networks: Vec<&str> = by_hostname
            .iter()
            .filter(|h| h.live)
            .map(|h| h.network.as_str())
            .collect();
        networks.dedup();
        f.add(
            Level::Ok,
            format!(
                "libvirt: {shown} is the DHCP hostname of {} (network {})",
                join(addresses),
                networks.join(", ")
            ),
        );
    }
    for held in by_hostname.iter().filter(|h| !h.live) {
        f.add(
            if hostname_found {
                Level::Info
            } else {
                Level::Fail
            },
            format!(
                "lease of {shown} on {} ({}) {}",
                held.network,
                held.address,
                expired_text(held.expiry, now)
            ),
        );
    }
}

/// The name `explain` looks up, and where.
struct Query<'a> {
    dir: &'a LeaseDir,
    name: &'a [u8],
    /// The name as printed.
    shown: &'a str,
    now: i64,
}

/// libvirt_guest: the domain's MACs in the .macs files, and their leases;
/// and, when the hostname did not match, what the guest calls itself.
fn domain_findings(
    query: &Query<'_>,
    macs: &[String],
    guest: &Answer,
    by_hostname: &[Held],
    hostname_found: bool,
    f: &mut Findings,
) {
    let Query {
        dir,
        name,
        shown,
        now,
    } = *query;
    if macs.is_empty() {
        return;
    }
    let macs_networks: Vec<String> = dir
        .files()
        .iter()
        .filter(|file| match file.content() {
            Content::Macs(m) => {
                let mut any = false;
                m.for_each_mac_of_domain(name, |_| any = true);
                any
            }
            _ => false,
        })
        .map(|file| file.name().to_string_lossy().into_owned())
        .collect();
    let listed = format!("{} (MAC {})", macs_networks.join(", "), macs.join(", "));
    let by_mac = held_leases(dir, now, |leases, ids| {
        for mac in macs {
            leases.find_by_mac(mac.as_bytes(), ids);
        }
    });
    match guest {
        Answer::Found(addresses) => f.add(
            Level::Ok,
            format!(
                "libvirt_guest: domain {shown} is in {listed}, leases {}",
                join(addresses)
            ),
        ),
        _ if by_mac.is_empty() => f.add(
            Level::Fail,
            format!(
                "domain {shown} is in {listed} but holds no lease: the VM is shut off, \
                     has not finished DHCP, or uses a static address"
            ),
        ),
        _ => {
            let already = |h: &Held| {
                by_hostname
                    .iter()
                    .any(|o| o.network == h.network && o.address == h.address)
            };
            for held in by_mac.iter().filter(|h| !already(h)) {
                f.add(
                    Level::Fail,
                    format!(
                        "lease of domain {shown} on {} ({}) {}",
                        held.network,
                        held.address,
                        expired_text(held.expiry, now)
                    ),
                );
            }
        }
    }
    if !hostname_found {
        let live: Vec<&Held> = by_mac.iter().filter(|h| h.live).collect();
        let mut others: Vec<&str> = live.iter().filter_map(|h| h.hostname.as_deref()).collect();
        others.sort_unstable();
        others.dedup();
        if !live.is_empty() && others.is_empty() {
            let where_ = live
                .iter()
                .map(|h| format!("{} on {}", h.address, h.network))
                .collect::<Vec<_>>()
                .join(", ");
            f.add(
                Level::Warn,
                format!(
                    "guest sent no hostname: the leases of domain {shown} ({where_}) carry no \
                         DHCP hostname, so libvirt does not know it; libvirt_guest answers it"
                ),
            );
        } else if !others.is_empty() {
            f.add(
                Level::Info,
                format!(
                    "the guest of domain {shown} calls itself {} over DHCP: libvirt answers \
                         that name, libvirt_guest answers {shown}",
                    others.join(", ")
                ),
            );
        }
    }
}

/// A name neither module knows: likely mistakes, and names that do resolve.
fn unknown_name_findings(dir: &LeaseDir, shown: &str, now: i64, f: &mut Findings) {
    f.add(
            Level::Fail,
            format!(
                "unknown name: no lease has the hostname {shown} and no .macs file lists a domain {shown}"
            ),
        );
    if shown.ends_with('.') {
        f.add(
            Level::Info,
            "the modules match names exactly: drop the trailing dot",
        );
    } else if let Some((first, _)) = shown.split_once('.') {
        let known = |n: &str| {
            SERVICES.iter().any(|s| {
                matches!(
                    s.lookup_name(dir, n.as_bytes(), Family::Any, now),
                    Answer::Found(_)
                )
            })
        };
        if known(first) {
            f.add(
                Level::Info,
                format!("{first} resolves: the modules match bare names, not {shown}"),
            );
        }
    }
    let mut names: Vec<String> = list::rows(dir, now)
        .into_iter()
        .filter(|r| r.lease.as_ref().is_some_and(|l| l.live))
        .map(|r| r.name)
        .collect();
    names.dedup_by(|a, b| a.eq_ignore_ascii_case(b));
    if !names.is_empty() {
        let more = if names.len() > 8 { ", ..." } else { "" };
        names.truncate(8);
        f.add(
            Level::Info,
            format!(
                "names that resolve: {}{more} (libvirt-nss list)",
                names.join(", ")
            ),
        );
    }
}

/// Files that contribute nothing, or only some of their entries.
fn ignored_file_findings(dir: &LeaseDir, f: &mut Findings) {
    for file in dir.files() {
        match file.content() {
            Content::Ignored(ignored) => f.add(
                Level::Warn,
                format!(
                    "{} ignored, {}: names in it do not resolve",
                    file.path().display(),
                    describe_ignored(ignored)
                ),
            ),
            Content::Leases(leases) if leases.skipped_entries() > 0 => f.add(
                Level::Info,
                format!(
                    "{}: {} unusable entries skipped",
                    file.path().display(),
                    leases.skipped_entries()
                ),
            ),
            _ => {}
        }
    }
}

fn multiarch() -> &'static str {
    match (std::env::consts::ARCH, cfg!(target_endian = "little")) {
        ("x86_64", _) => "x86_64-linux-gnu",
        ("x86", _) => "i386-linux-gnu",
        ("aarch64", _) => "aarch64-linux-gnu",
        ("arm", _) => "arm-linux-gnueabihf",
        ("powerpc64", true) => "powerpc64le-linux-gnu",
        ("powerpc64", false) => "powerpc64-linux-gnu",
        ("s390x", _) => "s390x-linux-gnu",
        ("riscv64", _) => "riscv64-linux-gnu",
        ("loongarch64", _) => "loongarch64-linux-gnu",
        _ => "unknown-linux-gnu",
    }
}

/// Where glibc finds `libnss_X.so.2`, in order.
fn module_dirs(globals: &Globals) -> Vec<(PathBuf, &'static str)> {
    if let Some(dirs) = &globals.libdirs {
        return dirs.iter().map(|d| (d.clone(), "")).collect();
    }
    let mut dirs = Vec::new();
    if let Some(path) = std::env::var_os("LD_LIBRARY_PATH") {
        for dir in std::env::split_paths(&path).filter(|d| !d.as_os_str().is_empty()) {
            dirs.push((dir, " via LD_LIBRARY_PATH, which setuid programs ignore"));
        }
    }
    let ma = multiarch();
    for dir in [
        format!("/lib/{ma}"),
        format!("/usr/lib/{ma}"),
        "/lib64".to_owned(),
        "/usr/lib64".to_owned(),
        "/lib".to_owned(),
        "/usr/lib".to_owned(),
    ] {
        dirs.push((PathBuf::from(dir), ""));
    }
    dirs
}

/// Checks `libnss_<service>.so.2`; true when glibc can use it.
fn check_module(
    globals: &Globals,
    service: Service,
    on_hosts_line: bool,
    f: &mut Findings,
) -> bool {
    let svc = service.name();
    let file = format!("libnss_{svc}.so.2");
    let dirs = module_dirs(globals);
    let Some((path, how)) = dirs
        .iter()
        .map(|(d, how)| (d.join(&file), *how))
        .find(|(p, _)| p.exists())
    else {
        let looked: Vec<String> = dirs.iter().map(|(d, _)| d.display().to_string()).collect();
        f.add(
            if on_hosts_line {
                Level::Fail
            } else {
                Level::Info
            },
            format!(
                "{file} is not installed (looked in {}): glibc skips {svc} as UNAVAIL; \
                 install libnss-libvirt-rs or run make install",
                looked.join(", ")
            ),
        );
        return false;
    };
    let level = if on_hosts_line {
        Level::Fail
    } else {
        Level::Info
    };
    match elf::inspect(&path) {
        Err(why) => {
            f.add(
                level,
                format!("{}: {why}: glibc cannot load it", path.display()),
            );
            false
        }
        Ok(so) => {
            let exports = |entry: &str| {
                let symbol = format!("_nss_{svc}_{entry}");
                so.exports.contains(&symbol)
            };
            if !exports("gethostbyname4_r") && !exports("gethostbyname2_r") {
                f.add(
                    level,
                    format!(
                        "{} exports no _nss_{svc}_gethostbyname*_r: not an NSS module for {svc}",
                        path.display()
                    ),
                );
                return false;
            }
            let kind = if exports("gethostbyaddr_r") {
                "with reverse lookups"
            } else {
                "no reverse lookups: libvirt's C module?"
            };
            f.add(
                if on_hosts_line {
                    Level::Ok
                } else {
                    Level::Info
                },
                format!("{svc} module: {}{how} ({kind})", path.display()),
            );
            true
        }
    }
}

fn nsswitch_findings(
    globals: &Globals,
    hosts: &HostsLine,
    name: &[u8],
    answers: Option<&[Answer; 2]>,
    resolved_running: bool,
    f: &mut Findings,
) {
    let path = globals.nsswitch.display();
    match hosts.line_number {
        Some(n) => f.add(
            Level::Info,
            format!("hosts: {}  ({path} line {n})", hosts.text),
        ),
        None => f.add(
            Level::Info,
            format!(
                "no hosts: line in {path}: glibc uses \"{}\"",
                nsswitch::GLIBC_DEFAULT_HOSTS
            ),
        ),
    }
    for error in &hosts.errors {
        f.add(Level::Warn, format!("hosts: line: {error}"));
    }
    let positions = SERVICES.map(|s| hosts.position(s.name()));
    if positions.iter().all(Option::is_none) {
        f.add(
            Level::Fail,
            format!(
                "neither libvirt nor libvirt_guest is on the hosts: line of {path}: \
                 glibc never asks them (add them; see nsswitch-examples/)"
            ),
        );
        return;
    }
    for (i, service) in SERVICES.iter().enumerate() {
        let svc = service.name();
        let Some(pos) = positions[i] else {
            let found = answers.is_some_and(|a| matches!(a[i], Answer::Found(_)));
            let other_found = answers.is_some_and(|a| matches!(a[1 - i], Answer::Found(_)));
            if found && !other_found {
                f.add(
                    Level::Fail,
                    format!("only {svc} knows this name, and {svc} is not on the hosts: line"),
                );
            }
            continue;
        };
        let blocker = hosts.services[..pos].iter().find(|s| {
            // resolve: judged as when systemd-resolved runs (see below).
            let status = if s.name == "resolve" {
                Status::NotFound
            } else {
                assumed_status(s, name, resolved_running)
            };
            s.returns_on(status)
        });
        match blocker {
            Some(s) if s.name == "resolve" && resolved_running => f.add(
                Level::Fail,
                format!(
                    "{svc} comes after `{}` and systemd-resolved is running: resolve answers \
                     every name (NOTFOUND too), so {svc} is never asked; put {svc} before resolve",
                    s.display()
                ),
            ),
            Some(s) if s.name == "resolve" => f.add(
                Level::Warn,
                format!(
                    "{svc} comes after `{}`: whenever systemd-resolved runs (it does not now), \
                     {svc} is never asked; put {svc} before resolve",
                    s.display()
                ),
            ),
            Some(s) => f.add(
                Level::Fail,
                format!(
                    "{svc} comes after `{}`: a name {} does not know stops there, so {svc} is \
                     never asked; put {svc} before {}",
                    s.display(),
                    s.name,
                    s.name
                ),
            ),
            None => f.add(
                Level::Ok,
                format!(
                    "{svc} is on the hosts: line (service {} of {})",
                    pos + 1,
                    hosts.services.len()
                ),
            ),
        }
    }
}

/// What a service other than ours returns for a VM name, as far as we can
/// tell without asking it.
fn assumed_status(service: &nsswitch::Service, name: &[u8], resolved_running: bool) -> Status {
    let local = name
        .to_ascii_lowercase()
        .strip_suffix(b".")
        .unwrap_or(&name.to_ascii_lowercase())
        .ends_with(b".local");
    match service.name.as_str() {
        // nss-resolve is UNAVAIL when systemd-resolved is not running, and
        // its answer is final when it runs.
        "resolve" if resolved_running => Status::NotFound,
        "resolve" => Status::Unavail,
        // nss-mdns's minimal variants only handle *.local (UNAVAIL otherwise).
        "mdns_minimal" | "mdns4_minimal" | "mdns6_minimal" if !local => Status::Unavail,
        // Everything else is assumed not to know a VM's name.
        _ => Status::NotFound,
    }
}

pub fn run(globals: &Globals, name: &[u8], out: &mut dyn Write) -> io::Result<u8> {
    let shown = String::from_utf8_lossy(name).into_owned();
    let now = common::now_epoch_seconds();
    let mut f = Findings(Vec::new());

    let (dir, refreshed) = read_lease_dir(&globals.lease_dir);
    let answers = match refreshed {
        Ok(()) => Some(lease_data(&dir, name, &shown, now, &mut f)),
        Err(error) => {
            f.add(Level::Fail, describe_dir_error(&globals.lease_dir, error));
            None
        }
    };

    let run = run_dir();
    let resolved_running = run.join(RESOLVED_SOCKET).exists();
    let hosts = match fs::read_to_string(&globals.nsswitch) {
        Ok(text) => nsswitch::parse(&text),
        Err(e) => {
            f.add(
                Level::Warn,
                format!("cannot read {}: {e}", globals.nsswitch.display()),
            );
            nsswitch::parse("")
        }
    };
    nsswitch_findings(
        globals,
        &hosts,
        name,
        answers.as_ref(),
        resolved_running,
        &mut f,
    );

    let installed =
        SERVICES.map(|s| check_module(globals, s, hosts.position(s.name()).is_some(), &mut f));

    let nscd_socket = run.join(NSCD_SOCKET);
    if nscd_socket.exists() {
        f.add(
            Level::Warn,
            format!(
                "nscd or nsncd is running ({}): it answers from its cache, and a \
                 failed lookup is cached, so a new VM may stay unknown for a while: nscd -i hosts",
                nscd_socket.display()
            ),
        );
    }

    // What glibc does: walk the hosts: line with each service's status.
    let walked = nsswitch::walk(&hosts, |service| {
        match SERVICES.iter().position(|s| s.name() == service.name) {
            Some(i) if !installed[i] => Status::Unavail,
            Some(i) => match answers.as_ref().map(|a| &a[i]) {
                None => Status::Unavail,
                Some(Answer::Found(_)) => Status::Success,
                Some(_) => Status::NotFound,
            },
            None => assumed_status(service, name, resolved_running),
        }
    });
    let code = match walked {
        Some((i, Status::Success)) => {
            let answered_by = &hosts.services[i].name;
            let index = SERVICES.iter().position(|s| s.name() == answered_by);
            let addresses = match index.and_then(|i| answers.as_ref().map(|a| &a[i])) {
                Some(Answer::Found(addresses)) => join(addresses),
                _ => String::new(),
            };
            f.add(
                Level::Ok,
                format!("{shown} resolves through {answered_by}: {addresses}"),
            );
            0
        }
        Some((i, status)) => {
            f.add(
                Level::Fail,
                format!(
                    "{shown} does not resolve: glibc stops at {} ({})",
                    hosts.services[i].name,
                    status.name()
                ),
            );
            1
        }
        None => {
            f.add(
                Level::Fail,
                format!("{shown} does not resolve: the hosts: line is empty"),
            );
            1
        }
    };

    for (level, text) in &f.0 {
        line(out, &globals.style, *level, text)?;
    }
    Ok(code)
}
