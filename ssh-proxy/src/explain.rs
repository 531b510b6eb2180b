//! `resolve` and `explain`: what the proxy would do, and why, for a person.

use std::fmt::Write as _;
use std::io::Read;
use std::path::Path;
use std::time::{Duration, Instant};

use common::lease_dir::Content;
use common::LeaseDir;

use crate::dial::{self, VsockPolicy};
use crate::failure::one_line;
use crate::locate::UriOutcome;
use crate::resolve::{self, Resolution, Settings, Source};
use crate::route::Route;
use crate::target::{Scope, Target};

/// `resolve`: one line for the domain, one per route.
pub fn routes_text(target: &Target, resolution: &Resolution) -> String {
    let mut out = format!("{}: {}\n", target.spec, source_text(&resolution.source));
    for (i, route) in resolution.plan.routes.iter().enumerate() {
        let kind = match route {
            Route::Vsock { .. } => "",
            Route::Tcp(_) => "lease ",
        };
        let _ = writeln!(out, "route {}: {kind}{route}", i + 1);
    }
    out
}

pub fn source_text(source: &Source) -> String {
    match source {
        Source::Libvirt(d) => format!("domain '{}' ({}, {})", d.name, d.uri, d.state.describe()),
        Source::MacsFiles => "the .macs files (libvirt unreachable)".into(),
    }
}

pub struct Probe {
    pub timeout: Duration,
    pub vsock: VsockPolicy,
}

/// `explain`: every step, then the verdict.
pub fn explain(
    target: &Target,
    port: u32,
    settings: &Settings<'_>,
    ssh_config: Option<&Path>,
    probe: Probe,
) {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "host      {}  (domain name, UUID or ID '{}'; port {port})",
        target.spec, target.name
    );
    let default_uris = settings
        .uris
        .first()
        .is_some_and(|u| u == crate::target::SYSTEM_URI);
    let scope = match (target.scope, settings.uris.len()) {
        (Scope::Auto, 1) if default_uris => " (qemu/: system; session is skipped as root)",
        (Scope::Auto, _) if default_uris => " (qemu/: system, then session)",
        _ => "",
    };
    let _ = writeln!(out, "search    {}{scope}", settings.uris.join(", "));
    let search = resolve::search(target, settings);
    match &search.libvirt_error {
        None => out.push_str("libvirt   libvirt.so.0 loaded; connections are read-only\n"),
        Some(e) => {
            let _ = writeln!(
                out,
                "libvirt   not loaded ({}): only the .macs files can name domains",
                one_line(e)
            );
        }
    }
    for attempt in &search.attempts {
        let _ = writeln!(out, "  {}", resolve::outcome_text(attempt));
        if let UriOutcome::Found(d) = &attempt.outcome {
            let id = d.id.map_or("-".to_string(), |id| id.to_string());
            let _ = writeln!(
                out,
                "    matched by {}; uuid {}; id {id}; {}",
                d.matched_by.describe(),
                d.uuid,
                d.state.describe()
            );
            if let Some(facts) = &d.facts {
                let cid = match (facts.has_vsock, facts.cid) {
                    (_, Some(cid)) => format!("vsock cid {cid}"),
                    (true, None) => "vsock device without a CID address".into(),
                    (false, None) => format!("no vsock device (add {})", crate::route::VSOCK_XML),
                };
                let _ = writeln!(out, "    {cid}");
                for nic in &facts.nics {
                    let macs: Vec<&str> = nic.macs().collect();
                    let _ = writeln!(
                        out,
                        "    nic {} {} {}",
                        nic.kind,
                        nic.source.as_deref().unwrap_or("-"),
                        if macs.is_empty() {
                            "(no MAC)".to_string()
                        } else {
                            macs.join(" ")
                        }
                    );
                    if let Some(dir) = &search.lease_dir {
                        leases_of(&mut out, dir, &macs);
                    }
                }
            }
            if let Some(e) = &d.xml_error {
                let _ = writeln!(out, "    live XML unreadable: {}", one_line(e));
            }
        }
    }
    match (&search.lease_dir, &search.lease_dir_error) {
        (Some(dir), _) => {
            let _ = writeln!(
                out,
                "leases    {} ({} files)",
                dir.path().display(),
                dir.files().len()
            );
        }
        (None, Some(e)) => {
            let _ = writeln!(out, "leases    unreadable: {e}");
        }
        (None, None) => out.push_str("leases    not used (--no-lease)\n"),
    }
    ssh_selection(&mut out, target, ssh_config);
    match resolve::resolve(target, port, settings, &search) {
        Ok(resolution) => {
            let _ = writeln!(
                out,
                "verdict   connects to {}, trying in order:",
                source_text(&resolution.source)
            );
            for (i, route) in resolution.plan.routes.iter().enumerate() {
                let _ = writeln!(out, "route {}   {route}", i + 1);
            }
            for &route in &resolution.plan.routes {
                probe_route(&mut out, route, &probe);
            }
        }
        Err(failure) => {
            let _ = writeln!(
                out,
                "verdict   {} (exit {}): {}",
                failure.class(),
                failure.exit_code(),
                one_line(&failure.to_string())
            );
        }
    }
    print!("{out}");
}

