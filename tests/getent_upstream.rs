//! libvirt's own NSS test (`tests/nsstest.c`, 8 cases) replayed through glibc
//! and `getent` on libvirt's own fixtures, plus the reverse lookups our
//! modules add (DECISIONS.md N22).
//!
//! nsstest calls `gethostbyname2_r(name, af)`. Through glibc, `getent ahostsv4`
//! reaches the module with AF_INET, `ahostsv6` with AF_INET6 (then AF_INET,
//! v4-mapped), `hosts` with AF_INET6 then AF_INET, and `ahosts` calls
//! `gethostbyname4_r` (both families). nsstest's AF_UNSPEC case (5) is mapped
//! to AF_INET inside `2_r`; no getent form passes AF_UNSPEC to `2_r`, so here
//! it becomes `ahosts` (both families, as `gethostbyname4_r` answers).
//!
//! The fixture leases expire in 2030 (see tests/fixtures/README.md).

use integration_tests::getent::{
    ahosts_output, hosts_output, Form, Lookup, NsEnv, Outcome, NOT_FOUND, SUCCESS,
};
use integration_tests::modules;
use integration_tests::prerequisites::{self, available};
use integration_tests::synthetic;
use integration_tests::temp_dir::TempDir;
use std::path::Path;

const FIXTURE: &str = "libvirt-upstream-nssdata";

struct Case {
    /// Row of the nsstest table (libvirt's `tests/nsstest.c`).
    nsstest: u8,
    service: &'static str,
    form: Form,
    key: &'static str,
    /// Exact getent stdout; empty means "not found" (exit 2).
    stdout: String,
}

fn nsstest_cases() -> Vec<Case> {
    let fedora = [
        "192.168.122.197",
        "192.168.122.198",
        "192.168.122.199",
        "192.168.122.3",
    ];
    let gentoo_v4 = ["192.168.122.254"];
    let gentoo_v6 = ["2001:1234:dead:beef::2"];
    let case = |nsstest, service, form, key, stdout| Case {
        nsstest,
        service,
        form,
        key,
        stdout,
    };
    let mut cases = vec![
        case(
            1,
            "libvirt",
            Form::AhostsV4,
            "fedora",
            ahosts_output(&fedora, "fedora"),
        ),
        // fedora has no IPv6 lease: AF_INET6 fails, glibc falls back to AF_INET.
        case(
            1,
            "libvirt",
            Form::Hosts,
            "fedora",
            hosts_output(&fedora, "fedora"),
        ),
        case(
            2,
            "libvirt",
            Form::AhostsV4,
            "gentoo",
            ahosts_output(&gentoo_v4, "gentoo"),
        ),
        case(
            3,
            "libvirt",
            Form::AhostsV4,
            "Gentoo",
            ahosts_output(&gentoo_v4, "Gentoo"),
        ),
        case(
            4,
            "libvirt",
            Form::AhostsV6,
            "gentoo",
            ahosts_output(&gentoo_v6, "gentoo"),
        ),
        case(
            4,
            "libvirt",
            Form::Hosts,
            "gentoo",
            hosts_output(&gentoo_v6, "gentoo"),
        ),
        // RFC 6724 with nsenv's fd00:123::1 + 192.168.123.1 puts IPv6 first.
        case(
            5,
            "libvirt",
            Form::Ahosts,
            "gentoo",
            ahosts_output(&["2001:1234:dead:beef::2", "192.168.122.254"], "gentoo"),
        ),
        case(
            7,
            "libvirt_guest",
            Form::AhostsV4,
            "debian",
            ahosts_output(&["192.168.122.2"], "debian"),
        ),
        case(
            8,
            "libvirt_guest",
            Form::AhostsV4,
            "suse",
            ahosts_output(&["192.168.122.3"], "suse"),
        ),
    ];
    for form in Form::ALL {
        cases.push(case(6, "libvirt", form, "non-existent", String::new()));
    }
    cases
}

/// The first fixture lease expires at 1900000000 (2030-03-17).
fn assert_fixture_still_live() {
    assert!(
        synthetic::now() < 1_900_000_000,
        "{FIXTURE} has expired (2030-03-17): see tests/fixtures/README.md"
    );
}

fn assert_cases(modules: &Path, cases: &[Case]) {
    assert_fixture_still_live();
    let leases = TempDir::from_fixture(FIXTURE);
    for service in ["libvirt", "libvirt_guest"] {
        let selected: Vec<&Case> = cases.iter().filter(|c| c.service == service).collect();
        let lookups: Vec<Lookup> = selected
            .iter()
            .map(|c| Lookup::new(c.form, c.key))
            .collect();
        let outcomes = NsEnv::new(leases.path(), modules, service).run(&lookups);
        for (case, outcome) in selected.iter().zip(&outcomes) {
            let exit = if case.stdout.is_empty() {
                NOT_FOUND
            } else {
                SUCCESS
            };
            assert_eq!(
                outcome.observable(),
                (exit, case.stdout.as_str(), ""),
                "nsstest case {} (hosts: {service}): {outcome}",
                case.nsstest
            );
        }
    }
}

