//! Re-running one of a test binary's own `#[ignore]`d tests inside
//! `scripts/nsenv.sh`: the modules read the compiled-in
//! `/var/lib/libvirt/dnsmasq`, so a test that `dlopen`s them in-process, or
//! resolves through glibc, must run where a fixture is bind-mounted there.
//! The visible test calls [`run_ignored_test_inside`] (or builds an
//! [`IgnoredTest`] when it needs more); the inner one checks its marker
//! variable, so that it never runs by accident outside the namespace.

use std::ffi::{OsStr, OsString};
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::modules;
use crate::nsenv::Namespace;

/// Runs the ignored test `inner` of the current test binary inside a mount
/// namespace holding `leases` (or no lease dir at all) and our modules, with
/// `marker=1` in its environment, and fails unless it passed there.
pub fn run_ignored_test_inside(inner: &str, marker: &str, leases: Option<&Path>) {
    IgnoredTest::new(
        inner,
        marker,
        Namespace::new().lease_dir(leases).modules(&modules::ours()),
    )
    .run();
}

/// One ignored test to re-run inside a namespace: `[wrapper...] binary
/// --exact inner --ignored --nocapture --test-threads=1`, with `marker=1`
/// and any further variables in its environment.
#[derive(Debug)]
pub struct IgnoredTest {
    inner: String,
    marker: String,
    namespace: Namespace,
    binary: Option<PathBuf>,
    wrapper: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
    limit: Option<Duration>,
}

/// What the run left behind.
#[derive(Debug)]
pub struct Ran {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Ran {
    /// The inner test ran and passed.
    pub fn passed(&self) -> bool {
        self.status.success() && self.stdout.contains("1 passed")
    }
}

impl IgnoredTest {
    /// `inner` of the current test binary, inside `namespace`.
    pub fn new(inner: &str, marker: &str, namespace: Namespace) -> IgnoredTest {
        IgnoredTest {
            inner: inner.to_owned(),
            marker: marker.to_owned(),
            namespace,
            binary: None,
            wrapper: Vec::new(),
            env: Vec::new(),
            limit: None,
        }
    }

    /// The test lives in this test binary instead of the current one.
    pub fn in_binary(mut self, binary: &Path) -> IgnoredTest {
        self.binary = Some(binary.to_path_buf());
        self
    }

    /// A command (e.g. `valgrind` and its options) in front of the binary.
    pub fn wrapped_in<S: AsRef<OsStr>>(mut self, wrapper: &[S]) -> IgnoredTest {
        self.wrapper = wrapper.iter().map(|s| s.as_ref().to_owned()).collect();
        self
    }

    /// One more environment variable for the inner run.
    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> IgnoredTest {
        self.env
            .push((key.as_ref().to_owned(), value.as_ref().to_owned()));
        self
    }

    /// Kill the whole run (its process group) and fail after `limit`.
    pub fn limit(mut self, limit: Duration) -> IgnoredTest {
        self.limit = Some(limit);
        self
    }

    /// Runs it and fails unless the inner test passed.
    pub fn run(&self) -> Ran {
        let ran = self.output();
        assert!(
            ran.passed(),
            "{} failed inside the namespace ({}):\n{}\n{}",
            self.inner,
            ran.status,
            ran.stdout,
            ran.stderr
        );
        ran
    }

    /// Runs it and returns what it did, passed or not (fails only when it
    /// outlived its limit).
    pub fn output(&self) -> Ran {
        let binary = match &self.binary {
            Some(binary) => binary.clone(),
            None => std::env::current_exe().expect("test binary path"),
        };
        let (program, wrapper_args) = match self.wrapper.split_first() {
            Some((program, args)) => (program.clone(), args),
            None => (binary.clone().into_os_string(), &[][..]),
        };
        let mut command = self.namespace.command(program);
        if !self.wrapper.is_empty() {
            command.args(wrapper_args).arg(&binary);
        }
        command
            .args([OsStr::new("--exact"), OsStr::new(&self.inner)])
            .args(["--ignored", "--nocapture", "--test-threads=1"])
            .env(&self.marker, "1")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        let mut child = command.spawn().expect("run nsenv.sh");
        // Drained on threads, so that a chatty child cannot block on a pipe.
        let stdout = drain(child.stdout.take().expect("stdout"));
        let stderr = drain(child.stderr.take().expect("stderr"));
        let status = wait(&mut child, self.limit);
        let (stdout, stderr) = (
            stdout.join().unwrap_or_default(),
            stderr.join().unwrap_or_default(),
        );
        match status {
            Some(status) => Ran {
                status,
                stdout,
                stderr,
            },
            None => panic!(
                "{}: still running after {:?} inside the namespace (deadlock or livelock?): \
                 killed\n{stdout}\n{stderr}",
                self.inner,
                self.limit.unwrap_or_default()
            ),
        }
    }
}

fn drain(mut pipe: impl Read + Send + 'static) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

/// The child's status, or `None` once it outlived `limit` and its process
/// group was killed.
fn wait(child: &mut Child, limit: Option<Duration>) -> Option<ExitStatus> {
    let Some(limit) = limit else {
        return Some(child.wait().expect("wait for nsenv.sh"));
    };
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait for nsenv.sh") {
            return Some(status);
        }
        if started.elapsed() > limit {
            let group = i32::try_from(child.id()).expect("pid fits in pid_t");
            // SAFETY: kill has no memory preconditions; -group is the process
            // group this child leads (process_group(0)), i.e. only what the
            // test started.
            unsafe { libc::kill(-group, libc::SIGKILL) };
            let _ = child.wait();
            return None;
        }
        thread::sleep(Duration::from_millis(50));
    }
}
