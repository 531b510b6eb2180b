//! `nss-bench report`: turns the sample records of one `make bench` run into
//! the markdown results (medians, ratios C/ours, and the targets).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::fs;

use crate::opts::Opts;
use crate::stats::median;

const SERVICES: [&str; 2] = ["libvirt", "libvirt_guest"];
const FUNCS: [&str; 2] = ["gbn4", "gbn2v4"];

/// Keys that describe a sample rather than identify its series.
const NOT_IDENTIFYING: [&str; 5] = ["v", "n", "exit", "wall", "cpu"];

/// Secondary values of a sample: `wall` (wall-clock ns where `v` is CPU
/// time) and `cpu` (child CPU ns where `v` is wall-clock time).
const SECONDARY: [&str; 2] = ["wall", "cpu"];

struct Sample {
    fields: BTreeMap<String, String>,
    v: f64,
    extra: BTreeMap<String, f64>,
}

struct Records {
    samples: Vec<Sample>,
}

impl Records {
    fn parse(text: &str) -> Records {
        let mut samples = Vec::new();
        for line in text.lines() {
            let Some(rest) = line.strip_prefix("R\t") else {
                continue;
            };
            let mut fields = BTreeMap::new();
            let mut extra = BTreeMap::new();
            let mut value = None;
            for kv in rest.split('\t') {
                if let Some((k, v)) = kv.split_once('=') {
                    if k == "v" {
                        value = v.parse::<f64>().ok();
                    } else if SECONDARY.contains(&k) {
                        if let Ok(x) = v.parse::<f64>() {
                            extra.insert(k.to_owned(), x);
                        }
                    } else if !NOT_IDENTIFYING.contains(&k) {
                        fields.insert(k.to_owned(), v.to_owned());
                    }
                }
            }
            if let Some(v) = value {
                samples.push(Sample { fields, v, extra });
            }
        }
        Records { samples }
    }

    fn matching<'a>(&'a self, want: &'a [(&str, &str)]) -> impl Iterator<Item = &'a Sample> + 'a {
        self.samples.iter().filter(move |s| {
            want.iter()
                .all(|(k, v)| s.fields.get(*k).map(String::as_str) == Some(*v))
        })
    }

    /// The median of the series whose fields include every pair of `want`.
    fn med(&self, want: &[(&str, &str)]) -> Option<f64> {
        let values: Vec<f64> = self.matching(want).map(|s| s.v).collect();
        if values.is_empty() {
            None
        } else {
            Some(median(&values))
        }
    }

    /// The median of a secondary value (`wall`, `cpu`) of that series.
    fn med_extra(&self, want: &[(&str, &str)], key: &str) -> Option<f64> {
        let values: Vec<f64> = self
            .matching(want)
            .filter_map(|s| s.extra.get(key).copied())
            .collect();
        if values.is_empty() {
            None
        } else {
            Some(median(&values))
        }
    }

    /// The distinct values of `key` among samples of section `sec`, sorted
    /// numerically when they are numbers.
    fn values(&self, sec: &str, key: &str) -> Vec<String> {
        let set: BTreeSet<String> = self
            .samples
            .iter()
            .filter(|s| s.fields.get("sec").map(String::as_str) == Some(sec))
            .filter_map(|s| s.fields.get(key).cloned())
            .collect();
        let mut v: Vec<String> = set.into_iter().collect();
        v.sort_by_key(|s| (s.parse::<u64>().unwrap_or(u64::MAX), s.clone()));
        v
    }

    fn count(&self, want: &[(&str, &str)]) -> usize {
        self.matching(want).count()
    }
}

/// 1234567 -> "1,234,567".
fn thousands(v: f64) -> String {
    if !v.is_finite() {
        return "–".to_owned();
    }
    let neg = v < 0.0;
    let digits = format!("{:.0}", v.abs());
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    if neg {
        format!("-{out}")
    } else {
        out
    }
}

fn opt_num(v: Option<f64>) -> String {
    v.map_or("–".to_owned(), thousands)
}

fn ratio(num: Option<f64>, den: Option<f64>) -> Option<f64> {
    match (num, den) {
        (Some(n), Some(d)) if d > 0.0 => Some(n / d),
        _ => None,
    }
}

