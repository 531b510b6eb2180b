// Shared by the build scripts of both modules (`include!`d by
// nss-libvirt/build.rs and nss-libvirt-guest/build.rs).
//
// The panic guard at the FFI boundary (DECISIONS.md N25) needs an unwinder.
// Rust's std links the system one, `libgcc_s.so.1`, as a shared library:
// every process that loads a module would then also open, map and relocate
// that library (65 relocations of its own) before the first lookup, which
// makes a short process such as `getent hosts NAME` slower than with
// libvirt's C module. Linking GCC's static unwinder `libgcc_eh.a` into each
// module instead makes the module self-contained:
//
// * `-lgcc_eh` comes right after the module's object on the link line, so it
//   defines the `_Unwind_*` symbols before rustc's `-lgcc_s`, which
//   `--as-needed` then drops (no DT_NEEDED on libgcc_s.so.1);
// * the version script rustc writes for a cdylib keeps the unwinder's
//   symbols local: the module still exports its six entry points only;
// * the unwinder finds the module's frames through `_dl_find_object`
//   (glibc 2.35) or `dl_iterate_phdr` and the `.eh_frame_hdr` the linker
//   writes, as libgcc_s does; a panic never leaves the module, so the copy
//   of the unwinder in it only ever unwinds its own frames.
//
// `tests/panic_guard.rs` forces a panic inside a lookup in a C host process
// (getent, and under valgrind) and checks that it is still caught.
//
// Where `cc` has no `libgcc_eh.a` (not GCC's runtime, or another target),
// the module keeps linking libgcc_s.so.1 and a warning says so;
// scripts/check-debs.sh then fails on the package's Depends.
fn link_unwinder_statically() {
    println!("cargo:rerun-if-changed=../nss-libvirt/static_unwinder.rs");
    let target_os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let target_env = std::env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    if target_os != "linux" || target_env != "gnu" {
        return;
    }
    // rustc links with `cc` unless told otherwise; ask it where its runtime is.
    let found = std::process::Command::new("cc")
        .arg("-print-file-name=libgcc_eh.a")
        .output()
        .ok()
        .filter(|output| output.status.success())
        .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_owned())
        .map(std::path::PathBuf::from)
        // Not found, `cc` prints the bare name back.
        .filter(|path| path.is_absolute() && path.is_file());
    match found.as_deref().and_then(std::path::Path::parent) {
        Some(dir) => {
            println!("cargo:rustc-link-search=native={}", dir.display());
            println!("cargo:rustc-link-lib=static=gcc_eh");
        }
        None => println!(
            "cargo:warning=libgcc_eh.a not found by `cc -print-file-name`: \
             the module links the unwinder libgcc_s.so.1 dynamically"
        ),
    }
}
