//! `<bridge>.status`: the lease database the lease helper writes.
//!
//! A JSON array of objects (`ip-address`, `mac-address`, `hostname`,
//! `expiry-time`, and members we don't read). Each entry is validated on its
//! own (DECISIONS.md N4, N10): an entry without a canonical IP address, or with a
//! member of the wrong type, is skipped and the rest of the file still answers.

use std::cell::OnceCell;
use std::fmt;
use std::io::Read;
use std::net::IpAddr;

use crate::json::{self, Fault, JsonError, JsonReader, Key, ReadError, Scalar};
use crate::key_index::KeyIndex;
use crate::text_arena::{Span, TextArena, TextArenaBuilder};
use crate::OutOfMemory;

/// One usable lease.
#[derive(Clone, Copy, Debug)]
pub struct Lease {
    pub address: IpAddr,
    /// Epoch seconds; `0` is an infinite lease. Negative values never expire
    /// (the C modules compare as unsigned), and sort as negative.
    pub expiry: i64,
    /// [`Span::ABSENT`] when the entry has none (not an `Option`: 8 bytes
    /// less per lease, N35).
    hostname: Span,
    /// Lower-cased, so that MAC matching is case-insensitive (DECISIONS.md N8).
    mac: Span,
}

impl Lease {
    /// Live at `now` (epoch seconds): the C modules' rule, comparing as
    /// unsigned so that `0` and negative expiries never lapse.
    pub fn is_live(&self, now: i64) -> bool {
        self.expiry == 0 || self.expiry as u64 >= now as u64
    }
}

/// A parsed `.status` file with its lookup indexes.
///
/// Each index is built by the first lookup that needs it (N35): a process
/// resolving a name by hostname (`libvirt`) never builds the MAC and address
/// indexes, one resolving a domain (`libvirt_guest`) never builds the
/// hostname one.
pub struct LeaseFile {
    leases: Vec<Lease>,
    text: TextArena,
    by_hostname: OnceCell<KeyIndex>,
    by_mac: OnceCell<KeyIndex>,
    by_address: OnceCell<KeyIndex>,
    skipped_entries: usize,
}

impl LeaseFile {
    /// Parses the bytes of a `.status` file. A blank file has no leases; a
    /// file that is not a JSON array of objects is an error.
    pub fn parse(bytes: &[u8]) -> Result<LeaseFile, JsonError> {
        LeaseFile::read_from(bytes, bytes.len() as u64, u64::MAX)
            .map_err(|e| e.into_json_error(bytes))
    }

    /// Reads and parses a `.status` file from `source` in chunks, never
    /// holding it whole; `size` (the file's size) sizes the buffer of a
    /// small file, and more than `limit` bytes is an error.
    pub fn read_from(source: impl Read, size: u64, limit: u64) -> Result<LeaseFile, ReadError> {
        // Sized at once from the file's size (a lease entry is ~180 bytes as
        // the helper writes it, its strings ~30): growing by doubling copied
        // and faulted in each buffer twice. Pages never touched cost nothing.
        let mut leases = Vec::new();
        leases
            .try_reserve_exact(estimate(size, 128))
            .map_err(OutOfMemory::from)?;
        let mut text = TextArenaBuilder::with_capacity(estimate(size, 5))?;
        let mut skipped_entries = 0;
        json::for_each_object_in_array(source, size, limit, |reader| {
            match RawLease::read(reader)?.validate(&mut text)? {
                Some(lease) => {
                    leases.try_reserve(1).map_err(OutOfMemory::from)?;
                    leases.push(lease);
                }
                None => skipped_entries += 1,
            }
            Ok(())
        })?;
        let text = text.finish().ok_or(ReadError::Syntax {
            offset: 0,
            reason: "internal error: text that is not UTF-8",
        })?;
        Ok(LeaseFile {
            leases,
            text,
            by_hostname: OnceCell::new(),
            by_mac: OnceCell::new(),
            by_address: OnceCell::new(),
            skipped_entries,
        })
    }

