//! The lease directory as a per-process snapshot that is never stale.
//!
//! Every call to [`LeaseDir::refresh`] `stat`s the directory and each file it
//! uses (never opening a file that has not changed), re-reads only files whose
//! identity (device, inode, size, mtime and ctime with nanoseconds) changed,
//! drops files that are gone, and re-lists the directory only when the
//! directory itself changed. A warm lookup therefore costs one `stat` per file
//! plus one for the directory, whatever the number of leases (DECISIONS.md N23).
//!
//! Reading is defensive because this code runs inside every process that
//! resolves a name: only regular files are opened (a FIFO or device named
//! `x.status` is skipped without blocking, N2), files or a directory writable
//! by group or others are ignored (N6), files over 32 MiB are ignored (N5),
//! and a file that is not valid JSON contributes nothing (N3).

use std::cell::OnceCell;
use std::ffi::OsString;
use std::fmt::Write as _;
use std::fs::{self, File, Metadata};
use std::io::{self, Seek, SeekFrom};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::json::{self, ReadError};
use crate::macs_file::MacsFile;
use crate::status_file::LeaseFile;
use crate::OutOfMemory;

/// The lease helper's own limit on a `.status` file (N5).
pub const MAX_FILE_BYTES: u64 = 32 * 1024 * 1024;

/// File timestamps come from a coarse clock (one kernel tick), so a file
/// modified twice within one tick can keep its mtime. A file or directory
/// whose mtime is this close to the moment we read it is re-checked on the
/// next call even if its stamp looks unchanged (the "racy git" rule).
pub const RACY_WINDOW: Duration = Duration::from_millis(100);

/// Which files a module reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileSet {
    /// `*.status` only (the `libvirt` module).
    Leases,
    /// `*.status` and `*.macs` (the `libvirt_guest` module).
    LeasesAndMacs,
}

/// The kind of lease-dir file, from its name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    Status,
    Macs,
}

impl FileKind {
    fn of_name(name: &[u8], files: FileSet) -> Option<FileKind> {
        if name.ends_with(b".status") {
            Some(FileKind::Status)
        } else if files == FileSet::LeasesAndMacs && name.ends_with(b".macs") {
            Some(FileKind::Macs)
        } else {
            None
        }
    }
}

/// Why a file contributes nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ignored {
    /// A FIFO, device, socket or directory: never opened.
    NotARegularFile,
    /// Writable by group or others: anyone could plant names (N6).
    WritableByOthers {
        mode: u32,
    },
    /// Owned (after following a symbolic link) by neither root nor the
    /// lease directory's owner: that user could rewrite it at will (N34).
    OwnedByOther {
        uid: u32,
    },
    /// A symbolic link whose target lies in a directory owned by neither
    /// root nor the lease directory's owner, or writable by group or others
    /// (N34): whoever can write there can replace the file.
    UntrustedLinkTarget {
        uid: u32,
        mode: u32,
    },
    TooLarge {
        bytes: u64,
    },
    /// Could not be opened or read. A transient errno ([`is_transient`]:
    /// out of descriptors or memory, interrupted) is never cached: the file
    /// is tried again on the next call, and meanwhile the lookup is UNAVAIL
    /// with that errno (N29) instead of an authoritative NOTFOUND.
    Unreadable {
        errno: i32,
    },
    /// Not a JSON array of objects; the message has line and column.
    Malformed {
        message: String,
    },
}

#[derive(Debug)]
pub enum Content {
    Leases(LeaseFile),
    Macs(MacsFile),
    Ignored(Ignored),
}

/// What identifies one version of a file or directory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Stamp {
    dev: u64,
    ino: u64,
    size: u64,
    mode: u32,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl Stamp {
    fn of(meta: &Metadata) -> Stamp {
        Stamp {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.size(),
            mode: meta.mode(),
            mtime: (meta.mtime(), meta.mtime_nsec()),
            ctime: (meta.ctime(), meta.ctime_nsec()),
        }
    }

    /// Changed so recently that a second change within the same clock tick
    /// would not show in the stamp. ctime counts too: a writer may set the
    /// mtime back after an in-place rewrite, but cannot set the ctime.
    fn is_racy(&self, read_at: SystemTime) -> bool {
        let time = |(secs, nanos): (i64, i64)| {
            UNIX_EPOCH + Duration::new(secs.max(0) as u64, nanos.clamp(0, 999_999_999) as u32)
        };
        time(self.mtime).max(time(self.ctime)) + RACY_WINDOW >= read_at
    }
}

