//! libvirt's client library, loaded at run time with
//! `dlopen("libvirt.so.0")`: the only module of the proxy with `unsafe`.
//!
//! Why not the `virt` crate: it needs `libvirt-dev` and pkg-config to build,
//! pins `libc` for the whole workspace, and would be statically linked LGPL
//! code in an MIT/Apache binary. Fifteen stable C entry points (all present
//! since libvirt 4.5) are simpler, and when the library is absent the proxy
//! still works through the DHCP leases (DECISIONS.md P2).
//!
//! Every connection is read-only: it needs no polkit rule, and a proxy has
//! no business changing a domain.
#![allow(unsafe_code)]

use std::ffi::{c_char, c_int, c_uint, c_void, CStr, CString};
use std::ptr::{self, NonNull};

/// `virErrorNumber` values the proxy tells apart.
pub const VIR_ERR_SYSTEM_ERROR: i32 = 38;
pub const VIR_ERR_NO_DOMAIN: i32 = 42;

/// `virDomainState`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DomainState {
    NoState,
    Running,
    Blocked,
    Paused,
    ShuttingDown,
    ShutOff,
    Crashed,
    PmSuspended,
    Unknown(i32),
}

impl DomainState {
    fn from_raw(state: c_int) -> DomainState {
        match state {
            0 => DomainState::NoState,
            1 => DomainState::Running,
            2 => DomainState::Blocked,
            3 => DomainState::Paused,
            4 => DomainState::ShuttingDown,
            5 => DomainState::ShutOff,
            6 => DomainState::Crashed,
            7 => DomainState::PmSuspended,
            other => DomainState::Unknown(other),
        }
    }

    /// A guest in this state can answer a connection.
    pub fn is_running(self) -> bool {
        matches!(
            self,
            DomainState::Running | DomainState::Blocked | DomainState::ShuttingDown
        )
    }

    pub fn describe(self) -> String {
        match self {
            DomainState::NoState => "in no state".into(),
            DomainState::Running => "running".into(),
            DomainState::Blocked => "blocked".into(),
            DomainState::Paused => "paused".into(),
            DomainState::ShuttingDown => "shutting down".into(),
            DomainState::ShutOff => "shut off".into(),
            DomainState::Crashed => "crashed".into(),
            DomainState::PmSuspended => "suspended by guest power management".into(),
            DomainState::Unknown(n) => format!("in unknown state {n}"),
        }
    }
}

/// libvirt's last error, copied out of the library.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VirtError {
    /// `virErrorNumber`.
    pub code: i32,
    /// The `errno` behind a system error (`VIR_ERR_SYSTEM_ERROR`).
    pub errno: Option<i32>,
    pub message: String,
}

/// `struct _virError` (libvirt's public ABI, unchanged since 0.x).
#[repr(C)]
struct RawError {
    code: c_int,
    domain: c_int,
    message: *const c_char,
    level: c_int,
    conn: *mut c_void,
    dom: *mut c_void,
    str1: *const c_char,
    str2: *const c_char,
    str3: *const c_char,
    int1: c_int,
    int2: c_int,
    net: *mut c_void,
}

type Ptr = *mut c_void;
type ErrorFunc = unsafe extern "C" fn(*mut c_void, *mut c_void);

/// The entry points we use, resolved once.
struct Api {
    set_error_func: unsafe extern "C" fn(*mut c_void, Option<ErrorFunc>),
    get_last_error: unsafe extern "C" fn() -> *const RawError,
    reset_last_error: unsafe extern "C" fn(),
    connect_open_read_only: unsafe extern "C" fn(*const c_char) -> Ptr,
    connect_close: unsafe extern "C" fn(Ptr) -> c_int,
    connect_list_all_domains: unsafe extern "C" fn(Ptr, *mut *mut Ptr, c_uint) -> c_int,
    lookup_by_name: unsafe extern "C" fn(Ptr, *const c_char) -> Ptr,
    lookup_by_uuid_string: unsafe extern "C" fn(Ptr, *const c_char) -> Ptr,
    lookup_by_id: unsafe extern "C" fn(Ptr, c_int) -> Ptr,
    domain_free: unsafe extern "C" fn(Ptr) -> c_int,
    domain_get_name: unsafe extern "C" fn(Ptr) -> *const c_char,
    domain_get_uuid_string: unsafe extern "C" fn(Ptr, *mut c_char) -> c_int,
    domain_get_id: unsafe extern "C" fn(Ptr) -> c_uint,
    domain_get_state: unsafe extern "C" fn(Ptr, *mut c_int, *mut c_int, c_uint) -> c_int,
    domain_get_xml_desc: unsafe extern "C" fn(Ptr, c_uint) -> *mut c_char,
}

/// The loaded library. Never unloaded: libvirt starts threads and
/// registers handlers that must outlive any `dlclose`.
pub struct Libvirt {
    api: Api,
}

/// libvirt prints every error to stderr unless a handler is set; the proxy
/// reports errors itself, in one line.
unsafe extern "C" fn ignore_error(_user: *mut c_void, _error: *mut c_void) {}

