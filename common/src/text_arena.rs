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
    /// No string: an absent member (cheaper than `Option<Span>`, which
    /// needs 4 more bytes).
    pub(crate) const ABSENT: Span = Span {
        start: u32::MAX,
        len: 0,
    };

    pub(crate) fn is_present(self) -> bool {
        self.start != u32::MAX
    }

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

/// The strings of one file, as it is parsed: bytes that are each UTF-8
/// (a `&str`'s, or ASCII as the JSON reader's scan found them), checked as
/// a whole once by [`finish`](Self::finish) rather than string by string
/// (N35).
#[derive(Default)]
pub(crate) struct TextArenaBuilder {
    bytes: Vec<u8>,
}

impl TextArenaBuilder {
    pub(crate) fn with_capacity(bytes: usize) -> Result<Self, OutOfMemory> {
        let mut builder = TextArenaBuilder::default();
        builder.bytes.try_reserve_exact(bytes)?;
        Ok(builder)
    }

    pub(crate) fn push(&mut self, text: &[u8]) -> Result<Span, OutOfMemory> {
        // Files are capped at 32 MiB, and strings only shrink when decoded,
        // so offsets always fit in u32.
        let span = Span {
            start: self.bytes.len() as u32,
            len: text.len() as u32,
        };
        self.bytes.try_reserve(text.len())?;
        self.bytes.extend_from_slice(text);
        Ok(span)
    }

    pub(crate) fn push_lowercase(&mut self, text: &[u8]) -> Result<Span, OutOfMemory> {
        let span = self.push(text)?;
        self.bytes[span.start as usize..].make_ascii_lowercase();
        Ok(span)
    }

    /// The arena, or `None` if what was pushed is not UTF-8 (a bug: every
    /// caller pushes UTF-8).
    pub(crate) fn finish(self) -> Option<TextArena> {
        String::from_utf8(self.bytes)
            .ok()
            .map(|text| TextArena { text })
    }
}

/// All strings of one parsed file.
pub(crate) struct TextArena {
    text: String,
}

impl TextArena {
    pub(crate) fn get(&self, span: Span) -> &str {
        let len = span.len & !GARBLED;
        &self.text[span.start as usize..(span.start + len) as usize]
    }
}
