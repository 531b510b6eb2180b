//! Command line and environment → what to do, read exactly as `main` in
//! libvirt's `src/network/leaseshelper.c` and `virLeaseNew` read them.
//!
//! dnsmasq runs the script as `HELPER add|old|del MAC|DUID IP [HOSTNAME]`
//! or `HELPER init`, with the lease details in `DNSMASQ_*` variables.
//! Everything is handled as bytes: neither argv nor env must be UTF-8.

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;

use crate::duid;

/// The four actions dnsmasq sends to a `--dhcp-script` that libvirt handles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Add,
    Old,
    Del,
    Init,
}

impl Action {
    fn from_arg(arg: &[u8]) -> Option<Action> {
        match arg {
            b"add" => Some(Action::Add),
            b"old" => Some(Action::Old),
            b"del" => Some(Action::Del),
            b"init" => Some(Action::Init),
            _ => None,
        }
    }
}

/// One lease event, with every fallback already applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub action: Action,
    /// `DNSMASQ_INTERFACE`, else `VIR_BRIDGE_NAME`: names `<iface>.status`.
    pub interface: Vec<u8>,
    /// IPv4: `argv[2]`. IPv6: `DNSMASQ_MAC`, else the MAC embedded in the
    /// client DUID (DECISIONS.md H8). `None` means no lease is stored.
    pub mac: Option<Vec<u8>>,
    /// `argv[3]` (absent when only the action was given).
    pub ip: Option<Vec<u8>>,
    /// `argv[4]`, else `DNSMASQ_SUPPLIED_HOSTNAME`, else `DNSMASQ_OLD_HOSTNAME`.
    pub hostname: Option<Vec<u8>>,
    /// IPv4: `DNSMASQ_CLIENT_ID`. IPv6: the client DUID (`argv[2]`).
    pub client_id: Option<Vec<u8>>,
    /// `DNSMASQ_IAID`; its presence (even empty) marks an IPv6 event.
    pub iaid: Option<Vec<u8>>,
    /// `DNSMASQ_SERVER_DUID`.
    pub server_duid: Option<Vec<u8>>,
    /// Raw `DNSMASQ_LEASE_EXPIRES` (parsed only when a lease is built).
    pub lease_expires: Option<Vec<u8>>,
}

/// The outcome of reading argv and env.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invocation {
    /// `--help` as first argument: usage on stdout, exit 0.
    Help { argv0: Vec<u8> },
    /// `--version` as first argument: version on stdout, exit 0.
    Version { argv0: Vec<u8> },
    /// Wrong number of arguments: hint on stderr, exit 1.
    WrongArgumentCount { argv0: Vec<u8> },
    /// Neither `DNSMASQ_INTERFACE` nor `VIR_BRIDGE_NAME` is set: exit 1.
    InterfaceNotSet,
    /// `argv[1]` is not `add`, `old`, `del` or `init`: exit 1.
    UnsupportedAction { action: Vec<u8> },
    /// Process the event.
    Run(Event),
}

