//! `nss-bench`: the measurements behind `make bench` (see `scripts/bench.sh`,
//! which builds, generates the lease dirs, sets up the private mount
//! namespace and calls these subcommands).
//!
//! ```text
//! nss-bench gen    --out DIR --count K --networks N --family v4|dual
//! nss-bench warm   --ours SO [--c SO] --svc S --hit NAME --tag T [--batches B] [--batch-ms MS] [--changed R]
//! nss-bench cold   --ours SO [--c SO] --svc S --hit NAME --tag T --samples S
//! nss-bench once   --so SO --svc S --name NAME [--lookups N]  (one cold sample; used by `cold`)
//! nss-bench spawn  --tag T --runs R [--expect CODE] -- COMMAND ARGS...  (fork+exec timing)
//! nss-bench report --records FILE --date D [--out FILE]
//! ```
//!
//! Measuring subcommands print one record per sample on stdout:
//! `R<TAB>key=value<TAB>...`, where `v` is the value (ns or bytes) and every
//! other key identifies the series. `--tag` adds `key=value,key=value` pairs
//! (K, networks, family...). The lease dir is always the modules' compiled-in
//! `/var/lib/libvirt/dnsmasq`, so `warm` and `cold` must run in a mount
//! namespace where the dir under test is bound there.

mod gen;
mod nss;
mod opts;
mod report;
mod stats;

use std::ffi::CString;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use nss::{Func, Module, NSS_STATUS_SUCCESS};
use opts::Opts;

const LEASE_DIR: &str = "/var/lib/libvirt/dnsmasq";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((cmd, rest)) = args.split_first() else {
        eprintln!("usage: nss-bench gen|warm|cold|once|spawn|report ... (see src/main.rs)");
        return ExitCode::from(2);
    };
    let result = match cmd.as_str() {
        "gen" => Opts::parse(rest).and_then(|o| cmd_gen(&o)),
        "warm" => Opts::parse(rest).and_then(|o| cmd_warm(&o)),
        "cold" => Opts::parse(rest).and_then(|o| cmd_cold(&o)),
        "once" => Opts::parse(rest).and_then(|o| cmd_once(&o)),
        "spawn" => Opts::parse(rest).and_then(|o| cmd_spawn(&o)),
        "report" => Opts::parse(rest).and_then(|o| report::run(&o)),
        other => Err(format!("unknown subcommand {other}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("nss-bench {cmd}: {e}");
            ExitCode::from(1)
        }
    }
}

/// Prints one sample record.
fn record(opts: &Opts, fields: &[(&str, &str)], value: f64) {
    let mut line = String::from("R");
    for (k, v) in opts.tags() {
        line.push_str(&format!("\t{k}={v}"));
    }
    for (k, v) in fields {
        line.push_str(&format!("\t{k}={v}"));
    }
    line.push_str(&format!("\tv={value:.1}"));
    println!("{line}");
}

fn cmd_gen(o: &Opts) -> Result<(), String> {
    let family = gen::Family::parse(o.req("family")?).ok_or("--family: v4 or dual")?;
    gen::generate(
        Path::new(o.req("out")?),
        o.num("count", 10)?,
        o.num("networks", 1)?,
        family,
    )
    .map_err(|e| e.to_string())
}

/// The modules to compare, in the order of the first batch.
fn load_modules(o: &Opts, svc: &str) -> Result<Vec<(&'static str, Module)>, String> {
    let mut mods = vec![("ours", Module::load(o.req("ours")?, svc)?)];
    if let Some(c) = o.get("c") {
        mods.push(("c", Module::load(c, svc)?));
    }
    Ok(mods)
}

fn status_label(st: i32) -> &'static str {
    match st {
        -2 => "TRYAGAIN",
        -1 => "UNAVAIL",
        0 => "NOTFOUND",
        1 => "SUCCESS",
        _ => "OTHER",
    }
}

/// Calls per batch so that a batch takes about `batch`: from the time of
/// the calls made within a 5 ms (or one-call) probe.
fn calibrate(batch: Duration, mut one: impl FnMut()) -> u64 {
    // Untimed: a first call may still read files (cold, or re-read).
    one();
    let start = Instant::now();
    let mut calls = 0u64;
    while calls == 0 || (start.elapsed() < Duration::from_millis(5) && calls < 1_000_000) {
        one();
        calls += 1;
    }
    let per_call = start.elapsed().as_nanos().max(1) as f64 / calls as f64;
    ((batch.as_nanos() as f64 / per_call) as u64).clamp(1, 10_000_000)
}

