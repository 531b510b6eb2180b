//! `libvirt-ssh-proxy` through its real interfaces: libvirt's client library
//! with the `test:///` driver (no daemon), lease files, and a real `ssh`
//! against a real `sshd` in a private network namespace.
//!
//! No test here creates an AF_VSOCK socket: every proxy runs with
//! `LIBVIRT_SSH_PROXY_VSOCK=deny` (see `support/ssh_proxy.rs`); VSOCK
//! routes are asserted as *chosen* (`resolve`), never dialled.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixListener;
use std::process::Command;

use integration_tests::prerequisites::{self, find_on_path};
use integration_tests::ssh_proxy::{
    assert_one_line_failure, libvirt_client_missing, Fixture, SilentListener, SshServer,
};

fn libvirt_ready(test: &str) -> bool {
    prerequisites::satisfied(
        test,
        &libvirt_client_missing().into_iter().collect::<Vec<_>>(),
    )
}

fn ssh_ready(test: &str) -> bool {
    let mut missing: Vec<String> = libvirt_client_missing().into_iter().collect();
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        missing.push("not root (network namespace for sshd)".into());
    }
    for command in [
        "ssh",
        "scp",
        "ssh-keygen",
        "sshd",
        "unshare",
        "nsenter",
        "ip",
        "setpriv",
    ] {
        if find_on_path(command).is_none() {
            missing.push(format!(
                "command `{command}` not on PATH (openssh-server, util-linux, iproute2)"
            ));
        }
    }
    prerequisites::satisfied(test, &missing)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `resolve` (plans, never dials) over every host form and fixture domain.
#[test]
fn resolve_finds_domains_by_name_case_uuid_and_id() {
    if !libvirt_ready("resolve_finds_domains_by_name_case_uuid_and_id") {
        return;
    }
    let fx = Fixture::new("proxy-resolve");
    let ok: &[(&str, &str)] = &[
        // A static CID, running: VSOCK is the route.
        ("qemu/static-cid", "route 1: vsock cid 42 port 22\n"),
        // VSOCK first, then the lease.
        (
            "qemu/both-routes",
            "route 1: vsock cid 44 port 22\nroute 2: lease 127.0.0.66:22\n",
        ),
        // ssh lowercased %h: the unique case-insensitive match.
        ("qemu/mixedcasevm", "domain 'MixedCaseVM'"),
        ("qemu%MixedCaseVM", "route 1: lease 127.0.0.44:22\n"),
        ("qemu:system/MixedCaseVM", "domain 'MixedCaseVM'"),
        ("qemu:system%MixedCaseVM", "domain 'MixedCaseVM'"),
        // A domain *named* 7 shadows ID 7, as in libvirt's proxy.
        ("qemu/7", "domain '7'"),
        // ID 1 is the first domain of node.xml.
        ("qemu/1", "domain 'static-cid'"),
        (
            "qemu/44444444-4444-4444-8444-444444444444",
            "domain 'MixedCaseVM'",
        ),
        (
            "qemu/44444444444444448444444444444444",
            "domain 'MixedCaseVM'",
        ),
    ];
    for (host, expected) in ok {
        let output = fx.proxy(&["resolve", host]).output().expect("run proxy");
        let stdout = text(&output.stdout);
        assert!(output.status.success(), "{host}: {}", text(&output.stderr));
        assert!(
            stdout.contains(expected),
            "{host}: {stdout:?} lacks {expected:?}"
        );
    }
    // The port is ssh's %p, for both routes.
    let output = fx
        .proxy(&["resolve", "qemu/both-routes", "2222"])
        .output()
        .unwrap();
    assert_eq!(
        text(&output.stdout),
        "qemu/both-routes: domain 'both-routes' (".to_string()
            + &fx.uri()
            + ", running)\nroute 1: vsock cid 44 port 2222\nroute 2: lease 127.0.0.66:2222\n"
    );
}