    /// The index in `cell`, built now if no lookup has needed it yet, with
    /// each lease under the hash `hash_of` gives it (`None`: not indexed).
    fn index<'s>(
        &'s self,
        cell: &'s OnceCell<KeyIndex>,
        hash_of: impl Fn(&KeyIndex, &Lease) -> Option<u64>,
    ) -> Result<&'s KeyIndex, OutOfMemory> {
        if let Some(index) = cell.get() {
            return Ok(index);
        }
        let mut index = KeyIndex::with_capacity(self.leases.len())?;
        for (id, lease) in self.leases.iter().enumerate() {
            if let Some(hash) = hash_of(&index, lease) {
                index.insert(hash, id as u32);
            }
        }
        Ok(cell.get_or_init(|| index))
    }

    pub fn leases(&self) -> &[Lease] {
        &self.leases
    }

    pub fn lease(&self, id: u32) -> &Lease {
        &self.leases[id as usize]
    }

    pub fn hostname(&self, lease: &Lease) -> Option<&str> {
        lease
            .hostname
            .is_present()
            .then(|| self.text.get(lease.hostname))
    }

    pub fn mac(&self, lease: &Lease) -> Option<&str> {
        lease.mac.is_present().then(|| self.text.get(lease.mac))
    }

    /// The hostname as lookups match it: `None` also when it held bytes that
    /// are not UTF-8 or a lone surrogate escape ([`hostname`](Self::hostname)
    /// shows it with U+FFFD; DECISIONS.md N27).
    pub fn hostname_key(&self, lease: &Lease) -> Option<&str> {
        let span = lease.hostname;
        (span.is_present() && span.is_text()).then(|| self.text.get(span))
    }

    /// The MAC as lookups match it (see [`hostname_key`](Self::hostname_key)).
    pub fn mac_key(&self, lease: &Lease) -> Option<&str> {
        let span = lease.mac;
        (span.is_present() && span.is_text()).then(|| self.text.get(span))
    }

    /// Entries that were present but unusable (bad IP, wrong member types).
    pub fn skipped_entries(&self) -> usize {
        self.skipped_entries
    }

    /// Appends to `ids`, in file order, every lease whose hostname equals
    /// `name` ignoring ASCII case (DECISIONS.md N7).
    pub fn find_by_hostname(&self, name: &[u8], ids: &mut Vec<u32>) {
        self.try_find_by_hostname(name, ids)
            .unwrap_or_else(|OutOfMemory| out_of_memory());
    }

    /// [`find_by_hostname`](Self::find_by_hostname), failing instead of
    /// aborting when memory runs out (N30).
    pub fn try_find_by_hostname(&self, name: &[u8], ids: &mut Vec<u32>) -> Result<(), OutOfMemory> {
        // A garbled string matches no name (N27): it is not indexed.
        let index = self.index(&self.by_hostname, |index, lease| {
            self.hostname_key(lease).map(|h| index.hash(h.as_bytes()))
        })?;
        collect_sorted(index, index.hash(name), ids, |id| {
            self.hostname(self.lease(id))
                .is_some_and(|h| h.as_bytes().eq_ignore_ascii_case(name))
        })
    }

    /// Appends to `ids`, in file order, every lease whose MAC equals `mac`
    /// ignoring ASCII case (DECISIONS.md N8).
    pub fn find_by_mac(&self, mac: &[u8], ids: &mut Vec<u32>) {
        self.try_find_by_mac(mac, ids)
            .unwrap_or_else(|OutOfMemory| out_of_memory());
    }

    /// [`find_by_mac`](Self::find_by_mac), failing instead of aborting.
    pub fn try_find_by_mac(&self, mac: &[u8], ids: &mut Vec<u32>) -> Result<(), OutOfMemory> {
        let index = self.index(&self.by_mac, |index, lease| {
            self.mac_key(lease).map(|m| index.hash(m.as_bytes()))
        })?;
        collect_sorted(index, index.hash(mac), ids, |id| {
            self.mac(self.lease(id))
                .is_some_and(|m| m.as_bytes().eq_ignore_ascii_case(mac))
        })
    }

    /// Appends to `ids`, in file order, every lease holding `address`.
    pub fn find_by_address(&self, address: IpAddr, ids: &mut Vec<u32>) {
        self.try_find_by_address(address, ids)
            .unwrap_or_else(|OutOfMemory| out_of_memory());
    }

    /// [`find_by_address`](Self::find_by_address), failing instead of aborting.
    pub fn try_find_by_address(
        &self,
        address: IpAddr,
        ids: &mut Vec<u32>,
    ) -> Result<(), OutOfMemory> {
        let index = self.index(&self.by_address, |index, lease| {
            Some(index.hash(&address_key(lease.address)))
        })?;
        collect_sorted(index, index.hash(&address_key(address)), ids, |id| {
            self.lease(id).address == address
        })
    }
}

