//! The one error type of the helper: a message for stderr, exit status 1.

use std::fmt;
use std::io;
use std::path::Path;

#[derive(Debug)]
pub struct HelperError {
    message: String,
}

impl HelperError {
    pub fn new(message: impl Into<String>) -> HelperError {
        HelperError {
            message: message.into(),
        }
    }

    /// `<what> '<path>': <strerror>` as libvirt's system errors read.
    pub fn io(what: &str, path: &Path, err: &io::Error) -> HelperError {
        HelperError::new(format!("{what} '{}': {err}", path.display()))
    }
}

impl fmt::Display for HelperError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}
