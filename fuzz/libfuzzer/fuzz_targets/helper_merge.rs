//! libFuzzer entry for the `helper_merge` target of `fuzz/src/targets.rs`.
#![no_main]

use std::sync::Mutex;

use libvirt_nss_fuzz::targets::{run, Context, Target};

static CONTEXT: Mutex<Option<Context>> = Mutex::new(None);

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let mut context = CONTEXT.lock().unwrap_or_else(|e| e.into_inner());
    let context = context.get_or_insert_with(|| Context::new(Target::HelperMerge));
    run(context, Target::HelperMerge, data);
});