impl fmt::Debug for LeaseFile {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.debug_struct("LeaseFile")
            .field("leases", &self.leases.len())
            .field("skipped_entries", &self.skipped_entries)
            .finish()
    }
}

/// Appends to `ids` the candidates of `hash` that `matches` accepts, in
/// increasing order.
fn collect_sorted(
    index: &KeyIndex,
    hash: u64,
    ids: &mut Vec<u32>,
    matches: impl Fn(u32) -> bool,
) -> Result<(), OutOfMemory> {
    let start = ids.len();
    let mut result = Ok(());
    index.candidates(hash, |id| {
        if result.is_ok() && matches(id) {
            result = ids.try_reserve(1).map(|()| ids.push(id));
        }
    });
    result?;
    ids[start..].sort_unstable();
    Ok(())
}

/// `size / per`, as a capacity: a guess that only sizes buffers.
pub(crate) fn estimate(size: u64, per: u64) -> usize {
    usize::try_from(size / per).unwrap_or(0)
}

/// What the infallible conveniences (for the CLI and tests) do when an
/// allocation fails: what an infallible `Vec::push` would do.
pub(crate) fn out_of_memory() -> ! {
    std::alloc::handle_alloc_error(std::alloc::Layout::new::<u64>())
}

/// Index key of an address: family tag + bytes, so `10.0.0.1` and
/// `::ffff:10.0.0.1` stay distinct.
fn address_key(address: IpAddr) -> [u8; 17] {
    let mut key = [0u8; 17];
    match address {
        IpAddr::V4(v4) => {
            key[0] = 4;
            key[1..5].copy_from_slice(&v4.octets());
        }
        IpAddr::V6(v6) => {
            key[0] = 6;
            key[1..].copy_from_slice(&v6.octets());
        }
    }
    key
}

/// Parses the text of `ip-address` strictly: dotted quad or RFC 4291 text, no
/// shorthand (`10.1`), no octal, no zone (DECISIONS.md N10), exactly as std's
/// `IpAddr::from_str`. The real writers only ever write canonical text.
pub fn parse_ip_address(text: &[u8]) -> Option<IpAddr> {
    // By hand: std's general parser took ~200 instructions per IPv4 lease
    // and ~800 per IPv6 one (N35); these accept exactly what it accepts.
    match parse_dotted_quad(text) {
        Some(v4) => Some(IpAddr::V4(v4)),
        None => parse_ipv6(text).map(IpAddr::V6),
    }
}

/// RFC 4291 text as std's `Ipv6Addr::from_str` reads it: eight groups of
/// 1-4 hex digits, or fewer around one `::`, the last two groups possibly
/// a dotted quad (never before `::`); no zone.
fn parse_ipv6(text: &[u8]) -> Option<std::net::Ipv6Addr> {
    let mut groups = [0u16; 8];
    let double_colon = text.windows(2).position(|pair| pair == b"::");
    let Some(at) = double_colon else {
        return (ipv6_groups(text, &mut groups, true)? == 8).then(|| groups.into());
    };
    let head = ipv6_groups(&text[..at], &mut groups, false)?;
    let mut tail = [0u16; 8];
    // `::` stands for at least one group of zeros.
    let room = 7usize.checked_sub(head)?;
    let tail_len = ipv6_groups(&text[at + 2..], &mut tail[..room], true)?;
    groups[8 - tail_len..].copy_from_slice(&tail[..tail_len]);
    Some(groups.into())
}

