//! Stress: 8 threads resolve through the built modules (dlopen, both
//! modules, all six entry points) while our lease helper rewrites the lease
//! files thousands of times (DHCPv4 and DHCPv6 adds, deletes, hostname
//! renames, networks whose files appear and vanish) and an "epoch" file is
//! replaced wholesale. Every answer must be one the lease dir held at some
//! instant: never a mix of two file versions, never garbage, never UNAVAIL.
//! A watchdog bounds the run.
//! A second test calls `fork()` from the main thread while the others are
//! mid-lookup: each child's lookups must still work and finish.
//!
//! Like `ffi_dlopen.rs`, each check is an `#[ignore]`d test re-executed
//! inside `scripts/nsenv.sh` (a private mount namespace where a temp dir is
//! `/var/lib/libvirt/dnsmasq` and `/run` is private, for the helper's lock).
//! `NSS_STRESS_ITERATIONS` sets the number of writer steps (default 4000);
//! `valgrind_memcheck.rs` runs a short form under valgrind.

use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::fs;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use integration_tests::leasehelper;
use integration_tests::modules;
use integration_tests::nsenv::Namespace;
use integration_tests::nss_module::{hostent_addresses, hostent_name, GaihAddrTuple, NssModule};
use integration_tests::prerequisites;
use integration_tests::rerun_in_namespace::IgnoredTest;
use integration_tests::temp_dir::set_mode;

const INSIDE: &str = "NSS_STRESS_INSIDE_NAMESPACE";
const HELPER_ENV: &str = "NSS_STRESS_HELPER";
const ITERATIONS_ENV: &str = "NSS_STRESS_ITERATIONS";
const READERS: usize = 8;
/// The whole inner run, writer and readers, must end within this.
const WATCHDOG: Duration = Duration::from_secs(240);
const FAR_FUTURE: &str = "4102444800";

/// The lease dir on tmpfs when there is one: the helper fsyncs every write,
/// and thousands of fsyncs on a disk would measure the disk, not us.
struct ScratchDir(PathBuf);