/// Each failure class: its own exit code, one line on stderr naming what and
/// where, nothing on stdout. (These never dial: the classes that dial run
/// in the network namespace below.)
#[test]
fn each_failure_is_one_line_with_its_own_exit_code() {
    if !libvirt_ready("each_failure_is_one_line_with_its_own_exit_code") {
        return;
    }
    let fx = Fixture::new("proxy-failures");
    let uri = fx.uri();
    let cases: &[(&[&str], i32, &[&str])] = &[
        (&["qemu/x"], 64, &["bad usage"]),
        (&["qemu:sytem/x", "22"], 64, &["unknown scope 'sytem'"]),
        (&["vm", "22"], 64, &["not a libvirt host"]),
        (&["qemu/x", "port"], 64, &["port 'port' is not a number"]),
        (
            &["qemu/nope", "22"],
            68,
            &["qemu/nope: no domain 'nope'", &uri, "not found"],
        ),
        // Never dialled, although it has a static CID and a live lease.
        (
            &["qemu/stopped-static-cid", "22"],
            69,
            &[
                "is shut off",
                "start it: virsh -c",
                "start stopped-static-cid",
            ],
        ),
        (
            &["qemu/no-route", "22"],
            78,
            &[
                "no vsock device and no live DHCP lease",
                "<vsock model='virtio'><cid auto='yes'/></vsock>",
            ],
        ),
        (
            &["qemu/auto-cid", "22"],
            78,
            &["a vsock device without a CID address"],
        ),
    ];
    for (args, code, needles) in cases {
        let output = fx.proxy(args).output().expect("run proxy");
        assert_one_line_failure(&output, *code, needles);
    }
}

/// A route that never answers times out after `--connect-timeout`, and the
/// line says so (exit 75, like a refusal). On the host's loopback only.
#[test]
fn a_silent_address_times_out() {
    if !libvirt_ready("a_silent_address_times_out") {
        return;
    }
    let fx = Fixture::new("proxy-timeout");
    let listener = SilentListener::start();
    let started = std::time::Instant::now();
    let output = fx
        .proxy(&[
            "--connect-timeout",
            "400",
            "qemu/slow",
            &listener.port.to_string(),
        ])
        .output()
        .expect("run proxy");
    let expected = format!("127.0.0.1:{}: timed out after 0.4 s", listener.port);
    assert_one_line_failure(
        &output,
        75,
        &["could not connect to domain 'slow'", &expected],
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "bounded by the deadline"
    );
}