fn harness_ready(test: &str) -> bool {
    prerequisites::satisfied(test, &prerequisites::getent_harness())
}

#[test]
fn nsstest_cases_with_our_modules() {
    if !harness_ready("nsstest_cases_with_our_modules") {
        return;
    }
    assert_cases(&modules::ours(), &nsstest_cases());
}

/// The same expectations hold for the C modules: proof that the cases above
/// encode libvirt's behaviour, not ours.
#[test]
fn nsstest_cases_with_libvirts_c_modules() {
    let test = "nsstest_cases_with_libvirts_c_modules";
    if !harness_ready(test) {
        return;
    }
    let Some(c_modules) = available(test, modules::libvirt_c()) else {
        return;
    };
    assert_cases(&c_modules, &nsstest_cases());
}

fn reverse(outcomes: &[Outcome], address: &str) -> (integration_tests::getent::Exit, String) {
    let outcome = outcomes
        .iter()
        .find(|o| o.lookup.key == address)
        .expect("asked");
    assert_eq!(outcome.stderr, "", "{outcome}");
    (outcome.exit, outcome.stdout.clone())
}

/// `libvirt` answers with the hostname of the live lease holding the address;
/// a lease without hostname, an expired lease and an unknown address are not
/// found.
#[test]
fn reverse_lookup_answers_the_lease_hostname() {
    if !harness_ready("reverse_lookup_answers_the_lease_hostname") {
        return;
    }
    let leases = TempDir::from_fixture(FIXTURE);
    let addresses = [
        "192.168.122.197",
        "192.168.122.254",
        "2001:1234:dead:beef::2",
        "192.168.122.2",
        "192.168.122.200",
        "10.9.9.9",
    ];
    let lookups: Vec<Lookup> = addresses
        .iter()
        .map(|a| Lookup::new(Form::Hosts, a))
        .collect();
    let outcomes = NsEnv::new(leases.path(), &modules::ours(), "libvirt").run(&lookups);

    let found = |address: &str, name: &str| (SUCCESS, hosts_output(&[address], name));
    assert_eq!(
        reverse(&outcomes, "192.168.122.197"),
        found("192.168.122.197", "fedora")
    );
    assert_eq!(
        reverse(&outcomes, "192.168.122.254"),
        found("192.168.122.254", "gentoo")
    );
    assert_eq!(
        reverse(&outcomes, "2001:1234:dead:beef::2"),
        found("2001:1234:dead:beef::2", "gentoo")
    );
    for unanswered in ["192.168.122.2", "192.168.122.200", "10.9.9.9"] {
        assert_eq!(
            reverse(&outcomes, unanswered),
            (NOT_FOUND, String::new()),
            "{unanswered}"
        );
    }
}

/// `libvirt_guest` answers with the domain owning the lease's MAC, whatever
/// the lease's hostname (192.168.122.2 has none; its MAC is debian's).
#[test]
fn reverse_lookup_answers_the_domain_owning_the_mac() {
    if !harness_ready("reverse_lookup_answers_the_domain_owning_the_mac") {
        return;
    }
    let leases = TempDir::from_fixture(FIXTURE);
    let addresses = [
        "192.168.122.2",
        "192.168.122.197",
        "192.168.122.199",
        "2001:1234:dead:beef::2",
        "192.168.122.200",
        "10.9.9.9",
    ];
    let lookups: Vec<Lookup> = addresses
        .iter()
        .map(|a| Lookup::new(Form::Hosts, a))
        .collect();
    let outcomes = NsEnv::new(leases.path(), &modules::ours(), "libvirt_guest").run(&lookups);

    let found = |address: &str, name: &str| (SUCCESS, hosts_output(&[address], name));
    assert_eq!(
        reverse(&outcomes, "192.168.122.2"),
        found("192.168.122.2", "debian")
    );
    assert_eq!(
        reverse(&outcomes, "192.168.122.197"),
        found("192.168.122.197", "fedora")
    );
    // .199's MAC (…:93) is listed for fedora in virbr1.macs only.
    assert_eq!(
        reverse(&outcomes, "192.168.122.199"),
        found("192.168.122.199", "fedora")
    );
    assert_eq!(
        reverse(&outcomes, "2001:1234:dead:beef::2"),
        found("2001:1234:dead:beef::2", "gentoo")
    );
    for unanswered in ["192.168.122.200", "10.9.9.9"] {
        assert_eq!(
            reverse(&outcomes, unanswered),
            (NOT_FOUND, String::new()),
            "{unanswered}"
        );
    }
}
