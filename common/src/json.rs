//! A strict JSON reader for the two lease-dir formats, fed in chunks.
//!
//! Why not serde_json: a cold lookup parses every lease file of the
//! directory, and on a 10,000-lease `.status` (1.8 MB, pretty-printed, a third
//! of it indentation) serde_json spent ~20 instructions per byte. This reader
//! walks the bytes with tight loops, borrows every string without escapes
//! straight from the read buffer, checks UTF-8 only in the strings it hands
//! out, and skips the members the lookups never read.
//!
//! Why chunks: reading a whole file first cost a buffer of its size, one
//! fresh (zeroed, faulted-in) page per 4 KiB, a third of a cold lookup's
//! time at 10,000 leases. [`for_each_object_in_array`] reads [`CHUNK_BYTES`]
//! at a time into one buffer that stays in cache, hands each complete array
//! element to its caller, and re-reads an element cut by the buffer's end
//! once more bytes are in (the callers change nothing until an element has
//! been read whole, so that is safe).
//!
//! It accepts exactly RFC 8259 JSON (one value, no comments, no BOM, no
//! trailing commas, no control characters in strings; a lone surrogate
//! escape, which its grammar allows, reads as U+FFFD) and
//! nests at most [`MAX_DEPTH`] levels, so hostile input cannot exhaust the
//! stack. Callers drive it with [`JsonReader::array`] / [`JsonReader::object`]
//! cursors, reading the values they want and skipping the rest.

use std::borrow::Cow;
use std::fmt;
use std::io::{self, Read};

/// Deeper documents are rejected (serde_json's default limit too).
pub(crate) const MAX_DEPTH: usize = 128;

/// Bytes read at a time: large enough that the `read` calls cost little,
/// small enough to stay in the CPU's cache and to need no fresh pages (an
/// element longer than this grows the buffer).
pub const CHUNK_BYTES: usize = 64 * 1024;

/// Where and why a document is not JSON we accept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JsonError {
    pub line: usize,
    pub column: usize,
    pub reason: &'static str,
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(
            f,
            "{} at line {} column {}",
            self.reason, self.line, self.column
        )
    }
}

impl std::error::Error for JsonError {}

/// The `reason` of the fault that stands for a failed allocation: the
/// document may be fine (DECISIONS.md N30).
const OUT_OF_MEMORY: &str = "out of memory";

impl JsonError {
    /// True when reading stopped because an allocation failed, not because
    /// the document is malformed.
    pub fn is_out_of_memory(&self) -> bool {
        self.reason == OUT_OF_MEMORY
    }

    /// The error at byte `offset` of `document`, with its line and column.
    pub fn at_offset(document: &[u8], offset: u64, reason: &'static str) -> JsonError {
        let (line, column) = line_and_column(document, offset).unwrap_or((0, 0));
        JsonError {
            line,
            column,
            reason,
        }
    }
}

impl From<crate::OutOfMemory> for JsonError {
    fn from(_: crate::OutOfMemory) -> JsonError {
        JsonError {
            line: 0,
            column: 0,
            reason: OUT_OF_MEMORY,
        }
    }
}

/// Why the reader stopped inside one chunk: `at` is an offset in the bytes
/// it was given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Fault {
    pub(crate) at: usize,
    pub(crate) reason: &'static str,
}

impl From<crate::OutOfMemory> for Fault {
    fn from(_: crate::OutOfMemory) -> Fault {
        Fault {
            at: 0,
            reason: OUT_OF_MEMORY,
        }
    }
}

impl Fault {
    fn is_out_of_memory(&self) -> bool {
        self.reason == OUT_OF_MEMORY
    }
}