/// Fills `groups` from `text`, `:`-separated groups of 1-4 hex digits (the
/// last one may be a dotted quad, two groups, if `dotted_quad_last`);
/// returns how many, or `None` if they do not fit or are not groups. Empty
/// text is no group.
fn ipv6_groups(text: &[u8], groups: &mut [u16], dotted_quad_last: bool) -> Option<usize> {
    if text.is_empty() {
        return Some(0);
    }
    let mut count = 0;
    let mut parts = text.split(|&b| b == b':').peekable();
    while let Some(part) = parts.next() {
        if part.contains(&b'.') {
            if !dotted_quad_last || parts.peek().is_some() {
                return None;
            }
            let [a, b, c, d] = parse_dotted_quad(part)?.octets();
            groups
                .get_mut(count..count + 2)?
                .copy_from_slice(&[u16::from_be_bytes([a, b]), u16::from_be_bytes([c, d])]);
            return Some(count + 2);
        }
        if part.is_empty() || part.len() > 4 {
            return None;
        }
        let mut value = 0u16;
        for &digit in part {
            value = value << 4 | char::from(digit).to_digit(16)? as u16;
        }
        *groups.get_mut(count)? = value;
        count += 1;
    }
    Some(count)
}

/// `a.b.c.d`, each 0-255 in decimal without a leading zero (as std's
/// `Ipv4Addr::from_str`); `None` for anything else, IPv6 text included.
fn parse_dotted_quad(text: &[u8]) -> Option<std::net::Ipv4Addr> {
    let mut octets = [0u8; 4];
    let mut parts = text.split(|&b| b == b'.');
    for octet in &mut octets {
        let digits = parts.next()?;
        if digits.is_empty() || digits.len() > 3 || (digits.len() > 1 && digits[0] == b'0') {
            return None;
        }
        let mut value = 0u16;
        for &digit in digits {
            if !digit.is_ascii_digit() {
                return None;
            }
            value = value * 10 + u16::from(digit - b'0');
        }
        *octet = u8::try_from(value).ok()?;
    }
    parts
        .next()
        .is_none()
        .then_some(std::net::Ipv4Addr::from(octets))
}

/// The members of one `.status` entry, as found.
#[derive(Default)]
struct RawLease<'a> {
    ip_address: Option<Scalar<'a>>,
    mac_address: Option<Scalar<'a>>,
    hostname: Option<Scalar<'a>>,
    expiry_time: Option<Scalar<'a>>,
}

impl RawLease<'_> {
    /// The usable lease, or `None` when this entry must be skipped.
    fn validate(self, text: &mut TextArenaBuilder) -> Result<Option<Lease>, OutOfMemory> {
        let address = match self.ip_address {
            Some(Scalar::Str(ip)) => match parse_ip_address(ip.as_bytes()) {
                Some(address) => address,
                None => return Ok(None),
            },
            _ => return Ok(None),
        };
        let expiry = match self.expiry_time {
            None => 0,
            Some(Scalar::Int(seconds)) => seconds,
            Some(_) => return Ok(None),
        };
        // Check every member's type before storing any text.
        let is_text_or_absent = |member: &Option<Scalar>| {
            matches!(
                member,
                None | Some(Scalar::Null | Scalar::Str(_) | Scalar::Garbled(_))
            )
        };
        if !is_text_or_absent(&self.hostname) || !is_text_or_absent(&self.mac_address) {
            return Ok(None);
        }
        let hostname = match self.hostname {
            Some(Scalar::Str(name)) => text.push(name.as_bytes())?,
            Some(Scalar::Garbled(name)) => text.push(name.as_bytes())?.garbled(),
            _ => Span::ABSENT,
        };
        let mac = match self.mac_address {
            Some(Scalar::Str(mac)) => text.push_lowercase(mac.as_bytes())?,
            Some(Scalar::Garbled(mac)) => text.push_lowercase(mac.as_bytes())?.garbled(),
            _ => Span::ABSENT,
        };
        Ok(Some(Lease {
            address,
            expiry,
            hostname,
            mac,
        }))
    }
}