/// Without libvirt (its socket refuses us, or is missing), libvirtd's
/// `.macs` files still lead to the leases; a name they lack is "permission
/// denied" (77) when libvirt refused us, "no such domain" (68) otherwise.
#[test]
fn unreachable_libvirt_falls_back_to_macs_files() {
    if !ssh_ready("unreachable_libvirt_falls_back_to_macs_files") {
        return;
    }
    let fx = Fixture::new("proxy-fallback");
    let socket = fx.dir.path().join("libvirt-sock-ro");
    let _listener = UnixListener::bind(&socket).expect("bind socket");
    fs::set_permissions(&socket, fs::Permissions::from_mode(0o600)).unwrap();
    let denied_uri = format!("qemu+unix:///system?socket={}", socket.display());
    let missing_uri = format!(
        "qemu+unix:///system?socket={}/missing",
        fx.dir.path().display()
    );
    let as_nobody = |uri: &str, args: &[&str]| {
        Command::new("setpriv")
            .args(["--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"])
            .arg(integration_tests::ssh_proxy::binary())
            .env("LIBVIRT_SSH_PROXY_VSOCK", "deny")
            .args(["--uri", uri, "--lease-dir"])
            .arg(&fx.leases)
            .args(args)
            .output()
            .expect("run proxy as nobody")
    };
    for uri in [&denied_uri, &missing_uri] {
        let output = as_nobody(uri, &["resolve", "qemu/fallback-vm"]);
        assert_eq!(
            text(&output.stdout),
            "qemu/fallback-vm: the .macs files (libvirt unreachable)\nroute 1: lease 127.0.0.44:22\n",
            "{uri}: {}",
            text(&output.stderr)
        );
    }
    // libvirt's client library absent: hidden by /dev/null in a private
    // mount namespace, so dlopen fails; the .macs files still answer.
    let library = integration_tests::ssh_proxy::libvirt_library().expect("libvirt.so.0");
    let script = format!(
        "mount --bind /dev/null {} && exec \"$@\"",
        library.display()
    );
    let output = Command::new("unshare")
        .args([
            "--mount",
            "--propagation",
            "private",
            "sh",
            "-c",
            &script,
            "sh",
        ])
        .arg(integration_tests::ssh_proxy::binary())
        .env("LIBVIRT_SSH_PROXY_VSOCK", "deny")
        .arg("--lease-dir")
        .arg(&fx.leases)
        .args(["explain", "qemu/fallback-vm"])
        .output()
        .expect("run proxy without libvirt.so.0");
    let report = text(&output.stdout);
    assert!(
        report.contains("libvirt   not loaded (")
            && report.contains("qemu:///system: libvirt client library not loaded")
            && report.contains("connects to the .macs files (libvirt unreachable)")
            && report.contains("route 1   127.0.0.44:22"),
        "{report}{}",
        text(&output.stderr)
    );

    // The default scope as a user: system, then session, and no session
    // daemon is ever autostarted (libvirtd is installed here, so libvirt's
    // client would start one without LIBVIRT_AUTOSTART=0).
    let runtime = fx.dir.path().join("runtime");
    fs::create_dir(&runtime).unwrap();
    std::os::unix::fs::chown(&runtime, Some(65534), Some(65534)).unwrap();
    fs::set_permissions(&runtime, fs::Permissions::from_mode(0o700)).unwrap();
    let output = Command::new("setpriv")
        .args(["--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"])
        .arg(integration_tests::ssh_proxy::binary())
        .env("LIBVIRT_SSH_PROXY_VSOCK", "deny")
        .env("XDG_RUNTIME_DIR", &runtime)
        .env("HOME", &runtime)
        .arg("--lease-dir")
        .arg(&fx.leases)
        .args(["qemu/unknown", "22"])
        .output()
        .expect("run proxy as nobody");
    assert_one_line_failure(
        &output,
        68,
        &[
            "qemu:///system: cannot connect",
            "qemu:///session: cannot connect",
        ],
    );
    let spawned = Command::new("pgrep")
        .args(["-u", "nobody", "libvirtd"])
        .output()
        .unwrap();
    assert!(
        spawned.stdout.is_empty(),
        "a session libvirtd was started: {}",
        text(&spawned.stdout)
    );
    assert!(
        !runtime.join("libvirt").join("libvirt-sock").exists(),
        "session socket created"
    );

    let output = as_nobody(&denied_uri, &["qemu/unknown", "22"]);
    assert_one_line_failure(
        &output,
        77,
        &[
            "permission denied on libvirt's socket",
            "Permission denied",
            "unknown",
        ],
    );
    let output = as_nobody(&missing_uri, &["qemu/unknown", "22"]);
    assert_one_line_failure(
        &output,
        68,
        &["no domain 'unknown'", "cannot connect", "*.macs: not found"],
    );
}