/// Why a whole document could not be read.
#[derive(Debug)]
pub enum ReadError {
    /// Not JSON we accept: the reason, at this byte offset of the document.
    Syntax { offset: u64, reason: &'static str },
    /// An allocation failed (N30): says nothing about the document.
    OutOfMemory,
    /// The source failed (the errno is in the error).
    Io(io::Error),
    /// More than the caller's limit of bytes (N5).
    TooLarge { bytes: u64 },
}

impl From<crate::OutOfMemory> for ReadError {
    fn from(_: crate::OutOfMemory) -> ReadError {
        ReadError::OutOfMemory
    }
}

impl ReadError {
    /// As a [`JsonError`] located in `document`, the bytes that were read
    /// (`Io` and `TooLarge` cannot happen for a slice).
    pub fn into_json_error(self, document: &[u8]) -> JsonError {
        match self {
            ReadError::Syntax { offset, reason } => JsonError::at_offset(document, offset, reason),
            ReadError::OutOfMemory => JsonError::from(crate::OutOfMemory),
            ReadError::Io(_) => JsonError::at_offset(document, 0, "read error"),
            ReadError::TooLarge { .. } => JsonError::at_offset(document, 0, "too large"),
        }
    }
}

/// A string value that is text: valid UTF-8 either way.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Text<'a> {
    /// Borrowed from the buffer, found to be ASCII by the scan that found
    /// its end (no separate UTF-8 check: most strings in lease files).
    Ascii(&'a [u8]),
    Str(Cow<'a, str>),
}

impl Text<'_> {
    pub(crate) fn as_bytes(&self) -> &[u8] {
        match self {
            Text::Ascii(bytes) => bytes,
            Text::Str(text) => text.as_bytes(),
        }
    }
}

/// A JSON value reduced to what the lease parsers care about.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Scalar<'a> {
    Str(Text<'a>),
    /// A string that held bytes that are not UTF-8 or a lone surrogate
    /// escape, read as U+FFFD: it may be shown, but it must match no name
    /// (DECISIONS.md N27), not even a query spelling out those U+FFFD.
    Garbled(Cow<'a, str>),
    Int(i64),
    Null,
    /// Anything else: a fraction or exponent, an integer beyond `i64`, a
    /// bool, an array, an object.
    Other,
}

/// A string token as found: its raw bytes when it has no escapes, and
/// whether they are ASCII (else not yet checked for UTF-8); else the
/// decoded text and whether it is text.
enum RawString<'a> {
    Plain(&'a [u8], bool),
    Escaped(String, bool),
}

pub(crate) struct JsonReader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> JsonReader<'a> {
    /// A reader over a whole document in memory.
    pub(crate) fn new(bytes: &'a [u8]) -> JsonReader<'a> {
        JsonReader { bytes, pos: 0 }
    }

    fn fail<T>(&self, reason: &'static str) -> Result<T, Fault> {
        Err(Fault {
            at: self.pos,
            reason,
        })
    }

    fn skip_whitespace(&mut self) {
        let bytes = self.bytes;
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = bytes.get(self.pos) {
            self.pos += 1;
        }
    }

    /// The next significant byte, without consuming it.
    pub(crate) fn peek(&mut self) -> Option<u8> {
        self.skip_whitespace();
        self.bytes.get(self.pos).copied()
    }

    /// True when only whitespace is left.
    pub(crate) fn at_end(&mut self) -> bool {
        self.peek().is_none()
    }

    /// Requires that only whitespace is left.
    #[cfg(test)]
    pub(crate) fn finish(&mut self) -> Result<(), Fault> {
        if self.at_end() {
            Ok(())
        } else {
            self.fail("trailing characters")
        }
    }

    fn expect(&mut self, byte: u8, reason: &'static str) -> Result<(), Fault> {
        if self.peek() == Some(byte) {
            self.pos += 1;
            Ok(())
        } else {
            self.fail(reason)
        }
    }

    /// Consumes `[` and returns a cursor over the elements.
    pub(crate) fn array(&mut self) -> Result<ArrayCursor, Fault> {
        self.expect(b'[', "expected an array")?;
        Ok(ArrayCursor { first: true })
    }

    /// Consumes `{` and returns a cursor over the members.
    pub(crate) fn object(&mut self) -> Result<ObjectCursor, Fault> {
        self.expect(b'{', "expected an object")?;
        Ok(ObjectCursor { first: true })
    }

    /// Reads a string, an integer or null; any other value is skipped (at
    /// `depth` levels of nesting already) and reported as `Other`.
    pub(crate) fn scalar(&mut self, depth: usize) -> Result<Scalar<'a>, Fault> {
        match self.peek() {
            Some(b'"') => self.string(),
            Some(b'-' | b'0'..=b'9') => Ok(self.number()?.map_or(Scalar::Other, Scalar::Int)),
            Some(b'n') => self.literal("null").map(|()| Scalar::Null),
            _ => self.skip_value(depth).map(|()| Scalar::Other),
        }
    }

    /// Skips one value of any kind, nested at most `MAX_DEPTH - depth` levels.
    ///
    /// Without recursion: the containers it is inside are one bit each (set
    /// for an object) in a `u128`, so skipping the deepest accepted document
    /// costs one small frame, whatever its depth; a lookup on a thread with a
    /// 16 KiB stack cannot overflow here (DECISIONS.md N28).
    pub(crate) fn skip_value(&mut self, depth: usize) -> Result<(), Fault> {
        const _: () = assert!(MAX_DEPTH <= u128::BITS as usize);
        let mut objects: u128 = 0;
        let mut open = 0usize;
        loop {
            // One value; a container that holds something is entered.
            let entered = match self.peek() {
                Some(b'"') => self.raw_string().map(|_| false),
                Some(b'-' | b'0'..=b'9') => self.number().map(|_| false),
                Some(b't') => self.literal("true").map(|()| false),
                Some(b'f') => self.literal("false").map(|()| false),
                Some(b'n') => self.literal("null").map(|()| false),
                Some(b'[' | b'{') if depth + open >= MAX_DEPTH => self.fail("nesting too deep"),
                Some(b'[') => {
                    objects &= !(1 << open);
                    let mut array = self.array()?;
                    array.next(self)
                }
                Some(b'{') => {
                    objects |= 1 << open;
                    let mut object = self.object()?;
                    object.next_key(self).map(|key| key.is_some())
                }
                Some(_) => self.fail("expected a value"),
                None => self.fail("unexpected end of file"),
            }?;
            if entered {
                open += 1;
                continue;
            }
            // That value is done: close every container it completes, until
            // one has a next element (then skip that) or none is left.
            loop {
                let Some(level) = open.checked_sub(1) else {
                    return Ok(());
                };
                let more = if objects & (1 << level) != 0 {
                    ObjectCursor { first: false }.next_key(self)?.is_some()
                } else {
                    ArrayCursor { first: false }.next(self)?
                };
                if more {
                    break;
                }
                open = level;
            }
        }
    }

    fn literal(&mut self, word: &'static str) -> Result<(), Fault> {
        if self.bytes[self.pos..].starts_with(word.as_bytes()) {
            self.pos += word.len();
            Ok(())
        } else {
            self.fail("expected a value")
        }
    }
    /// Reads a number: `Some` for an integer that fits `i64`, `None` for any
    /// other valid number.
    fn number(&mut self) -> Result<Option<i64>, Fault> {
        let bytes = self.bytes;
        let start = self.pos;
        let mut pos = start;
        let negative = bytes.get(pos) == Some(&b'-');
        pos += negative as usize;
        let digits = pos;
        match bytes.get(pos) {
            Some(b'0') => pos += 1,
            Some(b'1'..=b'9') => {
                while let Some(b'0'..=b'9') = bytes.get(pos) {
                    pos += 1;
                }
            }
            _ => {
                self.pos = pos;
                return self.fail("invalid number");
            }
        }
        let integer_end = pos;
        let mut is_integer = true;
        if bytes.get(pos) == Some(&b'.') {
            is_integer = false;
            pos += 1;
            pos = self.digits(pos)?;
        }
        if let Some(b'e' | b'E') = bytes.get(pos) {
            is_integer = false;
            pos += 1;
            if let Some(b'+' | b'-') = bytes.get(pos) {
                pos += 1;
            }
            pos = self.digits(pos)?;
        }
        self.pos = pos;
        if !is_integer {
            return Ok(None);
        }
        // At most 19 digits can fit; accumulate negatively so i64::MIN fits.
        let mut value: i64 = 0;
        for &digit in &bytes[digits..integer_end] {
            value = match value
                .checked_mul(10)
                .and_then(|v| v.checked_sub(i64::from(digit - b'0')))
            {
                Some(v) => v,
                None => return Ok(None),
            };
        }
        Ok(if negative {
            Some(value)
        } else {
            value.checked_neg()
        })
    }

    /// One or more digits from `pos`; returns the position after them.
    fn digits(&mut self, mut pos: usize) -> Result<usize, Fault> {
        let bytes = self.bytes;
        let start = pos;
        while let Some(b'0'..=b'9') = bytes.get(pos) {
            pos += 1;
        }
        if pos == start {
            self.pos = pos;
            return self.fail("invalid number");
        }
        Ok(pos)
    }

    /// Reads a string, borrowed from the buffer unless it has escapes:
    /// [`Scalar::Garbled`] when it held bytes that are not UTF-8 (read as
    /// U+FFFD, as `from_utf8_lossy` does) or a lone surrogate escape.
    fn string(&mut self) -> Result<Scalar<'a>, Fault> {
        Ok(match self.raw_string()? {
            RawString::Plain(bytes, true) => Scalar::Str(Text::Ascii(bytes)),
            RawString::Plain(bytes, false) => match std::str::from_utf8(bytes) {
                Ok(text) => Scalar::Str(Text::Str(Cow::Borrowed(text))),
                Err(_) => Scalar::Garbled(Cow::Owned(lossy(bytes, String::new())?)),
            },
            RawString::Escaped(text, true) => Scalar::Str(Text::Str(Cow::Owned(text))),
            RawString::Escaped(text, false) => Scalar::Garbled(Cow::Owned(text)),
        })
    }

