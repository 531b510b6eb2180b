//! One helper run: lock, touch, read + merge, then print (`init`) or
//! rewrite (`add`/`old`/`del`), in the order of `main` in libvirt's
//! `src/network/leaseshelper.c`.

use std::io::{self, Write};
use std::path::Path;

// libvirt's `VIR_NETWORK_DHCP_LEASE_FILE_SIZE_MAX` (32 MiB), the cap the NSS
// modules apply too.
use common::lease_dir::MAX_FILE_BYTES;

use crate::atomic_write;
use crate::config;
use crate::corrupt;
use crate::error::HelperError;
use crate::init_output::render_init_output;
use crate::invocation::{Action, Event};
use crate::leases;
use crate::lock::PidLock;
use crate::regular_file::{self, ReadError};
use crate::yajl_json::{self, Value};

/// Where a run reads and writes; [`process_event_compiled_in`] in production.
pub struct Paths<'a> {
    pub status_file: &'a Path,
    pub lock_file: &'a Path,
}

/// Process `event` against `paths`. `stdout` receives the `init` answer,
/// `stderr` the DECISIONS.md H6 notice. The lock is held until this returns.
pub fn process_event(
    event: &Event,
    paths: &Paths<'_>,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
) -> Result<(), HelperError> {
    let _lock = PidLock::acquire(paths.lock_file)
        .map_err(|(what, e)| HelperError::io(what, paths.lock_file, &e))?;
    let status_path = paths.status_file;
    regular_file::touch(status_path)
        .map_err(|e| HelperError::io("Refusing status file", status_path, &e))?;

    let new_lease = match event.action {
        Action::Add | Action::Old => leases::new_lease(event).map_err(|trimmed| {
            HelperError::new(format!(
                "internal error: Unable to convert lease expiry time to long long: {}",
                String::from_utf8_lossy(&trimmed)
            ))
        })?,
        Action::Del | Action::Init => None,
    };
    let delete_ip = match event.action {
        Action::Del => event.ip.as_deref(),
        Action::Add | Action::Old if new_lease.is_some() => event.ip.as_deref(),
        _ => None,
    };

    let existing = load_existing(status_path, stderr)?;
    let merged =
        leases::merge_existing(existing, delete_ip, event.server_duid.clone()).map_err(|e| {
            HelperError::new(format!(
                "internal error: {e} in '{}'",
                status_path.display()
            ))
        })?;

    if event.action == Action::Init {
        let answer = render_init_output(&merged.leases, merged.server_duid.as_deref());
        return stdout
            .write_all(&answer)
            .and_then(|()| stdout.flush())
            .map_err(|e| {
                HelperError::new(format!("cannot write the lease database to stdout: {e}"))
            });
    }
    let mut all = merged.leases;
    all.extend(new_lease);
    let bytes = yajl_json::to_pretty_bytes(&Value::Array(all)).map_err(|e| {
        HelperError::new(format!("internal error: cannot serialise the leases: {e}"))
    })?;
    atomic_write::replace_file(status_path, &bytes)
}

/// The existing document, `None` for an empty file. An unparsable file (or
/// one nested deeper than we parse) is moved aside (H6), reported on
/// `stderr` and treated as empty; the status file is then re-created empty,
/// as the touch had left it.
fn load_existing(path: &Path, stderr: &mut dyn Write) -> Result<Option<Value>, HelperError> {
    let contents = match regular_file::read_limited(path, MAX_FILE_BYTES) {
        Ok(contents) => contents,
        Err(ReadError::Io(e)) => return Err(HelperError::io("Failed to read file", path, &e)),
        Err(ReadError::NotRegular(e)) => {
            return Err(HelperError::io("Refusing status file", path, &e))
        }
        Err(ReadError::TooLarge { limit }) => {
            return Err(HelperError::new(format!(
                "Failed to read file '{}': larger than {limit} bytes (Value too large for defined data type)",
                path.display()
            )))
        }
    };
    if contents.is_empty() {
        return Ok(None);
    }
    match yajl_json::parse(&contents) {
        Ok(value) => Ok(Some(value)),
        // Too deep for us is handled like unparsable: C would accept it,
        // but the leases are kept aside and dnsmasq can still start.
        Err(err) => {
            let kept = corrupt::move_aside(path).map_err(|e| {
                HelperError::io("cannot move aside unparsable lease file", path, &e)
            })?;
            let _ = writeln!(
                stderr,
                "libvirt_leaseshelper: warning: '{}' cannot be parsed ({err}); kept it as '{}' and continuing without its leases",
                path.display(),
                kept.display()
            );
            regular_file::touch(path)
                .map_err(|e| HelperError::io("cannot create file", path, &e))?;
            atomic_write::sync_parent_dir(path)
                .map_err(|e| HelperError::io("cannot sync directory of", path, &e))?;
            Ok(None)
        }
    }
}