/// Decide what to do, checking in the C helper's order: `--help` /
/// `--version`, argument count (1, 3 or 4 arguments), interface, action.
/// `env` looks up one environment variable.
pub fn parse_invocation(args: &[OsString], env: impl Fn(&str) -> Option<OsString>) -> Invocation {
    let bytes = |s: &OsString| s.as_bytes().to_vec();
    let env_bytes = |name: &str| env(name).map(|v| v.as_bytes().to_vec());
    let argv0 = args.first().map(bytes).unwrap_or_default();

    if let Some(first) = args.get(1) {
        match first.as_bytes() {
            b"--help" => return Invocation::Help { argv0 },
            b"--version" => return Invocation::Version { argv0 },
            _ => {}
        }
    }
    if !matches!(args.len(), 2 | 4 | 5) {
        return Invocation::WrongArgumentCount { argv0 };
    }
    let Some(interface) = env_bytes("DNSMASQ_INTERFACE").or_else(|| env_bytes("VIR_BRIDGE_NAME"))
    else {
        return Invocation::InterfaceNotSet;
    };
    let action_arg = bytes(&args[1]);
    let Some(action) = Action::from_arg(&action_arg) else {
        return Invocation::UnsupportedAction { action: action_arg };
    };

    // With only the action (argc == 2) the C helper reads argv[3] out of
    // bounds; here MAC and IP are simply absent.
    let arg2 = args.get(2).map(bytes);
    let ip = args.get(3).map(bytes);
    let hostname = args
        .get(4)
        .map(bytes)
        .or_else(|| env_bytes("DNSMASQ_SUPPLIED_HOSTNAME"))
        .or_else(|| env_bytes("DNSMASQ_OLD_HOSTNAME"));
    let iaid = env_bytes("DNSMASQ_IAID");
    let (mac, client_id) = if iaid.is_some() {
        // IPv6: argv[2] is the client DUID.
        let mac = env_bytes("DNSMASQ_MAC")
            .or_else(|| arg2.as_deref().and_then(duid::mac_from_client_duid));
        (mac, arg2)
    } else {
        (arg2, env_bytes("DNSMASQ_CLIENT_ID"))
    };

    Invocation::Run(Event {
        action,
        interface,
        mac,
        ip,
        hostname,
        client_id,
        iaid,
        server_duid: env_bytes("DNSMASQ_SERVER_DUID"),
        lease_expires: env_bytes("DNSMASQ_LEASE_EXPIRES"),
    })
}

/// `--help` text, byte-identical to libvirt 9.0.0 (including the stray `'`).
pub fn usage_text(argv0: &[u8]) -> Vec<u8> {
    let mut out = b"Usage: ".to_vec();
    out.extend_from_slice(argv0);
    out.extend_from_slice(
        b" add|old|del|init mac|clientid ip [hostname]\n\
          Designed for use with 'dnsmasq --dhcp-script'\n\
          Refer to man page of dnsmasq for more details'\n",
    );
    out
}

/// `--version` text: `<argv0> (libvirt) 9.0.0`.
pub fn version_text(argv0: &[u8]) -> Vec<u8> {
    let mut out = argv0.to_vec();
    out.extend_from_slice(b" (libvirt) 9.0.0\n");
    out
}