    /// A string token. Bytes that are not UTF-8 are only checked when the
    /// caller looks at the text: a quote or backslash cannot be part of a
    /// multi-byte sequence, so the token's extent is the same either way.
    fn raw_string(&mut self) -> Result<RawString<'a>, Fault> {
        self.expect(b'"', "expected a string")?;
        let bytes = self.bytes;
        let start = self.pos;
        let (pos, ascii) = skip_plain_string_bytes(bytes, start);
        match bytes.get(pos) {
            Some(b'"') => {
                self.pos = pos + 1;
                Ok(RawString::Plain(&bytes[start..pos], ascii))
            }
            Some(b'\\') => {
                self.pos = pos;
                let (decoded, is_text) = self.escaped_string(start)?;
                Ok(RawString::Escaped(decoded, is_text))
            }
            Some(_) => {
                self.pos = pos;
                self.fail("control character in string")
            }
            None => {
                self.pos = pos;
                self.fail("unterminated string")
            }
        }
    }

    /// The slow path of [`raw_string`](Self::raw_string): decodes escapes,
    /// from the string's first byte at `start`; `self.pos` is at the first
    /// backslash. Also says whether the result is text: no lone surrogate
    /// escape, no bytes that are not UTF-8.
    fn escaped_string(&mut self, start: usize) -> Result<(String, bool), Fault> {
        let bytes = self.bytes;
        let mut decoded = String::new();
        let mut is_text = true;
        let mut run_start = start;
        loop {
            self.pos = skip_plain_string_bytes(bytes, self.pos).0;
            let run = &bytes[run_start..self.pos];
            // Room for the run and one escaped char (at most 4 bytes).
            decoded
                .try_reserve(run.len() + 4)
                .map_err(crate::OutOfMemory::from)?;
            match std::str::from_utf8(run) {
                Ok(run) => decoded.push_str(run),
                Err(_) => {
                    decoded = lossy(run, decoded)?;
                    is_text = false;
                    decoded.try_reserve(4).map_err(crate::OutOfMemory::from)?;
                }
            }
            match bytes.get(self.pos) {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok((decoded, is_text));
                }
                Some(b'\\') => {
                    self.pos += 1;
                    let escaped = match bytes.get(self.pos) {
                        Some(b'"') => '"',
                        Some(b'\\') => '\\',
                        Some(b'/') => '/',
                        Some(b'b') => '\u{8}',
                        Some(b'f') => '\u{c}',
                        Some(b'n') => '\n',
                        Some(b'r') => '\r',
                        Some(b't') => '\t',
                        Some(b'u') => {
                            self.pos += 1;
                            let (char, paired) = self.unicode_escape()?;
                            is_text &= paired;
                            decoded.push(char);
                            run_start = self.pos;
                            continue;
                        }
                        _ => return self.fail("invalid escape"),
                    };
                    self.pos += 1;
                    decoded.push(escaped);
                    run_start = self.pos;
                }
                Some(_) => return self.fail("control character in string"),
                None => return self.fail("unterminated string"),
            }
        }
    }

    /// After `\u`: four hex digits, combining a surrogate pair. A lone
    /// surrogate (a high one not followed by `\u` and a low one, or a low one
    /// alone) is read as U+FFFD, like bytes that are not UTF-8: it costs only
    /// its own string, not the file (DECISIONS.md N26); an escape after a
    /// lone high surrogate is read on its own. The flag is false for a lone
    /// surrogate.
    fn unicode_escape(&mut self) -> Result<(char, bool), Fault> {
        let high = self.hex4()?;
        let code = match high {
            0xD800..=0xDBFF => {
                let low = self.bytes[self.pos..]
                    .strip_prefix(b"\\u")
                    .and_then(|rest| rest.get(..4))
                    .and_then(hex_value)
                    .filter(|low| (0xDC00..=0xDFFF).contains(low));
                match low {
                    Some(low) => {
                        self.pos += 6;
                        0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)
                    }
                    None => return Ok((char::REPLACEMENT_CHARACTER, false)),
                }
            }
            0xDC00..=0xDFFF => return Ok((char::REPLACEMENT_CHARACTER, false)),
            code => code,
        };
        char::from_u32(code).map_or_else(|| self.fail("invalid escape"), |c| Ok((c, true)))
    }

    fn hex4(&mut self) -> Result<u32, Fault> {
        match self.bytes.get(self.pos..self.pos + 4).and_then(hex_value) {
            Some(value) => {
                self.pos += 4;
                Ok(value)
            }
            None => self.fail("invalid \\u escape"),
        }
    }
}

