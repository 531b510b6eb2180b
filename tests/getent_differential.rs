//! Our modules against libvirt's C modules through glibc: on well-formed lease
//! dirs, every `getent hosts|ahosts|ahostsv4|ahostsv6` of every name prints
//! the same bytes and exits the same way with both, for both services
//! (DECISIONS.md: "every answer a user can see is identical").
//!
//! The deliberate differences are asserted explicitly, each where it shows:
//! N17 (26+ addresses through `ahosts`), N15/N16 (status codes, visible
//! through nsswitch `[STATUS=return]` actions), N22 (reverse lookups) and N8
//! (MAC case in the guest module).
//!
//! The C sort comparator truncates expiry differences to 32 bits (`sortAddr`
//! in libvirt's `tools/nss/libvirt_nss.c`, DECISIONS.md N12):
//! the data here keeps every name's expiries less than 2^31 apart, so both
//! orders are "latest expiry first, infinite last".

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use integration_tests::getent::{
    ahosts_output, hosts_output, Form, Lookup, NsEnv, Outcome, NOT_FOUND, SUCCESS,
};
use integration_tests::modules;
use integration_tests::prerequisites::{self, available};
use integration_tests::synthetic::{self, Family, Lifetime, Synthetic, SyntheticHost};
use integration_tests::temp_dir::TempDir;

const SERVICES: [&str; 2] = ["libvirt", "libvirt_guest"];

/// Both module dirs, or `None` when the test is skipped.
fn both_implementations(test: &str) -> Option<(PathBuf, PathBuf)> {
    if !prerequisites::satisfied(test, &prerequisites::getent_harness()) {
        return None;
    }
    let c = available(test, modules::libvirt_c())?;
    Some((c, modules::ours()))
}

/// Every key through every form, with C and with ours, for `service` only.
/// Lookups for which `differs` holds are returned as (C, ours) pairs for the
/// caller to assert; every other pair must be identical.
fn differential(
    (c, ours): &(PathBuf, PathBuf),
    leases: &Path,
    service: &str,
    keys: &[String],
    differs: impl Fn(&Lookup) -> bool,
) -> Vec<(Outcome, Outcome)> {
    let lookups: Vec<Lookup> = keys.iter().flat_map(|k| Lookup::all_forms(k)).collect();
    let by_c = NsEnv::new(leases, c, service).run(&lookups);
    let by_ours = NsEnv::new(leases, ours, service).run(&lookups);

    let mut mismatches = String::new();
    let mut claimed = Vec::new();
    let mut answered = 0;
    for (c, ours) in by_c.into_iter().zip(by_ours) {
        if differs(&c.lookup) {
            claimed.push((c, ours));
            continue;
        }
        if c.observable() != ours.observable() {
            let _ = writeln!(mismatches, "\nC:    {c}\nours: {ours}");
        }
        answered += usize::from(c.exit == SUCCESS);
    }
    assert!(
        mismatches.is_empty(),
        "hosts: {service}: ours differs from C on:{mismatches}"
    );
    assert!(
        answered > 0,
        "hosts: {service}: no key answered at all: the comparison proves nothing"
    );
    claimed
}

/// [`differential`] without exceptions.
fn assert_same_as_c(
    implementations: &(PathBuf, PathBuf),
    leases: &Path,
    service: &str,
    keys: &[String],
) {
    differential(implementations, leases, service, keys, |_| false);
}

fn keys(names: &[&str]) -> Vec<String> {
    names.iter().map(|n| (*n).to_owned()).collect()
}

#[test]
fn sunny_dual_stack_matches_c() {
    let Some(implementations) = both_implementations("sunny_dual_stack_matches_c") else {
        return;
    };
    let leases = TempDir::from_fixture("sunny-dual-stack");
    let names = keys(&[
        "vm-alpha",
        "VM-ALPHA",
        "vm-alpha.",
        "vm-beta",
        "Web-Server01",
        "web-server01",
        "WEB-SERVER01",
        "vm-forever",
        "vm-gone",
        "vm-gone6",
        "mn-eth0",
        "mn-eth1",
        "alpha",
        "ALPHA",
        "anon-guest",
        "beta",
        "forever",
        "gone",
        "gone6",
        "web",
        "Multi-NIC",
        "multi-nic",
        "nothere",
    ]);
    for service in SERVICES {
        assert_same_as_c(&implementations, leases.path(), service, &names);
    }
}