impl ScratchDir {
    fn new(label: &str) -> ScratchDir {
        let base = Path::new("/dev/shm");
        let base = if base.is_dir() {
            base.to_path_buf()
        } else {
            std::env::temp_dir()
        };
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let path = base.join(format!(
            "nss-{label}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir(&path).expect("create the scratch lease dir");
        set_mode(&path, 0o755);
        ScratchDir(path)
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Runs `inner` inside the namespace, with the helper's lock on a private
/// `/run`; fails unless it passed in time. Prints its `stress:` lines.
fn run_here(inner: &str) {
    if !prerequisites::satisfied(inner, &prerequisites::getent_harness()) {
        return;
    }
    let leases = ScratchDir::new("stress-leases");
    let namespace = Namespace::new()
        .leases(&leases.0)
        .modules(&modules::ours())
        .private_run();
    let ran = IgnoredTest::new(inner, INSIDE, namespace)
        .env(HELPER_ENV, leasehelper::ours())
        .limit(WATCHDOG + Duration::from_secs(30))
        .run();
    for line in ran.stdout.lines().chain(ran.stderr.lines()) {
        if let Some(at) = line.find("stress:") {
            eprintln!("{}", &line[at..]);
        }
    }
}

#[test]
fn lookups_stay_consistent_while_the_helper_rewrites_leases() {
    run_here("inner_lookups_stay_consistent_while_the_helper_rewrites_leases");
}

#[test]
fn fork_during_lookups_leaves_a_working_child() {
    run_here("inner_fork_during_lookups_leaves_a_working_child");
}

// ---------------------------------------------------------------- lookups --

const SUCCESS: c_int = 1;
const NOTFOUND: c_int = 0;
const BUFLEN: usize = 16 * 1024;

/// What a call answered: its status, and on success (name, addresses).
#[derive(Debug)]
struct Reply {
    status: c_int,
    answer: Option<(String, Vec<IpAddr>)>,
}

fn hostent_answer(h: &libc::hostent) -> (String, Vec<IpAddr>) {
    // SAFETY: called on SUCCESS only, while the buffer is alive.
    unsafe { (hostent_name(h), hostent_addresses(h)) }
}

/// The six entry points, by number (0-5), for `name` or `address`; `af`
/// for `gethostbyname2_r`/`3_r`.
fn call(module: &NssModule, entry: usize, af: c_int, name: &str, address: IpAddr) -> Reply {
    let name_c = CString::new(name).expect("no NUL");
    let mut buffer = vec![0u8; BUFLEN];
    let buf = buffer.as_mut_ptr() as *mut c_char;
    let (mut errno, mut herrno, mut ttl) = (0, 0, 0);
    let mut canon: *mut c_char = ptr::null_mut();
    // SAFETY: all pointers are valid for the NSS contract; the buffer has
    // BUFLEN writable bytes.
    unsafe {
        let mut h: libc::hostent = std::mem::zeroed();
        let n = name_c.as_ptr();
        let status = match entry {
            0 => (module.gethostbyname_r)(n, &mut h, buf, BUFLEN, &mut errno, &mut herrno),
            1 => (module.gethostbyname2_r)(n, af, &mut h, buf, BUFLEN, &mut errno, &mut herrno),
            2 => (module.gethostbyname3_r)(
                n,
                af,
                &mut h,
                buf,
                BUFLEN,
                &mut errno,
                &mut herrno,
                &mut ttl,
                &mut canon,
            ),
            3 => {
                let mut pat: *mut GaihAddrTuple = ptr::null_mut();
                let status = (module.gethostbyname4_r)(
                    n,
                    &mut pat,
                    buf,
                    BUFLEN,
                    &mut errno,
                    &mut herrno,
                    &mut ttl,
                );
                let answer = (status == SUCCESS).then(|| {
                    let mut list = Vec::new();
                    let mut tname = String::new();
                    let mut p = pat;
                    while !p.is_null() {
                        let t = *p;
                        tname = CStr::from_ptr(t.name).to_string_lossy().into_owned();
                        let raw: [u8; 16] = std::mem::transmute(t.addr);
                        list.push(match t.family {
                            libc::AF_INET => {
                                IpAddr::from(<[u8; 4]>::try_from(&raw[..4]).expect("4"))
                            }
                            _ => IpAddr::from(raw),
                        });
                        p = t.next;
                    }
                    (tname, list)
                });
                return Reply { status, answer };
            }
            4 | 5 => {
                let bytes = match address {
                    IpAddr::V4(a) => a.octets().to_vec(),
                    IpAddr::V6(a) => a.octets().to_vec(),
                };
                let af = if address.is_ipv4() {
                    libc::AF_INET
                } else {
                    libc::AF_INET6
                };
                let a = bytes.as_ptr() as *const c_void;
                let len = bytes.len() as libc::socklen_t;
                if entry == 4 {
                    (module.gethostbyaddr_r)(
                        a,
                        len,
                        af,
                        &mut h,
                        buf,
                        BUFLEN,
                        &mut errno,
                        &mut herrno,
                    )
                } else {
                    (module.gethostbyaddr2_r)(
                        a,
                        len,
                        af,
                        &mut h,
                        buf,
                        BUFLEN,
                        &mut errno,
                        &mut herrno,
                        &mut ttl,
                    )
                }
            }
            _ => unreachable!(),
        };
        let answer = (status == SUCCESS).then(|| hostent_answer(&h));
        Reply { status, answer }
    }
}

// -------------------------------------------------------------- universe --

/// Networks: 0-1 always exist; 2-3 appear and vanish.
const NETWORKS: usize = 4;
const HOSTS: usize = 10;
const EPOCH_LEASES: usize = 5;

fn net_name(net: usize) -> String {
    if net < 2 {
        format!("virbr{net}")
    } else {
        format!("transient{net}")
    }
}

fn host_ip(net: usize, k: usize) -> Ipv4Addr {
    Ipv4Addr::new(192, 168, 100 + net as u8, 10 + k as u8)
}

fn host_ip6(net: usize, k: usize) -> Ipv6Addr {
    Ipv6Addr::new(0xfd00, 0, 0, net as u16, 0, 0, 0, 10 + k as u16)
}

/// The DHCPv6 client DUID (DUID-LL of the host's MAC).
fn host_duid(net: usize, k: usize) -> String {
    format!("00:03:00:01:{}", host_mac(net, k))
}

fn host_mac(net: usize, k: usize) -> String {
    format!("52:54:00:00:{net:02x}:{k:02x}")
}

fn host_name(net: usize, k: usize, renamed: bool) -> String {
    if renamed {
        format!("vm{net}-{k}-b")
    } else {
        format!("vm{net}-{k}")
    }
}

fn domain_name(net: usize, k: usize) -> String {
    format!("dom{net}-{k}")
}

fn epoch_ip(version: u64, i: usize) -> Ipv4Addr {
    Ipv4Addr::new(10, 99, (version % 250) as u8, 1 + i as u8)
}

/// `.macs` in libvirtd's layout.
fn macs_text(domains: &[(String, Vec<String>)]) -> String {
    let entries: Vec<String> = domains
        .iter()
        .map(|(d, macs)| {
            let macs: Vec<String> = macs.iter().map(|m| format!("      \"{m}\"")).collect();
            format!(
                "  {{\n    \"domain\": \"{d}\",\n    \"macs\": [\n{}\n    ]\n  }}",
                macs.join(",\n")
            )
        })
        .collect();
    format!("[\n{}\n]\n", entries.join(",\n"))
}

/// `epoch.status` in the helper's layout: EPOCH_LEASES leases named `epoch`.
fn epoch_text(version: u64) -> String {
    let entries: Vec<String> = (0..EPOCH_LEASES)
        .map(|i| {
            format!(
                "  {{\n    \"ip-address\": \"{}\",\n    \"mac-address\": \"52:54:00:99:00:{i:02x}\",\n    \
                 \"hostname\": \"epoch\",\n    \"expiry-time\": {FAR_FUTURE}\n  }}",
                epoch_ip(version, i)
            )
        })
        .collect();
    format!("[\n{}\n]\n", entries.join(",\n"))
}

/// Atomic replace, as libvirtd and the helper write.
fn replace(dir: &Path, name: &str, text: &str) {
    let tmp = dir.join(format!(".{name}.new"));
    fs::write(&tmp, text).expect("write temp");
    set_mode(&tmp, 0o644);
    fs::rename(&tmp, dir.join(name)).expect("rename");
}

fn macs_of_network(net: usize) -> String {
    let mut domains: Vec<(String, Vec<String>)> = (0..HOSTS)
        .map(|k| (domain_name(net, k), vec![host_mac(net, k)]))
        .collect();
    if net == 0 {
        domains.push((
            "epochdom".to_owned(),
            (0..EPOCH_LEASES)
                .map(|i| format!("52:54:00:99:00:{i:02x}"))
                .collect(),
        ));
    }
    macs_text(&domains)
}

struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

// ----------------------------------------------------------------- writer --

#[derive(Default)]
struct Counters {
    helper_runs: AtomicU64,
    epoch_rewrites: AtomicU64,
    appear: AtomicU64,
    vanish: AtomicU64,
    lookups: AtomicU64,
    forks: AtomicU64,
}

const LEASE_DIR: &str = "/var/lib/libvirt/dnsmasq";

fn helper(args: &[&str], net: usize, env: &[(&str, String)]) {
    let helper = std::env::var_os(HELPER_ENV).expect("helper path");
    let output = Command::new(helper)
        .args(args)
        .env_clear()
        .env("DNSMASQ_INTERFACE", net_name(net))
        .env("DNSMASQ_LEASE_EXPIRES", FAR_FUTURE)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .expect("run the lease helper");
    assert!(
        output.status.success(),
        "helper {args:?} on {}: {}",
        net_name(net),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn set_up(dir: &Path) {
    for net in 0..2 {
        replace(
            dir,
            &format!("{}.macs", net_name(net)),
            &macs_of_network(net),
        );
    }
    replace(dir, "epoch.status", &epoch_text(0));
}

/// The environment dnsmasq gives a DHCPv6 event.
fn v6_env(net: usize, k: usize) -> Vec<(&'static str, String)> {
    vec![
        ("DNSMASQ_IAID", (100 + k).to_string()),
        ("DNSMASQ_MAC", host_mac(net, k)),
        (
            "DNSMASQ_SERVER_DUID",
            "00:01:00:01:2a:2b:2c:2d:52:54:00:ff:00:01".to_owned(),
        ),
    ]
}

/// Runs `steps` changes of the lease dir, the way dnsmasq + the helper and
/// libvirtd make them.
fn writer(steps: u64, counters: &Counters, stop: &AtomicBool) {
    let dir = Path::new(LEASE_DIR);
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut present = [true, true, false, false];
    let mut epoch = 0u64;
    for _ in 0..steps {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        match rng.below(20) {
            0..=9 => {
                let net = rng.below(NETWORKS);
                if !present[net] {
                    continue;
                }
                let k = rng.below(HOSTS);
                let action = if rng.below(2) == 0 { "add" } else { "old" };
                let name = host_name(net, k, rng.below(2) == 0);
                if rng.below(3) == 0 {
                    // DHCPv6: argv[2] is the client DUID, the MAC comes in env
                    let ip = host_ip6(net, k).to_string();
                    helper(
                        &[action, &host_duid(net, k), &ip, &name],
                        net,
                        &v6_env(net, k),
                    );
                } else {
                    let (mac, ip) = (host_mac(net, k), host_ip(net, k).to_string());
                    helper(&[action, &mac, &ip, &name], net, &[]);
                }
                counters.helper_runs.fetch_add(1, Ordering::Relaxed);
            }
            10..=13 => {
                let net = rng.below(NETWORKS);
                if !present[net] {
                    continue;
                }
                let k = rng.below(HOSTS);
                if rng.below(3) == 0 {
                    let ip = host_ip6(net, k).to_string();
                    helper(&["del", &host_duid(net, k), &ip], net, &v6_env(net, k));
                } else {
                    let ip = host_ip(net, k).to_string();
                    helper(&["del", &host_mac(net, k), &ip], net, &[]);
                }
                counters.helper_runs.fetch_add(1, Ordering::Relaxed);
            }
            14..=16 => {
                epoch += 1;
                replace(dir, "epoch.status", &epoch_text(epoch));
                counters.epoch_rewrites.fetch_add(1, Ordering::Relaxed);
            }
            17 | 18 => {
                let net = 2 + rng.below(2);
                if !present[net] {
                    replace(
                        dir,
                        &format!("{}.macs", net_name(net)),
                        &macs_of_network(net),
                    );
                    present[net] = true;
                    counters.appear.fetch_add(1, Ordering::Relaxed);
                }
            }
            _ => {
                let net = 2 + rng.below(2);
                if present[net] {
                    let _ = fs::remove_file(dir.join(format!("{}.status", net_name(net))));
                    let _ = fs::remove_file(dir.join(format!("{}.macs", net_name(net))));
                    present[net] = false;
                    counters.vanish.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }
}

// ---------------------------------------------------------------- readers --

/// One random lookup, checked against every state the dir can be in.
/// Returns a description of the violation, if any.
fn check_one(module: &NssModule, rng: &mut Rng) -> Result<(), String> {
    let entry = rng.below(6);
    let af = [libc::AF_INET, libc::AF_INET6, libc::AF_UNSPEC][rng.below(3)];
    // Which families the entry point answers (AF_UNSPEC is IPv4 there, DECISIONS.md N13).
    let (wants_v4, wants_v6) = match entry {
        0 => (true, false),
        1 | 2 => (af != libc::AF_INET6, af == libc::AF_INET6),
        _ => (true, true),
    };
    let net = rng.below(NETWORKS);
    let k = rng.below(HOSTS);
    let (ip4, ip6) = (IpAddr::V4(host_ip(net, k)), IpAddr::V6(host_ip6(net, k)));
    let ip = if rng.below(3) == 0 { ip6 } else { ip4 };
    let wanted_name = |module: &NssModule| {
        if module.is_guest() {
            vec![domain_name(net, k)]
        } else {
            vec![host_name(net, k, false), host_name(net, k, true)]
        }
    };
    let pick = rng.below(10);
    let (query, address) = match (entry, pick) {
        (0..=3, 0) => (
            if module.is_guest() {
                "epochdom"
            } else {
                "epoch"
            }
            .to_owned(),
            ip,
        ),
        (0..=3, 1) => ("no-such-vm".to_owned(), ip),
        (0..=3, _) => {
            let names = wanted_name(module);
            (names[rng.below(names.len())].clone(), ip)
        }
        (_, 0) => (
            String::new(),
            IpAddr::V4(Ipv4Addr::new(
                10,
                99,
                rng.below(250) as u8,
                1 + rng.below(EPOCH_LEASES) as u8,
            )),
        ),
        _ => (String::new(), ip),
    };
    let reply = call(module, entry, af, &query, address);
    let what = format!(
        "guest={} entry={entry} af={af} query={query:?} address={address}: {reply:?}",
        module.is_guest()
    );
    match reply.status {
        SUCCESS | NOTFOUND => {}
        _ => return Err(format!("unexpected status: {what}")),
    }
    let Some((name, list)) = reply.answer else {
        // Only the epoch name always exists (its file is replaced atomically).
        if entry <= 3 && pick == 0 && wants_v4 {
            return Err(format!("epoch vanished: {what}"));
        }
        return Ok(());
    };
    if entry >= 4 {
        if list != [address] {
            return Err(format!("reverse answer lists other addresses: {what}"));
        }
        let ok = if pick == 0 {
            name == if module.is_guest() {
                "epochdom"
            } else {
                "epoch"
            }
        } else {
            wanted_name(module).contains(&name)
        };
        return if ok {
            Ok(())
        } else {
            Err(format!("wrong name: {what}"))
        };
    }
    if name != query {
        return Err(format!("h_name is not the query: {what}"));
    }
    match pick {
        0 => {
            // All addresses from one version of epoch.status, in file order.
            let IpAddr::V4(first) = list[0] else {
                return Err(format!("epoch: not IPv4: {what}"));
            };
            let version = u64::from(first.octets()[2]);
            let expected: Vec<IpAddr> = (0..EPOCH_LEASES)
                .map(|i| IpAddr::V4(epoch_ip(version, i)))
                .collect();
            if list != expected {
                return Err(format!("epoch: a mix of versions or garbage: {what}"));
            }
        }
        1 => return Err(format!("a name nobody has resolved: {what}")),
        _ => {
            // The host's v4 and/or v6 lease (renames touch one of them at a
            // time), of the families asked for, each once.
            let allowed: Vec<IpAddr> = [(wants_v4, ip4), (wants_v6, ip6)]
                .iter()
                .filter(|(wanted, _)| *wanted)
                .map(|(_, a)| *a)
                .collect();
            let unique = list.iter().enumerate().all(|(i, a)| !list[..i].contains(a));
            if list.is_empty() || !unique || !list.iter().all(|a| allowed.contains(a)) {
                return Err(format!("wrong addresses: {what}"));
            }
        }
    }
    Ok(())
}

fn readers(
    modules: [NssModule; 2],
    counters: Arc<Counters>,
    stop: Arc<AtomicBool>,
    failures: Arc<Mutex<Vec<String>>>,
) -> Vec<std::thread::JoinHandle<()>> {
    (0..READERS)
        .map(|t| {
            let (counters, stop, failures) = (counters.clone(), stop.clone(), failures.clone());
            std::thread::spawn(move || {
                // Below the writer's priority: 8 busy readers on a 2-core CI
                // machine would otherwise starve the helper processes.
                // SAFETY: plain syscalls on this thread's own id.
                unsafe {
                    libc::setpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t, 10);
                }
                let mut rng = Rng(0x1234_5678 + t as u64 * 7919);
                while !stop.load(Ordering::Relaxed) {
                    let module = &modules[rng.below(2)];
                    if let Err(e) = check_one(module, &mut rng) {
                        failures.lock().expect("failures").push(e);
                        stop.store(true, Ordering::Relaxed);
                    }
                    counters.lookups.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect()
}

/// Aborts the process if the run is not over by the deadline: a deadlock
/// must fail the test, not hang CI.
fn watchdog(done: Arc<AtomicBool>, counters: Arc<Counters>) {
    std::thread::spawn(move || {
        let start = Instant::now();
        while !done.load(Ordering::Relaxed) {
            if start.elapsed() > WATCHDOG {
                eprintln!(
                    "stress: WATCHDOG: not done after {} s ({} lookups, {} helper runs): deadlock?",
                    WATCHDOG.as_secs(),
                    counters.lookups.load(Ordering::Relaxed),
                    counters.helper_runs.load(Ordering::Relaxed)
                );
                std::process::abort();
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    });
}

fn iterations() -> u64 {
    std::env::var(ITERATIONS_ENV)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4000)
}

fn assert_inside() {
    assert!(
        std::env::var_os(INSIDE).is_some(),
        "run through the outer test, which sets up the namespace"
    );
}

fn report(counters: &Counters, started: Instant) {
    println!(
        "stress: {} writer steps: {} helper runs, {} epoch rewrites, {} networks appeared, {} vanished; \
         {} lookups by {READERS} threads, {} forks, in {:.1} s",
        iterations(),
        counters.helper_runs.load(Ordering::Relaxed),
        counters.epoch_rewrites.load(Ordering::Relaxed),
        counters.appear.load(Ordering::Relaxed),
        counters.vanish.load(Ordering::Relaxed),
        counters.lookups.load(Ordering::Relaxed),
        counters.forks.load(Ordering::Relaxed),
        started.elapsed().as_secs_f64()
    );
}

#[test]
#[ignore = "runs inside a mount namespace, started by lookups_stay_consistent_while_the_helper_rewrites_leases"]
fn inner_lookups_stay_consistent_while_the_helper_rewrites_leases() {
    assert_inside();
    let started = Instant::now();
    set_up(Path::new(LEASE_DIR));
    let modules = NssModule::both();
    let counters = Arc::new(Counters::default());
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicBool::new(false));
    let failures = Arc::new(Mutex::new(Vec::new()));
    watchdog(done.clone(), counters.clone());
    let threads = readers(modules, counters.clone(), stop.clone(), failures.clone());
    writer(iterations(), &counters, &stop);
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().expect("reader thread");
    }
    done.store(true, Ordering::Relaxed);
    report(&counters, started);
    let failures = failures.lock().expect("failures");
    assert!(
        failures.is_empty(),
        "{} violations, first: {}",
        failures.len(),
        failures[0]
    );
    assert!(counters.lookups.load(Ordering::Relaxed) > 0);
}

/// In a forked child: a few lookups through every entry point of both
/// modules, then exec `/bin/true` (or `_exit` with an error code). Never prints through Rust's stdout/stderr (their
/// locks may have been held by another thread at the fork).
fn child_after_fork(modules: &[NssModule; 2], seed: u64) -> ! {
    let result = std::panic::catch_unwind(|| {
        let mut rng = Rng(seed | 1);
        for _ in 0..24 {
            let module = &modules[rng.below(2)];
            check_one(module, &mut rng)?;
        }
        Ok::<(), String>(())
    });
    let code = match result {
        Ok(Ok(())) => 0,
        Ok(Err(message)) => {
            let line = format!("stress: child: {message}\n");
            // SAFETY: writing a valid buffer to fd 2.
            unsafe { libc::write(2, line.as_ptr() as *const c_void, line.len()) };
            3
        }
        Err(_) => 4,
    };
    if code == 0 {
        // End like most fork() children do, with an exec: this also keeps
        // valgrind from reporting the memory of the parent's other threads
        // (which do not exist here) as leaked by the child.
        let true_path = c"/bin/true";
        let argv = [true_path.as_ptr(), ptr::null()];
        // SAFETY: a NUL-terminated path and a NULL-terminated argv.
        unsafe { libc::execv(true_path.as_ptr(), argv.as_ptr()) };
    }
    // SAFETY: _exit is async-signal-safe and skips atexit handlers and the
    // parent's buffered state.
    unsafe { libc::_exit(code) }
}

#[test]
#[ignore = "runs inside a mount namespace, started by fork_during_lookups_leaves_a_working_child"]
fn inner_fork_during_lookups_leaves_a_working_child() {
    assert_inside();
    let started = Instant::now();
    set_up(Path::new(LEASE_DIR));
    let modules = NssModule::both();
    let counters = Arc::new(Counters::default());
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicBool::new(false));
    let failures = Arc::new(Mutex::new(Vec::new()));
    watchdog(done.clone(), counters.clone());
    let threads = readers(modules, counters.clone(), stop.clone(), failures.clone());
    // A writer keeps the cache busy refreshing while we fork.
    let writer_thread = {
        let (counters, stop) = (counters.clone(), stop.clone());
        std::thread::spawn(move || writer(iterations() / 4, &counters, &stop))
    };
    let forks = (iterations() / 15).max(10);
    let mut rng = Rng(42);
    for i in 0..forks {
        std::thread::sleep(Duration::from_micros(rng.below(3000) as u64));
        // SAFETY: the child only runs code that is safe after fork in a
        // multi-threaded process with glibc (malloc is fork-safe; the
        // modules never block on a lock another thread may hold) and ends
        // with _exit.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork failed");
        if pid == 0 {
            child_after_fork(&modules, i * 2654435761);
        }
        counters.forks.fetch_add(1, Ordering::Relaxed);
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut status = 0;
        loop {
            // SAFETY: our own child, valid status pointer.
            let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
            if r == pid {
                break;
            }
            if Instant::now() > deadline {
                // SAFETY: our own child.
                unsafe {
                    libc::kill(pid, libc::SIGKILL);
                    libc::waitpid(pid, &mut status, 0);
                }
                failures.lock().expect("failures").push(format!(
                    "fork {i}: child stuck for 30 s (deadlock after fork)"
                ));
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        if !(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0) {
            failures
                .lock()
                .expect("failures")
                .push(format!("fork {i}: child failed (wait status {status:#x})"));
        }
        if stop.load(Ordering::Relaxed) || !failures.lock().expect("failures").is_empty() {
            break;
        }
    }
    stop.store(true, Ordering::Relaxed);
    writer_thread.join().expect("writer");
    for t in threads {
        t.join().expect("reader thread");
    }
    done.store(true, Ordering::Relaxed);
    report(&counters, started);
    let failures = failures.lock().expect("failures");
    assert!(
        failures.is_empty(),
        "{} failures, first: {}",
        failures.len(),
        failures[0]
    );
}