/// The value of four hex digits.
fn hex_value(digits: &[u8]) -> Option<u32> {
    digits.iter().try_fold(0u32, |value, &digit| {
        Some(value << 4 | char::from(digit).to_digit(16)?)
    })
}

/// `decoded` followed by `bytes` read as `String::from_utf8_lossy` does,
/// allocating fallibly (N30).
fn lossy(bytes: &[u8], mut decoded: String) -> Result<String, crate::OutOfMemory> {
    for chunk in bytes.utf8_chunks() {
        decoded.try_reserve(chunk.valid().len() + 3)?;
        decoded.push_str(chunk.valid());
        if !chunk.invalid().is_empty() {
            decoded.push(char::REPLACEMENT_CHARACTER);
        }
    }
    Ok(decoded)
}

/// Walks the elements of an array opened by [`JsonReader::array`].
pub(crate) struct ArrayCursor {
    first: bool,
}

impl ArrayCursor {
    /// True when an element follows (the caller must then read or skip it);
    /// false after the closing `]`.
    pub(crate) fn next(&mut self, reader: &mut JsonReader) -> Result<bool, Fault> {
        match reader.peek() {
            Some(b']') => {
                reader.pos += 1;
                Ok(false)
            }
            Some(b',') if !self.first => {
                reader.pos += 1;
                Ok(true)
            }
            Some(_) if self.first => {
                self.first = false;
                Ok(true)
            }
            Some(_) => reader.fail("expected ',' or ']'"),
            None => reader.fail("unexpected end of file"),
        }
    }
}

/// Walks the members of an object opened by [`JsonReader::object`].
pub(crate) struct ObjectCursor {
    first: bool,
}

impl ObjectCursor {
    /// The next member's name, with the reader positioned at its value (which
    /// the caller must read or skip); `None` after the closing `}`. The name
    /// is raw bytes when it has no escapes: one that is not UTF-8 equals no
    /// name a caller looks for, checked or not.
    pub(crate) fn next_key<'a>(
        &mut self,
        reader: &mut JsonReader<'a>,
    ) -> Result<Option<Cow<'a, [u8]>>, Fault> {
        if !self.open_member(reader)? {
            return Ok(None);
        }
        let key = match reader.raw_string()? {
            RawString::Plain(bytes, _) => Cow::Borrowed(bytes),
            RawString::Escaped(text, _) => Cow::Owned(text.into_bytes()),
        };
        reader.expect(b':', "expected ':'")?;
        Ok(Some(key))
    }

    /// [`next_key`](Self::next_key) for a caller that only tells `names`
    /// apart: the index of the member's name among them, or [`Key::Other`].
    /// A name spelled without escapes is matched in place, without
    /// scanning it as a string first (most members of a lease file).
    // Inlined, so that each caller's names are constants: compared in
    // place of `memcmp` calls.
    #[inline(always)]
    pub(crate) fn next_key_among(
        &mut self,
        reader: &mut JsonReader,
        names: &[&[u8]],
    ) -> Result<Option<Key>, Fault> {
        if !self.open_member(reader)? {
            return Ok(None);
        }
        if reader.peek() == Some(b'"') {
            let after_quote = &reader.bytes[reader.pos + 1..];
            for (i, name) in names.iter().enumerate() {
                if after_quote.get(name.len()) == Some(&b'"') && after_quote.starts_with(name) {
                    reader.pos += name.len() + 2;
                    reader.expect(b':', "expected ':'")?;
                    return Ok(Some(Key::Known(i)));
                }
            }
        }
        let key = match reader.raw_string()? {
            RawString::Plain(bytes, _) => Cow::Borrowed(bytes),
            RawString::Escaped(text, _) => Cow::Owned(text.into_bytes()),
        };
        reader.expect(b':', "expected ':'")?;
        Ok(Some(
            names
                .iter()
                .position(|name| *name == &*key)
                .map_or(Key::Other, Key::Known),
        ))
    }

    /// Consumes what comes before a member's name (`,` after the first);
    /// false, after consuming it, at the closing `}`.
    fn open_member(&mut self, reader: &mut JsonReader) -> Result<bool, Fault> {
        match reader.peek() {
            Some(b'}') => {
                reader.pos += 1;
                return Ok(false);
            }
            Some(b',') if !self.first => reader.pos += 1,
            Some(b'"') if self.first => {}
            Some(_) if self.first => return reader.fail("expected a member name or '}'"),
            Some(_) => return reader.fail("expected ',' or '}'"),
            None => return reader.fail("unexpected end of file"),
        }
        self.first = false;
        Ok(true)
    }
}

/// A member's name, as [`ObjectCursor::next_key_among`] tells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Key {
    /// The index of the name among those the caller gave.
    Known(usize),
    Other,
}

/// The position of the first byte at or after `pos` that ends a run of plain
/// string content: a quote, a backslash or a control character (or the end);
/// and whether the run is ASCII. Eight bytes at a time: this loop is most of
/// the cost of a cold parse.
fn skip_plain_string_bytes(bytes: &[u8], mut pos: usize) -> (usize, bool) {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH_BITS: u64 = 0x80 * ONES;
    // Sets bit 7 of the lowest byte of `word` below `n` (n <= 0x80); higher
    // bytes may show false positives, which `trailing_zeros` never looks at.
    let below = |word: u64, n: u64| word.wrapping_sub(n * ONES) & !word & HIGH_BITS;
    // Bit 7 of each byte of the run so far, OR-ed.
    let mut high = 0;
    while let Some(chunk) = bytes.get(pos..pos + 8) {
        let mut eight = [0u8; 8];
        eight.copy_from_slice(chunk);
        let word = u64::from_le_bytes(eight);
        let special = below(word ^ (u64::from(b'"') * ONES), 1)
            | below(word ^ (u64::from(b'\\') * ONES), 1)
            | below(word, 0x20);
        if special != 0 {
            let run = special.trailing_zeros() / 8;
            // The bytes of the word before the special one.
            let before = (1u64 << (run * 8)).wrapping_sub(1);
            high |= word & before;
            return (pos + run as usize, high & HIGH_BITS == 0);
        }
        high |= word;
        pos += 8;
    }
    while let Some(&b) = bytes.get(pos) {
        if b == b'"' || b == b'\\' || b < 0x20 {
            break;
        }
        high |= u64::from(b);
        pos += 1;
    }
    (pos, high & HIGH_BITS == 0)
}