/// Concrete answers on the same fixture, so that "equal to C" cannot mean
/// "equally broken".
#[test]
fn sunny_dual_stack_concrete_answers() {
    if !prerequisites::satisfied(
        "sunny_dual_stack_concrete_answers",
        &prerequisites::getent_harness(),
    ) {
        return;
    }
    let leases = TempDir::from_fixture("sunny-dual-stack");
    let ours = modules::ours();
    let libvirt = NsEnv::new(leases.path(), &ours, "libvirt").run(&[
        Lookup::new(Form::Hosts, "vm-alpha"),
        Lookup::new(Form::AhostsV4, "VM-ALPHA"),
        // both spellings, both files: latest expiry first
        Lookup::new(Form::AhostsV4, "web-server01"),
        Lookup::new(Form::Hosts, "vm-gone"),
        Lookup::new(Form::Hosts, "vm-alpha."),
    ]);
    let expected = [
        (SUCCESS, hosts_output(&["2001:db8:124::10"], "vm-alpha")),
        (SUCCESS, ahosts_output(&["192.168.122.10"], "VM-ALPHA")),
        (
            SUCCESS,
            ahosts_output(&["192.168.124.15", "192.168.122.11"], "web-server01"),
        ),
        (NOT_FOUND, String::new()),
        (NOT_FOUND, String::new()),
    ];
    for (got, (exit, stdout)) in libvirt.iter().zip(expected) {
        assert_eq!(got.observable(), (exit, stdout.as_str(), ""), "{got}");
    }
    let guest = NsEnv::new(leases.path(), &ours, "libvirt_guest").run(&[
        Lookup::new(Form::AhostsV4, "multi-nic"),
        Lookup::new(Form::AhostsV4, "anon-guest"),
        Lookup::new(Form::Hosts, "gone"),
    ]);
    let expected = [
        // NIC 1 (virbr1, expires 6 s later) before NIC 0 (virbr0)
        (
            SUCCESS,
            ahosts_output(&["192.168.124.30", "192.168.122.15"], "multi-nic"),
        ),
        (SUCCESS, ahosts_output(&["192.168.122.14"], "anon-guest")),
        (NOT_FOUND, String::new()),
    ];
    for (got, (exit, stdout)) in guest.iter().zip(expected) {
        assert_eq!(got.observable(), (exit, stdout.as_str(), ""), "{got}");
    }
}

/// N17: C answers TRYAGAIN/ENOMEM when glibc's first 1024-byte buffer is too
/// small and glibc gives up; ours asks for a bigger buffer. Through
/// `gethostbyname4_r` (`ahosts`) that is 26+ IPv4 addresses.
#[test]
fn many_addresses_match_c_except_ahosts_n17() {
    let Some(implementations) = both_implementations("many_addresses_match_c_except_ahosts_n17")
    else {
        return;
    };
    let leases = TempDir::from_fixture("many-addresses");
    let names = keys(&["vm-25", "vm-26", "vm-many", "many-nics", "nothere"]);
    let n17 = |l: &Lookup| {
        l.form == Form::Ahosts && ["vm-26", "vm-many", "many-nics"].contains(&l.key.as_str())
    };

    let checks = [
        ("libvirt", "vm-26", 26),
        ("libvirt", "vm-many", 30),
        ("libvirt_guest", "many-nics", 30),
    ];
    for service in SERVICES {
        let claimed = differential(&implementations, leases.path(), service, &names, n17);
        // Only the keys this service knows are claimed; the others must have
        // been equal (both "not found") and were compared above.
        for (key, count) in checks
            .iter()
            .filter(|(s, ..)| *s == service)
            .map(|(_, k, n)| (*k, *n))
        {
            let (c, ours) = claimed
                .iter()
                .find(|(c, _)| c.lookup.key == key)
                .expect("claimed");
            assert_eq!(
                c.observable(),
                (NOT_FOUND, "", ""),
                "C is expected to fail (N17): {c}"
            );
            assert_eq!((ours.exit, ours.stderr.as_str()), (SUCCESS, ""), "{ours}");
            assert_eq!(ours.addresses().len(), count, "{ours}");
        }
    }

    // What ours prints for ahosts is exactly what both print for ahostsv4
    // (IPv4-only names: same addresses, same glibc sort).
    let (c, ours) = &implementations;
    let v4_by_c =
        NsEnv::new(leases.path(), c, "libvirt").run_one(Lookup::new(Form::AhostsV4, "vm-many"));
    let all_by_ours =
        NsEnv::new(leases.path(), ours, "libvirt").run_one(Lookup::new(Form::Ahosts, "vm-many"));
    assert_eq!(v4_by_c.exit, SUCCESS, "{v4_by_c}");
    assert_eq!(all_by_ours.stdout, v4_by_c.stdout);
}

