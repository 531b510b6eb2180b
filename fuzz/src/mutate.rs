//! A small byte-level mutator with a JSON dictionary, in the spirit of
//! libFuzzer's: without coverage instrumentation (stable toolchain), new
//! inputs are kept when they produce an outcome not seen before (see
//! `targets::run`), which steers the search towards new parser states.

/// xorshift64*: fast, deterministic for a given seed.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }
}

/// Tokens that matter to the lease formats and to JSON parsers.
const DICTIONARY: &[&[u8]] = &[
    b"\"ip-address\"",
    b"\"mac-address\"",
    b"\"hostname\"",
    b"\"expiry-time\"",
    b"\"server-duid\"",
    b"\"client-id\"",
    b"\"iaid\"",
    b"\"domain\"",
    b"\"macs\"",
    b"{",
    b"}",
    b"[",
    b"]",
    b",",
    b":",
    b"\"",
    b"\\",
    b"null",
    b"true",
    b"false",
    b"0",
    b"-0",
    b"-1",
    b"1e400",
    b"1.5",
    b"9223372036854775807",
    b"9223372036854775808",
    b"-9223372036854775808",
    b"18446744073709551616",
    b"\\u0000",
    b"\\ud800",
    b"\\udc00",
    b"\\ud83d\\ude00",
    b"\\u00e9",
    b"\xc3\xa9",
    b"\xed\xa0\x80",
    b"\xc0\x80",
    b"\xff",
    b"\x00",
    b"\x0b",
    b"\"10.0.0.1\"",
    b"\"fd00::1\"",
    b"\"::ffff:10.0.0.1\"",
    b"\"52:54:00:00:00:01\"",
    b"\"52:54:00:AA:00:01\"",
    b"\"alpha\"",
    b"\"ALPHA\"",
    b"\"4102444800\"",
    b"4102444800",
];

/// Mutates `data` in place (1 to 8 stacked edits), never beyond `max_len`.
/// `other` is another corpus entry for cross-over.
pub fn mutate(data: &mut Vec<u8>, other: &[u8], rng: &mut Rng, max_len: usize) {
    for _ in 0..1 + rng.below(8) {
        mutate_once(data, other, rng);
    }
    data.truncate(max_len);
}

fn mutate_once(data: &mut Vec<u8>, other: &[u8], rng: &mut Rng) {
    let len = data.len();
    match rng.below(11) {
        0 if len > 0 => {
            let i = rng.below(len);
            data[i] ^= 1 << rng.below(8);
        }
        1 if len > 0 => {
            let i = rng.below(len);
            data[i] = [0, 0x7f, 0x80, 0xff, b'"', b'\\', b'{', b'[', b',', b' '][rng.below(10)];
        }
        2 if len > 0 => {
            let start = rng.below(len);
            let end = (start + 1 + rng.below(16)).min(len);
            data.drain(start..end);
        }
        3 => {
            let at = rng.below(len + 1);
            let token = DICTIONARY[rng.below(DICTIONARY.len())];
            data.splice(at..at, token.iter().copied());
        }
        4 if len > 0 => {
            // duplicate a chunk somewhere else
            let start = rng.below(len);
            let end = (start + 1 + rng.below(64)).min(len);
            let chunk = data[start..end].to_vec();
            let at = rng.below(len + 1);
            data.splice(at..at, chunk);
        }
        5 if !other.is_empty() => {
            // cross-over: our head, their tail
            let cut = rng.below(len + 1);
            let from = rng.below(other.len());
            data.truncate(cut);
            data.extend_from_slice(&other[from..]);
        }
        6 if len > 0 => {
            // overwrite with a token
            let at = rng.below(len);
            let token = DICTIONARY[rng.below(DICTIONARY.len())];
            let end = (at + token.len()).min(len);
            data.splice(at..end, token.iter().copied());
        }
        7 => {
            let at = rng.below(len + 1);
            let byte = rng.next_u64() as u8;
            data.insert(at, byte);
        }
        8 if len > 1 => {
            // swap two bytes
            let (a, b) = (rng.below(len), rng.below(len));
            data.swap(a, b);
        }
        9 if len > 0 => {
            // an ASCII digit run (numbers, lengths, addresses)
            let at = rng.below(len);
            let digits: Vec<u8> = (0..1 + rng.below(20))
                .map(|_| b'0' + rng.below(10) as u8)
                .collect();
            data.splice(at..at, digits);
        }
        _ => {
            let at = rng.below(len + 1);
            let bytes: Vec<u8> = (0..1 + rng.below(8))
                .map(|_| rng.next_u64() as u8)
                .collect();
            data.splice(at..at, bytes);
        }
    }
}
