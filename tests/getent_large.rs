//! Names with thousands of addresses through glibc, with our modules: glibc
//! starts every lookup with a 1024-byte buffer and grows it only when the
//! module answers TRYAGAIN/ERANGE (DECISIONS.md N17; the C modules answer ENOMEM
//! and fail from 26 addresses on, see getent_differential).

use std::collections::BTreeSet;

use integration_tests::getent::{Form, Lookup, NsEnv, SUCCESS};
use integration_tests::lease_format::status_file;
use integration_tests::modules;
use integration_tests::prerequisites;
use integration_tests::synthetic::{now, one_name_with_addresses};
use integration_tests::temp_dir::TempDir;

const ADDRESSES: usize = 5000;

#[test]
fn a_name_with_5000_addresses_resolves_completely() {
    if !prerequisites::satisfied(
        "a_name_with_5000_addresses_resolves_completely",
        &prerequisites::getent_harness(),
    ) {
        return;
    }
    let leases = one_name_with_addresses("vm-5000", ADDRESSES, now() + 86_400);
    let dir = TempDir::new("5000-addresses");
    dir.write("virbr0.status", status_file(&leases));
    // Latest expiry first: the last lease written comes first.
    let newest_first: Vec<String> = leases.iter().rev().map(|l| l.ip_address.clone()).collect();
    let all: BTreeSet<String> = newest_first.iter().cloned().collect();
    assert_eq!(all.len(), ADDRESSES);

    let lookups = [
        Lookup::new(Form::Ahosts, "vm-5000"),
        Lookup::new(Form::AhostsV4, "vm-5000"),
        Lookup::new(Form::Hosts, "vm-5000"),
    ];
    let outcomes = NsEnv::new(dir.path(), &modules::ours(), "libvirt").run(&lookups);
    for outcome in &outcomes {
        let summary = format!(
            "`{}` -> {:?}, {} bytes of stdout, stderr {:?}",
            outcome.lookup,
            outcome.exit,
            outcome.stdout.len(),
            outcome.stderr
        );
        assert_eq!(
            (outcome.exit, outcome.stderr.as_str()),
            (SUCCESS, ""),
            "{summary}"
        );
        let addresses = outcome.addresses();
        assert_eq!(addresses.len(), ADDRESSES, "{summary}");
        // getaddrinfo re-sorts (RFC 6724); the set must be complete.
        assert_eq!(
            addresses.iter().cloned().collect::<BTreeSet<_>>(),
            all,
            "{summary}"
        );
    }
    // gethostbyname2 keeps the module's order.
    let hosts = &outcomes[2];
    assert_eq!(hosts.addresses(), newest_first);
    assert!(hosts.names().iter().all(|n| n == "vm-5000"));
}