fn fmt_ratio(r: Option<f64>) -> String {
    match r {
        None => "–".to_owned(),
        Some(r) if r >= 100.0 => format!("{}×", thousands(r)),
        Some(r) if r >= 10.0 => format!("{r:.1}×"),
        Some(r) => format!("{r:.2}×"),
    }
}

fn kib(v: Option<f64>) -> String {
    v.map_or("–".to_owned(), |b| thousands(b / 1024.0))
}

fn ms(v: Option<f64>) -> String {
    v.map_or("–".to_owned(), |ns| format!("{:.2}", ns / 1e6))
}

fn machine() -> String {
    let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .and_then(|l| l.split_once(':'))
        .map_or("unknown", |(_, m)| m.trim())
        .to_owned();
    let cpus = cpuinfo
        .lines()
        .filter(|l| l.starts_with("processor"))
        .count();
    let nproc = std::thread::available_parallelism().map_or(0, |n| n.get());
    let kernel = fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!(
        "`uname -m` {}, nproc {nproc} ({cpus} CPUs in /proc/cpuinfo), CPU \"{model}\", kernel {}",
        std::env::consts::ARCH,
        kernel.trim()
    )
}

/// A target line: worst case over the rows it covers.
struct Target {
    text: String,
    measured: String,
    met: Option<bool>,
}

pub fn run(o: &Opts) -> Result<(), String> {
    let path = o.req("records")?;
    let text = fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    let r = Records::parse(&text);
    let mut md = String::new();
    let w = &mut md;

    let _ = writeln!(
        w,
        "# `make bench`: Rust NSS modules vs Debian's C modules\n"
    );
    let _ = writeln!(w, "* Date: {}", o.get("date").unwrap_or("?"));
    let _ = writeln!(w, "* Machine: {}", machine());
    let load_end = fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load_end: Vec<&str> = load_end.split_whitespace().take(3).collect();
    let _ = writeln!(
        w,
        "* Load average (1, 5, 15 min) at the start: {}; at the end: {} (other jobs share this machine: \
         medians over alternating batches keep the comparison fair, absolute numbers move with load)",
        o.get("load-start").unwrap_or("?"),
        load_end.join(" ")
    );
    for (key, label) in [
        ("commit", "Workspace commit"),
        ("c-version", "C modules"),
        ("elapsed", "Run time"),
    ] {
        if let Some(v) = o.get(key) {
            let _ = writeln!(w, "* {label}: {v}");
        }
    }
    let _ = writeln!(
        w,
        "* Lease dirs: generated in the lease helper's byte format (`nss-bench gen`); K counts \
         leases, spread over 1 or 4 networks (`virbr<i>.status` + `virbr<i>.macs`): `v4` = K \
         hosts with one IPv4 lease each, `dual` = K/2 hosts with one IPv4 and one IPv6 lease \
         each. Hit = the middle host (`vm-…` for libvirt, its domain `dom-…` for \
         libvirt_guest), miss = `no-such-host`.\n\
         * Ratios are C/ours: above 1× means ours is faster (or smaller).\n"
    );

    warm_table(w, &r);
    cold_table(w, &r);
    memory_table(w, &r);
    getent_table(w, &r);
    ir_table(w, &r);
    so_table(w, &r);
    targets(w, &r);
    warnings(w, &r);

    print!("{md}");
    if let Some(out) = o.get("out") {
        fs::write(out, &md).map_err(|e| format!("{out}: {e}"))?;
    }
    Ok(())
}

fn configs(r: &Records, sec: &str) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for k in r.values(sec, "k") {
        for nets in r.values(sec, "nets") {
            for fam in r.values(sec, "fam") {
                if r.count(&[("sec", sec), ("k", &k), ("nets", &nets), ("fam", &fam)]) > 0 {
                    out.push((k.clone(), nets.clone(), fam.clone()));
                }
            }
        }
    }
    out
}