/// N8: the guest module matches MACs case-insensitively. C compares with
/// strcmp, so an upper-case MAC in `.macs` finds nothing (UNAVAIL).
#[test]
fn mac_case_mismatch_resolves_only_with_ours_n8() {
    let Some(implementations) =
        both_implementations("mac_case_mismatch_resolves_only_with_ours_n8")
    else {
        return;
    };
    let leases = TempDir::from_fixture("mac-case-mismatch");
    let names = keys(&[
        "upper-domain",
        "lower-domain",
        "vm-upper",
        "vm-lower",
        "nothere",
    ]);
    // The libvirt service never reads .macs: identical.
    assert_same_as_c(&implementations, leases.path(), "libvirt", &names);

    let claimed = differential(
        &implementations,
        leases.path(),
        "libvirt_guest",
        &names,
        |l| l.key == "upper-domain",
    );
    let address = "192.168.122.50";
    for (c, ours) in claimed {
        assert_eq!(c.observable(), (NOT_FOUND, "", ""), "{c}");
        let expected = match ours.lookup.form {
            Form::Hosts => hosts_output(&[address], "upper-domain"),
            Form::Ahosts | Form::AhostsV4 => ahosts_output(&[address], "upper-domain"),
            Form::AhostsV6 => ahosts_output(&["::ffff:192.168.122.50"], "upper-domain"),
        };
        assert_eq!(
            ours.observable(),
            (SUCCESS, expected.as_str(), ""),
            "{ours}"
        );
    }
}

/// N15 and N16 change statuses that `getent` alone cannot show; nsswitch
/// actions can: `[UNAVAIL=return]` stops at C's UNAVAIL, `[NOTFOUND=return]`
/// at ours' NOTFOUND.
#[test]
fn nsswitch_actions_expose_the_status_fixes_n15_n16() {
    let Some((c, ours)) = both_implementations("nsswitch_actions_expose_the_status_fixes_n15_n16")
    else {
        return;
    };
    let leases = TempDir::from_fixture("nsswitch-status-actions");

    // N15: vm-v4only is a known name without IPv6. C: UNAVAIL, the chain stops
    // and glibc falls back to IPv4. Ours: NOTFOUND, libvirt_guest answers with
    // the IPv6 lease of the domain of that name.
    // (getaddrinfo is no witness: it asks each module for AF_INET6 and then,
    // v4-mapped, AF_INET before moving on, so `libvirt` answers either way.)
    let n15 = "libvirt [UNAVAIL=return] libvirt_guest";
    let lookup = Lookup::new(Form::Hosts, "vm-v4only");
    let by_c = NsEnv::new(leases.path(), &c, n15).run_one(lookup.clone());
    let by_ours = NsEnv::new(leases.path(), &ours, n15).run_one(lookup);
    let c_expected = hosts_output(&["192.168.122.60"], "vm-v4only");
    let ours_expected = hosts_output(&["2001:db8:124::60"], "vm-v4only");
    assert_eq!(
        by_c.observable(),
        (SUCCESS, c_expected.as_str(), ""),
        "{by_c}"
    );
    assert_eq!(
        by_ours.observable(),
        (SUCCESS, ours_expected.as_str(), ""),
        "{by_ours}"
    );

    // N16: an unknown domain. C: UNAVAIL, so `files` still answers localhost;
    // ours: NOTFOUND, so the chain stops there.
    let n16 = "libvirt_guest [NOTFOUND=return] files";
    let localhost = Lookup::new(Form::Hosts, "localhost");
    let by_c = NsEnv::new(leases.path(), &c, n16).run_one(localhost.clone());
    let by_ours = NsEnv::new(leases.path(), &ours, n16).run_one(localhost);
    assert_eq!(
        (by_c.exit, by_c.names()),
        (SUCCESS, vec!["localhost".to_owned()]),
        "C (needs localhost in /etc/hosts): {by_c}"
    );
    assert_eq!(by_ours.observable(), (NOT_FOUND, "", ""), "{by_ours}");
}

