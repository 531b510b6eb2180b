//! A strict, allocation-free JSON reader for the two lease-dir formats.
//!
//! Why not serde_json: a cold lookup parses every lease file of the
//! directory, and on a 10,000-lease `.status` (1.8 MB, pretty-printed, a third
//! of it indentation) serde_json spent ~20 instructions per byte. This reader
//! validates UTF-8 once for the whole file (a word-at-a-time scan), then walks
//! the bytes with tight loops, borrows every string without escapes straight
//! from the file, and skips the members the lookups never read.
//!
//! It accepts exactly RFC 8259 JSON (one value, no comments, no BOM, no
//! trailing commas, no control characters in strings; a lone surrogate
//! escape, which its grammar allows, reads as U+FFFD) and
//! nests at most [`MAX_DEPTH`] levels, so hostile input cannot exhaust the
//! stack. Callers drive it with [`JsonReader::array`] / [`JsonReader::object`]
//! cursors, reading the values they want and skipping the rest.

use std::borrow::Cow;
use std::fmt;

/// Deeper documents are rejected (serde_json's default limit too).
pub(crate) const MAX_DEPTH: usize = 128;

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

/// The `reason` of the error that stands for a failed allocation: the
/// document may be fine (DECISIONS.md N30).
const OUT_OF_MEMORY: &str = "out of memory";