impl<'a> RawLease<'a> {
    /// Reads one entry object; a repeated member keeps its last value, as in
    /// the C modules.
    fn read(reader: &mut JsonReader<'a>) -> Result<RawLease<'a>, Fault> {
        const NAMES: [&[u8]; 4] = [b"ip-address", b"mac-address", b"hostname", b"expiry-time"];
        let mut lease = RawLease::default();
        let mut object = reader.object()?;
        while let Some(member) = object.next_key_among(reader, &NAMES)? {
            let slot = match member {
                Key::Known(0) => &mut lease.ip_address,
                Key::Known(1) => &mut lease.mac_address,
                Key::Known(2) => &mut lease.hostname,
                Key::Known(_) => &mut lease.expiry_time,
                Key::Other => {
                    reader.skip_value(2)?;
                    continue;
                }
            };
            *slot = Some(reader.scalar(2)?);
        }
        Ok(lease)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hostnames_of(file: &LeaseFile) -> Vec<Option<&str>> {
        file.leases().iter().map(|l| file.hostname(l)).collect()
    }

    #[test]
    fn addresses_parse_exactly_as_std_parses_them() {
        let mut cases: Vec<String> = [
            "0.0.0.0",
            "255.255.255.255",
            "256.0.0.0",
            "1.2.3.4.",
            ".1.2.3.4",
            "1.2.3",
            "1.2.3.04",
            "01.2.3.4",
            "1..2.3",
            "1.2.3.4 ",
            "+1.2.3.4",
            "::1",
            "::ffff:10.0.0.1",
            "fe80::1%1",
            "1.2.3.4:5",
            "0x1.2.3.4",
            "1.2.3.999",
            "",
            ".",
            "1.2.3.-4",
            "12345.1.1.1",
        ]
        .map(str::to_owned)
        .into();
        // Every string of up to 7 characters over these.
        let alphabet = ['0', '1', '2', '5', '9', '.', ':'];
        let mut frontier = vec![String::new()];
        for _ in 0..7 {
            let next: Vec<String> = frontier
                .iter()
                .flat_map(|s| alphabet.iter().map(move |c| format!("{s}{c}")))
                .collect();
            cases.extend(next.iter().cloned());
            frontier = next;
        }
        for case in &cases {
            assert_eq!(
                parse_ip_address(case.as_bytes()),
                case.parse::<IpAddr>().ok(),
                "{case:?}"
            );
        }
    }

    /// IPv6 text as std reads it, on generated addresses in every spelling
    /// (compressed, leading zeros, upper case, dotted quad) and on random
    /// strings over the characters that matter, mutated.
    #[test]
    fn ipv6_addresses_parse_exactly_as_std_parses_them() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move |bound: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % bound
        };
        let chars = b"0123456789abcdefABCDEF::::....%x ";
        let mut checked = 0;
        for round in 0..400_000 {
            let mut text = if round % 2 == 0 {
                // A real address in one of std's or a writer's spellings.
                let mut groups = [0u16; 8];
                for group in &mut groups {
                    *group = match next(4) {
                        0 => 0,
                        1 => next(16) as u16,
                        _ => next(65536) as u16,
                    };
                }
                let address = std::net::Ipv6Addr::from(groups);
                match next(4) {
                    0 => address.to_string(),
                    1 => groups.map(|g| format!("{g:04X}")).join(":"),
                    2 => groups.map(|g| format!("{g:x}")).join(":"),
                    _ => format!(
                        "::ffff:{}.{}.{}.{}",
                        next(300),
                        next(300),
                        next(300),
                        next(300)
                    ),
                }
                .into_bytes()
            } else {
                (0..next(46))
                    .map(|_| chars[next(chars.len() as u64) as usize])
                    .collect()
            };
            // Mutate: delete, insert or replace a character.
            if next(3) == 0 && !text.is_empty() {
                let at = next(text.len() as u64) as usize;
                match next(3) {
                    0 => {
                        text.remove(at);
                    }
                    1 => text.insert(at, chars[next(chars.len() as u64) as usize]),
                    _ => text[at] = chars[next(chars.len() as u64) as usize],
                }
            }
            let expected = std::str::from_utf8(&text).unwrap().parse::<IpAddr>().ok();
            assert_eq!(
                parse_ip_address(&text),
                expected,
                "{:?}",
                String::from_utf8_lossy(&text)
            );
            checked += usize::from(expected.is_some());
        }
        assert!(
            checked > 100_000,
            "only {checked} valid addresses were checked"
        );
        for text in [
            "::",
            "::1",
            "1::",
            "1:2:3:4:5:6:7:8",
            "1:2:3:4:5:6:7::",
            "::2:3:4:5:6:7:8",
            "1:2:3:4:5:6:7:8:9",
            "1::2::3",
            ":1::",
            "1:::2",
            "::1.2.3.4",
            "1:2:3:4:5:6:1.2.3.4",
            "1:2:3:4:5:1.2.3.4",
            "1.2.3.4::",
            "::1.2.3.4:5",
            "1::2:3:4:5:6:1.2.3.4",
            "1::2:3:4:5:1.2.3.4",
            "12345::",
            "::ffff:010.0.0.1",
            "fe80::1%eth0",
            ":",
            ":::",
        ] {
            assert_eq!(
                parse_ip_address(text.as_bytes()),
                text.parse::<IpAddr>().ok(),
                "{text:?}"
            );
        }
    }