/// One `*.status` or `*.macs` file, read and parsed the first time a lookup
/// needs it: a `libvirt_guest` lookup of an unknown domain reads only the
/// `.macs` files, as the C module does.
#[derive(Debug)]
pub struct DirFile {
    /// The directory's path joined with the file's name (one allocation).
    path: PathBuf,
    /// Where the name starts in `path`.
    name_at: u32,
    /// The last listing of the directory said this entry is a regular file
    /// (`DT_REG`): it is opened without a `stat` first (N31).
    listed_regular: bool,
    kind: FileKind,
    loaded: OnceCell<Loaded>,
}

/// A file's content with the stamp of the version it was parsed from.
#[derive(Debug)]
struct Loaded {
    /// `None` when the file could not even be opened.
    stamp: Option<Stamp>,
    racy: bool,
    content: Content,
}

impl DirFile {
    fn new(path: PathBuf, name_at: u32, listed_regular: bool, kind: FileKind) -> DirFile {
        DirFile {
            path,
            name_at,
            listed_regular,
            kind,
            loaded: OnceCell::new(),
        }
    }

    pub fn name(&self) -> &std::ffi::OsStr {
        let path = self.path.as_os_str().as_bytes();
        std::ffi::OsStr::from_bytes(path.get(self.name_at as usize..).unwrap_or_default())
    }
    pub fn path(&self) -> &Path {
        &self.path
    }
    pub fn kind(&self) -> FileKind {
        self.kind
    }

    /// Whether the current version has been read (by a lookup or by
    /// [`content`](Self::content)).
    pub fn is_loaded(&self) -> bool {
        self.loaded.get().is_some()
    }

    /// What the file holds, reading it now if no lookup has needed it since
    /// it last changed.
    pub fn content(&self) -> &Content {
        &self
            .loaded
            .get_or_init(|| load(&self.path, self.kind, self.listed_regular))
            .content
    }

    /// Forgets the content unless the file is unchanged since it was read.
    /// Returns false when the file is gone.
    fn revalidate(&mut self) -> bool {
        // A regular file not read since it last changed: there is nothing
        // to check, and its removal would change the directory, which is
        // then listed again (N31: 100,000 files cost no 100,000 useless
        // stats). A symbolic link is still checked: a dangling one is gone.
        if self.loaded.get().is_none() && self.listed_regular {
            return true;
        }
        let stamp = match fs::metadata(&self.path) {
            Ok(meta) => Some(Stamp::of(&meta)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return false,
            Err(_) => None,
        };
        let unchanged = self
            .loaded
            .get()
            .is_some_and(|l| l.stamp.is_some() && l.stamp == stamp && !l.racy);
        if !unchanged {
            self.loaded = OnceCell::new();
        }
        true
    }
}

/// Reads and parses one file. Only regular, trusted files are opened.
fn load(path: &Path, kind: FileKind, listed_regular: bool) -> Loaded {
    let read_at = SystemTime::now();
    let (stamp, content) = match open_file(path, listed_regular) {
        (stamp, Ok((file, size))) => (stamp, parse(kind, file, size)),
        (stamp, Err(ignored)) => (stamp, Content::Ignored(ignored)),
    };
    let racy = stamp.is_some_and(|s| s.is_racy(read_at));
    // A transient failure says nothing about the file: keep no stamp, so the
    // next call reads it again (N29).
    let stamp = if transient_errno(&content).is_some() {
        None
    } else {
        stamp
    };
    Loaded {
        stamp,
        racy,
        content,
    }
}

/// `EMFILE`, `ENFILE`, `ENOMEM`, `EINTR`, `EAGAIN`: the state of the calling
/// process or host, not of the file (N29).
pub fn is_transient(errno: i32) -> bool {
    matches!(
        errno,
        libc::EMFILE | libc::ENFILE | libc::ENOMEM | libc::EINTR | libc::EAGAIN
    )
}

fn transient_errno(content: &Content) -> Option<i32> {
    match content {
        Content::Ignored(Ignored::Unreadable { errno }) if is_transient(*errno) => Some(*errno),
        _ => None,
    }
}

/// Why the directory itself cannot be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DirError {
    /// `stat` or `opendir` failed with this errno (`ENOENT`: libvirt is not
    /// installed or has no network yet).
    Unreadable { errno: i32 },
    /// The directory is writable by group or others (N6).
    WritableByOthers,
}