impl JsonError {
    /// True when reading stopped because an allocation failed, not because
    /// the document is malformed.
    pub fn is_out_of_memory(&self) -> bool {
        self.reason == OUT_OF_MEMORY
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

/// A JSON value reduced to what the lease parsers care about.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Scalar<'a> {
    Str(Cow<'a, str>),
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

pub(crate) struct JsonReader<'a> {
    text: &'a str,
    pos: usize,
    /// Offsets in `text` of the U+FFFD that stand for bytes that were not
    /// UTF-8, ascending (empty for a file that was valid UTF-8).
    replaced: &'a [u32],
}

impl<'a> JsonReader<'a> {
    /// A reader over `text` (tests build one directly; the lease parsers go
    /// through [`for_each_object_in_array`]).
    #[cfg(test)]
    pub(crate) fn new(text: &'a str) -> JsonReader<'a> {
        JsonReader {
            text,
            pos: 0,
            replaced: &[],
        }
    }

    fn bytes(&self) -> &'a [u8] {
        self.text.as_bytes()
    }

    fn fail<T>(&self, reason: &'static str) -> Result<T, JsonError> {
        Err(error_at(self.bytes(), self.pos, reason))
    }

    fn skip_whitespace(&mut self) {
        let bytes = self.bytes();
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = bytes.get(self.pos) {
            self.pos += 1;
        }
    }

    /// The next significant byte, without consuming it.
    pub(crate) fn peek(&mut self) -> Option<u8> {
        self.skip_whitespace();
        self.bytes().get(self.pos).copied()
    }

    /// True when only whitespace is left.
    pub(crate) fn at_end(&mut self) -> bool {
        self.peek().is_none()
    }

    /// Requires that only whitespace is left.
    pub(crate) fn finish(&mut self) -> Result<(), JsonError> {
        if self.at_end() {
            Ok(())
        } else {
            self.fail("trailing characters")
        }
    }

    fn expect(&mut self, byte: u8, reason: &'static str) -> Result<(), JsonError> {
        if self.peek() == Some(byte) {
            self.pos += 1;
            Ok(())
        } else {
            self.fail(reason)
        }
    }

    /// Consumes `[` and returns a cursor over the elements.
    pub(crate) fn array(&mut self) -> Result<ArrayCursor, JsonError> {
        self.expect(b'[', "expected an array")?;
        Ok(ArrayCursor { first: true })
    }

    /// Consumes `{` and returns a cursor over the members.
    pub(crate) fn object(&mut self) -> Result<ObjectCursor, JsonError> {
        self.expect(b'{', "expected an object")?;
        Ok(ObjectCursor { first: true })
    }

    /// Reads a string, an integer or null; any other value is skipped (at
    /// `depth` levels of nesting already) and reported as `Other`.
    pub(crate) fn scalar(&mut self, depth: usize) -> Result<Scalar<'a>, JsonError> {
        match self.peek() {
            Some(b'"') => Ok(match self.string_checked()? {
                (text, true) => Scalar::Str(text),
                (text, false) => Scalar::Garbled(text),
            }),
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
    pub(crate) fn skip_value(&mut self, depth: usize) -> Result<(), JsonError> {
        const _: () = assert!(MAX_DEPTH <= u128::BITS as usize);
        let mut objects: u128 = 0;
        let mut open = 0usize;
        loop {
            // One value; a container that holds something is entered.
            let entered = match self.peek() {
                Some(b'"') => self.string().map(drop).map(|()| false),
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

    fn literal(&mut self, word: &'static str) -> Result<(), JsonError> {
        if self.bytes()[self.pos..].starts_with(word.as_bytes()) {
            self.pos += word.len();
            Ok(())
        } else {
            self.fail("expected a value")
        }
    }

    /// Reads a number: `Some` for an integer that fits `i64`, `None` for any
    /// other valid number.
    fn number(&mut self) -> Result<Option<i64>, JsonError> {
        let bytes = self.bytes();
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
    fn digits(&mut self, mut pos: usize) -> Result<usize, JsonError> {
        let bytes = self.bytes();
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

    /// Reads a string, borrowed from the file unless it has escapes.
    pub(crate) fn string(&mut self) -> Result<Cow<'a, str>, JsonError> {
        self.string_checked().map(|(text, _)| text)
    }

    /// Whether `text[start..end]` holds a U+FFFD that stands for bytes that
    /// were not UTF-8.
    fn replaced_within(&self, start: usize, end: usize) -> bool {
        if self.replaced.is_empty() {
            return false;
        }
        let first = self.replaced.partition_point(|&at| (at as usize) < start);
        self.replaced
            .get(first)
            .is_some_and(|&at| (at as usize) < end)
    }

    /// [`string`](Self::string), and whether it is text: false when it held
    /// bytes that are not UTF-8 or a lone surrogate escape.
    fn string_checked(&mut self) -> Result<(Cow<'a, str>, bool), JsonError> {
        self.expect(b'"', "expected a string")?;
        let bytes = self.bytes();
        let start = self.pos;
        let mut pos = start;
        loop {
            pos = skip_plain_string_bytes(bytes, pos);
            match bytes.get(pos) {
                Some(b'"') => {
                    self.pos = pos + 1;
                    // Bytes between two ASCII quotes of valid UTF-8 are valid
                    // UTF-8 on char boundaries: this slice cannot fail.
                    let is_text = !self.replaced_within(start, pos);
                    return Ok((Cow::Borrowed(&self.text[start..pos]), is_text));
                }
                Some(b'\\') => {
                    self.pos = pos;
                    let (decoded, no_lone_surrogate) = self.escaped_string(start)?;
                    let is_text = no_lone_surrogate && !self.replaced_within(start, self.pos);
                    return Ok((Cow::Owned(decoded), is_text));
                }
                Some(0x00..=0x1f) => {
                    self.pos = pos;
                    return self.fail("control character in string");
                }
                Some(_) => pos += 1,
                None => {
                    self.pos = pos;
                    return self.fail("unterminated string");
                }
            }
        }
    }

    /// The slow path of [`string`](Self::string): decodes escapes, from the
    /// string's first byte at `start`; `self.pos` is at the first backslash.
    /// Also says whether no lone surrogate escape was met.
    fn escaped_string(&mut self, start: usize) -> Result<(String, bool), JsonError> {
        let bytes = self.bytes();
        let mut decoded = String::new();
        let mut no_lone_surrogate = true;
        let mut run_start = start;
        loop {
            self.pos = skip_plain_string_bytes(bytes, self.pos);
            let run = &self.text[run_start..self.pos];
            // Room for the run and one escaped char (at most 4 bytes).
            decoded
                .try_reserve(run.len() + 4)
                .map_err(crate::OutOfMemory::from)?;
            decoded.push_str(run);
            match bytes.get(self.pos) {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok((decoded, no_lone_surrogate));
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
                            no_lone_surrogate &= paired;
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
    fn unicode_escape(&mut self) -> Result<(char, bool), JsonError> {
        let high = self.hex4()?;
        let code = match high {
            0xD800..=0xDBFF => {
                let low = self.bytes()[self.pos..]
                    .strip_prefix(b"\\u")
                    .and_then(|rest| rest.get(..4))
                    .and_then(|digits| std::str::from_utf8(digits).ok())
                    .filter(|digits| digits.bytes().all(|b| b.is_ascii_hexdigit()))
                    .and_then(|digits| u32::from_str_radix(digits, 16).ok())
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

    fn hex4(&mut self) -> Result<u32, JsonError> {
        let digits = self.bytes().get(self.pos..self.pos + 4);
        let value = digits
            .and_then(|d| std::str::from_utf8(d).ok())
            .and_then(|d| {
                d.bytes()
                    .all(|b| b.is_ascii_hexdigit())
                    .then(|| u32::from_str_radix(d, 16).ok())
                    .flatten()
            });
        match value {
            Some(value) => {
                self.pos += 4;
                Ok(value)
            }
            None => self.fail("invalid \\u escape"),
        }
    }
}

/// Walks the elements of an array opened by [`JsonReader::array`].
pub(crate) struct ArrayCursor {
    first: bool,
}

impl ArrayCursor {
    /// True when an element follows (the caller must then read or skip it);
    /// false after the closing `]`.
    pub(crate) fn next(&mut self, reader: &mut JsonReader) -> Result<bool, JsonError> {
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
    /// the caller must read or skip); `None` after the closing `}`.
    pub(crate) fn next_key<'a>(
        &mut self,
        reader: &mut JsonReader<'a>,
    ) -> Result<Option<Cow<'a, str>>, JsonError> {
        match reader.peek() {
            Some(b'}') => {
                reader.pos += 1;
                return Ok(None);
            }
            Some(b',') if !self.first => reader.pos += 1,
            Some(b'"') if self.first => {}
            Some(_) if self.first => return reader.fail("expected a member name or '}'"),
            Some(_) => return reader.fail("expected ',' or '}'"),
            None => return reader.fail("unexpected end of file"),
        }
        self.first = false;
        let key = reader.string()?;
        reader.expect(b':', "expected ':'")?;
        Ok(Some(key))
    }
}

/// The position of the first byte at or after `pos` that ends a run of plain
/// string content: a quote, a backslash or a control character (or the end).
/// Eight bytes at a time: this loop is most of the cost of a cold parse.
fn skip_plain_string_bytes(bytes: &[u8], mut pos: usize) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH_BITS: u64 = 0x80 * ONES;
    // Sets bit 7 of the lowest byte of `word` below `n` (n <= 0x80); higher
    // bytes may show false positives, which `trailing_zeros` never looks at.
    let below = |word: u64, n: u64| word.wrapping_sub(n * ONES) & !word & HIGH_BITS;
    while let Some(chunk) = bytes.get(pos..pos + 8) {
        let mut eight = [0u8; 8];
        eight.copy_from_slice(chunk);
        let word = u64::from_le_bytes(eight);
        let special = below(word ^ (u64::from(b'"') * ONES), 1)
            | below(word ^ (u64::from(b'\\') * ONES), 1)
            | below(word, 0x20);
        if special != 0 {
            return pos + (special.trailing_zeros() / 8) as usize;
        }
        pos += 8;
    }
    while let Some(&b) = bytes.get(pos) {
        if b == b'"' || b == b'\\' || b < 0x20 {
            break;
        }
        pos += 1;
    }
    pos
}

/// `String::from_utf8_lossy`, and the offset of each U+FFFD it put in place of
/// bytes that are not UTF-8 (a U+FFFD spelled in the file is not one of them).
/// `None` when an allocation fails.
fn decode_lossy(bytes: &[u8]) -> Option<(String, Vec<u32>)> {
    let mut text = String::new();
    text.try_reserve(bytes.len() + bytes.len() / 2).ok()?;
    let mut replaced = Vec::new();
    for chunk in bytes.utf8_chunks() {
        text.try_reserve(chunk.valid().len() + 3).ok()?;
        text.push_str(chunk.valid());
        if !chunk.invalid().is_empty() {
            // Files are capped at 32 MiB, so offsets fit in u32.
            replaced.try_reserve(1).ok()?;
            replaced.push(text.len() as u32);
            text.push(char::REPLACEMENT_CHARACTER);
        }
    }
    Some((text, replaced))
}

/// Line and column (1-based, in bytes) of `offset`, for messages.
fn error_at(bytes: &[u8], offset: usize, reason: &'static str) -> JsonError {
    let before = &bytes[..offset.min(bytes.len())];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let column = offset
        - before
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |nl| nl + 1)
        + 1;
    JsonError {
        line,
        column,
        reason,
    }
}

/// Visits the elements of a top-level array, calling `on_object` for each
/// object (positioned at its `{`) and skipping elements of any other type.
/// A blank document is an empty array.
///
/// Bytes that are not UTF-8 are read as U+FFFD, so they cost only the string
/// they are in (which then matches no query, N27): the lease helper, like yajl,
/// checks UTF-8 only structurally and may keep an overlong form it was
/// given, and that must not take down every name of the network (DECISIONS.md N3, N4).
/// Outside strings such bytes are still a syntax error.
pub(crate) fn for_each_object_in_array(
    bytes: &[u8],
    mut on_object: impl for<'t> FnMut(&mut JsonReader<'t>) -> Result<(), JsonError>,
) -> Result<(), JsonError> {
    let decoded;
    let (text, replaced) = match std::str::from_utf8(bytes) {
        Ok(text) => (text, &[][..]),
        Err(_) => {
            decoded = decode_lossy(bytes).ok_or(crate::OutOfMemory)?;
            (&decoded.0[..], &decoded.1[..])
        }
    };
    let mut reader = JsonReader {
        text,
        pos: 0,
        replaced,
    };
    if reader.at_end() {
        return Ok(());
    }
    let mut array = reader.array()?;
    while array.next(&mut reader)? {
        if reader.peek() == Some(b'{') {
            on_object(&mut reader)?;
        } else {
            reader.skip_value(1)?;
        }
    }
    reader.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scalars(text: &str) -> Result<Vec<Scalar<'_>>, JsonError> {
        let mut reader = JsonReader::new(text);
        let mut array = reader.array()?;
        let mut out = Vec::new();
        while array.next(&mut reader)? {
            out.push(reader.scalar(1)?);
        }
        reader.finish()?;
        Ok(out)
    }

    fn accepts(text: &str) -> bool {
        let mut reader = JsonReader::new(text);
        reader.skip_value(0).and_then(|()| reader.finish()).is_ok()
    }

    #[test]
    fn strings_borrow_unless_escaped() {
        let values =
            scalars(r#"["plain", "fe\u0064ora", "tab\tq\"\\\/\b\f\n\r", "\ud83d\ude00", "é"]"#)
                .unwrap();
        assert!(matches!(&values[0], Scalar::Str(Cow::Borrowed("plain"))));
        assert_eq!(values[1], Scalar::Str(Cow::Owned("fedora".into())));
        assert_eq!(
            values[2],
            Scalar::Str(Cow::Owned("tab\tq\"\\/\u{8}\u{c}\n\r".into()))
        );
        assert_eq!(values[3], Scalar::Str(Cow::Owned("😀".into())));
        assert!(matches!(&values[4], Scalar::Str(Cow::Borrowed("é"))));
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
            for_each_object_in_array(bytes, |reader| {
                let mut object = reader.object()?;
                while object.next_key(reader)?.is_some() {
                    match reader.scalar(2)? {
                        Scalar::Str(s) => strings.push(s.into_owned()),
                        Scalar::Garbled(s) => strings.push(format!("garbled {s}")),
                        _ => {}
                    }
                }
                Ok(())
            })
            .map(|()| strings.clone())
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
    fn string_scan_stops_at_every_special_byte_in_every_lane() {
        for len in 0..20 {
            for special in [b'"', b'\\', 0x00, 0x1f, b'\n'] {
                let mut bytes = vec![b'a'; len];
                bytes.push(special);
                bytes.extend_from_slice(b"\"xyz\\");
                assert_eq!(
                    skip_plain_string_bytes(&bytes, 0),
                    len,
                    "len {len} byte {special:#x}"
                );
            }
            let plain = vec![0x7fu8; len];
            assert_eq!(skip_plain_string_bytes(&plain, 0), len);
            let high = vec![0xe9u8; len];
            assert_eq!(skip_plain_string_bytes(&high, 0), len);
        }
    }

    #[test]
    fn errors_say_where() {
        let mut reader = JsonReader::new("[\n  {\"a\": 1,\n   }\n]");
        let error = reader.skip_value(0).unwrap_err();
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
}
