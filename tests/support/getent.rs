//! `getent` lookups run inside `scripts/nsenv.sh`: a private mount namespace
//! (and network namespace with one IPv4 and one IPv6 address, so that
//! getaddrinfo's AI_ADDRCONFIG and RFC 6724 sorting are deterministic) where
//! a given lease dir, module dir and `hosts:` line are in place.
//!
//! One namespace runs a whole batch of lookups, each in its own `getent`
//! process (glibc never reloads a module inside one process).

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::nsenv::Namespace;
use crate::temp_dir::TempDir;

/// Per-lookup limit; a lookup that reaches it has hung.
pub const LOOKUP_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Form {
    /// `gethostbyname2`: AF_INET6 first, AF_INET when that fails.
    Hosts,
    /// `getaddrinfo(AF_UNSPEC)`: `gethostbyname4_r`.
    Ahosts,
    /// `getaddrinfo(AF_INET)`: `gethostbyname3_r(AF_INET)`.
    AhostsV4,
    /// `getaddrinfo(AF_INET6, AI_V4MAPPED)`: `gethostbyname3_r(AF_INET6)`, then AF_INET mapped.
    AhostsV6,
}

impl Form {
    pub const ALL: [Form; 4] = [Form::Hosts, Form::Ahosts, Form::AhostsV4, Form::AhostsV6];

    pub fn database(self) -> &'static str {
        match self {
            Form::Hosts => "hosts",
            Form::Ahosts => "ahosts",
            Form::AhostsV4 => "ahostsv4",
            Form::AhostsV6 => "ahostsv6",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lookup {
    pub form: Form,
    pub key: String,
}

impl Lookup {
    pub fn new(form: Form, key: &str) -> Lookup {
        assert!(
            !key.contains(['\t', '\n']),
            "key {key:?} cannot go through getent-batch.sh"
        );
        Lookup {
            form,
            key: key.to_owned(),
        }
    }

    /// The same key through every form.
    pub fn all_forms(key: &str) -> Vec<Lookup> {
        Form::ALL
            .iter()
            .map(|&form| Lookup::new(form, key))
            .collect()
    }
}

impl fmt::Display for Lookup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "getent {} {}", self.form.database(), self.key)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    Code(i32),
    Signal(i32),
    TimedOut,
}

/// getent's exit code for "key not found".
pub const NOT_FOUND: Exit = Exit::Code(2);
pub const SUCCESS: Exit = Exit::Code(0);