/// The lease route end to end: a real ssh runs the proxy as its
/// ProxyCommand and logs in to a real sshd listening on the domain's leased
/// address, with fd passing, with the byte relay, through scp, and through
/// a "remote hypervisor" (`ProxyCommand ssh hv libvirt-ssh-proxy ...`).
#[test]
fn ssh_reaches_a_domain_through_its_lease() {
    if !ssh_ready("ssh_reaches_a_domain_through_its_lease") {
        return;
    }
    let fx = Fixture::new("proxy-ssh");
    let server = SshServer::start(fx.dir.path());
    let config = server.ssh_config(&fx.proxy_command());
    let ssh = |args: &[&str]| {
        let output = server
            .command("ssh")
            .arg("-F")
            .arg(&config)
            .args(args)
            .output()
            .expect("run ssh");
        (
            output.status.code(),
            text(&output.stdout),
            text(&output.stderr),
        )
    };

    // fd passing (the snippet's mode); MixedCase typed, %n restores it.
    let (code, stdout, stderr) = ssh(&["qemu/MixedCaseVM", "echo via-fd-pass $((6*7))"]);
    assert_eq!(
        (code, stdout.as_str()),
        (Some(0), "via-fd-pass 42\n"),
        "{stderr}\n{}",
        server.log()
    );

    // The byte relay (ProxyUseFdpass no: stdin/stdout are pipes).
    let (code, stdout, stderr) = ssh(&[
        "-o",
        "ProxyUseFdpass=no",
        "qemu/MixedCaseVM",
        "echo via-relay",
    ]);
    assert_eq!(
        (code, stdout.as_str()),
        (Some(0), "via-relay\n"),
        "{stderr}"
    );

    // VSOCK is tried first (denied here), then the lease answers.
    let (code, stdout, stderr) = ssh(&["qemu:system/both-routes", "echo fell-back"]);
    assert_eq!(
        (code, stdout.as_str()),
        (Some(0), "fell-back\n"),
        "{stderr}"
    );

    // scp and its `%` form (scp takes `qemu/vm:` for a local path).
    let source = fx.dir.write("payload.txt", "copied through the proxy\n");
    let target = fx.dir.path().join("received.txt");
    let output = server
        .command("scp")
        .arg("-F")
        .arg(&config)
        .arg(&source)
        .arg(format!("qemu%MixedCaseVM:{}", target.display()))
        .output()
        .expect("run scp");
    assert!(output.status.success(), "scp: {}", text(&output.stderr));
    assert_eq!(
        fs::read_to_string(&target).unwrap(),
        "copied through the proxy\n"
    );

    // A remote hypervisor: ssh to it runs the proxy there, which relays.
    let remote = format!(
        "ssh -F {} root@127.0.0.55 {}",
        config.display(),
        fx.proxy_command().replace("%n", "")
    );
    let (code, stdout, stderr) = ssh(&[
        "-o",
        &format!("ProxyCommand={remote}"),
        "-o",
        "ProxyUseFdpass=no",
        "qemu/7",
        "echo via-hypervisor",
    ]);
    assert_eq!(
        (code, stdout.as_str()),
        (Some(0), "via-hypervisor\n"),
        "{stderr}"
    );

    // explain: every step, ssh's own choice of ProxyCommand, a TCP probe.
    let output = server
        .command(&integration_tests::ssh_proxy::binary().to_string_lossy())
        .args(["--uri", &fx.uri(), "--lease-dir"])
        .arg(&fx.leases)
        .args(["explain", "-F"])
        .arg(&config)
        .arg("qemu/MixedCaseVM")
        .output()
        .expect("run explain");
    let report = text(&output.stdout);
    for needle in [
        "matched by name; uuid 44444444-4444-4444-8444-444444444444",
        "no vsock device (add <vsock model='virtio'><cid auto='yes'/></vsock>)",
        "nic bridge virbr7 52:54:00:00:00:44",
        "lease 127.0.0.44 (live, ",
        "(this proxy)",
        "route 1   127.0.0.44:22",
        "probe     127.0.0.44:22: connected in ",
        "says 'SSH-2.0-OpenSSH",
    ] {
        assert!(
            report.contains(needle),
            "explain lacks {needle:?}:\n{report}{}",
            text(&output.stderr)
        );
    }

    // Refused: ssh fails (255) and shows the proxy's one line, which lists
    // the attempt; the proxy alone exits 75.
    let (code, _, stderr) = ssh(&["qemu/refusing", "true"]);
    assert_eq!(code, Some(255));
    assert!(
        stderr.contains("libvirt-ssh-proxy: qemu/refusing: could not connect to domain 'refusing'")
            && stderr.contains("127.0.0.88:22: connection refused"),
        "{stderr}"
    );
    let mut proxy = server.command(&integration_tests::ssh_proxy::binary().to_string_lossy());
    proxy
        .args(["--uri", &fx.uri(), "--lease-dir"])
        .arg(&fx.leases)
        .args(["qemu/refusing", "22"]);
    assert_one_line_failure(
        &proxy.output().unwrap(),
        75,
        &["127.0.0.88:22: connection refused"],
    );

    // The stopped domain's live lease (127.0.0.33, where sshd listens) is
    // never dialled.
    let (code, _, stderr) = ssh(&["qemu/stopped-static-cid", "true"]);
    assert_eq!(code, Some(255));
    assert!(stderr.contains("is shut off"), "{stderr}");
}