/// The leases of these MACs in every `.status` file, live or not.
fn leases_of(out: &mut String, dir: &LeaseDir, macs: &[&str]) {
    let now = common::now_epoch_seconds();
    let mut any = false;
    let mut ids = Vec::new();
    for file in dir.files() {
        let Content::Leases(leases) = file.content() else {
            continue;
        };
        ids.clear();
        for mac in macs {
            leases.find_by_mac(mac.as_bytes(), &mut ids);
        }
        for &id in &ids {
            any = true;
            let lease = leases.lease(id);
            let state = if !lease.is_live(now) {
                "expired".to_string()
            } else if lease.expiry == 0 {
                "live, never expires".to_string()
            } else {
                format!("live, {} s left", lease.expiry - now)
            };
            let _ = writeln!(
                out,
                "      lease {} ({state}) in {}{}",
                lease.address,
                file.name().to_string_lossy(),
                leases
                    .hostname(lease)
                    .map(|h| format!(", hostname '{}'", one_line(h)))
                    .unwrap_or_default()
            );
        }
    }
    if !any {
        out.push_str("      no DHCP lease for these MACs\n");
    }
}

/// Which ProxyCommand `ssh -G` picks for this host: ours, libvirt's,
/// systemd's, a user's, or none.
fn ssh_selection(out: &mut String, target: &Target, ssh_config: Option<&Path>) {
    let mut ssh = std::process::Command::new("ssh");
    if let Some(config) = ssh_config {
        ssh.arg("-F").arg(config);
    }
    let output = match ssh
        .arg("-G")
        .arg(&target.spec)
        .stderr(std::process::Stdio::piped())
        .output()
    {
        Ok(output) => output,
        Err(e) => {
            let _ = writeln!(out, "ssh -G    cannot run ssh: {e}");
            return;
        }
    };
    let text = String::from_utf8_lossy(&output.stdout);
    let value = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(key).and_then(|v| v.strip_prefix(' ')))
            .map(str::to_string)
    };
    let command = value("proxycommand");
    let jump = value("proxyjump");
    let verdict = match (&command, &jump) {
        (_, Some(jump)) if jump != "none" => {
            format!("ProxyJump {jump}: a user's setting wins, this proxy is not used")
        }
        (None, _) => "no ProxyCommand: ssh would look the host up by name; install the ssh_config snippet (libvirt-ssh-proxy print-config)".into(),
        (Some(c), _) => format!("{c}  ({})", whose_proxy(c)),
    };
    let _ = writeln!(out, "ssh -G    {verdict}");
    if let Some(fdpass) = value("proxyusefdpass") {
        let _ = writeln!(out, "          proxyusefdpass {fdpass}");
    }
}

/// Whose proxy a ProxyCommand runs: the first word naming a
/// `libvirt-ssh-proxy` decides (it may follow `env VAR=...`).
fn whose_proxy(command: &str) -> &'static str {
    let Some(program) = command
        .split_whitespace()
        .find(|word| word.ends_with("/libvirt-ssh-proxy") || *word == "libvirt-ssh-proxy")
    else {
        return if command.contains("systemd-ssh-proxy") {
            "systemd's proxy: it does not know libvirt domain names"
        } else {
            "a user's ProxyCommand, e.g. from Host *: this proxy is not used"
        };
    };
    let ours = std::env::current_exe().ok();
    let program = std::fs::canonicalize(program).ok();
    if program.is_some() && program == ours {
        "this proxy"
    } else if command.contains("/libexec/libvirt-ssh-proxy") {
        "libvirt's proxy: VSOCK only, case-sensitive names"
    } else {
        "another libvirt-ssh-proxy binary"
    }
}

fn probe_route(out: &mut String, route: Route, probe: &Probe) {
    let started = Instant::now();
    match dial::dial(route, probe.timeout, probe.vsock) {
        Ok(conn) => {
            let elapsed = started.elapsed();
            let mut stream = std::fs::File::from(conn);
            let banner = read_banner(&mut stream);
            let _ = writeln!(
                out,
                "probe     {route}: connected in {:.1} ms{banner}",
                elapsed.as_secs_f64() * 1e3
            );
        }
        Err(e) => {
            let _ = writeln!(out, "probe     {route}: {e}");
        }
    }
}

/// The server's first line (an SSH server names itself at once).
fn read_banner(stream: &mut std::fs::File) -> String {
    let socket = nix::sys::socket::setsockopt(
        &*stream,
        nix::sys::socket::sockopt::ReceiveTimeout,
        &nix::sys::time::TimeVal::new(1, 0),
    );
    if socket.is_err() {
        return String::new();
    }
    let mut buf = [0u8; 256];
    match stream.read(&mut buf) {
        Ok(n) if n > 0 => {
            let line = String::from_utf8_lossy(&buf[..n]);
            format!(", says '{}'", one_line(line.lines().next().unwrap_or("")))
        }
        _ => ", no banner within 1 s".into(),
    }
}