fn warm_table(w: &mut String, r: &Records) {
    let _ = writeln!(
        w,
        "## Warm lookups (ns per lookup, in-process loop through dlopen)\n\n\
         Thread CPU time per call (`CLOCK_THREAD_CPUTIME_ID`: user + kernel time of the calling \
         thread, not time spent waiting for a CPU, so that other jobs on the machine disturb the \
         comparison least; wall-clock values are kept in `target/bench/records.tsv`). \
         Median of the batches; modules alternate batch by batch in one process. \
         `stat floor` = `stat` of the dir + each file our revalidation checks (`.status`, \
         plus `.macs` for libvirt_guest), in the same loop style; `stat(dir)` = the `stat` of the \
         directory alone, the floor of a revalidation that would trust the directory's stamp \
         (every libvirt writer replaces files by rename); `C/stat(dir)` = the best ratio such a \
         design could reach.\n"
    );
    for svc in SERVICES {
        let _ = writeln!(w, "### {svc}\n");
        let _ = writeln!(
            w,
            "| K | nets | fam | fn | hit ours | hit C | C/ours | miss ours | miss C | C/ours | stat floor | ours/floor (hit, miss) | stat(dir) | C/stat(dir) (hit, miss) |\n\
             |---:|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
        );
        for (k, nets, fam) in configs(r, "warm") {
            let base = [
                ("k", k.as_str()),
                ("nets", nets.as_str()),
                ("fam", fam.as_str()),
                ("svc", svc),
            ];
            let floor = r.med(&[&base[..], &[("sec", "floor")]].concat());
            let floor_dir = r.med(&[&base[..], &[("sec", "floor_dir")]].concat());
            for func in FUNCS {
                let get = |q: &str, m: &str| {
                    r.med(
                        &[
                            &base[..],
                            &[("sec", "warm"), ("fn", func), ("q", q), ("mod", m)],
                        ]
                        .concat(),
                    )
                };
                let (ho, hc, mo, mc) = (
                    get("hit", "ours"),
                    get("hit", "c"),
                    get("miss", "ours"),
                    get("miss", "c"),
                );
                let _ = writeln!(
                    w,
                    "| {} | {nets} | {fam} | {func} | {} | {} | {} | {} | {} | {} | {} | {}, {} | {} | {}, {} |",
                    thousands(k.parse().unwrap_or(f64::NAN)),
                    opt_num(ho),
                    opt_num(hc),
                    fmt_ratio(ratio(hc, ho)),
                    opt_num(mo),
                    opt_num(mc),
                    fmt_ratio(ratio(mc, mo)),
                    opt_num(floor),
                    fmt_ratio(ratio(ho, floor)),
                    fmt_ratio(ratio(mo, floor)),
                    opt_num(floor_dir),
                    fmt_ratio(ratio(hc, floor_dir)),
                    fmt_ratio(ratio(mc, floor_dir)),
                );
            }
        }
        let _ = writeln!(w);
    }
}

fn cold_table(w: &mut String, r: &Records) {
    let _ = writeln!(
        w,
        "## Cold (µs)\n\n\
         `dlopen` and `first` = the module's `dlopen` and its first `gethostbyname4_r` (hit) in a \
         fresh process, one process per sample (median of thread CPU time). MB/s = lease bytes / \
         first-lookup time. `changed` = one lookup right after \
         `virbr0.status` was replaced by write + rename (same bytes, new inode), in a warm \
         process.\n"
    );
    for svc in SERVICES {
        let _ = writeln!(w, "### {svc}\n");
        let _ = writeln!(
            w,
            "| K | nets | fam | lease bytes | dlopen ours | dlopen C | first ours | first C | C/ours | ours first MB/s | C first MB/s | dlopen+first C/ours | changed ours | changed C | C/ours |\n\
             |---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
        );
        for (k, nets, fam) in configs(r, "first") {
            let base = [
                ("k", k.as_str()),
                ("nets", nets.as_str()),
                ("fam", fam.as_str()),
                ("svc", svc),
            ];
            let get =
                |sec: &str, m: &str| r.med(&[&base[..], &[("sec", sec), ("mod", m)]].concat());
            let us = |v: Option<f64>| v.map_or("–".to_owned(), |ns| thousands(ns / 1e3));
            let bytes = r.med(&[&base[..], &[("sec", "bytes")]].concat());
            // bytes per ns * 1000 = MB/s
            let mbps = |m: &str| {
                ratio(bytes, get("first", m))
                    .map_or("–".to_owned(), |r| format!("{:.0}", r * 1000.0))
            };
            let _ = writeln!(
                w,
                "| {} | {nets} | {fam} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                thousands(k.parse().unwrap_or(f64::NAN)),
                opt_num(bytes),
                us(get("dlopen", "ours")),
                us(get("dlopen", "c")),
                us(get("first", "ours")),
                us(get("first", "c")),
                fmt_ratio(ratio(get("first", "c"), get("first", "ours"))),
                mbps("ours"),
                mbps("c"),
                fmt_ratio(ratio(get("cold", "c"), get("cold", "ours"))),
                us(get("changed", "ours")),
                us(get("changed", "c")),
                fmt_ratio(ratio(get("changed", "c"), get("changed", "ours"))),
            );
        }
        let _ = writeln!(w);
    }
}