impl Libvirt {
    /// Loads `libvirt.so.0`, or says why it could not.
    pub fn load() -> Result<Libvirt, String> {
        // SAFETY: dlopen with a valid C string; libvirt's initialisers are
        // safe to run in a single-threaded process.
        let handle =
            unsafe { libc::dlopen(c"libvirt.so.0".as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
        if handle.is_null() {
            return Err(last_dl_error());
        }
        macro_rules! sym {
            ($name:literal) => {{
                // SAFETY: `handle` is a live dlopen handle and the name a C string.
                let sym = unsafe { libc::dlsym(handle, concat!($name, "\0").as_ptr().cast()) };
                if sym.is_null() {
                    return Err(format!("libvirt.so.0 has no {}", $name));
                }
                // SAFETY: the symbol is the libvirt function of that name,
                // whose C signature the field's type spells out (libvirt's
                // public headers, stable ABI). The target type is inferred
                // from that field.
                #[allow(clippy::missing_transmute_annotations)]
                unsafe {
                    std::mem::transmute::<*mut c_void, _>(sym)
                }
            }};
        }
        let api = Api {
            set_error_func: sym!("virSetErrorFunc"),
            get_last_error: sym!("virGetLastError"),
            reset_last_error: sym!("virResetLastError"),
            connect_open_read_only: sym!("virConnectOpenReadOnly"),
            connect_close: sym!("virConnectClose"),
            connect_list_all_domains: sym!("virConnectListAllDomains"),
            lookup_by_name: sym!("virDomainLookupByName"),
            lookup_by_uuid_string: sym!("virDomainLookupByUUIDString"),
            lookup_by_id: sym!("virDomainLookupByID"),
            domain_free: sym!("virDomainFree"),
            domain_get_name: sym!("virDomainGetName"),
            domain_get_uuid_string: sym!("virDomainGetUUIDString"),
            domain_get_id: sym!("virDomainGetID"),
            domain_get_state: sym!("virDomainGetState"),
            domain_get_xml_desc: sym!("virDomainGetXMLDesc"),
        };
        // SAFETY: a valid function pointer with the signature libvirt expects.
        unsafe { (api.set_error_func)(ptr::null_mut(), Some(ignore_error)) };
        Ok(Libvirt { api })
    }

    /// Opens `uri` read-only.
    pub fn open_read_only(&self, uri: &str) -> Result<Connection<'_>, VirtError> {
        let uri = CString::new(uri).map_err(|_| nul_error())?;
        // SAFETY: a valid C string; the result is a new reference or NULL.
        let conn = unsafe { (self.api.connect_open_read_only)(uri.as_ptr()) };
        match NonNull::new(conn) {
            Some(conn) => Ok(Connection { lib: self, conn }),
            None => Err(self.last_error()),
        }
    }

    fn last_error(&self) -> VirtError {
        // SAFETY: virGetLastError returns this thread's error or NULL; we
        // copy what we need before any other libvirt call.
        let raw = unsafe { (self.api.get_last_error)().as_ref() };
        let error = match raw {
            None => VirtError {
                code: 0,
                errno: None,
                message: "unknown libvirt error".into(),
            },
            Some(raw) => VirtError {
                code: raw.code,
                errno: (raw.code == VIR_ERR_SYSTEM_ERROR && raw.int1 > 0).then_some(raw.int1),
                // SAFETY: NULL or a NUL-terminated string owned by the error.
                message: unsafe { c_string(raw.message) }.unwrap_or_default(),
            },
        };
        // SAFETY: no arguments; clears this thread's error.
        unsafe { (self.api.reset_last_error)() };
        error
    }
}

/// A read-only connection, closed on drop.
pub struct Connection<'a> {
    lib: &'a Libvirt,
    conn: NonNull<c_void>,
}

impl Drop for Connection<'_> {
    fn drop(&mut self) {
        // SAFETY: we own this reference.
        unsafe { (self.lib.api.connect_close)(self.conn.as_ptr()) };
    }
}

