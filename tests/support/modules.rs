//! Where the two module implementations under comparison live.
//!
//! * ours: `<workspace>/target/modules` (what `make build` writes), or
//!   `NSS_MODULES_DIR` (for tests only, e.g. a copy of the C modules while
//!   ours are being written);
//! * libvirt's C modules: the installed Debian ones, or `NSS_C_MODULES_DIR`.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};

pub const LIBVIRT: &str = "libnss_libvirt.so.2";
pub const LIBVIRT_GUEST: &str = "libnss_libvirt_guest.so.2";

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate lives inside the workspace")
        .to_path_buf()
}

/// Our modules. Their absence is a failure, not a skip: these tests exist to
/// test them.
pub fn ours() -> PathBuf {
    let dir = env::var_os("NSS_MODULES_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target/modules"));
    for module in [LIBVIRT, LIBVIRT_GUEST] {
        assert!(
            dir.join(module).is_file(),
            "{} missing: run `make build` (or point NSS_MODULES_DIR at a module dir)",
            dir.join(module).display()
        );
    }
    dir
}

/// libvirt's C modules, or why they cannot be used. They are recognised by
/// their yajl dependency so that a system where ours replaced them is not
/// mistaken for the reference.
pub fn libvirt_c() -> Result<PathBuf, String> {
    let candidates: Vec<PathBuf> = match env::var_os("NSS_C_MODULES_DIR") {
        Some(dir) => vec![PathBuf::from(dir)],
        None => {
            let multiarch = format!("{}-linux-gnu", env::consts::ARCH);
            ["/lib", "/usr/lib"]
                .iter()
                .map(|lib| Path::new(lib).join(&multiarch))
                .collect()
        }
    };
    for dir in &candidates {
        if [LIBVIRT, LIBVIRT_GUEST]
            .iter()
            .all(|m| links_yajl(&dir.join(m)))
        {
            return Ok(dir.clone());
        }
    }
    Err(format!(
        "libvirt's C NSS modules (Debian package libnss-libvirt) not found in {candidates:?}"
    ))
}

fn links_yajl(module: &Path) -> bool {
    fs::read(module).is_ok_and(|bytes| bytes.windows(10).any(|w| w == b"libyajl.so"))
}