impl DirError {
    /// The errno a module reports for this error.
    pub fn errno(self) -> i32 {
        match self {
            DirError::Unreadable { errno } => errno,
            DirError::WritableByOthers => libc::EACCES,
        }
    }
}

/// A lease directory as last read: the files, sorted by name (bytes).
#[derive(Debug)]
pub struct LeaseDir {
    path: PathBuf,
    files_read: FileSet,
    dir_stamp: Option<Stamp>,
    dir_racy: bool,
    files: Vec<DirFile>,
}

impl LeaseDir {
    /// An empty snapshot of `path`; nothing is read until [`refresh`](Self::refresh).
    pub fn new(path: &Path, files_read: FileSet) -> LeaseDir {
        LeaseDir::try_new(path, files_read)
            .unwrap_or_else(|OutOfMemory| crate::status_file::out_of_memory())
    }

    /// [`new`](Self::new), failing instead of aborting when memory runs out
    /// (N30).
    pub fn try_new(path: &Path, files_read: FileSet) -> Result<LeaseDir, OutOfMemory> {
        Ok(LeaseDir {
            path: path_joined(path, None)?,
            files_read,
            dir_stamp: None,
            dir_racy: false,
            files: Vec::new(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn files_read(&self) -> FileSet {
        self.files_read
    }

    /// Brings the snapshot up to date with the directory (see module docs).
    /// On error the snapshot is emptied, so nothing stale can answer.
    pub fn refresh(&mut self) -> Result<(), DirError> {
        let result = self.try_refresh();
        if result.is_err() {
            self.dir_stamp = None;
            self.files.clear();
        }
        result
    }

    fn try_refresh(&mut self) -> Result<(), DirError> {
        let now = SystemTime::now();
        let meta = fs::metadata(&self.path).map_err(|e| DirError::Unreadable {
            errno: errno_of(&e),
        })?;
        if !meta.is_dir() {
            return Err(DirError::Unreadable {
                errno: libc::ENOTDIR,
            });
        }
        if meta.mode() & 0o022 != 0 {
            return Err(DirError::WritableByOthers);
        }
        let stamp = Stamp::of(&meta);
        if self.dir_stamp != Some(stamp) || self.dir_racy {
            self.relist()?;
            self.dir_stamp = Some(stamp);
            self.dir_racy = stamp.is_racy(now);
        }
        self.files.retain_mut(DirFile::revalidate);
        Ok(())
    }

    /// Re-reads the directory listing, keeping the files already known.
    fn relist(&mut self) -> Result<(), DirError> {
        // std::fs::read_dir allocates infallibly (its handle and every
        // entry's name); this listing allocates only the paths kept, and
        // fallibly (N30). A listing cut short (out of memory, ...) must not
        // be taken for the directory's content (N29).
        let mut listed: Vec<DirFile> = Vec::new();
        let name_at = self.path.as_os_str().len()
            + usize::from(!self.path.as_os_str().as_bytes().ends_with(b"/"));
        crate::ffi::for_each_dir_entry(&self.path, |name, d_type| {
            let Some(kind) = FileKind::of_name(name, self.files_read) else {
                return Ok(());
            };
            listed.try_reserve(1).map_err(|_| libc::ENOMEM)?;
            let path = path_joined(&self.path, Some(name)).map_err(|_| libc::ENOMEM)?;
            let regular = d_type == libc::DT_REG;
            listed.push(DirFile::new(path, name_at as u32, regular, kind));
            Ok(())
        })
        .map_err(|errno| DirError::Unreadable { errno })?;
        // Names in a directory are unique: an unstable sort (which allocates
        // nothing) gives the one order.
        listed.sort_unstable_by(|a, b| a.name().as_bytes().cmp(b.name().as_bytes()));

        let mut files = Vec::new();
        files
            .try_reserve_exact(listed.len())
            .map_err(|_| DirError::Unreadable {
                errno: libc::ENOMEM,
            })?;
        let mut known = std::mem::take(&mut self.files).into_iter().peekable();
        for new in listed {
            while known
                .next_if(|f| f.name().as_bytes() < new.name().as_bytes())
                .is_some()
            {}
            match known.next_if(|f| f.name() == new.name()) {
                Some(mut file) => {
                    file.listed_regular = new.listed_regular;
                    files.push(file);
                }
                None => files.push(new),
            }
        }
        self.files = files;
        Ok(())
    }

    /// The errno of a transient failure ([`is_transient`]) met while reading
    /// a file since the last [`refresh`](Self::refresh): a lookup that met one
    /// may have missed leases, so it must answer UNAVAIL with this errno, not
    /// NOTFOUND (N29). Such a file is read again on the next call.
    pub fn transient_error(&self) -> Option<i32> {
        self.files
            .iter()
            .filter_map(|f| f.loaded.get())
            .find_map(|loaded| transient_errno(&loaded.content))
    }

    /// Every file in name order.
    pub fn files(&self) -> &[DirFile] {
        &self.files
    }

    /// The parsed `.status` files, in name order (read on first use).
    pub fn lease_files(&self) -> impl Iterator<Item = &LeaseFile> {
        self.files
            .iter()
            .filter(|f| f.kind == FileKind::Status)
            .filter_map(|f| match f.content() {
                Content::Leases(leases) => Some(leases),
                _ => None,
            })
    }

    /// The parsed `.macs` files, in name order (read on first use).
    pub fn macs_files(&self) -> impl Iterator<Item = &MacsFile> {
        self.files
            .iter()
            .filter(|f| f.kind == FileKind::Macs)
            .filter_map(|f| match f.content() {
                Content::Macs(macs) => Some(macs),
                _ => None,
            })
    }
}

/// Parses an opened file of `size` bytes (by `fstat`) in chunks: never more
/// than [`MAX_FILE_BYTES`], even if it grows meanwhile.
fn parse(kind: FileKind, mut file: File, size: u64) -> Content {
    let parsed = match kind {
        FileKind::Status => {
            LeaseFile::read_from(&mut file, size, MAX_FILE_BYTES).map(Content::Leases)
        }
        FileKind::Macs => MacsFile::read_from(&mut file, size, MAX_FILE_BYTES).map(Content::Macs),
    };
    // Out of memory says nothing about the file: a transient error (N29,
    // N30), and so is a message that cannot be stored.
    let out_of_memory = Content::Ignored(Ignored::Unreadable {
        errno: libc::ENOMEM,
    });
    match parsed {
        Ok(content) => content,
        Err(ReadError::OutOfMemory) => out_of_memory,
        Err(ReadError::Io(e)) => Content::Ignored(Ignored::Unreadable {
            errno: errno_of(&e),
        }),
        Err(ReadError::TooLarge { bytes }) => Content::Ignored(Ignored::TooLarge { bytes }),
        Err(ReadError::Syntax { offset, reason }) => {
            let mut message = String::new();
            // Room for the reason and two numbers: `write!` will not grow it.
            if message.try_reserve(reason.len() + 64).is_err() {
                return out_of_memory;
            }
            // Read again from the start: only a malformed file pays for it.
            let position = file
                .seek(SeekFrom::Start(0))
                .ok()
                .and_then(|_| json::line_and_column(&mut file, offset));
            let _ = match position {
                Some((line, column)) => write!(message, "{reason} at line {line} column {column}"),
                None => write!(message, "{reason} at byte {offset}"),
            };
            Content::Ignored(Ignored::Malformed { message })
        }
    }
}

/// Opens a regular, trusted file of at most [`MAX_FILE_BYTES`] (by its
/// `fstat`) and returns it with its size. Also returns the stamp of the file
/// actually examined (it may have been replaced since the caller's `stat`),
/// or `None` when it could not be examined.
fn open_file(path: &Path, listed_regular: bool) -> (Option<Stamp>, Result<(File, u64), Ignored>) {
    let unreadable = |e: io::Error| Ignored::Unreadable {
        errno: errno_of(&e),
    };
    // A FIFO, socket or device is never opened (opening a FIFO would wait
    // for a writer). An entry the directory listing calls a regular file is
    // one unless replaced since, which changes the directory and so the
    // listing (N31): no `stat` first; `fstat` after `open` checks anyway.
    let listed = if listed_regular {
        None
    } else {
        match fs::metadata(path) {
            Ok(meta) if meta.is_file() => Some(meta),
            Ok(meta) => return (Some(Stamp::of(&meta)), Err(Ignored::NotARegularFile)),
            Err(e) => return (None, Err(unreadable(e))),
        }
    };
    let (file, meta) = match open_trusted(path) {
        Ok(opened) => opened,
        Err(Refusal::Io(e)) => {
            let meta = listed.or_else(|| fs::metadata(path).ok());
            return (meta.map(|meta| Stamp::of(&meta)), Err(unreadable(e)));
        }
        // No stamp: re-checked on every call, since the directory's owner
        // or mode may change without the file changing (N34).
        Err(Refusal::Untrusted(ignored)) => return (None, Err(ignored)),
    };
    let stamp = Some(Stamp::of(&meta));
    if !meta.is_file() {
        return (stamp, Err(Ignored::NotARegularFile));
    }
    if meta.mode() & 0o022 != 0 {
        return (
            stamp,
            Err(Ignored::WritableByOthers {
                mode: meta.mode() & 0o7777,
            }),
        );
    }
    if meta.uid() != 0 {
        match lease_dir_owner(path) {
            Ok(owner) if owner == meta.uid() => {}
            Ok(_) => return (None, Err(Ignored::OwnedByOther { uid: meta.uid() })),
            Err(e) => return (None, Err(unreadable(e))),
        }
    }
    if meta.size() > MAX_FILE_BYTES {
        return (stamp, Err(Ignored::TooLarge { bytes: meta.size() }));
    }
    (stamp, Ok((file, meta.size())))
}

/// `dir`, or `dir/name`, as a new path of exactly that size, allocated
/// fallibly (N30).
fn path_joined(dir: &Path, name: Option<&[u8]>) -> Result<PathBuf, OutOfMemory> {
    let dir = dir.as_os_str().as_bytes();
    let extra = name.map_or(0, |name| name.len() + 1);
    let mut path = Vec::new();
    path.try_reserve_exact(dir.len() + extra)?;
    path.extend_from_slice(dir);
    if let Some(name) = name {
        if !dir.ends_with(b"/") {
            path.push(b'/');
        }
        path.extend_from_slice(name);
    }
    Ok(PathBuf::from(OsString::from_vec(path)))
}

/// Why [`open_trusted`] opened nothing.
enum Refusal {
    Io(io::Error),
    Untrusted(Ignored),
}

/// Opens a lease-dir entry for reading, and `fstat`s it. `O_NOFOLLOW`: a
/// symbolic link is followed only by hand (`realpath`), and its target is
/// opened only if the directory holding it is owned by root or by the lease
/// directory's owner and not writable by group or others, OpenSSH
/// `StrictModes`-style (N34); the caller checks the file itself (type,
/// mode, owner). O_NONBLOCK: if the name was swapped for a FIFO after the
/// caller's stat, open returns at once instead of waiting for a writer.
/// O_NOCTTY: never acquire a terminal. std adds O_CLOEXEC.
fn open_trusted(path: &Path) -> Result<(File, Metadata), Refusal> {
    let open = |path: &Path| {
        File::options()
            .read(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_NOFOLLOW)
            .open(path)
            .and_then(|file| file.metadata().map(|meta| (file, meta)))
    };
    match open(path) {
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {}
        other => return other.map_err(Refusal::Io),
    }
    // Not fs::canonicalize, which allocates infallibly (N30).
    let target = crate::ffi::real_path(path)
        .map_err(|errno| Refusal::Io(io::Error::from_raw_os_error(errno)))?;
    let opened = open(&target).map_err(Refusal::Io)?;
    let holder = fs::metadata(target.parent().unwrap_or(Path::new("/"))).map_err(Refusal::Io)?;
    let owner = lease_dir_owner(path).map_err(Refusal::Io)?;
    if (holder.uid() != 0 && holder.uid() != owner) || holder.mode() & 0o022 != 0 {
        return Err(Refusal::Untrusted(Ignored::UntrustedLinkTarget {
            uid: holder.uid(),
            mode: holder.mode() & 0o7777,
        }));
    }
    Ok(opened)
}

/// The owner of the lease directory holding the entry `path`.
fn lease_dir_owner(path: &Path) -> io::Result<u32> {
    fs::metadata(path.parent().unwrap_or(Path::new("."))).map(|meta| meta.uid())
}

fn errno_of(error: &io::Error) -> i32 {
    error.raw_os_error().unwrap_or(libc::EIO)
}