impl<'a> Connection<'a> {
    /// `Ok(None)` when libvirt says there is no such domain.
    fn wrap(&self, dom: Ptr) -> Result<Option<Domain<'a>>, VirtError> {
        match NonNull::new(dom) {
            Some(dom) => Ok(Some(Domain { lib: self.lib, dom })),
            None => {
                let error = self.lib.last_error();
                if error.code == VIR_ERR_NO_DOMAIN {
                    Ok(None)
                } else {
                    Err(error)
                }
            }
        }
    }

    pub fn lookup_by_name(&self, name: &str) -> Result<Option<Domain<'a>>, VirtError> {
        let Ok(name) = CString::new(name) else {
            return Ok(None);
        };
        // SAFETY: a live connection and a C string.
        let dom = unsafe { (self.lib.api.lookup_by_name)(self.conn.as_ptr(), name.as_ptr()) };
        self.wrap(dom)
    }

    pub fn lookup_by_uuid(&self, uuid: &str) -> Result<Option<Domain<'a>>, VirtError> {
        let uuid = CString::new(uuid).map_err(|_| nul_error())?;
        // SAFETY: a live connection and a C string.
        let dom =
            unsafe { (self.lib.api.lookup_by_uuid_string)(self.conn.as_ptr(), uuid.as_ptr()) };
        self.wrap(dom)
    }

    pub fn lookup_by_id(&self, id: i32) -> Result<Option<Domain<'a>>, VirtError> {
        // SAFETY: a live connection.
        let dom = unsafe { (self.lib.api.lookup_by_id)(self.conn.as_ptr(), id) };
        self.wrap(dom)
    }

    /// Every domain, running or defined.
    pub fn all_domains(&self) -> Result<Vec<Domain<'a>>, VirtError> {
        let mut list: *mut Ptr = ptr::null_mut();
        // SAFETY: a live connection; libvirt allocates `list` (count
        // entries) with malloc, each a new domain reference.
        let count =
            unsafe { (self.lib.api.connect_list_all_domains)(self.conn.as_ptr(), &mut list, 0) };
        if count < 0 {
            return Err(self.lib.last_error());
        }
        let mut domains = Vec::with_capacity(count as usize);
        for i in 0..count as usize {
            // SAFETY: `list` holds `count` entries.
            let dom = unsafe { *list.add(i) };
            if let Some(dom) = NonNull::new(dom) {
                domains.push(Domain { lib: self.lib, dom });
            }
        }
        // SAFETY: the array (not its entries, now owned by `domains`) is ours to free.
        unsafe { libc::free(list.cast()) };
        Ok(domains)
    }
}

/// A domain reference, freed on drop.
pub struct Domain<'a> {
    lib: &'a Libvirt,
    dom: NonNull<c_void>,
}

impl Drop for Domain<'_> {
    fn drop(&mut self) {
        // SAFETY: we own this reference.
        unsafe { (self.lib.api.domain_free)(self.dom.as_ptr()) };
    }
}

impl Domain<'_> {
    pub fn name(&self) -> String {
        // SAFETY: a live domain; the string lives as long as the domain.
        unsafe { c_string((self.lib.api.domain_get_name)(self.dom.as_ptr())) }.unwrap_or_default()
    }

    pub fn uuid(&self) -> String {
        let mut buf = [0 as c_char; 37]; // VIR_UUID_STRING_BUFLEN
                                         // SAFETY: a live domain and a buffer of VIR_UUID_STRING_BUFLEN bytes.
        if unsafe { (self.lib.api.domain_get_uuid_string)(self.dom.as_ptr(), buf.as_mut_ptr()) } < 0
        {
            return String::new();
        }
        // SAFETY: libvirt wrote a NUL-terminated string into `buf`.
        unsafe { c_string(buf.as_ptr()) }.unwrap_or_default()
    }

    /// The running domain's ID; `None` when it is not running.
    pub fn id(&self) -> Option<u32> {
        // SAFETY: a live domain.
        let id = unsafe { (self.lib.api.domain_get_id)(self.dom.as_ptr()) };
        (id != c_uint::MAX).then_some(id)
    }

    pub fn state(&self) -> Result<DomainState, VirtError> {
        let (mut state, mut reason) = (0, 0);
        // SAFETY: a live domain and two writable ints.
        if unsafe { (self.lib.api.domain_get_state)(self.dom.as_ptr(), &mut state, &mut reason, 0) }
            < 0
        {
            return Err(self.lib.last_error());
        }
        Ok(DomainState::from_raw(state))
    }

    /// The XML of the running domain (libvirt's live XML while it runs).
    pub fn xml(&self) -> Result<String, VirtError> {
        // SAFETY: a live domain; the result is malloc'ed and ours to free.
        let xml = unsafe { (self.lib.api.domain_get_xml_desc)(self.dom.as_ptr(), 0) };
        if xml.is_null() {
            return Err(self.lib.last_error());
        }
        // SAFETY: a NUL-terminated string we own.
        let text = unsafe { c_string(xml) }.unwrap_or_default();
        // SAFETY: allocated by libvirt with malloc, freed once.
        unsafe { libc::free(xml.cast()) };
        Ok(text)
    }
}

/// Copies a C string (lossily, never panicking).
///
/// # Safety
/// `ptr` is NULL or points to a NUL-terminated string.
unsafe fn c_string(ptr: *const c_char) -> Option<String> {
    if ptr.is_null() {
        return None;
    }
    // SAFETY: guaranteed by the caller.
    Some(
        unsafe { CStr::from_ptr(ptr) }
            .to_string_lossy()
            .into_owned(),
    )
}

fn last_dl_error() -> String {
    // SAFETY: dlerror returns NULL or a NUL-terminated string.
    unsafe { c_string(libc::dlerror()) }.unwrap_or_else(|| "dlopen failed".into())
}

fn nul_error() -> VirtError {
    VirtError {
        code: 0,
        errno: None,
        message: "argument contains a NUL byte".into(),
    }
}
