//! All strings of one parsed file in a single allocation, addressed by
//! `Span`s: no per-entry `String`, so a 100,000-lease snapshot stays compact.

use crate::OutOfMemory;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Span {
    start: u32,
    /// The length, and [`GARBLED`] for text that must match no name.
    len: u32,
}

/// Set in `Span::len` for a string that held bytes that are not UTF-8 or a
/// lone surrogate escape (read as U+FFFD; DECISIONS.md N27). Lengths stay far
/// below: files are capped at 32 MiB.
const GARBLED: u32 = 1 << 31;

impl Span {
    /// False for a garbled string: shown as read, never matched.
    pub(crate) fn is_text(self) -> bool {
        self.len & GARBLED == 0
    }

    /// The same text, marked garbled.
    pub(crate) fn garbled(self) -> Span {
        Span {
            start: self.start,
            len: self.len | GARBLED,
        }
    }
}

#[derive(Default)]
pub(crate) struct TextArena {
    text: String,
}

impl TextArena {
    pub(crate) fn push(&mut self, s: &str) -> Result<Span, OutOfMemory> {
        let span = self.next_span(s.len());
        self.text.try_reserve(s.len())?;
        self.text.push_str(s);
        Ok(span)
    }

    pub(crate) fn push_lowercase(&mut self, s: &str) -> Result<Span, OutOfMemory> {
        let span = self.push(s)?;
        self.text[span.start as usize..].make_ascii_lowercase();
        Ok(span)
    }

    pub(crate) fn get(&self, span: Span) -> &str {
        let len = span.len & !GARBLED;
        &self.text[span.start as usize..(span.start + len) as usize]
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.text.capacity()
    }

    fn next_span(&self, len: usize) -> Span {
        // Files are capped at 32 MiB, and strings only shrink when decoded,
        // so offsets always fit in u32.
        Span {
            start: self.text.len() as u32,
            len: len as u32,
        }
    }
}