/// N22: C has no reverse lookup; ours answers the hostname (`libvirt`) or
/// the domain (`libvirt_guest`) of the live lease holding the address.
#[test]
fn reverse_lookups_answer_only_with_ours_n22() {
    let Some((c, ours)) = both_implementations("reverse_lookups_answer_only_with_ours_n22") else {
        return;
    };
    let leases = TempDir::from_fixture("sunny-dual-stack");
    let cases = [
        // (address, libvirt answer, libvirt_guest answer)
        ("192.168.122.10", Some("vm-alpha"), Some("alpha")),
        ("2001:db8:124::10", Some("vm-alpha"), Some("alpha")),
        ("192.168.122.14", None, Some("anon-guest")),
        ("2001:db8:124::30", Some("mn-eth1"), Some("Multi-NIC")),
        ("192.168.124.15", Some("WEB-SERVER01"), Some("web")),
        ("192.168.122.12", Some("vm-forever"), Some("forever")),
        ("192.168.122.13", None, None), // expired
        ("192.168.122.99", None, None), // no lease
    ];
    let lookups: Vec<Lookup> = cases
        .iter()
        .map(|(a, ..)| Lookup::new(Form::Hosts, a))
        .collect();
    for service in SERVICES {
        for by_c in NsEnv::new(leases.path(), &c, service).run(&lookups) {
            assert_eq!(
                by_c.observable(),
                (NOT_FOUND, "", ""),
                "C has no gethostbyaddr_r: {by_c}"
            );
        }
        let by_ours = NsEnv::new(leases.path(), &ours, service).run(&lookups);
        for ((address, host, domain), got) in cases.iter().zip(&by_ours) {
            let name = if service == "libvirt" { host } else { domain };
            let expected = match name {
                Some(name) => (SUCCESS, hosts_output(&[address], name)),
                None => (NOT_FOUND, String::new()),
            };
            assert_eq!(
                got.observable(),
                (expected.0, expected.1.as_str(), ""),
                "hosts: {service}: {got}"
            );
        }
    }
}

/// Keys for generated hosts, per service: each name as written and with its
/// case flipped (hostnames for `libvirt`, domains for `libvirt_guest`), and a
/// name nobody has.
fn generated_keys(hosts: &[SyntheticHost], service: &str) -> Vec<String> {
    let flip = |name: &str| {
        if name.chars().any(|c| c.is_ascii_uppercase()) {
            name.to_lowercase()
        } else {
            name.to_uppercase()
        }
    };
    let mut keys: Vec<String> = hosts
        .iter()
        .map(|h| {
            if service == "libvirt" {
                &h.hostname
            } else {
                &h.domain
            }
        })
        .flat_map(|name| [name.clone(), flip(name)])
        .collect();
    keys.push("no-such-host".to_owned());
    keys
}

/// Runs a generated dir through both implementations, then checks with ours
/// that every live name resolves to all its addresses and expired ones do not.
fn generated_matches_c(test: &str, plan: Synthetic) {
    let Some(implementations) = both_implementations(test) else {
        return;
    };
    let leases = TempDir::new(test);
    let hosts = plan.write_into(&leases);
    let services: &[&str] = if plan.macs { &SERVICES } else { &SERVICES[..1] };
    for &service in services {
        let keys = generated_keys(&hosts, service);
        assert_same_as_c(&implementations, leases.path(), service, &keys);

        let (_, ours) = &implementations;
        let lookups: Vec<Lookup> = hosts
            .iter()
            .map(|h| {
                if service == "libvirt" {
                    &h.hostname
                } else {
                    &h.domain
                }
            })
            .map(|name| Lookup::new(Form::Ahosts, &name.to_lowercase()))
            .collect();
        let answers = NsEnv::new(leases.path(), ours, service).run(&lookups);
        for (host, answer) in hosts.iter().zip(&answers) {
            let per_nic = if plan.family == Family::Dual { 2 } else { 1 };
            let expected = if host.lifetime == Lifetime::Expired {
                0
            } else {
                per_nic * host.nics
            };
            assert_eq!(
                answer.addresses().len(),
                expected,
                "hosts: {service}: {host:?}: {answer}"
            );
        }
    }
}

/// A month ahead: with infinite (0) leases the differences stay below 2^31
/// until 2037 (see the module comment).
fn active_expiry() -> i64 {
    synthetic::now() + 30 * 24 * 3600
}

#[test]
fn generated_dual_stack_over_three_networks_matches_c() {
    generated_matches_c(
        "generated_dual_stack_over_three_networks_matches_c",
        Synthetic::everything(40, 3, Family::Dual, active_expiry()),
    );
}

#[test]
fn generated_ipv4_with_macs_matches_c() {
    generated_matches_c(
        "generated_ipv4_with_macs_matches_c",
        Synthetic::everything(24, 2, Family::V4, active_expiry()),
    );
}

#[test]
fn generated_ipv6_single_network_matches_c() {
    let plan = Synthetic {
        lifetimes: true,
        mixed_case: true,
        ..Synthetic::new(18, 1, Family::V6, active_expiry())
    };
    generated_matches_c("generated_ipv6_single_network_matches_c", plan);
}
