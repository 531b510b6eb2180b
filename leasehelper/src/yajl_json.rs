//! A small JSON DOM that behaves like libvirt 9.0.0's yajl-based
//! `virJSONValueFromString` / `virJSONValueToString(.., pretty=true)`.
//!
//! Why not serde_json: the helper must keep the *original text* of every
//! number, keep member order, reject duplicate keys, accept exactly what
//! yajl 2.1.0 accepts (structural-only UTF-8 check, `\v`/`\f` as whitespace,
//! lone surrogates) and reproduce yajl's pretty-printer byte for byte.
//!
//! Strings are byte strings (`Vec<u8>`): yajl lets through overlong UTF-8
//! and encoded surrogates, which are not valid Rust `str`.

use std::fmt;

/// A parsed JSON value. Object members keep their order; numbers keep their
/// source text (`-0`, `1E5`, `2.50` round-trip unchanged).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Null,
    Bool(bool),
    Number(String),
    String(Vec<u8>),
    Array(Vec<Value>),
    Object(Vec<(Vec<u8>, Value)>),
}

impl Value {
    /// The first member named `key` of an object (duplicates cannot occur in
    /// parsed input), or `None` for a non-object or a missing member.
    pub fn member(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Object(members) => members
                .iter()
                .find(|(k, _)| k.as_slice() == key.as_bytes())
                .map(|(_, v)| v),
            _ => None,
        }
    }

    /// The bytes of member `key` if it exists and is a string (libvirt's
    /// `virJSONValueObjectGetString`).
    pub fn string_member(&self, key: &str) -> Option<&[u8]> {
        match self.member(key) {
            Some(Value::String(s)) => Some(s),
            _ => None,
        }
    }

    /// The source text of member `key` if it exists and is a number.
    pub fn number_member(&self, key: &str) -> Option<&str> {
        match self.member(key) {
            Some(Value::Number(n)) => Some(n),
            _ => None,
        }
    }
}

/// Deepest container nesting the parser accepts. yajl has no limit, but the
/// generator refuses depth >= 128 anyway, and a recursive parser (and the
/// recursive `Drop` of the DOM) must not overflow the stack on hostile input.
pub const MAX_PARSE_DEPTH: usize = 1024;

/// yajl's `YAJL_MAX_DEPTH`: the generator fails when a container would be
/// opened at this depth.
const YAJL_GEN_MAX_DEPTH: usize = 128;

/// Why a document was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    /// Not JSON as yajl 2.1.0 accepts it (the C helper silently treats such
    /// a file as empty).
    Invalid { offset: usize, reason: &'static str },
    /// Valid so far, but nested deeper than [`MAX_PARSE_DEPTH`].
    TooDeep,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::Invalid { offset, reason } => write!(f, "{reason} at byte {offset}"),
            ParseError::TooDeep => write!(f, "nested deeper than {MAX_PARSE_DEPTH} levels"),
        }
    }
}

/// Parse one JSON document the way libvirt does: the text ends at the first
/// NUL byte (libvirt passes a C string to yajl), exactly one top-level value,
/// no comments, duplicate keys rejected (compared after NUL truncation).
pub fn parse(input: &[u8]) -> Result<Value, ParseError> {
    let text = match input.iter().position(|&b| b == 0) {
        Some(nul) => &input[..nul],
        None => input,
    };
    let mut parser = Parser { text, pos: 0 };
    parser.skip_whitespace();
    if parser.at_end() {
        return Err(parser.invalid("premature EOF"));
    }
    let value = parser.parse_value(0)?;
    parser.skip_whitespace();
    if !parser.at_end() && !is_unterminated_string(&text[parser.pos..]) {
        return Err(parser.invalid("trailing garbage"));
    }
    Ok(value)
}

/// yajl quirk: after the top-level value, a string that is still open at the
/// end of the text is not an error. `yajl_complete_parse` flushes the lexer
/// with one space; a string token still incomplete after that is never
/// reported, so `[] "abc` parses as `[]` (while `[] "abc"` is trailing
/// garbage, and `[] "ab\` fails on the escape `\ `).
fn is_unterminated_string(rest: &[u8]) -> bool {
    if rest.first() != Some(&b'"') {
        return false;
    }
    let flushed = [rest, b" "].concat();
    let mut lexer = Parser {
        text: &flushed,
        pos: 0,
    };
    matches!(
        lexer.parse_string(),
        Err(ParseError::Invalid {
            reason: "premature EOF",
            ..
        })
    )
}

