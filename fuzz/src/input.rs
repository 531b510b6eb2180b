//! Turning fuzz bytes into structured choices (a tiny `arbitrary`), and the
//! generators of lease and MAC files the lookup targets feed on.

/// Reads choices from the fuzz input; past its end every choice is 0.
pub struct Input<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Input<'a> {
    pub fn new(data: &'a [u8]) -> Input<'a> {
        Input { data, pos: 0 }
    }

    pub fn byte(&mut self) -> u8 {
        let b = self.data.get(self.pos).copied().unwrap_or(0);
        self.pos += 1;
        b
    }

    /// A number in `0..n` (`n` <= 256).
    pub fn below(&mut self, n: usize) -> usize {
        self.byte() as usize % n.max(1)
    }

    pub fn u16(&mut self) -> u16 {
        u16::from(self.byte()) | u16::from(self.byte()) << 8
    }

    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }

    /// Up to `max` raw bytes.
    pub fn bytes(&mut self, max: usize) -> &'a [u8] {
        let len = self.below(max + 1);
        let start = self.pos.min(self.data.len());
        let end = (start + len).min(self.data.len());
        self.pos = start + len;
        &self.data[start..end]
    }

    pub fn exhausted(&self) -> bool {
        self.pos >= self.data.len()
    }
}

/// Host and domain names: case variants, an empty name, odd bytes.
pub const NAMES: &[&str] = &[
    "alpha",
    "ALPHA",
    "beta",
    "gamma.example.org",
    "",
    "d\u{e9}j\u{e0}-vu",
    "a b",
    "x\\\"y",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
];

/// Address texts: canonical v4/v6, v4-mapped, and texts that must be skipped.
pub const IPS: &[&str] = &[
    "10.0.0.1",
    "10.0.0.2",
    "192.168.122.3",
    "fd00::1",
    "fd00::2",
    "::ffff:10.0.0.1",
    "10.1",
    "fe80::1%eth0",
    "garbage",
];

pub const MACS: &[&str] = &[
    "52:54:00:00:00:01",
    "52:54:00:00:00:02",
    "52:54:00:AA:00:01",
    "52:54:00:aa:00:01",
];

/// `expiry-time` texts: infinite, long expired, far future, extremes, and
/// wrong types (the entry is then skipped).
pub const EXPIRIES: &[&str] = &[
    "0",
    "1",
    "4102444800",
    "4102444801",
    "-5",
    "9223372036854775807",
    "18446744073709551616",
    "1.5",
    "\"5\"",
    "null",
];

fn json_string(out: &mut String, s: &str) {
    out.push_str(&serde_json::to_string(s).expect("a str serialises"));
}

/// A `.status` file built from choices: mostly well-formed entries, with
/// members missing, repeated, mistyped, or replaced by raw fuzz bytes.
pub fn lease_file(input: &mut Input) -> Vec<u8> {
    if input.below(16) == 0 {
        return input.bytes(512).to_vec();
    }
    let mut out = String::from("[");
    for i in 0..input.below(7) {
        if i > 0 {
            out.push(',');
        }
        if input.below(32) == 0 {
            out.push_str(input.pick(&["7", "null", "[]", "\"x\"", "{}"]));
            continue;
        }
        out.push('{');
        let mut first = true;
        let mut member = |out: &mut String, key: &str, value: &str| {
            if !std::mem::take(&mut first) {
                out.push(',');
            }
            json_string(out, key);
            out.push(':');
            out.push_str(value);
        };
        let flags = input.byte();
        if flags & 1 == 0 {
            let mut v = String::new();
            json_string(&mut v, input.pick(IPS));
            member(&mut out, "ip-address", &v);
        }
        if flags & 2 == 0 {
            let mut v = String::new();
            json_string(&mut v, input.pick(MACS));
            member(&mut out, "mac-address", &v);
        }
        if flags & 4 == 0 {
            let mut v = String::new();
            json_string(&mut v, input.pick(NAMES));
            member(&mut out, "hostname", &v);
        } else if flags & 8 == 0 {
            member(&mut out, "hostname", "null");
        }
        if flags & 16 == 0 {
            member(&mut out, "expiry-time", input.pick(EXPIRIES));
        }
        if flags & 32 != 0 {
            member(&mut out, "client-id", "\"01:52:54:00:00:00:01\"");
        }
        if flags & 64 != 0 {
            // a repeated member: the last one wins
            let mut v = String::new();
            json_string(&mut v, input.pick(IPS));
            member(&mut out, "ip-address", &v);
        }
        out.push('}');
    }
    out.push(']');
    out.into_bytes()
}

/// A `.macs` file built from choices.
pub fn macs_file(input: &mut Input) -> Vec<u8> {
    if input.below(16) == 0 {
        return input.bytes(512).to_vec();
    }
    let mut out = String::from("[");
    for i in 0..input.below(5) {
        if i > 0 {
            out.push(',');
        }
        out.push('{');
        if input.below(8) != 0 {
            out.push_str("\"domain\":");
            json_string(&mut out, input.pick(NAMES));
            out.push(',');
        }
        out.push_str("\"macs\":[");
        for j in 0..input.below(4) {
            if j > 0 {
                out.push(',');
            }
            json_string(&mut out, input.pick(MACS));
        }
        out.push_str("]}");
    }
    out.push(']');
    out.into_bytes()
}