/// Line and column (1-based, in bytes) of byte `offset` of the document
/// `source` reads from its start; `None` when reading fails. Worked out only
/// for messages: the reader itself keeps no count.
pub(crate) fn line_and_column(mut source: impl Read, offset: u64) -> Option<(usize, usize)> {
    let mut chunk = [0u8; 4096];
    let (mut line, mut column) = (1, 1);
    let mut left = offset;
    while left > 0 {
        let want = chunk.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let n = match source.read(&mut chunk[..want]) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => return None,
        };
        for &byte in &chunk[..n] {
            if byte == b'\n' {
                line += 1;
                column = 1;
            } else {
                column += 1;
            }
        }
        left -= n as u64;
    }
    Some((line, column))
}

/// What comes next in the top-level array.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// `[`, or only whitespace (a blank document is an empty array).
    Open,
    /// The first element or `]`.
    First,
    /// `,` and an element, or `]`.
    Next,
    /// Only whitespace.
    End,
}

/// The read buffer: `bytes[start..filled]` is read and not yet consumed,
/// `bytes[0]` is byte `base` of the document.
struct Chunks<R> {
    source: R,
    bytes: Vec<u8>,
    start: usize,
    filled: usize,
    base: u64,
    eof: bool,
    limit: u64,
}

impl<R: Read> Chunks<R> {
    /// Keeps the unconsumed bytes, makes room (growing the buffer only when
    /// they fill it) and reads until the buffer is full or the source ends.
    fn read_more(&mut self) -> Result<(), ReadError> {
        if self.start > 0 {
            self.bytes.copy_within(self.start..self.filled, 0);
            self.base += self.start as u64;
            self.filled -= self.start;
            self.start = 0;
        }
        if self.filled == self.bytes.len() {
            let grown = grown_len(self.bytes.len(), self.base, self.limit);
            self.bytes
                .try_reserve_exact(grown - self.bytes.len())
                .map_err(crate::OutOfMemory::from)?;
            self.bytes.resize(grown, 0);
        }
        while self.filled < self.bytes.len() {
            match self.source.read(&mut self.bytes[self.filled..]) {
                Ok(0) => {
                    self.eof = true;
                    break;
                }
                Ok(n) => self.filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(ReadError::Io(e)),
            }
            if self.base + self.filled as u64 > self.limit {
                return Err(ReadError::TooLarge {
                    bytes: self.base + self.filled as u64,
                });
            }
        }
        Ok(())
    }
}

/// The buffer's next length when an element fills it: twice as long, but
/// never longer than the document may be (`limit` bytes, plus one to see
/// that it is longer), so that one element as large as the 32 MiB cap costs
/// no 64 MiB buffer.
fn grown_len(len: usize, base: u64, limit: u64) -> usize {
    let most = usize::try_from(limit.saturating_sub(base).saturating_add(1)).unwrap_or(usize::MAX);
    (len.max(64) * 2).min(most).max(len + 1)
}

/// Visits the elements of a top-level array read from `source`, calling
/// `on_object` for each object (positioned at its `{`) and skipping elements
/// of any other type. A blank document is an empty array. `size_hint` (the
/// file's size, if known) sizes the buffer for a small file; more than
/// `limit` bytes is [`ReadError::TooLarge`].
///
/// `on_object` may be called again for the same object, when the object was
/// cut by the end of the buffer: it must change nothing before it has read
/// the object whole (a syntax fault from it means "not whole yet" until the
/// document's end has been read).
///
/// Bytes that are not UTF-8 are read as U+FFFD where they are handed out, so
/// they cost only the string they are in (which then matches no query,
/// N27): the lease helper, like yajl, checks UTF-8 only structurally and may
/// keep an overlong form it was given, and that must not take down every
/// name of the network (DECISIONS.md N3, N4). Outside strings such bytes are
/// a syntax error.
pub(crate) fn for_each_object_in_array<R: Read>(
    source: R,
    size_hint: u64,
    limit: u64,
    mut on_object: impl for<'t> FnMut(&mut JsonReader<'t>) -> Result<(), Fault>,
) -> Result<(), ReadError> {
    let first = usize::try_from(size_hint.saturating_add(1))
        .unwrap_or(CHUNK_BYTES)
        .clamp(64, CHUNK_BYTES);
    let mut bytes = Vec::new();
    bytes
        .try_reserve_exact(first)
        .map_err(crate::OutOfMemory::from)?;
    bytes.resize(first, 0);
    let mut chunks = Chunks {
        source,
        bytes,
        start: 0,
        filled: 0,
        base: 0,
        eof: false,
        limit,
    };
    chunks.read_more()?;
    let mut expect = Expect::Open;
    loop {
        let mut reader = JsonReader::new(&chunks.bytes[chunks.start..chunks.filled]);
        let step = step(&mut reader, &mut expect, chunks.eof, &mut on_object);
        match step {
            Ok(Step::Consumed) => chunks.start += reader.pos,
            Ok(Step::Done) => return Ok(()),
            Err(fault) if fault.is_out_of_memory() => return Err(ReadError::OutOfMemory),
            Ok(Step::NeedMore) if !chunks.eof => {
                chunks.start += reader.pos;
                chunks.read_more()?;
            }
            // Perhaps only cut short: try the step again with more bytes.
            Err(_) if !chunks.eof => chunks.read_more()?,
            // `step` asks for more only before the end; were it to at the
            // end, the document would be cut short (no panic in a host).
            Ok(Step::NeedMore) => {
                return Err(ReadError::Syntax {
                    offset: chunks.base + chunks.filled as u64,
                    reason: "unexpected end of file",
                })
            }
            Err(fault) => {
                return Err(ReadError::Syntax {
                    offset: chunks.base + (chunks.start + fault.at) as u64,
                    reason: fault.reason,
                })
            }
        }
    }
}