fn memory_table(w: &mut String, r: &Records) {
    let _ = writeln!(
        w,
        "## Memory (KiB)\n\n\
         RSS growth = VmRSS after the first + 3 more lookups minus VmRSS right after `dlopen` \
         (fresh process, median). `after re-read` = the same after every file was then replaced \
         (write + rename, same bytes) and one more lookup read them all again: what a \
         long-lived process keeps. Peak = VmHWM minus that same baseline (before the re-read). \
         `lease bytes` = total size of the files the service reads. Faults = minor page faults \
         during the first lookup.\n"
    );
    for svc in SERVICES {
        let _ = writeln!(w, "### {svc}\n");
        let _ = writeln!(
            w,
            "| K | nets | fam | lease KiB | RSS growth ours | RSS growth C | ours growth / lease bytes | after re-read ours | after re-read C | ours after re-read / lease bytes | peak ours | peak C | faults ours | faults C |\n\
             |---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
        );
        for (k, nets, fam) in configs(r, "rss") {
            let base = [
                ("k", k.as_str()),
                ("nets", nets.as_str()),
                ("fam", fam.as_str()),
                ("svc", svc),
            ];
            let get =
                |sec: &str, m: &str| r.med(&[&base[..], &[("sec", sec), ("mod", m)]].concat());
            let bytes = r.med(&[&base[..], &[("sec", "bytes")]].concat());
            let _ = writeln!(
                w,
                "| {} | {nets} | {fam} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                thousands(k.parse().unwrap_or(f64::NAN)),
                kib(bytes),
                kib(get("rss", "ours")),
                kib(get("rss", "c")),
                fmt_ratio(ratio(get("rss", "ours"), bytes)),
                kib(get("reread", "ours")),
                kib(get("reread", "c")),
                fmt_ratio(ratio(get("reread", "ours"), bytes)),
                kib(get("peak", "ours")),
                kib(get("peak", "c")),
                opt_num(get("faults", "ours")),
                opt_num(get("faults", "c")),
            );
        }
        let _ = writeln!(w);
    }
}

fn getent_table(w: &mut String, r: &Records) {
    let _ = writeln!(
        w,
        "## Whole process: `getent hosts NAME` (ms per process)\n\n\
         fork+exec+wait of `getent hosts NAME` with `hosts: files <service>` in a private \
         namespace (`scripts/nsenv.sh`; ours bound over the system module path), 1 and 4 \
         networks, v4; median of all runs, rounds alternating ours and C. `getent hosts` makes two module \
         lookups (AF_INET6, then AF_INET). Wall = fork to reaped; CPU = the child's user + system \
         time (`getrusage(RUSAGE_CHILDREN)`), which other jobs on the machine disturb less.\n\n\
         `files only` = the same `getent` with `hosts: files` (no module: the process's own \
         cost); `modules' share` = (C - files only) / (ours - files only), on CPU time.\n\n\
         | service | K | nets | query | wall ours | wall C | C/ours | CPU ours | CPU C | C/ours | CPU files only | modules' share C/ours | runs (each) |\n\
         |---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    for svc in SERVICES {
        for (k, nets) in getent_configs(r) {
            for q in ["hit", "miss"] {
                let base = [
                    ("sec", "getent"),
                    ("svc", svc),
                    ("k", k.as_str()),
                    ("nets", nets.as_str()),
                    ("q", q),
                ];
                let ours = r.med(&[&base[..], &[("mod", "ours")]].concat());
                let c = r.med(&[&base[..], &[("mod", "c")]].concat());
                if ours.is_none() && c.is_none() {
                    continue;
                }
                let cpu_ours = r.med_extra(&[&base[..], &[("mod", "ours")]].concat(), "cpu");
                let cpu_c = r.med_extra(&[&base[..], &[("mod", "c")]].concat(), "cpu");
                let cpu_base = r.med_extra(&[&base[..], &[("mod", "base")]].concat(), "cpu");
                let share = match (cpu_ours, cpu_c, cpu_base) {
                    (Some(o), Some(c), Some(b)) => ratio(Some(c - b), Some(o - b)),
                    _ => None,
                };
                let _ = writeln!(
                    w,
                    "| {svc} | {} | {nets} | {q} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                    thousands(k.parse().unwrap_or(f64::NAN)),
                    ms(ours),
                    ms(c),
                    fmt_ratio(ratio(c, ours)),
                    ms(cpu_ours),
                    ms(cpu_c),
                    fmt_ratio(ratio(cpu_c, cpu_ours)),
                    ms(cpu_base),
                    fmt_ratio(share),
                    r.count(&[&base[..], &[("mod", "ours")]].concat()),
                );
            }
        }
    }
    let _ = writeln!(w);
}