    #[test]
    fn parses_helper_output_with_every_member() {
        let file = LeaseFile::parse(
            br#"[
  {
    "iaid": "1191936",
    "ip-address": "fd00:123::98",
    "mac-address": "52:54:00:12:30:00",
    "hostname": "vm-alpha",
    "client-id": "00:03:00:01:52:54:00:12:30:00",
    "server-duid": "00:01:00:01:32:97:e6:9e:26:1c:1d:78:38:8e",
    "expiry-time": 1795508081
  },
  {
    "ip-address": "192.168.123.208",
    "mac-address": "52:54:00:AB:30:01",
    "expiry-time": 0
  }
]
"#,
        )
        .unwrap();
        assert_eq!(file.leases().len(), 2);
        let first = file.lease(0);
        assert_eq!(first.address, "fd00:123::98".parse::<IpAddr>().unwrap());
        assert_eq!(first.expiry, 1795508081);
        assert_eq!(file.hostname(first), Some("vm-alpha"));
        assert_eq!(file.mac(file.lease(1)), Some("52:54:00:ab:30:01"));
        assert_eq!(file.hostname(file.lease(1)), None);
    }

    #[test]
    fn empty_forms_have_no_leases() {
        for bytes in [&b""[..], b"  \n", b"[]", b"[\n\n]\n"] {
            let file = LeaseFile::parse(bytes).unwrap();
            assert!(file.leases().is_empty(), "{bytes:?}");
        }
    }

    #[test]
    fn broken_documents_are_errors() {
        for bytes in [
            &b"{}"[..],
            b"\"x\"",
            b"5",
            b"[{\"ip-address\": \"10.0.0.1\"",
            b"[] x",
            b"[] []",
            b"\xef\xbb\xbf[]",
            b"/*c*/[]",
            b"[{\"ip-address\": \"10.0.0.1\"}\xff]",
            b"[{\"hostname\": \"a\tb\"}]",
        ] {
            assert!(
                LeaseFile::parse(bytes).is_err(),
                "{:?}",
                String::from_utf8_lossy(bytes)
            );
        }
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        let deep = "[".repeat(200_000);
        assert!(LeaseFile::parse(deep.as_bytes()).is_err());
        let deep_inside = format!("[{{\"x\": {}", "[".repeat(200_000));
        assert!(LeaseFile::parse(deep_inside.as_bytes()).is_err());
    }

    /// `[{"hostname": "deep", ..., "x": [[[...]]]}]`, `extra` containers
    /// deeper than the deepest accepted document.
    fn deep_member(extra: usize) -> String {
        let nested = json::MAX_DEPTH - 2 + extra;
        format!(
            r#"[{{"ip-address": "10.0.0.1", "hostname": "deep", "x": {}{}{}}}]"#,
            "[{\"y\": ".repeat(nested / 2) + &"[".repeat(nested % 2),
            "1",
            "]".repeat(nested % 2) + &"}]".repeat(nested / 2)
        )
    }

    #[test]
    fn the_deepest_accepted_document_parses_on_a_small_thread_stack() {
        let parsed = std::thread::Builder::new()
            .stack_size(16 * 1024)
            .spawn(|| {
                let deepest = LeaseFile::parse(deep_member(0).as_bytes()).map(|f| f.leases().len());
                let deeper = LeaseFile::parse(deep_member(1).as_bytes()).map(|f| f.leases().len());
                (deepest, deeper.is_err())
            })
            .unwrap()
            .join()
            .unwrap();
        assert_eq!(parsed, (Ok(1), true));
    }

    #[test]
    fn a_bad_entry_is_skipped_and_the_others_kept() {
        let file = LeaseFile::parse(
            br#"[
  {"ip-address": "10.0.0.1", "hostname": "good1", "expiry-time": 5},
  {"ip-address": "10.1", "hostname": "shorthand"},
  {"ip-address": "010.0.0.1", "hostname": "octal"},
  {"ip-address": "fe80::1%eth0", "hostname": "zone"},
  {"ip-address": " 10.0.0.2", "hostname": "space"},
  {"ip-address": 167772161, "hostname": "integer-ip"},
  {"hostname": "no-ip"},
  {"ip-address": "10.0.0.3", "hostname": 7},
  {"ip-address": "10.0.0.4", "hostname": "float-expiry", "expiry-time": 1.5},
  {"ip-address": "10.0.0.5", "hostname": "string-expiry", "expiry-time": "5"},
  {"ip-address": "10.0.0.6", "hostname": "huge-expiry", "expiry-time": 99999999999999999999},
  {"ip-address": "10.0.0.7", "mac-address": ["x"]},
  1.5, true, null, "text", 7, [],
  {"ip-address": "10.0.0.8", "hostname": "good2", "iaid": 5, "extra": {"nested": [1, {"a": null}]}}
]"#,
        )
        .unwrap();
        assert_eq!(hostnames_of(&file), vec![Some("good1"), Some("good2")]);
        assert_eq!(file.skipped_entries(), 11);
    }

    #[test]
    fn a_string_that_is_not_utf8_costs_only_its_own_match() {
        // The lease helper (like yajl) keeps overlong forms it is given.
        let file = LeaseFile::parse(
            b"[{\"ip-address\": \"10.0.0.1\", \"hostname\": \"h\xc0\x80\"},\n {\"ip-address\": \"10.0.0.2\", \"hostname\": \"ok\"}]",
        )
        .unwrap();
        assert_eq!(
            hostnames_of(&file),
            vec![Some("h\u{fffd}\u{fffd}"), Some("ok")]
        );
        let mut ids = Vec::new();
        file.find_by_hostname(b"h\xc0\x80", &mut ids);
        assert!(ids.is_empty());
    }

    #[test]
    fn replacement_characters_do_not_alias_bytes_that_are_not_text() {
        let file = LeaseFile::parse(
            b"[{\"ip-address\": \"10.0.0.1\", \"hostname\": \"bad\xffname\", \"mac-address\": \"52:54:00:00:00:\xff\"},\n \
              {\"ip-address\": \"10.0.0.2\", \"hostname\": \"lone\\ud800\", \"mac-address\": \"52:54:00:00:00:\\udc00\"},\n \
              {\"ip-address\": \"10.0.0.3\", \"hostname\": \"real\xef\xbf\xbd\", \"mac-address\": \"52:54:00:00:00:\\ufffd\"}]",
        )
        .unwrap();
        assert_eq!(
            hostnames_of(&file),
            vec![
                Some("bad\u{fffd}name"),
                Some("lone\u{fffd}"),
                Some("real\u{fffd}")
            ]
        );
        let find = |name: &str, by_mac: bool| {
            let mut ids = Vec::new();
            if by_mac {
                file.find_by_mac(name.as_bytes(), &mut ids);
            } else {
                file.find_by_hostname(name.as_bytes(), &mut ids);
            }
            ids
        };
        assert!(find("bad\u{fffd}name", false).is_empty());
        assert!(find("lone\u{fffd}", false).is_empty());
        assert!(find("52:54:00:00:00:\u{fffd}", true) == vec![2]);
        // A U+FFFD written in the file is text like any other.
        assert_eq!(find("REAL\u{fffd}", false), vec![2]);
        assert_eq!(file.hostname_key(file.lease(0)), None);
        assert_eq!(file.mac_key(file.lease(1)), None);
        assert_eq!(file.hostname_key(file.lease(2)), Some("real\u{fffd}"));
    }

    #[test]
    fn a_lone_surrogate_escape_costs_only_its_own_string() {
        // yajl (the C modules, libvirt's helper) accepts lone surrogates.
        let file = LeaseFile::parse(
            br#"[{"ip-address": "10.0.0.1", "hostname": "lone\ud800"},
                 {"ip-address": "10.0.0.2", "hostname": "ok", "x": "\udc00"},
                 {"ip-address": "10.0.0.3", "hostname": "\ud83d\ude00"}]"#,
        )
        .unwrap();
        assert_eq!(
            hostnames_of(&file),
            vec![Some("lone\u{fffd}"), Some("ok"), Some("\u{1f600}")]
        );
        let mut ids = Vec::new();
        file.find_by_hostname(b"OK", &mut ids);
        assert_eq!(ids, vec![1]);
    }

    #[test]
    fn entries_without_mac_or_hostname_are_kept() {
        let file = LeaseFile::parse(br#"[{"ip-address": "10.0.0.1", "hostname": null}]"#).unwrap();
        assert_eq!(file.leases().len(), 1);
        assert_eq!(file.hostname(file.lease(0)), None);
        assert_eq!(file.mac(file.lease(0)), None);
    }

    #[test]
    fn repeated_members_take_the_last_value_and_escapes_are_decoded() {
        let file = LeaseFile::parse(
            br#"[{"ip-address": "10.0.0.1", "ip-address": "10.0.0.9", "hostname": "x", "hostname": "fe\u0064ora"}]"#,
        )
        .unwrap();
        let lease = file.lease(0);
        assert_eq!(lease.address.to_string(), "10.0.0.9");
        assert_eq!(file.hostname(lease), Some("fedora"));
    }

    #[test]
    fn negative_and_extreme_expiries_are_kept_and_live_compares_unsigned() {
        let file = LeaseFile::parse(
            br#"[{"ip-address": "10.0.0.1", "expiry-time": -5},
                 {"ip-address": "10.0.0.2", "expiry-time": 9223372036854775807},
                 {"ip-address": "10.0.0.3", "expiry-time": 100}]"#,
        )
        .unwrap();
        let expiries: Vec<i64> = file.leases().iter().map(|l| l.expiry).collect();
        assert_eq!(expiries, vec![-5, i64::MAX, 100]);
        assert!(file.lease(0).is_live(1_000));
        assert!(file.lease(1).is_live(1_000));
        assert!(file.lease(2).is_live(100), "expiry == now is still live");
        assert!(!file.lease(2).is_live(101));
    }

    #[test]
    fn indexes_find_by_hostname_mac_and_address_in_file_order() {
        let mut text = String::from("[");
        for i in 0..500 {
            text += &format!(
                r#"{{"ip-address": "10.0.{}.{}", "mac-address": "52:54:00:00:{:02X}:{:02x}", "hostname": "host{}", "expiry-time": 0}},"#,
                i / 250,
                i % 250,
                i / 256,
                i % 256,
                i % 100
            );
        }
        text.pop();
        text.push(']');
        let file = LeaseFile::parse(text.as_bytes()).unwrap();
        let mut ids = Vec::new();
        file.find_by_hostname(b"HOST7", &mut ids);
        assert_eq!(ids, vec![7, 107, 207, 307, 407]);
        ids.clear();
        file.find_by_mac(b"52:54:00:00:01:2c", &mut ids);
        assert_eq!(ids, vec![300]);
        ids.clear();
        file.find_by_address("10.0.1.3".parse().unwrap(), &mut ids);
        assert_eq!(ids, vec![253]);
        ids.clear();
        file.find_by_hostname(b"host", &mut ids);
        file.find_by_address("::ffff:10.0.1.3".parse().unwrap(), &mut ids);
        assert!(ids.is_empty());
    }
}