struct Parser<'a> {
    text: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
    fn at_end(&self) -> bool {
        self.pos >= self.text.len()
    }

    fn peek(&self) -> Option<u8> {
        self.text.get(self.pos).copied()
    }

    fn invalid(&self, reason: &'static str) -> ParseError {
        ParseError::Invalid {
            offset: self.pos,
            reason,
        }
    }

    /// yajl's whitespace set includes `\v` and `\f`.
    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    /// `depth` is the number of containers already open around this value.
    fn parse_value(&mut self, depth: usize) -> Result<Value, ParseError> {
        match self.peek() {
            None => Err(self.invalid("premature EOF")),
            Some(b'{') => self.parse_object(depth + 1),
            Some(b'[') => self.parse_array(depth + 1),
            Some(b'"') => Ok(Value::String(self.parse_string()?)),
            Some(b't') => self.parse_literal(b"true", Value::Bool(true)),
            Some(b'f') => self.parse_literal(b"false", Value::Bool(false)),
            Some(b'n') => self.parse_literal(b"null", Value::Null),
            Some(b'-' | b'0'..=b'9') => self.parse_number(),
            Some(_) => Err(self.invalid("invalid char in json text")),
        }
    }

    fn parse_literal(&mut self, word: &[u8], value: Value) -> Result<Value, ParseError> {
        if self.text[self.pos..].starts_with(word) {
            self.pos += word.len();
            Ok(value)
        } else {
            Err(self.invalid("invalid string in json text"))
        }
    }

    /// RFC 8259 number grammar (yajl's lexer): `-? (0 | [1-9][0-9]*)
    /// (\.[0-9]+)? ([eE][+-]?[0-9]+)?`. The token's text is kept verbatim.
    fn parse_number(&mut self) -> Result<Value, ParseError> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => self.skip_digits(),
            _ => return Err(self.invalid("malformed number, a digit is required")),
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(
                    self.invalid("malformed number, a digit is required after the decimal point")
                );
            }
            self.skip_digits();
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(
                    self.invalid("malformed number, a digit is required after the exponent")
                );
            }
            self.skip_digits();
        }
        // The token is pure ASCII by construction.
        let text = String::from_utf8_lossy(&self.text[start..self.pos]).into_owned();
        Ok(Value::Number(text))
    }

    fn skip_digits(&mut self) {
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
    }

    fn parse_array(&mut self, depth: usize) -> Result<Value, ParseError> {
        if depth > MAX_PARSE_DEPTH {
            return Err(ParseError::TooDeep);
        }
        self.pos += 1; // '['
        let mut elements = Vec::new();
        self.skip_whitespace();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(Value::Array(elements));
        }
        loop {
            self.skip_whitespace();
            elements.push(self.parse_value(depth)?);
            self.skip_whitespace();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(Value::Array(elements));
                }
                None => return Err(self.invalid("premature EOF")),
                Some(_) => return Err(self.invalid("after array element, I expect ',' or ']'")),
            }
        }
    }

    fn parse_object(&mut self, depth: usize) -> Result<Value, ParseError> {
        if depth > MAX_PARSE_DEPTH {
            return Err(ParseError::TooDeep);
        }
        self.pos += 1; // '{'
        let mut members: Vec<(Vec<u8>, Value)> = Vec::new();
        self.skip_whitespace();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(Value::Object(members));
        }
        loop {
            self.skip_whitespace();
            if self.peek() != Some(b'"') {
                return Err(self.invalid("object key and value must be preceded by a string key"));
            }
            let key_offset = self.pos;
            let key = self.parse_string()?;
            if members.iter().any(|(k, _)| *k == key) {
                return Err(ParseError::Invalid {
                    offset: key_offset,
                    reason: "duplicate key",
                });
            }
            self.skip_whitespace();
            if self.peek() != Some(b':') {
                return Err(self.invalid("object key and value must be separated by a colon (':')"));
            }
            self.pos += 1;
            self.skip_whitespace();
            let value = self.parse_value(depth)?;
            members.push((key, value));
            self.skip_whitespace();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(Value::Object(members));
                }
                None => return Err(self.invalid("premature EOF")),
                Some(_) => {
                    return Err(self.invalid("after key and value, inside map, I expect ',' or '}'"))
                }
            }
        }
    }

    /// Lex and decode a string starting at the opening quote. Decoding
    /// follows yajl_string_decode; the result is cut at the first NUL, as
    /// libvirt copies it with `strndup`.
    fn parse_string(&mut self) -> Result<Vec<u8>, ParseError> {
        self.pos += 1; // opening quote
        let mut out = Vec::new();
        loop {
            let Some(byte) = self.peek() else {
                return Err(self.invalid("premature EOF"));
            };
            match byte {
                b'"' => {
                    self.pos += 1;
                    break;
                }
                b'\\' => self.decode_escape(&mut out)?,
                0x00..=0x1f => return Err(self.invalid("invalid character inside string")),
                0x20..=0x7f => {
                    out.push(byte);
                    self.pos += 1;
                }
                _ => {
                    let len = self.utf8_sequence_len(byte)?;
                    out.extend_from_slice(&self.text[self.pos..self.pos + len]);
                    self.pos += len;
                }
            }
        }
        if let Some(nul) = out.iter().position(|&b| b == 0) {
            out.truncate(nul);
        }
        Ok(out)
    }

    /// yajl's lexer checks UTF-8 structurally only: the lead byte decides
    /// how many `10xxxxxx` continuation bytes must follow. Overlong forms and
    /// encoded surrogates pass.
    fn utf8_sequence_len(&self, lead: u8) -> Result<usize, ParseError> {
        let len = if lead >> 5 == 0b110 {
            2
        } else if lead >> 4 == 0b1110 {
            3
        } else if lead >> 3 == 0b11110 {
            4
        } else {
            return Err(self.invalid("invalid bytes in UTF8 string"));
        };
        // Byte by byte, as yajl's lexer: a non-continuation byte is an error
        // even when the text also ends before the sequence would.
        let available = &self.text[self.pos + 1..(self.pos + len).min(self.text.len())];
        if !available.iter().all(|b| b >> 6 == 0b10) {
            Err(self.invalid("invalid bytes in UTF8 string"))
        } else if available.len() < len - 1 {
            Err(self.invalid("premature EOF"))
        } else {
            Ok(len)
        }
    }

    fn decode_escape(&mut self, out: &mut Vec<u8>) -> Result<(), ParseError> {
        self.pos += 1; // backslash
        let Some(kind) = self.peek() else {
            return Err(self.invalid("premature EOF"));
        };
        self.pos += 1;
        let simple = match kind {
            b'"' => Some(b'"'),
            b'\\' => Some(b'\\'),
            b'/' => Some(b'/'),
            b'b' => Some(0x08),
            b'f' => Some(0x0c),
            b'n' => Some(b'\n'),
            b'r' => Some(b'\r'),
            b't' => Some(b'\t'),
            b'u' => None,
            _ => return Err(self.invalid("inside a JSON string, an invalid escape was found")),
        };
        if let Some(byte) = simple {
            out.push(byte);
            return Ok(());
        }
        let unit = self.hex4()?;
        if unit & 0xFC00 != 0xD800 {
            push_utf8(out, unit);
            return Ok(());
        }
        // A high surrogate: yajl combines it with whatever `\uXXXX` follows
        // (even a non-surrogate); without one it yields a single '?'.
        if self.text[self.pos..].starts_with(b"\\u") {
            self.pos += 2;
            let next = self.hex4()?;
            let code_point =
                ((unit & 0x3F) << 10) | ((((unit >> 6) & 0xF) + 1) << 16) | (next & 0x3FF);
            push_utf8(out, code_point);
        } else {
            out.push(b'?');
        }
        Ok(())
    }

    fn hex4(&mut self) -> Result<u32, ParseError> {
        let mut value = 0u32;
        for _ in 0..4 {
            let digit = match self.peek() {
                Some(c @ b'0'..=b'9') => c - b'0',
                Some(c @ b'a'..=b'f') => c - b'a' + 10,
                Some(c @ b'A'..=b'F') => c - b'A' + 10,
                None => return Err(self.invalid("premature EOF")),
                Some(_) => {
                    return Err(self
                        .invalid("invalid (non-hex) character occurs after '\\u' inside string"))
                }
            };
            value = value << 4 | u32::from(digit);
            self.pos += 1;
        }
        Ok(value)
    }
}