/// Run with the compiled-in paths and the real stdout/stderr.
pub fn process_event_compiled_in(event: &Event) -> Result<(), HelperError> {
    let status_file = config::status_file_path(&event.interface);
    let lock_file = Path::new(config::LOCK_PATH);
    let paths = Paths {
        status_file: &status_file,
        lock_file,
    };
    process_event(
        event,
        &paths,
        &mut io::stdout().lock(),
        &mut io::stderr().lock(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_dir::TestDir;
    use std::fs;
    use std::os::unix::fs::PermissionsExt;

    struct Run {
        dir: TestDir,
    }

    impl Run {
        fn new(tag: &str) -> Run {
            Run {
                dir: TestDir::new(tag),
            }
        }

        fn status(&self) -> std::path::PathBuf {
            self.dir.path().join("virbr0.status")
        }

        /// (result, stdout, stderr)
        fn go(&self, event: &Event) -> (Result<(), String>, String, String) {
            let lock = self.dir.path().join("leaseshelper.pid");
            let status = self.status();
            let paths = Paths {
                status_file: &status,
                lock_file: &lock,
            };
            let (mut out, mut err) = (Vec::new(), Vec::new());
            let result =
                process_event(event, &paths, &mut out, &mut err).map_err(|e| e.to_string());
            assert!(!lock.exists(), "lock file left behind");
            (
                result,
                String::from_utf8(out).unwrap(),
                String::from_utf8(err).unwrap(),
            )
        }

        fn content(&self) -> String {
            String::from_utf8(fs::read(self.status()).unwrap()).unwrap()
        }
    }

    fn v4(action: Action, mac: &str, ip: &str, host: Option<&str>, expires: &str) -> Event {
        Event {
            action,
            interface: b"virbr0".to_vec(),
            mac: Some(mac.into()),
            ip: Some(ip.into()),
            hostname: host.map(Into::into),
            client_id: None,
            iaid: None,
            server_duid: None,
            lease_expires: Some(expires.into()),
        }
    }

    fn init() -> Event {
        Event {
            action: Action::Init,
            mac: None,
            ip: None,
            hostname: None,
            lease_expires: None,
            ..v4(Action::Init, "", "", None, "")
        }
    }

    #[test]
    fn add_renew_delete_sequence() {
        let run = Run::new("seq");
        assert_eq!(run.go(&init()).0, Ok(()));
        assert_eq!(run.content(), "");
        run.go(&v4(
            Action::Add,
            "52:54:00:00:00:01",
            "10.0.0.1",
            Some("a"),
            "100",
        ))
        .0
        .unwrap();
        run.go(&v4(
            Action::Add,
            "52:54:00:00:00:02",
            "10.0.0.2",
            Some("b"),
            "200",
        ))
        .0
        .unwrap();
        // renew moves the lease to the end
        run.go(&v4(
            Action::Old,
            "52:54:00:00:00:01",
            "10.0.0.1",
            Some("a2"),
            "300",
        ))
        .0
        .unwrap();
        assert_eq!(
            run.content(),
            "[\n  {\n    \"ip-address\": \"10.0.0.2\",\n    \"mac-address\": \"52:54:00:00:00:02\",\n    \
             \"hostname\": \"b\",\n    \"expiry-time\": 200\n  },\n  {\n    \"ip-address\": \"10.0.0.1\",\n    \
             \"mac-address\": \"52:54:00:00:00:01\",\n    \"hostname\": \"a2\",\n    \"expiry-time\": 300\n  }\n]\n"
        );
        assert_eq!(
            fs::metadata(run.status()).unwrap().permissions().mode() & 0o777,
            0o644
        );
        let (r, out, _) = run.go(&init());
        assert_eq!(r, Ok(()));
        assert_eq!(
            out,
            "200 52:54:00:00:00:02 10.0.0.2 b *\n300 52:54:00:00:00:01 10.0.0.1 a2 *\n"
        );
        run.go(&v4(Action::Del, "ignored", "10.0.0.2", None, "0"))
            .0
            .unwrap();
        run.go(&v4(Action::Del, "ignored", "10.0.0.1", None, "0"))
            .0
            .unwrap();
        assert_eq!(run.content(), "[\n\n]\n");
    }

    #[test]
    fn bad_expiry_fails_and_keeps_the_file() {
        let run = Run::new("badexp");
        run.go(&v4(Action::Add, "m", "10.0.0.1", None, "5"))
            .0
            .unwrap();
        let before = run.content();
        let (r, _, _) = run.go(&v4(Action::Add, "m", "10.0.0.2", None, "0x10"));
        assert!(r.unwrap_err().contains("0x10"));
        assert_eq!(run.content(), before);
    }

    #[test]
    fn not_an_array_and_bad_entries_fail_without_touching_the_file() {
        let run = Run::new("notarray");
        for text in [r#"{"a":1}"#, r#"[{"ip-address":"x"}]"#] {
            fs::write(run.status(), text).unwrap();
            let (r, _, _) = run.go(&v4(Action::Add, "m", "10.0.0.2", None, "5"));
            assert!(r.is_err());
            assert_eq!(run.content(), text);
        }
    }

    #[test]
    fn h6_corrupt_file_is_kept_aside_and_reported() {
        let run = Run::new("h6");
        fs::write(run.status(), "[{\"ip-address\": \"10.0.0.9\", trunc").unwrap();
        let (r, _, err) = run.go(&v4(Action::Add, "m", "10.0.0.1", None, "5"));
        assert_eq!(r, Ok(()));
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains("virbr0.status.corrupt"), "{err}");
        let aside = run.dir.path().join("virbr0.status.corrupt");
        assert_eq!(
            fs::read_to_string(aside).unwrap(),
            "[{\"ip-address\": \"10.0.0.9\", trunc"
        );
        assert!(run.content().contains("10.0.0.1"));
        // init over a corrupt file: moved aside to .corrupt.1, an empty file remains
        fs::write(run.status(), "garbage").unwrap();
        let (r, out, _) = run.go(&init());
        assert_eq!((r, out.as_str()), (Ok(()), ""));
        assert_eq!(run.content(), "");
        assert!(run.dir.path().join("virbr0.status.corrupt.1").exists());
    }

    #[test]
    fn too_deep_file_is_kept_aside_too() {
        let run = Run::new("deep");
        let deep = "[".repeat(5000) + &"]".repeat(5000);
        fs::write(run.status(), &deep).unwrap();
        let (r, out, err) = run.go(&init());
        assert_eq!((r, out.as_str()), (Ok(()), ""));
        assert!(err.contains("nested deeper"), "{err}");
        let aside = run.dir.path().join("virbr0.status.corrupt");
        assert_eq!(fs::read_to_string(aside).unwrap(), deep);
    }

    #[test]
    fn oversized_file_is_refused_and_kept() {
        let run = Run::new("big");
        let file = fs::File::create(run.status()).unwrap();
        file.set_len(MAX_FILE_BYTES + 1).unwrap();
        let (r, _, _) = run.go(&v4(Action::Add, "m", "10.0.0.1", None, "5"));
        assert!(r.is_err());
        assert_eq!(
            fs::metadata(run.status()).unwrap().len(),
            MAX_FILE_BYTES + 1
        );
    }

    #[test]
    fn invalid_utf8_in_an_argument_fails_the_write() {
        let run = Run::new("utf8");
        let mut e = v4(Action::Add, "m", "10.0.0.1", None, "5");
        e.hostname = Some(vec![b'h', 0xff]);
        assert!(run.go(&e).0.is_err());
        assert_eq!(run.content(), "");
    }

    /// Runs `event` on another thread: `None` if it has not returned within
    /// 20 s (C, and this helper before H11, blocked for ever on a FIFO).
    fn go_within_timeout(
        status: std::path::PathBuf,
        lock: std::path::PathBuf,
        event: Event,
    ) -> Option<Result<(), String>> {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let paths = Paths {
                status_file: &status,
                lock_file: &lock,
            };
            let (mut out, mut err) = (Vec::new(), Vec::new());
            let r = process_event(&event, &paths, &mut out, &mut err).map_err(|e| e.to_string());
            let _ = tx.send(r);
        });
        rx.recv_timeout(std::time::Duration::from_secs(20)).ok()
    }

    fn mkfifo(path: &Path) {
        let ok = std::process::Command::new("mkfifo")
            .arg(path)
            .status()
            .unwrap()
            .success();
        assert!(ok, "mkfifo {}", path.display());
    }

    #[test]
    fn h11_symlink_at_the_temp_file_is_removed_not_followed() {
        let run = Run::new("h11-new");
        let victim = run.dir.path().join("victim");
        fs::write(&victim, "precious").unwrap();
        fs::set_permissions(&victim, fs::Permissions::from_mode(0o600)).unwrap();
        std::os::unix::fs::symlink(&victim, atomic_write::temp_path(&run.status())).unwrap();
        run.go(&v4(Action::Add, "m", "10.0.0.1", Some("a"), "5"))
            .0
            .unwrap();
        assert_eq!(fs::read_to_string(&victim).unwrap(), "precious");
        assert_eq!(
            fs::metadata(&victim).unwrap().permissions().mode() & 0o7777,
            0o600
        );
        assert!(run.content().contains("10.0.0.1"));
        assert!(!atomic_write::temp_path(&run.status()).exists());
    }

    #[test]
    fn h11_symlink_or_fifo_at_the_lock_path_is_refused() {
        let run = Run::new("h11-lock");
        let lock = run.dir.path().join("leaseshelper.pid");
        let victim = run.dir.path().join("victim");
        fs::write(&victim, "precious").unwrap();
        fs::write(run.status(), "[ ]").unwrap();
        std::os::unix::fs::symlink(&victim, &lock).unwrap();
        let event = v4(Action::Add, "m", "10.0.0.1", None, "5");
        let r = go_within_timeout(run.status(), lock.clone(), event.clone()).expect("hung");
        let message = r.unwrap_err();
        assert!(message.contains("symbolic link"), "{message}");
        assert_eq!(message.lines().count(), 1, "{message}");
        assert_eq!(fs::read_to_string(&victim).unwrap(), "precious");
        assert_eq!(run.content(), "[ ]");
        // a dangling symlink is not followed to create its target either
        fs::remove_file(&victim).unwrap();
        let r = go_within_timeout(run.status(), lock.clone(), event.clone()).expect("hung");
        assert!(r.unwrap_err().contains("symbolic link"));
        assert!(!victim.exists());
        fs::remove_file(&lock).unwrap();
        mkfifo(&lock);
        let r = go_within_timeout(run.status(), lock.clone(), event).expect("blocked on a FIFO");
        let message = r.unwrap_err();
        assert!(message.contains("FIFO"), "{message}");
        assert_eq!(run.content(), "[ ]");
    }

    #[test]
    fn h11_fifo_or_device_at_the_status_path_is_refused() {
        let run = Run::new("h11-status");
        let lock = run.dir.path().join("leaseshelper.pid");
        mkfifo(&run.status());
        let event = v4(Action::Add, "m", "10.0.0.1", None, "5");
        let r = go_within_timeout(run.status(), lock.clone(), event.clone())
            .expect("blocked on a FIFO");
        let message = r.unwrap_err();
        assert!(message.contains("FIFO"), "{message}");
        assert_eq!(message.lines().count(), 1, "{message}");
        assert!(!lock.exists(), "lock file left behind");
        // a symlink to a FIFO or a device is refused the same way
        fs::remove_file(run.status()).unwrap();
        std::os::unix::fs::symlink("/dev/null", run.status()).unwrap();
        let r = go_within_timeout(run.status(), lock.clone(), init()).expect("hung");
        assert!(r.unwrap_err().contains("device"));
        assert_eq!(fs::read_link(run.status()).unwrap(), Path::new("/dev/null"));
    }

    #[test]
    fn ipv6_without_mac_only_reserialises() {
        let run = Run::new("v6nomac");
        fs::write(run.status(), "[ ]").unwrap();
        let mut e = v4(Action::Add, "", "fd00::1", None, "5");
        e.mac = None;
        e.iaid = Some(b"1".to_vec());
        run.go(&e).0.unwrap();
        assert_eq!(run.content(), "[\n\n]\n");
    }
}