/// The (K, networks) pairs of the getent records, in K order.
fn getent_configs(r: &Records) -> Vec<(String, String)> {
    let ks = r.values("getent", "k");
    let nets = r.values("getent", "nets");
    ks.iter()
        .flat_map(|k| nets.iter().map(move |n| (k.clone(), n.clone())))
        .filter(|(k, n)| r.count(&[("sec", "getent"), ("k", k), ("nets", n)]) > 0)
        .collect()
}

fn ir_table(w: &mut String, r: &Records) {
    if r.count(&[("sec", "ir")]) == 0 {
        return;
    }
    let _ = writeln!(
        w,
        "## Instructions (callgrind, independent of load)\n\n\
         Instructions executed by `nss-bench once` with 0, 1 and 21 `gethostbyname4_r` hit \
         lookups after `dlopen`, under `valgrind --tool=callgrind` (user space only: a syscall \
         counts as one instruction): first = I(1) - I(0) (ours includes reading, parsing and \
         indexing), warm = (I(21) - I(1)) / 20. 1 network, v4.\n\n\
         | service | K | lease bytes | first ours | first C | C/ours | ours per byte | C per byte | warm ours | warm C | C/ours |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    for svc in SERVICES {
        for k in r.values("ir", "k") {
            let base = [("sec", "ir"), ("svc", svc), ("k", k.as_str())];
            let get =
                |m: &str, l: &str| r.med(&[&base[..], &[("mod", m), ("lookups", l)]].concat());
            let diff = |m: &str, a: &str, b: &str, n: f64| match (get(m, a), get(m, b)) {
                (Some(x), Some(y)) => Some((x - y) / n),
                _ => None,
            };
            let bytes = r.med(&[
                ("sec", "bytes"),
                ("svc", svc),
                ("k", k.as_str()),
                ("nets", "1"),
                ("fam", "v4"),
            ]);
            let (fo, fc) = (diff("ours", "1", "0", 1.0), diff("c", "1", "0", 1.0));
            let (wo, wc) = (diff("ours", "21", "1", 20.0), diff("c", "21", "1", 20.0));
            let per_byte =
                |v: Option<f64>| ratio(v, bytes).map_or("–".to_owned(), |x| format!("{x:.1}"));
            let _ = writeln!(
                w,
                "| {svc} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                thousands(k.parse().unwrap_or(f64::NAN)),
                opt_num(bytes),
                opt_num(fo),
                opt_num(fc),
                fmt_ratio(ratio(fc, fo)),
                per_byte(fo),
                per_byte(fc),
                opt_num(wo),
                opt_num(wc),
                fmt_ratio(ratio(wc, wo)),
            );
        }
    }
    let _ = writeln!(w);
}

fn so_table(w: &mut String, r: &Records) {
    let _ = writeln!(
        w,
        "## Shared objects (bytes)\n\n| file | on disk | stripped (`strip --strip-all`) |\n|---|---:|---:|"
    );
    let mut names: Vec<String> = r.values("so", "file");
    names.sort();
    for name in names {
        let get = |kind: &str| r.med(&[("sec", "so"), ("file", name.as_str()), ("kind", kind)]);
        let _ = writeln!(
            w,
            "| {name} | {} | {} |",
            opt_num(get("disk")),
            opt_num(get("stripped"))
        );
    }
    let _ = writeln!(w);
}