/// yajl's `Utf32toUtf8`: plain UTF-8 encoding without surrogate checks.
fn push_utf8(out: &mut Vec<u8>, code_point: u32) {
    // The `as u8` casts below take the low bits on purpose.
    match code_point {
        0..=0x7F => out.push(code_point as u8),
        0x80..=0x7FF => out.extend_from_slice(&[
            0xC0 | (code_point >> 6) as u8,
            0x80 | (code_point & 0x3F) as u8,
        ]),
        0x800..=0xFFFF => out.extend_from_slice(&[
            0xE0 | (code_point >> 12) as u8,
            0x80 | ((code_point >> 6) & 0x3F) as u8,
            0x80 | (code_point & 0x3F) as u8,
        ]),
        0x10000..=0x1F_FFFF => out.extend_from_slice(&[
            0xF0 | (code_point >> 18) as u8,
            0x80 | ((code_point >> 12) & 0x3F) as u8,
            0x80 | ((code_point >> 6) & 0x3F) as u8,
            0x80 | (code_point & 0x3F) as u8,
        ]),
        _ => out.push(b'?'),
    }
}

/// Why a value could not be serialised (libvirt then reports
/// "empty json array").
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteError {
    /// A string or key is not UTF-8 under yajl's structural check.
    InvalidUtf8,
    /// Containers nested 128 deep (yajl's `YAJL_MAX_DEPTH`).
    TooDeep,
}