/// (thread CPU ns, wall ns) per call over `n` calls.
fn time_batch(n: u64, mut one: impl FnMut()) -> (f64, f64) {
    let cpu = nss::thread_cpu_ns();
    let start = Instant::now();
    for _ in 0..n {
        one();
    }
    let wall = start.elapsed().as_nanos() as f64;
    let cpu = nss::thread_cpu_ns() - cpu;
    (cpu as f64 / n as f64, wall / n as f64)
}

/// The files our revalidation `stat`s for `svc`, in the lease dir.
fn revalidated_files(svc: &str) -> Result<Vec<PathBuf>, String> {
    let mut files: Vec<PathBuf> = fs::read_dir(LEASE_DIR)
        .map_err(|e| format!("{LEASE_DIR}: {e}"))?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| {
            let name = p.to_string_lossy();
            name.ends_with(".status") || (svc == "libvirt_guest" && name.ends_with(".macs"))
        })
        .collect();
    files.sort();
    Ok(files)
}

/// Warm per-lookup cost of each module, alternating batches, plus the stat
/// floor; then the first lookup after a lease file was replaced.
fn cmd_warm(o: &Opts) -> Result<(), String> {
    let svc = o.req("svc")?;
    let batches: usize = o.num("batches", 7)?;
    let batch = Duration::from_millis(o.num("batch-ms", 20)?);
    let changed: usize = o.num("changed", 0)?;
    let mut mods = load_modules(o, svc)?;
    let hit = CString::new(o.req("hit")?).map_err(|e| e.to_string())?;
    let miss = CString::new(gen::MISS_NAME).expect("no NUL");
    let svc_field = ("svc", svc);
    // A file written less than 100 ms ago (by the run before, or by the
    // re-read of a cold sample) is read again on the next call, by design
    // (common's RACY_WINDOW): let that window pass so warm means warm.
    std::thread::sleep(Duration::from_millis(150));

    // The floor: what our revalidation must do at least, in the same loop
    // style; one floor batch runs in every round, alternating with the
    // modules, so that all three see the same machine load.
    let files = revalidated_files(svc)?;
    let dir = Path::new(LEASE_DIR);
    let stat_all = || {
        let _ = std::hint::black_box(fs::metadata(dir));
        for f in &files {
            let _ = std::hint::black_box(fs::metadata(f));
        }
    };
    let floor_n = calibrate(batch, stat_all);
    // What a revalidation that trusts the directory's stamp alone would
    // cost (every libvirt writer replaces files by rename, which changes it).
    let stat_dir = || {
        let _ = std::hint::black_box(fs::metadata(dir));
    };
    let dir_floor_n = calibrate(batch, stat_dir);

    for func in [Func::Gbn4, Func::Gbn2V4] {
        for (q, name) in [("hit", &hit), ("miss", &miss)] {
            let mut per_batch = Vec::new();
            for (label, module) in mods.iter_mut() {
                let st = module.call(func, name);
                if q == "hit" && st != NSS_STATUS_SUCCESS {
                    record(
                        o,
                        &[
                            ("sec", "warn"),
                            svc_field,
                            ("mod", label),
                            ("what", status_label(st)),
                        ],
                        0.0,
                    );
                    eprintln!(
                        "nss-bench warm: warning: {label} {svc} {} {:?} returned {}",
                        func.label(),
                        name,
                        status_label(st)
                    );
                }
                per_batch.push(calibrate(batch, || {
                    module.call(func, name);
                }));
            }
            for b in 0..batches {
                // Alternate which goes first; indexes mods.len() and
                // mods.len() + 1 are the two floors.
                let order: Vec<usize> = if b % 2 == 0 {
                    (0..mods.len() + 2).collect()
                } else {
                    (0..mods.len() + 2).rev().collect()
                };
                for i in order {
                    if i >= mods.len() {
                        let (sec, (cpu, wall)) = if i == mods.len() {
                            ("floor", time_batch(floor_n, stat_all))
                        } else {
                            ("floor_dir", time_batch(dir_floor_n, stat_dir))
                        };
                        let wall = format!("{wall:.1}");
                        record(
                            o,
                            &[("sec", sec), svc_field, ("mod", sec), ("wall", &wall)],
                            cpu,
                        );
                        continue;
                    }
                    let (label, module) = &mut mods[i];
                    let n = per_batch[i];
                    let (ns, wall) = time_batch(n, || {
                        module.call(func, name);
                    });
                    let n = n.to_string();
                    let wall = format!("{wall:.1}");
                    record(
                        o,
                        &[
                            ("sec", "warm"),
                            svc_field,
                            ("fn", func.label()),
                            ("q", q),
                            ("mod", label),
                            ("n", &n),
                            ("wall", &wall),
                        ],
                        ns,
                    );
                }
            }
        }
    }

    let bytes: u64 = files
        .iter()
        .filter_map(|f| fs::metadata(f).ok())
        .map(|m| m.len())
        .sum();
    record(o, &[("sec", "bytes"), svc_field], bytes as f64);

    // A lease file replaced the way the helper does it (write + rename),
    // then one lookup. Same bytes, new inode: a full re-read for both.
    if changed > 0 {
        let target = Path::new(LEASE_DIR).join("virbr0.status");
        let tmp = Path::new(LEASE_DIR).join(".virbr0.status.bench-new");
        let original = fs::read(&target).map_err(|e| format!("{}: {e}", target.display()))?;
        let rewrite = || -> Result<(), String> {
            fs::write(&tmp, &original).map_err(|e| e.to_string())?;
            // Whatever the umask: the modules ignore group-writable files.
            fs::set_permissions(&tmp, fs::Permissions::from_mode(0o644))
                .map_err(|e| e.to_string())?;
            fs::rename(&tmp, &target).map_err(|e| e.to_string())
        };
        for s in 0..changed {
            let order: Vec<usize> = if s % 2 == 0 {
                (0..mods.len()).collect()
            } else {
                (0..mods.len()).rev().collect()
            };
            for i in order {
                let (label, module) = &mut mods[i];
                rewrite()?;
                let (ns, wall) = time_batch(1, || {
                    module.call(Func::Gbn4, &hit);
                });
                let wall = format!("{wall:.1}");
                record(
                    o,
                    &[
                        ("sec", "changed"),
                        svc_field,
                        ("fn", "gbn4"),
                        ("q", "hit"),
                        ("mod", label),
                        ("wall", &wall),
                    ],
                    ns,
                );
            }
        }
    }
    Ok(())
}