/// The hint for a wrong argument count: `<argv0>: try --help for more details`.
pub fn wrong_count_text(argv0: &[u8]) -> Vec<u8> {
    let mut out = argv0.to_vec();
    out.extend_from_slice(b": try --help for more details\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn invoke(args: &[&str], env: &[(&str, &str)]) -> Invocation {
        let args: Vec<OsString> = args.iter().map(OsString::from).collect();
        let env: HashMap<String, OsString> = env
            .iter()
            .map(|(k, v)| (k.to_string(), OsString::from(v)))
            .collect();
        parse_invocation(&args, |name| env.get(name).cloned())
    }

    fn event(args: &[&str], env: &[(&str, &str)]) -> Event {
        match invoke(args, env) {
            Invocation::Run(event) => event,
            other => panic!("{other:?}"),
        }
    }

    fn b(s: &str) -> Option<Vec<u8>> {
        Some(s.as_bytes().to_vec())
    }

    #[test]
    fn early_exits_in_c_order() {
        assert_eq!(
            invoke(&["lh", "--help"], &[]),
            Invocation::Help {
                argv0: b"lh".to_vec()
            }
        );
        assert_eq!(
            invoke(&["lh", "--version", "x", "y", "z", "w"], &[]),
            Invocation::Version {
                argv0: b"lh".to_vec()
            }
        );
        assert_eq!(
            invoke(&["lh"], &[("VIR_BRIDGE_NAME", "b")]),
            Invocation::WrongArgumentCount {
                argv0: b"lh".to_vec()
            }
        );
        assert_eq!(
            invoke(&["lh", "add", "m"], &[]),
            Invocation::WrongArgumentCount {
                argv0: b"lh".to_vec()
            }
        );
        assert_eq!(
            invoke(&["lh", "add", "m", "i"], &[]),
            Invocation::InterfaceNotSet
        );
        assert_eq!(
            invoke(&["lh", "tftp", "m", "i"], &[("VIR_BRIDGE_NAME", "b")]),
            Invocation::UnsupportedAction {
                action: b"tftp".to_vec()
            }
        );
        assert!(matches!(
            invoke(&["lh", "ADD", "m", "i"], &[("VIR_BRIDGE_NAME", "b")]),
            Invocation::UnsupportedAction { .. }
        ));
        // --help only counts as the first argument
        let e = event(&["lh", "add", "--help", "y"], &[("VIR_BRIDGE_NAME", "b")]);
        assert_eq!(e.mac, b("--help"));
    }

    #[test]
    fn ipv4_event_and_hostname_fallbacks() {
        let env = [
            ("DNSMASQ_INTERFACE", "virbr0"),
            ("VIR_BRIDGE_NAME", "ignored"),
            ("DNSMASQ_CLIENT_ID", "01:aa"),
            ("DNSMASQ_SUPPLIED_HOSTNAME", "supplied"),
            ("DNSMASQ_OLD_HOSTNAME", "old"),
            ("DNSMASQ_LEASE_EXPIRES", "5"),
        ];
        let e = event(&["lh", "add", "aa:bb", "10.0.0.1", "argv"], &env);
        assert_eq!(e.action, Action::Add);
        assert_eq!(e.interface, b"virbr0");
        assert_eq!(
            (e.mac, e.ip, e.hostname, e.client_id),
            (b("aa:bb"), b("10.0.0.1"), b("argv"), b("01:aa"))
        );
        assert_eq!(e.lease_expires, b("5"));
        assert_eq!(
            event(&["lh", "old", "m", "i"], &env).hostname,
            b("supplied")
        );
        assert_eq!(event(&["lh", "old", "m", "i"], &env[..2]).hostname, None);
        let old_only = [("VIR_BRIDGE_NAME", "br"), ("DNSMASQ_OLD_HOSTNAME", "old")];
        assert_eq!(
            event(&["lh", "old", "m", "i"], &old_only).hostname,
            b("old")
        );
        assert_eq!(event(&["lh", "old", "m", "i"], &old_only).interface, b"br");
        let empty = [("VIR_BRIDGE_NAME", ""), ("DNSMASQ_SUPPLIED_HOSTNAME", "")];
        let e = event(&["lh", "old", "m", "i"], &empty);
        assert_eq!((e.interface, e.hostname), (Vec::new(), b("")));
    }

    #[test]
    fn ipv6_event_takes_mac_from_env_and_client_id_from_argv() {
        let env = [
            ("VIR_BRIDGE_NAME", "b"),
            ("DNSMASQ_IAID", "7"),
            ("DNSMASQ_MAC", "52:54:00:00:00:09"),
            ("DNSMASQ_CLIENT_ID", "x"),
        ];
        let e = event(&["lh", "add", "00:04:aa", "fd00::5"], &env);
        assert_eq!(
            (e.iaid, e.mac, e.client_id),
            (b("7"), b("52:54:00:00:00:09"), b("00:04:aa"))
        );
    }

    #[test]
    fn ipv6_event_without_mac_uses_the_duid_when_it_embeds_one() {
        let env = [("VIR_BRIDGE_NAME", "b"), ("DNSMASQ_IAID", "")];
        let e = event(
            &["lh", "add", "00:03:00:01:52:54:00:AA:00:01", "fd00::5"],
            &env,
        );
        assert_eq!((e.iaid, e.mac), (b(""), b("52:54:00:aa:00:01")));
        let e = event(&["lh", "add", "00:04:aa:bb", "fd00::5"], &env);
        assert_eq!(e.mac, None);
    }

    #[test]
    fn action_only_has_no_mac_or_ip() {
        let e = event(&["lh", "del"], &[("VIR_BRIDGE_NAME", "b")]);
        assert_eq!(
            (e.action, e.mac, e.ip, e.hostname),
            (Action::Del, None, None, None)
        );
        let e = event(
            &["lh", "add"],
            &[("VIR_BRIDGE_NAME", "b"), ("DNSMASQ_IAID", "1")],
        );
        assert_eq!((e.mac, e.client_id), (None, None));
    }

    #[test]
    fn texts() {
        assert_eq!(version_text(b"./x"), b"./x (libvirt) 9.0.0\n");
        assert!(usage_text(b"p").ends_with(b"more details'\n"));
        assert_eq!(wrong_count_text(b"p"), b"p: try --help for more details\n");
    }
}