impl fmt::Display for WriteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WriteError::InvalidUtf8 => write!(f, "a string is not valid UTF-8"),
            WriteError::TooDeep => write!(f, "containers nested {YAJL_GEN_MAX_DEPTH} deep"),
        }
    }
}

/// Serialise like yajl 2.1.0 with `yajl_gen_beautify` and indent `"  "`:
/// containers open with a newline, members are `"key": value`, separators
/// are `,\n`, an empty container is `[\n\n<indent>]`, and the document ends
/// with `\n`.
pub fn to_pretty_bytes(value: &Value) -> Result<Vec<u8>, WriteError> {
    let mut out = Vec::new();
    write_value(&mut out, value, 0)?;
    out.push(b'\n');
    Ok(out)
}

fn write_indent(out: &mut Vec<u8>, depth: usize) {
    out.extend(std::iter::repeat(b' ').take(2 * depth));
}

/// `depth` is the number of containers open around `value`.
fn write_value(out: &mut Vec<u8>, value: &Value, depth: usize) -> Result<(), WriteError> {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(text) => out.extend_from_slice(text.as_bytes()),
        Value::String(s) => write_string(out, s)?,
        Value::Array(elements) => {
            if depth + 1 >= YAJL_GEN_MAX_DEPTH {
                return Err(WriteError::TooDeep);
            }
            out.extend_from_slice(b"[\n");
            for (i, element) in elements.iter().enumerate() {
                if i > 0 {
                    out.extend_from_slice(b",\n");
                }
                write_indent(out, depth + 1);
                write_value(out, element, depth + 1)?;
            }
            out.push(b'\n');
            write_indent(out, depth);
            out.push(b']');
        }
        Value::Object(members) => {
            if depth + 1 >= YAJL_GEN_MAX_DEPTH {
                return Err(WriteError::TooDeep);
            }
            out.extend_from_slice(b"{\n");
            for (i, (key, member)) in members.iter().enumerate() {
                if i > 0 {
                    out.extend_from_slice(b",\n");
                }
                write_indent(out, depth + 1);
                write_string(out, key)?;
                out.extend_from_slice(b": ");
                write_value(out, member, depth + 1)?;
            }
            out.push(b'\n');
            write_indent(out, depth);
            out.push(b'}');
        }
    }
    Ok(())
}

/// yajl_string_encode: short escapes for `" \ \b \f \n \r \t`, `\u00XX`
/// (uppercase hex) for other control bytes, everything else raw (`/`, DEL
/// and UTF-8 included).
fn write_string(out: &mut Vec<u8>, s: &[u8]) -> Result<(), WriteError> {
    if !is_structurally_valid_utf8(s) {
        return Err(WriteError::InvalidUtf8);
    }
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    out.push(b'"');
    for &b in s {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            0x00..=0x1f => {
                out.extend_from_slice(b"\\u00");
                out.push(HEX[usize::from(b >> 4)]);
                out.push(HEX[usize::from(b & 0xF)]);
            }
            _ => out.push(b),
        }
    }
    out.push(b'"');
    Ok(())
}