/// Worst (by `better`) of the rows, with the row that gave it.
fn worst(rows: Vec<(String, Option<f64>)>, higher_is_better: bool) -> Option<(String, f64)> {
    rows.into_iter()
        .filter_map(|(label, v)| v.map(|v| (label, v)))
        .reduce(|a, b| {
            let b_worse = if higher_is_better {
                b.1 < a.1
            } else {
                b.1 > a.1
            };
            if b_worse {
                b
            } else {
                a
            }
        })
}

fn targets(w: &mut String, r: &Records) {
    let mut list: Vec<Target> = Vec::new();
    for svc in SERVICES {
        let warm_ratio_rows = |k: &str| {
            let mut rows = Vec::new();
            for nets in r.values("warm", "nets") {
                for fam in r.values("warm", "fam") {
                    for func in FUNCS {
                        for q in ["hit", "miss"] {
                            let b = [
                                ("sec", "warm"),
                                ("svc", svc),
                                ("k", k),
                                ("nets", nets.as_str()),
                                ("fam", fam.as_str()),
                                ("fn", func),
                                ("q", q),
                            ];
                            let c = r.med(&[&b[..], &[("mod", "c")]].concat());
                            let ours = r.med(&[&b[..], &[("mod", "ours")]].concat());
                            rows.push((format!("{nets} net, {fam}, {func}, {q}"), ratio(c, ours)));
                        }
                    }
                }
            }
            rows
        };
        list.push(judge(
            true,
            format!("{svc}: warm C/ours ≥ 8× at K=10"),
            warm_ratio_rows("10"),
            8.0,
        ));
        list.push(judge(
            true,
            format!("{svc}: warm C/ours ≥ 2,000× at K=10,000"),
            warm_ratio_rows("10000"),
            2000.0,
        ));

        let mut scale_rows = Vec::new();
        let mut floor_rows = Vec::new();
        for nets in r.values("warm", "nets") {
            for fam in r.values("warm", "fam") {
                let floor_of = |k: &str| {
                    r.med(&[
                        ("sec", "floor"),
                        ("svc", svc),
                        ("k", k),
                        ("nets", nets.as_str()),
                        ("fam", fam.as_str()),
                    ])
                };
                for func in FUNCS {
                    for q in ["hit", "miss"] {
                        let ours = |k: &str| {
                            r.med(&[
                                ("sec", "warm"),
                                ("svc", svc),
                                ("k", k),
                                ("nets", nets.as_str()),
                                ("fam", fam.as_str()),
                                ("fn", func),
                                ("q", q),
                                ("mod", "ours"),
                            ])
                        };
                        scale_rows.push((
                            format!("{nets} net, {fam}, {func}, {q}"),
                            ratio(ours("100000"), ours("10")),
                        ));
                        for k in r.values("warm", "k") {
                            floor_rows.push((
                                format!("K={k}, {nets} net, {fam}, {func}, {q}"),
                                ratio(ours(&k), floor_of(&k)),
                            ));
                        }
                    }
                }
            }
        }
        list.push(judge(
            false,
            format!("{svc}: warm ours at K=100,000 ≤ 1.5× ours at K=10"),
            scale_rows,
            1.5,
        ));
        list.push(judge(
            false,
            format!("{svc}: warm ours ≤ 1.25× the stat floor (issue 11 target 5)"),
            floor_rows,
            1.25,
        ));

        let mut cold_rows = Vec::new();
        let mut mem_rows = Vec::new();
        for nets in r.values("first", "nets") {
            for fam in r.values("first", "fam") {
                let b = |k: &'static str, sec: &'static str| {
                    [
                        ("svc", svc),
                        ("k", k),
                        ("nets", nets.as_str()),
                        ("fam", fam.as_str()),
                        ("sec", sec),
                    ]
                };
                let first = |m: &str| r.med(&[&b("10000", "first")[..], &[("mod", m)]].concat());
                cold_rows.push((
                    format!("{nets} net, {fam}"),
                    ratio(first("c"), first("ours")),
                ));
                let kept = r.med(&[&b("100000", "reread")[..], &[("mod", "ours")]].concat());
                let bytes = r.med(&b("100000", "bytes"));
                mem_rows.push((format!("{nets} net, {fam}"), ratio(kept, bytes)));
            }
        }
        list.push(judge(
            true,
            format!(
                "{svc}: first lookup in a fresh process C/ours ≥ 2× at K=10,000 \
                 (issue 11 target 2; goal 5×)"
            ),
            cold_rows,
            2.0,
        ));
        // Issue 11 targets 1 and 3: never slower than the C module in the
        // commonest case, a fresh process resolving one name; and well
        // ahead of it on a large network.
        for (k, goal, what) in [
            ("10", 1.05, " (issue 11 target 1)"),
            ("10000", 3.0, " (issue 11 target 3)"),
        ] {
            let mut rows = Vec::new();
            for nets in r.values("getent", "nets") {
                for q in ["hit", "miss"] {
                    let b = [
                        ("sec", "getent"),
                        ("svc", svc),
                        ("k", k),
                        ("nets", nets.as_str()),
                        ("q", q),
                    ];
                    let c = r.med(&[&b[..], &[("mod", "c")]].concat());
                    let ours = r.med(&[&b[..], &[("mod", "ours")]].concat());
                    let cpu = ratio(
                        r.med_extra(&[&b[..], &[("mod", "c")]].concat(), "cpu"),
                        r.med_extra(&[&b[..], &[("mod", "ours")]].concat(), "cpu"),
                    );
                    rows.push((
                        format!("{nets} net, {q}; wall clock {}", fmt_ratio(ratio(c, ours))),
                        cpu,
                    ));
                }
            }
            list.push(judge(
                true,
                format!(
                    "{svc}: whole-process `getent hosts NAME` C/ours ≥ {goal}× at K={}{what} \
                     (child CPU time)",
                    thousands(k.parse().unwrap_or(0.0))
                ),
                rows,
                goal,
            ));
        }
        list.push(judge(
            false,
            format!(
                "{svc}: memory kept after a re-read at K=100,000 ≤ 0.5× the lease files' size \
                 (issue 11 target 4)"
            ),
            mem_rows,
            0.5,
        ));
    }

    let _ = writeln!(
        w,
        "## Targets\n\n\
         Each target is judged on its worst row (all networks, families, functions, hit and \
         miss). Times are CPU times (see above); getent also shows the wall-clock ratio.\n\n\
         | target | measured | met |\n|---|---|---|"
    );
    for t in list {
        let met = match t.met {
            Some(true) => "yes",
            Some(false) => "**no**",
            None => "–",
        };
        let _ = writeln!(w, "| {} | {} | {met} |", t.text, t.measured);
    }
    let _ = writeln!(w);
}