/// Replaces each file `svc` reads the way the helper does (write + rename):
/// same bytes, new inode, so the next lookup reads them all again.
fn rewrite_files(svc: &str) -> Result<(), String> {
    for path in revalidated_files(svc)? {
        let bytes = fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let tmp = path.with_extension("bench-new");
        fs::write(&tmp, &bytes).map_err(|e| e.to_string())?;
        // Whatever the umask: the modules ignore group-writable files.
        fs::set_permissions(&tmp, fs::Permissions::from_mode(0o644)).map_err(|e| e.to_string())?;
        fs::rename(&tmp, &path).map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// One cold sample in this fresh process: dlopen, first lookup, a few warm
/// ones, then every file replaced and one lookup more (a re-read). Prints
/// `dlopen_cpu first_cpu rss_growth peak_growth status dlopen_wall
/// first_wall first_faults reread_rss_growth` (ns, bytes, minor page faults).
/// `--lookups N` (default 4) sets how many lookups in all; 0 only loads the
/// module (for instruction counts: the difference between runs with N and
/// 1 lookups is the cost of N - 1 warm ones).
fn cmd_once(o: &Opts) -> Result<(), String> {
    let name = CString::new(o.req("name")?).map_err(|e| e.to_string())?;
    let lookups: usize = o.num("lookups", 4)?;
    let (so, svc) = (o.req("so")?, o.req("svc")?);
    let mut module = None;
    let (dlopen_cpu, dlopen_wall) = time_batch(1, || module = Some(Module::load(so, svc)));
    let mut module = module.expect("ran once")?;
    let rss_loaded = nss::rss_bytes();
    let mut first = (0.0, 0.0);
    let mut faults = 0;
    let mut st = NSS_STATUS_SUCCESS;
    for i in 0..lookups {
        if i == 0 {
            let before = nss::minor_faults();
            first = time_batch(1, || st = module.call(Func::Gbn4, &name));
            faults = nss::minor_faults() - before;
        } else {
            module.call(Func::Gbn4, &name);
        }
    }
    let rss_warm = nss::rss_bytes();
    let peak = nss::peak_rss_bytes().max(rss_loaded);
    let mut rss_reread = rss_warm;
    if lookups > 0 && o.get("reread").is_some() {
        rewrite_files(svc)?;
        module.call(Func::Gbn4, &name);
        rss_reread = nss::rss_bytes();
    }
    println!(
        "{dlopen_cpu:.0} {:.0} {} {} {} {dlopen_wall:.0} {:.0} {faults} {}",
        first.0,
        rss_warm as i64 - rss_loaded as i64,
        peak - rss_loaded,
        status_label(st),
        first.1,
        rss_reread as i64 - rss_loaded as i64,
    );
    Ok(())
}

/// Cold samples: one fresh process per sample, modules alternating.
fn cmd_cold(o: &Opts) -> Result<(), String> {
    let svc = o.req("svc")?;
    let samples: usize = o.num("samples", 11)?;
    let name = o.req("hit")?.to_owned();
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut mods = vec![("ours", o.req("ours")?)];
    if let Some(c) = o.get("c") {
        mods.push(("c", c));
    }
    for s in 0..samples {
        let order: Vec<usize> = if s % 2 == 0 {
            (0..mods.len()).collect()
        } else {
            (0..mods.len()).rev().collect()
        };
        for i in order {
            let (label, so) = mods[i];
            let out = Command::new(&exe)
                .args([
                    "once", "--so", so, "--svc", svc, "--name", &name, "--reread", "1",
                ])
                .stderr(Stdio::inherit())
                .output()
                .map_err(|e| e.to_string())?;
            let text = String::from_utf8_lossy(&out.stdout);
            let f: Vec<&str> = text.split_whitespace().collect();
            if !out.status.success() || f.len() != 9 {
                return Err(format!("once {label}: {:?} {text}", out.status));
            }
            if f[4] != "SUCCESS" {
                record(
                    o,
                    &[
                        ("sec", "warn"),
                        ("svc", svc),
                        ("mod", label),
                        ("what", f[4]),
                    ],
                    0.0,
                );
                eprintln!(
                    "nss-bench cold: warning: {label} {svc} {name} returned {}",
                    f[4]
                );
            }
            let num = |i: usize| f[i].parse::<f64>().unwrap_or(f64::NAN);
            let wall = |i: usize| format!("{:.0}", num(i));
            let (dlopen_wall, first_wall) = (wall(5), wall(6));
            let cold_wall = format!("{:.0}", num(5) + num(6));
            let rec = |sec, wall: &str, v| {
                record(
                    o,
                    &[("sec", sec), ("svc", svc), ("mod", label), ("wall", wall)],
                    v,
                )
            };
            rec("dlopen", &dlopen_wall, num(0));
            rec("first", &first_wall, num(1));
            rec("cold", &cold_wall, num(0) + num(1));
            rec("rss", "", num(2));
            rec("peak", "", num(3));
            rec("faults", "", num(7));
            rec("reread", "", num(8));
        }
    }
    Ok(())
}

/// Whole-process cost: fork+exec+wait of COMMAND, `--runs` times after 3
/// unrecorded warm-up runs.
fn cmd_spawn(o: &Opts) -> Result<(), String> {
    let runs: usize = o.num("runs", 20)?;
    let expect: Option<i32> = o.get("expect").and_then(|e| e.parse().ok());
    let (prog, args) = o.command.split_first().ok_or("no command after --")?;
    // (wall ns, child CPU ns, exit code)
    let run = || -> Result<(f64, f64, i32), String> {
        let cpu = nss::children_cpu_ns();
        let start = Instant::now();
        let status = Command::new(prog)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .status()
            .map_err(|e| format!("{prog}: {e}"))?;
        let wall = start.elapsed().as_nanos() as f64;
        let cpu = (nss::children_cpu_ns() - cpu) as f64;
        Ok((wall, cpu, status.code().unwrap_or(-1)))
    };
    for _ in 0..3 {
        run()?;
    }
    for _ in 0..runs {
        let (ns, cpu, code) = run()?;
        if expect.is_some_and(|e| e != code) {
            eprintln!(
                "nss-bench spawn: warning: {prog} {args:?} exited {code}, expected {expect:?}"
            );
        }
        let cpu = format!("{cpu:.0}");
        record(
            o,
            &[
                ("sec", "getent"),
                ("exit", &code.to_string()),
                ("cpu", &cpu),
            ],
            ns,
        );
    }
    Ok(())
}