/// yajl_string_validate_utf8: lead byte + the right number of continuation
/// bytes; nothing else is checked.
pub fn is_structurally_valid_utf8(s: &[u8]) -> bool {
    let mut i = 0;
    while i < s.len() {
        let lead = s[i];
        let continuation = if lead <= 0x7F {
            0
        } else if lead >> 5 == 0b110 {
            1
        } else if lead >> 4 == 0b1110 {
            2
        } else if lead >> 3 == 0b11110 {
            3
        } else {
            return false;
        };
        let Some(tail) = s.get(i + 1..i + 1 + continuation) else {
            return false;
        };
        if !tail.iter().all(|b| b >> 6 == 0b10) {
            return false;
        }
        i += 1 + continuation;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(text: &str) -> Value {
        Value::String(text.as_bytes().to_vec())
    }

    fn pretty(text: &[u8]) -> Vec<u8> {
        to_pretty_bytes(&parse(text).expect("parses")).expect("writes")
    }

    #[test]
    fn an_unterminated_string_after_the_value_is_ignored_as_yajl_does() {
        // Each case checked against libvirt 9.0.0's helper (`init` output).
        for accepted in [&b"[1] \"abc"[..], b"[1]\"", b"[1] \"\\u00e9"] {
            assert!(parse(accepted).is_ok(), "{}", accepted.escape_ascii());
        }
        for rejected in [
            &b"[1] \"abc\""[..],
            b"[1] \"ab\\",
            b"[1] \"\xc3",
            b"[1] \"\xe2\x82",
            b"[1] \"a\\u12",
            b"[1] \"ab\n",
            b"[1] \"\t",
            b"[1] x",
            b"[1]  \"a\"b",
        ] {
            assert!(parse(rejected).is_err(), "{}", rejected.escape_ascii());
        }
    }

    #[test]
    fn empty_top_level_array_is_bracket_blank_line_bracket() {
        assert_eq!(to_pretty_bytes(&Value::Array(vec![])).unwrap(), b"[\n\n]\n");
    }

    #[test]
    fn lease_array_matches_the_c_helper_layout() {
        let lease = Value::Object(vec![
            (b"ip-address".to_vec(), s("192.168.122.10")),
            (b"mac-address".to_vec(), s("52:54:00:00:00:01")),
            (b"hostname".to_vec(), s("host1")),
            (b"expiry-time".to_vec(), Value::Number("1700000000".into())),
        ]);
        let expected = "[\n  {\n    \"ip-address\": \"192.168.122.10\",\n    \"mac-address\": \
                        \"52:54:00:00:00:01\",\n    \"hostname\": \"host1\",\n    \"expiry-time\": \
                        1700000000\n  }\n]\n";
        assert_eq!(
            String::from_utf8(to_pretty_bytes(&Value::Array(vec![lease])).unwrap()).unwrap(),
            expected
        );
    }

    #[test]
    fn nested_empty_containers_and_literals() {
        let out = pretty(br#"[{"a":[],"b":{},"c":[1,true,null,false],"d":{"e":-0}}]"#);
        let expected = "[\n  {\n    \"a\": [\n\n    ],\n    \"b\": {\n\n    },\n    \"c\": [\n      1,\n      \
                        true,\n      null,\n      false\n    ],\n    \"d\": {\n      \"e\": -0\n    }\n  }\n]\n";
        assert_eq!(String::from_utf8(out).unwrap(), expected);
    }

    #[test]
    fn escapes_are_yajl_style() {
        let value = Value::Array(vec![Value::String(
            b"q\"b\\s/\x08\x0c\n\r\t\x01\x1f\x7f".to_vec(),
        )]);
        assert_eq!(
            to_pretty_bytes(&value).unwrap(),
            b"[\n  \"q\\\"b\\\\s/\\b\\f\\n\\r\\t\\u0001\\u001F\x7f\"\n]\n".to_vec()
        );
    }

    #[test]
    fn unicode_escapes_decode_to_raw_utf8() {
        assert_eq!(
            pretty(br#"["\u00e9\/\ud83d\ude00"]"#),
            "[\n  \"é/😀\"\n]\n".as_bytes()
        );
        // non-ASCII input stays raw
        assert_eq!(
            pretty("[\"Grüße\"]".as_bytes()),
            "[\n  \"Grüße\"\n]\n".as_bytes()
        );
    }

    #[test]
    fn lone_high_surrogate_becomes_question_mark_like_yajl() {
        assert_eq!(parse(br#""\ud800xy""#).unwrap(), s("?xy"));
        // high surrogate + any \u: combined with yajl's formula
        assert_eq!(
            parse(br#""\ud800\u0041""#).unwrap(),
            Value::String(vec![0xF0, 0x90, 0x81, 0x81])
        );
    }

    #[test]
    fn strings_are_cut_at_nul_and_input_at_raw_nul() {
        assert_eq!(parse(br#""a\u0000b""#).unwrap(), s("a"));
        assert_eq!(
            parse(b"[1]\0garbage").unwrap(),
            Value::Array(vec![Value::Number("1".into())])
        );
        assert!(parse(b"\0[1]").is_err());
    }

    #[test]
    fn numbers_keep_their_text() {
        let v = parse(b"[-0, 1E5, 2.50, 12345678901234567890123, 0.5e-3]").unwrap();
        let texts: Vec<_> = match v {
            Value::Array(a) => a
                .into_iter()
                .map(|n| match n {
                    Value::Number(t) => t,
                    other => panic!("{other:?}"),
                })
                .collect(),
            other => panic!("{other:?}"),
        };
        assert_eq!(
            texts,
            ["-0", "1E5", "2.50", "12345678901234567890123", "0.5e-3"]
        );
    }

    #[test]
    fn key_order_is_preserved() {
        let out = pretty(br#"[{"z":1,"a":2,"m":3}]"#);
        assert_eq!(
            out,
            b"[\n  {\n    \"z\": 1,\n    \"a\": 2,\n    \"m\": 3\n  }\n]\n".to_vec()
        );
    }

    #[test]
    fn rejects_what_yajl_rejects() {
        for bad in [
            &b""[..],
            b"   ",
            b"[",
            b"[1,]",
            b"{\"a\":1,}",
            b"[] []",
            b"[] x",
            b"[01]",
            b"[1.]",
            b"[-]",
            b"[1e]",
            b"[.5]",
            b"[+1]",
            b"/* c */ []",
            b"[\"tab\there\"]",
            b"[\"\\x\"]",
            b"[\"\\u12\"]",
            b"[\"\xff\"]",
            b"[\"\xc3\"]",
            b"[tru]",
            b"[nul]",
            b"{\"a\":1,\"a\":2}",
            b"{\"a\\u0000x\":1,\"a\":2}",
            b"\xef\xbb\xbf[]",
            b"{1:2}",
        ] {
            assert!(
                parse(bad).is_err(),
                "accepted {:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn accepts_what_yajl_accepts() {
        for good in [
            &b"\x0b\x0c[ ]\r\n"[..],
            b"null",
            b"5",
            b"\"x\"",
            b"[\"\xc0\x80\"]",     // overlong: structural check only
            b"[\"\xed\xa0\x80\"]", // encoded surrogate
            b"[\"\x7f\"]",
        ] {
            assert!(
                parse(good).is_ok(),
                "rejected {:?}",
                String::from_utf8_lossy(good)
            );
        }
    }

    #[test]
    fn deep_nesting_is_refused_without_overflowing_the_stack() {
        let deep = "[".repeat(MAX_PARSE_DEPTH + 1) + &"]".repeat(MAX_PARSE_DEPTH + 1);
        assert_eq!(parse(deep.as_bytes()), Err(ParseError::TooDeep));
        let ok = "[".repeat(MAX_PARSE_DEPTH) + &"]".repeat(MAX_PARSE_DEPTH);
        assert!(parse(ok.as_bytes()).is_ok());
    }

    #[test]
    fn writer_refuses_what_yajl_gen_refuses() {
        assert_eq!(
            to_pretty_bytes(&Value::Array(vec![Value::String(vec![0xff])])),
            Err(WriteError::InvalidUtf8)
        );
        let key_bad = Value::Object(vec![(vec![b'a', 0xc3], Value::Null)]);
        assert_eq!(to_pretty_bytes(&key_bad), Err(WriteError::InvalidUtf8));
        let mut v = Value::Array(vec![]);
        for _ in 0..126 {
            v = Value::Array(vec![v]);
        }
        assert!(to_pretty_bytes(&v).is_ok()); // 127 levels
        assert_eq!(
            to_pretty_bytes(&Value::Array(vec![v])),
            Err(WriteError::TooDeep)
        );
    }
}