#[derive(Clone, Debug)]
pub struct Outcome {
    pub lookup: Lookup,
    pub exit: Exit,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl Outcome {
    /// The addresses in output order, once each (`ahosts*` prints every
    /// address three times: STREAM, DGRAM, RAW).
    pub fn addresses(&self) -> Vec<String> {
        self.stdout
            .lines()
            .filter(|line| {
                self.lookup.form == Form::Hosts || line.split_whitespace().nth(1) == Some("STREAM")
            })
            .filter_map(|line| line.split_whitespace().next())
            .map(str::to_owned)
            .collect()
    }

    /// The name getent printed (`hosts`: second column; `ahosts*`: the STREAM
    /// line's third column), one per output address.
    pub fn names(&self) -> Vec<String> {
        let column = if self.lookup.form == Form::Hosts {
            1
        } else {
            2
        };
        self.stdout
            .lines()
            .filter(|line| {
                self.lookup.form == Form::Hosts || line.split_whitespace().nth(1) == Some("STREAM")
            })
            .filter_map(|line| line.split_whitespace().nth(column))
            .map(str::to_owned)
            .collect()
    }

    /// Exit code, stdout and stderr as one comparable value.
    pub fn observable(&self) -> (Exit, &str, &str) {
        (self.exit, &self.stdout, &self.stderr)
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}` -> {:?} in {:?}\n--- stdout\n{}--- stderr\n{}---",
            self.lookup, self.exit, self.elapsed, self.stdout, self.stderr
        )
    }
}

/// Which modules answer inside the namespace.
#[derive(Clone, Debug)]
pub enum Modules {
    /// Whatever the system has installed (no override).
    System,
    /// `libnss_libvirt.so.2` / `libnss_libvirt_guest.so.2` from this dir.
    Dir(PathBuf),
}

/// One namespace configuration.
#[derive(Clone, Debug)]
pub struct NsEnv {
    pub leases: Option<PathBuf>,
    pub modules: Modules,
    pub hosts: String,
}

impl NsEnv {
    pub fn new(leases: &Path, modules: &Path, hosts: &str) -> NsEnv {
        NsEnv {
            leases: Some(leases.to_path_buf()),
            modules: Modules::Dir(modules.to_path_buf()),
            hosts: hosts.to_owned(),
        }
    }

    pub fn run_one(&self, lookup: Lookup) -> Outcome {
        self.run(&[lookup]).pop().expect("one outcome per lookup")
    }

    /// Runs every lookup, in order, in one namespace.
    pub fn run(&self, lookups: &[Lookup]) -> Vec<Outcome> {
        let scratch = TempDir::new("getent-batch");
        let queries: String = lookups
            .iter()
            .map(|l| format!("{}\t{}\n", l.form.database(), l.key))
            .collect();
        let queries_file = scratch.write("queries", queries);
        let results = scratch.path().join("results");
        fs::create_dir(&results).expect("mkdir results");

        let mut command = self.command(&scripts_dir().join("getent-batch.sh"));
        command
            .arg(&queries_file)
            .arg(&results)
            .arg(LOOKUP_TIMEOUT.as_secs().to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(
                fs::File::create(scratch.path().join("nsenv.stderr")).expect("create nsenv.stderr"),
            );
        // getent-batch.sh bounds every lookup; this bounds the set-up too.
        let deadline = LOOKUP_TIMEOUT * 2 * u32::try_from(lookups.len()).unwrap_or(u32::MAX)
            + Duration::from_secs(60);
        let status = run_with_deadline(command, deadline);
        assert!(
            status.success(),
            "nsenv.sh failed ({status}) for {self:?}\nstderr: {}",
            fs::read_to_string(scratch.path().join("nsenv.stderr")).unwrap_or_default()
        );

        lookups
            .iter()
            .enumerate()
            .map(|(n, lookup)| {
                let read = |ext: &str| {
                    let file = results.join(format!("{n}.{ext}"));
                    fs::read(&file)
                        .unwrap_or_else(|e| panic!("{}: {e} (batch cut short?)", file.display()))
                };
                let text = |ext: &str| String::from_utf8_lossy(&read(ext)).into_owned();
                let rc: i32 = text("rc").trim().parse().expect("numeric rc");
                let nanos: u64 = text("ns").trim().parse().expect("numeric ns");
                Outcome {
                    lookup: lookup.clone(),
                    exit: match rc {
                        124 => Exit::TimedOut,
                        129.. => Exit::Signal(rc - 128),
                        _ => Exit::Code(rc),
                    },
                    stdout: text("out"),
                    stderr: text("err"),
                    elapsed: Duration::from_nanos(nanos),
                }
            })
            .collect()
    }
}

/// What a command run by [`NsEnv::run_command`] left behind.
#[derive(Debug)]
pub struct CommandOutput {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl NsEnv {
    /// Runs `program args` (with `env` added) inside this namespace, killed
    /// after `limit`.
    pub fn run_command(
        &self,
        program: &Path,
        args: &[&str],
        env: &[(&str, &str)],
        limit: Duration,
    ) -> CommandOutput {
        let scratch = TempDir::new("nsenv-command");
        let (stdout, stderr) = (scratch.path().join("stdout"), scratch.path().join("stderr"));
        let mut command = self.command(program);
        command
            .args(args)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(fs::File::create(&stdout).expect("create stdout"))
            .stderr(fs::File::create(&stderr).expect("create stderr"));
        let status = run_with_deadline(command, limit);
        let read =
            |file: &Path| String::from_utf8_lossy(&fs::read(file).unwrap_or_default()).into_owned();
        CommandOutput {
            status,
            stdout: read(&stdout),
            stderr: read(&stderr),
        }
    }

    /// `nsenv.sh` with this configuration's options, running `program`.
    fn command(&self, program: &Path) -> Command {
        let mut namespace = Namespace::new()
            .lease_dir(self.leases.as_deref())
            .hosts(&self.hosts)
            .dual_net();
        if let Modules::Dir(dir) = &self.modules {
            namespace = namespace.modules(dir);
        }
        namespace.command(program)
    }
}

pub fn scripts_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts")
}

fn run_with_deadline(mut command: Command, limit: Duration) -> ExitStatus {
    let mut child = command
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {command:?}: {e}"));
    let started = Instant::now();
    loop {
        match child.try_wait().expect("wait for nsenv.sh") {
            Some(status) => return status,
            None if started.elapsed() > limit => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{command:?} still running after {limit:?}: killed");
            }
            None => thread::sleep(Duration::from_millis(10)),
        }
    }
}

/// What `getent hosts` prints for these addresses (`%-15s %s`).
pub fn hosts_output(addresses: &[&str], name: &str) -> String {
    addresses
        .iter()
        .map(|a| format!("{a:<15} {name}\n"))
        .collect()
}

/// What `getent ahosts*` prints: three socket types per address, the
/// canonical name only on the very first line.
pub fn ahosts_output(addresses: &[&str], name: &str) -> String {
    addresses
        .iter()
        .enumerate()
        .map(|(i, a)| {
            let canonical = if i == 0 { name } else { "" };
            format!("{a:<15} STREAM {canonical}\n{a:<15} DGRAM  \n{a:<15} RAW    \n")
        })
        .collect()
}