/// Judges a target on the worst of its rows.
fn judge(
    higher_is_better: bool,
    text: String,
    rows: Vec<(String, Option<f64>)>,
    goal: f64,
) -> Target {
    match worst(rows, higher_is_better) {
        Some((label, v)) => Target {
            text,
            measured: format!("worst {} ({label})", fmt_ratio(Some(v))),
            met: Some(if higher_is_better {
                v >= goal
            } else {
                v <= goal
            }),
        },
        None => Target {
            text,
            measured: "not measured".to_owned(),
            met: None,
        },
    }
}

/// Hit lookups that did not succeed: their rows measure something else.
fn warnings(w: &mut String, r: &Records) {
    let mut seen = BTreeSet::new();
    for sample in &r.samples {
        let f = &sample.fields;
        if f.get("sec").map(String::as_str) == Some("warn") {
            let get = |k: &str| f.get(k).map_or("?", String::as_str);
            seen.insert(format!(
                "{} K={} nets={} {}: {} hit returned {}",
                get("svc"),
                get("k"),
                get("nets"),
                get("fam"),
                get("mod"),
                get("what")
            ));
        }
    }
    if seen.is_empty() {
        return;
    }
    let _ = writeln!(w, "## Warnings\n");
    for line in seen {
        let _ = writeln!(w, "* {line}");
    }
    let _ = writeln!(w);
}
