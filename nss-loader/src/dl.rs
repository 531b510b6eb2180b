//! The crate's only `unsafe`: `dlopen`, `dlsym` and `dlerror`, and turning a
//! symbol's address into its typed function pointer.

use std::ffi::{c_void, CStr, CString};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use crate::EntryPoint;

/// A `dlopen` handle, never `dlclose`d.
pub(crate) struct Handle(*mut c_void);

pub(crate) fn open(path: &Path) -> Result<Handle, String> {
    let cpath = CString::new(path.as_os_str().as_bytes()).map_err(|e| e.to_string())?;
    // SAFETY: cpath is a valid NUL-terminated string. Loading runs the
    // library's initialisers, which is the point of loading an NSS module.
    let handle = unsafe { libc::dlopen(cpath.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
    if handle.is_null() {
        Err(format!("dlopen {}: {}", path.display(), dlerror()))
    } else {
        Ok(Handle(handle))
    }
}

/// The address of `symbol` in `handle`, as the entry point type `E`.
pub(crate) fn entry_point<E: EntryPoint>(handle: &Handle, symbol: &str) -> Result<E, String> {
    let name = CString::new(symbol).map_err(|e| e.to_string())?;
    // SAFETY: handle came from a successful dlopen and is never closed; name
    // is NUL-terminated.
    let address = unsafe { libc::dlsym(handle.0, name.as_ptr()) };
    if address.is_null() {
        return Err(format!("dlsym {symbol}: {}", dlerror()));
    }
    assert_eq!(std::mem::size_of::<E>(), std::mem::size_of::<*mut c_void>());
    // SAFETY: E is one of the six function pointer types of the sealed
    // EntryPoint trait, each the C prototype of the glibc NSS function its
    // FUNCTION names, and `symbol` ends in that name; the module under test
    // implements glibc's NSS interface. A data pointer and a function
    // pointer have the same size (checked above) and representation on Linux
    // (POSIX requires it of dlsym), and the address is not null.
    Ok(unsafe { std::mem::transmute_copy::<*mut c_void, E>(&address) })
}

fn dlerror() -> String {
    // SAFETY: dlerror returns NULL or a NUL-terminated string owned by libdl,
    // valid until the next dl* call of this thread; it is copied at once.
    unsafe {
        let msg = libc::dlerror();
        if msg.is_null() {
            "unknown error".to_owned()
        } else {
            CStr::from_ptr(msg).to_string_lossy().into_owned()
        }
    }
}