enum Step {
    /// Something was consumed (`reader.pos` bytes).
    Consumed,
    /// Only the next bytes can tell; `reader.pos` bytes (whitespace) are
    /// consumed.
    NeedMore,
    /// The document ended well.
    Done,
}

/// One step through the top-level array on the bytes read so far. A fault
/// before `eof` may only mean that the bytes are cut short: the caller reads
/// more and tries the step again.
fn step<'t>(
    reader: &mut JsonReader<'t>,
    expect: &mut Expect,
    eof: bool,
    on_object: &mut impl FnMut(&mut JsonReader<'t>) -> Result<(), Fault>,
) -> Result<Step, Fault> {
    let Some(next) = reader.peek() else {
        // Only whitespace (consumed) so far.
        return Ok(match (*expect, eof) {
            (_, false) => Step::NeedMore,
            (Expect::Open | Expect::End, true) => Step::Done,
            (Expect::First | Expect::Next, true) => reader.fail("unexpected end of file")?,
        });
    };
    match *expect {
        Expect::Open => {
            reader.array()?;
            *expect = Expect::First;
            return Ok(Step::Consumed);
        }
        Expect::End => return reader.fail("trailing characters"),
        _ if next == b']' => {
            reader.pos += 1;
            *expect = Expect::End;
            return Ok(Step::Consumed);
        }
        Expect::First => {}
        Expect::Next => {
            // The comma is consumed with the element that follows it.
            let mut cursor = ArrayCursor { first: false };
            cursor.next(reader)?;
        }
    }
    if reader.peek() == Some(b'{') {
        // Whole once read without a fault: `}` cannot be cut short.
        on_object(reader)?;
    } else {
        reader.skip_value(1)?;
        // A number at the end of the bytes may go on in the next ones.
        if !eof && reader.at_end() {
            reader.pos = 0;
            return Ok(Step::NeedMore);
        }
    }
    *expect = Expect::Next;
    Ok(Step::Consumed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scalars(text: &str) -> Result<Vec<Scalar<'_>>, Fault> {
        let mut reader = JsonReader::new(text.as_bytes());
        let mut array = reader.array()?;
        let mut out = Vec::new();
        while array.next(&mut reader)? {
            out.push(reader.scalar(1)?);
        }
        reader.finish()?;
        Ok(out)
    }

    fn accepts(text: &str) -> bool {
        let mut reader = JsonReader::new(text.as_bytes());
        reader.skip_value(0).and_then(|()| reader.finish()).is_ok()
    }

    #[test]
    fn strings_borrow_unless_escaped() {
        let values =
            scalars(r#"["plain", "fe\u0064ora", "tab\tq\"\\\/\b\f\n\r", "\ud83d\ude00", "é"]"#)
                .unwrap();
        assert_eq!(values[0], Scalar::Str(Text::Ascii(b"plain")));
        assert_eq!(
            values[1],
            Scalar::Str(Text::Str(Cow::Owned("fedora".into())))
        );
        assert_eq!(
            values[2],
            Scalar::Str(Text::Str(Cow::Owned("tab\tq\"\\/\u{8}\u{c}\n\r".into())))
        );
        assert_eq!(values[3], Scalar::Str(Text::Str(Cow::Owned("😀".into()))));
        assert!(matches!(
            &values[4],
            Scalar::Str(Text::Str(Cow::Borrowed("é")))
        ));
    }

    #[test]
    fn lone_surrogate_escapes_read_as_replacement_characters() {
        let values = scalars(
            r#"["\ud800", "a\udc00b", "\ud800\u0041", "\udbff\ud800\udc00", "\ud800\\u", "\ud83d\ude00", "\ufffd"]"#,
        )
        .unwrap();
        let texts: Vec<&str> = values
            .iter()
            .map(|v| match v {
                Scalar::Garbled(s) => &**s,
                _ => "(text)",
            })
            .collect();
        assert_eq!(
            texts,
            vec![
                "\u{fffd}",
                "a\u{fffd}b",
                "\u{fffd}A",
                "\u{fffd}\u{10000}",
                "\u{fffd}\\u",
                "(text)",
                "(text)"
            ]
        );
        assert!(!accepts(r#""\ud800\u12""#));
        assert!(!accepts(r#""\ud800\uzzzz""#));
    }

    #[test]
    fn numbers_integers_and_others() {
        let values = scalars("[0, -0, 42, -9223372036854775808, 9223372036854775807, 9223372036854775808, 1.5, 1e3, -2E-2, null, true, [1], {\"a\": 1}]").unwrap();
        assert_eq!(
            values,
            vec![
                Scalar::Int(0),
                Scalar::Int(0),
                Scalar::Int(42),
                Scalar::Int(i64::MIN),
                Scalar::Int(i64::MAX),
                Scalar::Other,
                Scalar::Other,
                Scalar::Other,
                Scalar::Other,
                Scalar::Null,
                Scalar::Other,
                Scalar::Other,
                Scalar::Other,
            ]
        );
    }

    #[test]
    fn accepts_exactly_json() {
        for good in [
            "[]",
            " [ 1 , \"x\" , { } , [ ] ] \n",
            "{\"a\": [true, false, null]}",
            "\"\"",
            "-0.0e+1",
            "1e999",
        ] {
            assert!(accepts(good), "{good}");
        }
        for bad in [
            "",
            "[",
            "]",
            "[1,]",
            "[,1]",
            "[1 2]",
            "{\"a\" 1}",
            "{\"a\": 1,}",
            "{1: 2}",
            "01",
            "1.",
            ".5",
            "-",
            "1e",
            "+1",
            "tru",
            "nul",
            "\"a",
            "\"a\tb\"",
            "\"\\x\"",
            "\"\\u12\"",
            "[] []",
            "\u{feff}[]",
            "/* c */ []",
            "[NaN]",
            "{\"a\":1}}",
        ] {
            assert!(!accepts(bad), "{bad:?}");
        }
    }

    #[test]
    fn bytes_that_are_not_utf8_cost_only_their_string() {
        let mut strings = Vec::new();
        let mut collect = |bytes: &[u8]| {
            strings.clear();
            for_each_object_in_array(bytes, bytes.len() as u64, u64::MAX, |reader| {
                let mut object = reader.object()?;
                while object.next_key(reader)?.is_some() {
                    match reader.scalar(2)? {
                        Scalar::Str(s) => {
                            strings.push(String::from_utf8(s.as_bytes().to_vec()).unwrap())
                        }
                        Scalar::Garbled(s) => strings.push(format!("garbled {s}")),
                        _ => {}
                    }
                }
                Ok(())
            })
            .map(|()| strings.clone())
            .map_err(|e| format!("{e:?}"))
        };
        assert_eq!(
            collect(b"[{\"a\": \"h\xc0\x80\", \"b\": \"ok\"}, {\"c\": \"caf\xc3\xa9\"}]"),
            Ok(vec![
                "garbled h\u{fffd}\u{fffd}".to_owned(),
                "ok".to_owned(),
                "caf\u{e9}".to_owned()
            ])
        );
        // A U+FFFD spelled in the file, raw or escaped, is text; one put in
        // place of bytes that are not UTF-8 is not, escapes or not.
        assert_eq!(
            collect(b"[{\"a\": \"x\xef\xbf\xbd\", \"b\": \"\\ufffd\\n\xff\", \"c\": \"\\ufffd\xef\xbf\xbd\"}, \"\xfe\", {\"d\": \"\xef\xbf\xbd\"}]"),
            Ok(vec![
                "x\u{fffd}".to_owned(),
                "garbled \u{fffd}\n\u{fffd}".to_owned(),
                "\u{fffd}\u{fffd}".to_owned(),
                "\u{fffd}".to_owned()
            ])
        );
        assert!(collect(b"[{\"a\": 1}\xff]").is_err());
    }

    #[test]
    fn nesting_is_bounded() {
        assert!(accepts(&format!(
            "{}{}",
            "[".repeat(MAX_DEPTH),
            "]".repeat(MAX_DEPTH)
        )));
        assert!(!accepts(&format!(
            "{}{}",
            "[".repeat(MAX_DEPTH + 1),
            "]".repeat(MAX_DEPTH + 1)
        )));
        assert!(accepts(&format!(
            "{}1{}",
            "{\"a\": [".repeat(MAX_DEPTH / 2),
            "]}".repeat(MAX_DEPTH / 2)
        )));
        assert!(!accepts(&format!(
            "{}[]{}",
            "{\"a\": [".repeat(MAX_DEPTH / 2),
            "]}".repeat(MAX_DEPTH / 2)
        )));
        assert!(accepts(
            r#"{"a": [{"b": [1, {"c": {}}, []]}, [], {}], "d": "x", "e": [[[]], [{}]]}"#
        ));
        assert!(!accepts(&"[".repeat(200_000)));
        assert!(!accepts(&"{\"a\":".repeat(200_000)));
    }

    #[test]
    fn names_are_told_apart_with_or_without_escapes() {
        let document = br#"{"hostname": 1, "host\u006eame": 2, "hostnames": 3, "hostnam": 4,
            "ip": 5, "hostname" : 6, "h\u00e9": 7, "hostname\"": 8, "": 9}"#;
        let mut reader = JsonReader::new(document);
        let mut object = reader.object().unwrap();
        let mut keys = Vec::new();
        while let Some(key) = object
            .next_key_among(&mut reader, &[b"ip", b"hostname"])
            .unwrap()
        {
            keys.push(key);
            reader.skip_value(1).unwrap();
        }
        use Key::{Known, Other};
        let expected = [
            Known(1),
            Known(1),
            Other,
            Other,
            Known(0),
            Known(1),
            Other,
            Other,
            Other,
        ];
        assert_eq!(keys, expected);
        for broken in [
            &br#"{"ip" 1}"#[..],
            br#"{"ip": 1,}"#,
            br#"{"ip": 1 "x": 2}"#,
        ] {
            let mut reader = JsonReader::new(broken);
            let mut object = reader.object().unwrap();
            let result = (|| {
                while object.next_key_among(&mut reader, &[b"ip"])?.is_some() {
                    reader.skip_value(1)?;
                }
                Ok::<_, Fault>(())
            })();
            assert!(result.is_err(), "{}", String::from_utf8_lossy(broken));
        }
    }

    #[test]
    fn string_scan_stops_at_every_special_byte_in_every_lane() {
        for len in 0..20 {
            for special in [b'"', b'\\', 0x00, 0x1f, b'\n'] {
                let mut bytes = vec![b'a'; len];
                bytes.push(special);
                // Bytes after the end are not part of the run.
                bytes.extend_from_slice(b"\"\xe9xyz\\");
                assert_eq!(
                    skip_plain_string_bytes(&bytes, 0),
                    (len, true),
                    "len {len} byte {special:#x}"
                );
                // One byte that is not ASCII anywhere in the run.
                for at in 0..len {
                    let mut bytes = bytes.clone();
                    bytes[at] = 0xc3;
                    assert_eq!(skip_plain_string_bytes(&bytes, 0), (len, false), "at {at}");
                }
            }
            let plain = vec![0x7fu8; len];
            assert_eq!(skip_plain_string_bytes(&plain, 0), (len, true));
            let high = vec![0xe9u8; len];
            assert_eq!(skip_plain_string_bytes(&high, 0), (len, len == 0));
        }
    }

    #[test]
    fn errors_say_where() {
        let document = b"[\n  {\"a\": 1,\n   }\n]";
        let fault = JsonReader::new(document).skip_value(0).unwrap_err();
        let error = JsonError::at_offset(document, fault.at as u64, fault.reason);
        assert_eq!(
            error,
            JsonError {
                line: 3,
                column: 4,
                reason: "expected a string"
            }
        );
        assert_eq!(error.to_string(), "expected a string at line 3 column 4");
    }

    /// Every event the reader sees in a document: each object's members
    /// (name and scalar), or the error and where.
    fn events(source: impl Read, size_hint: u64) -> Result<Vec<String>, String> {
        let mut events = Vec::new();
        let result = for_each_object_in_array(source, size_hint, u64::MAX, |reader| {
            // Nothing is kept until the object has been read whole.
            let mut members = Vec::new();
            let mut object = reader.object()?;
            while let Some(key) = object.next_key(reader)? {
                let value = reader.scalar(2)?;
                members.push(format!("{}={value:?}", String::from_utf8_lossy(&key)));
            }
            events.push(members.join(","));
            Ok(())
        });
        match result {
            Ok(()) => Ok(events),
            Err(ReadError::Syntax { offset, reason }) => Err(format!("{reason} at {offset}")),
            Err(other) => Err(format!("{other:?}")),
        }
    }

    /// A source that hands out at most `step` bytes per `read`.
    struct Trickle<'a> {
        bytes: &'a [u8],
        step: usize,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = buf.len().min(self.step).min(self.bytes.len());
            buf[..n].copy_from_slice(&self.bytes[..n]);
            self.bytes = &self.bytes[n..];
            Ok(n)
        }
    }

    #[test]
    fn a_document_cut_anywhere_reads_the_same() {
        let body = concat!(
            "[\n  {\"ip-address\": \"10.0.0.1\", \"hostname\": \"caf\\u00e9\", \"n\": -12345678,",
            " \"x\": [1, {\"y\": [true, false, null]}], \"e\": 1.5e-3},\n",
            "  12345, \"top\", [], {}, {\"h\\u0069\": \"\\ud83d\\ude00\", \"z\": \"\\ud800\"},\n",
            "  {\"long\": \"",
            "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123",
            "\"}, 98765\n]\n   "
        );
        let broken = [
            "[{\"a\": 1}, {\"b\": 2,}]",
            "[{\"a\": 1} {\"b\": 2}]",
            "[{\"a\": 1}, 12",
            "[{\"a\": 1}] x",
            "[{\"a\": \"\u{1}\"}]",
            "[1, 2, 3",
            "   ",
            "",
        ];
        for document in std::iter::once(body).chain(broken) {
            let whole = events(document.as_bytes(), document.len() as u64);
            // Pad so that the 64-byte buffer cuts every token somewhere.
            for pad in 0..70 {
                let padded = format!("{}{document}", " ".repeat(pad));
                let shifted = whole.clone().map_err(|e| {
                    let (reason, at) = e.rsplit_once(" at ").unwrap();
                    format!("{reason} at {}", at.parse::<usize>().unwrap() + pad)
                });
                for step in [1, 7, 64] {
                    let trickle = Trickle {
                        bytes: padded.as_bytes(),
                        step,
                    };
                    assert_eq!(
                        events(trickle, 0),
                        shifted,
                        "pad {pad} step {step}: {document}"
                    );
                }
            }
        }
        assert_eq!(whole_events(body).len(), 4);
        assert_eq!(whole_events("   "), Vec::<String>::new());
    }

    fn whole_events(document: &str) -> Vec<String> {
        events(document.as_bytes(), document.len() as u64).unwrap()
    }

    #[test]
    fn more_than_the_limit_is_too_large() {
        let document = format!("[{}1]", " ".repeat(200_000));
        let too_large = for_each_object_in_array(document.as_bytes(), 0, 100_000, |_| Ok(()));
        assert!(
            matches!(too_large, Err(ReadError::TooLarge { .. })),
            "{too_large:?}"
        );
        let fits = for_each_object_in_array(document.as_bytes(), 0, 200_003, |_| Ok(()));
        assert!(fits.is_ok(), "{fits:?}");
    }

    #[test]
    fn the_buffer_grows_by_doubling_up_to_the_limit() {
        assert_eq!(grown_len(CHUNK_BYTES, 0, u64::MAX), 2 * CHUNK_BYTES);
        assert_eq!(grown_len(10, 0, u64::MAX), 128);
        let cap = 32 << 20;
        assert_eq!(grown_len(16 << 20, 0, cap), 32 << 20);
        assert_eq!(grown_len(24 << 20, 0, cap), cap as usize + 1);
        // What is left of the document counts, not its start.
        assert_eq!(grown_len(1 << 20, cap - 1000, cap), (1 << 20) + 1);
        assert_eq!(grown_len(100, cap - 1000, cap), 200);
        // A document of exactly `limit` bytes fits, with one byte to spare.
        let document = format!("[{}]", "1,".repeat(100_000) + "1");
        let limit = document.len() as u64;
        let result = for_each_object_in_array(document.as_bytes(), 0, limit, |_| Ok(()));
        assert!(result.is_ok(), "{result:?}");
        let result = for_each_object_in_array(document.as_bytes(), 0, limit - 1, |_| Ok(()));
        assert!(
            matches!(result, Err(ReadError::TooLarge { .. })),
            "{result:?}"
        );
    }

    #[test]
    fn read_errors_and_interruptions() {
        struct Failing(bool);
        impl Read for Failing {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                // Interrupted once, then a real error.
                if std::mem::replace(&mut self.0, true) {
                    Err(io::Error::from_raw_os_error(libc::EIO))
                } else {
                    buf[0] = b'[';
                    Err(io::Error::from(io::ErrorKind::Interrupted))
                }
            }
        }
        let result = for_each_object_in_array(Failing(false), 0, u64::MAX, |_| Ok(()));
        assert!(
            matches!(&result, Err(ReadError::Io(e)) if e.raw_os_error() == Some(libc::EIO)),
            "{result:?}"
        );
    }
}
