//! `<bridge>.macs`: libvirtd's map from domain name to the MACs of its NICs.
//!
//! `[{"domain": "vm1", "macs": ["52:54:00:..", ..]}, ..]`. An entry without a
//! string `domain` is skipped (the C module would let it inherit the previous
//! entry's domain, a quirk we don't copy); non-string MACs are ignored.

use std::cell::OnceCell;
use std::fmt;
use std::io::Read;

use crate::json::{self, Fault, JsonError, JsonReader, Key, ReadError, Scalar, Text};
use crate::key_index::KeyIndex;
use crate::status_file::estimate;
use crate::text_arena::{Span, TextArena, TextArenaBuilder};
use crate::OutOfMemory;

struct DomainEntry {
    name: Span,
    /// Range into `MacsFile::macs`.
    first_mac: u32,
    mac_count: u32,
}

/// A parsed `.macs` file with its lookup indexes.
pub struct MacsFile {
    domains: Vec<DomainEntry>,
    /// Lower-cased MACs (DECISIONS.md N8), grouped by domain.
    macs: Vec<Span>,
    text: TextArena,
    by_domain: KeyIndex,
    /// MAC → index into `macs`: only reverse lookups need it, so the first
    /// one builds it (N35).
    by_mac: OnceCell<KeyIndex>,
    skipped_entries: usize,
}

impl MacsFile {
    pub fn parse(bytes: &[u8]) -> Result<MacsFile, JsonError> {
        MacsFile::read_from(bytes, bytes.len() as u64, u64::MAX)
            .map_err(|e| e.into_json_error(bytes))
    }

    /// Reads and parses a `.macs` file from `source` in chunks (see
    /// [`LeaseFile::read_from`](crate::status_file::LeaseFile::read_from)).
    pub fn read_from(source: impl Read, size: u64, limit: u64) -> Result<MacsFile, ReadError> {
        // Sized from the file's size, as in `LeaseFile::read_from` (an
        // entry with one MAC is ~80 bytes as libvirtd writes it).
        let mut domains = Vec::new();
        domains
            .try_reserve_exact(estimate(size, 80))
            .map_err(OutOfMemory::from)?;
        let mut macs = Vec::new();
        macs.try_reserve_exact(estimate(size, 80))
            .map_err(OutOfMemory::from)?;
        let mut text = TextArenaBuilder::with_capacity(estimate(size, 3))?;
        let mut skipped_entries = 0;
        json::for_each_object_in_array(source, size, limit, |reader| {
            let entry = RawDomain::read(reader)?;
            let name = match entry.domain {
                Some(Scalar::Str(name)) => Some(text.push(name.as_bytes())?),
                Some(Scalar::Garbled(name)) => Some(text.push(name.as_bytes())?.garbled()),
                _ => None,
            };
            match name {
                Some(name) => {
                    let first_mac = macs.len() as u32;
                    macs.try_reserve(entry.macs.len())
                        .map_err(OutOfMemory::from)?;
                    for (mac, is_text) in entry.macs {
                        let span = text.push_lowercase(mac.as_bytes())?;
                        macs.push(if is_text { span } else { span.garbled() });
                    }
                    let mac_count = macs.len() as u32 - first_mac;
                    domains.try_reserve(1).map_err(OutOfMemory::from)?;
                    domains.push(DomainEntry {
                        name,
                        first_mac,
                        mac_count,
                    });
                }
                _ => skipped_entries += 1,
            }
            Ok(())
        })?;
        let mut file = MacsFile {
            domains,
            macs,
            text: text.finish().ok_or(ReadError::Syntax {
                offset: 0,
                reason: "internal error: text that is not UTF-8",
            })?,
            by_domain: KeyIndex::with_capacity(0)?,
            by_mac: OnceCell::new(),
            skipped_entries,
        };
        // Garbled names and MACs match nothing (N27): they are not indexed.
        file.by_domain = KeyIndex::with_capacity(file.domains.len())?;
        for (id, domain) in file.domains.iter().enumerate() {
            if !domain.name.is_text() {
                continue;
            }
            let hash = file.by_domain.hash(file.text.get(domain.name).as_bytes());
            file.by_domain.insert(hash, id as u32);
        }
        Ok(file)
    }

    /// The MAC index, built now if no lookup has needed it yet.
    pub fn try_mac_index(&self) -> Result<(), OutOfMemory> {
        if self.by_mac.get().is_none() {
            let mut index = KeyIndex::with_capacity(self.macs.len())?;
            for (id, mac) in self.macs.iter().enumerate() {
                if mac.is_text() {
                    index.insert(index.hash(self.text.get(*mac).as_bytes()), id as u32);
                }
            }
            let _ = self.by_mac.set(index);
        }
        Ok(())
    }

    /// Every (domain, MACs) entry in file order.
    pub fn domains(&self) -> impl Iterator<Item = (&str, impl Iterator<Item = &str> + '_)> + '_ {
        self.domains
            .iter()
            .map(|d| (self.text.get(d.name), self.macs_of(d)))
    }

    fn macs_of<'a>(&'a self, domain: &DomainEntry) -> impl Iterator<Item = &'a str> + 'a {
        let range = domain.first_mac as usize..(domain.first_mac + domain.mac_count) as usize;
        self.macs[range].iter().map(|span| self.text.get(*span))
    }

    /// Calls `visit` with each MAC of every entry whose domain equals `name`
    /// ignoring ASCII case, in file order.
    pub fn for_each_mac_of_domain<'a>(&'a self, name: &[u8], visit: impl FnMut(&'a str)) {
        self.try_for_each_mac_of_domain(name, visit)
            .unwrap_or_else(|OutOfMemory| crate::status_file::out_of_memory());
    }

    /// [`for_each_mac_of_domain`](Self::for_each_mac_of_domain), failing
    /// instead of aborting when memory runs out (N30).
    pub fn try_for_each_mac_of_domain<'a>(
        &'a self,
        name: &[u8],
        mut visit: impl FnMut(&'a str),
    ) -> Result<(), OutOfMemory> {
        let mut ids = Vec::new();
        let mut result = Ok(());
        self.by_domain.candidates(self.by_domain.hash(name), |id| {
            let domain = &self.domains[id as usize];
            if result.is_ok()
                && self
                    .text
                    .get(domain.name)
                    .as_bytes()
                    .eq_ignore_ascii_case(name)
            {
                result = ids.try_reserve(1).map(|()| ids.push(id));
            }
        });
        result?;
        ids.sort_unstable();
        for id in ids {
            let domain = &self.domains[id as usize];
            let range = domain.first_mac as usize..(domain.first_mac + domain.mac_count) as usize;
            self.macs[range]
                .iter()
                .filter(|span| span.is_text())
                .for_each(|span| visit(self.text.get(*span)));
        }
        Ok(())
    }

    /// The first domain (in file order) that lists `mac`, ignoring case.
    /// Builds the MAC index if needed: a lookup that must not abort calls
    /// [`try_mac_index`](Self::try_mac_index) first.
    pub fn domain_of_mac(&self, mac: &[u8]) -> Option<&str> {
        self.try_mac_index()
            .unwrap_or_else(|OutOfMemory| crate::status_file::out_of_memory());
        let by_mac = self.by_mac.get()?;
        let mut first: Option<u32> = None;
        by_mac.candidates(by_mac.hash(mac), |id| {
            let matches = self
                .text
                .get(self.macs[id as usize])
                .as_bytes()
                .eq_ignore_ascii_case(mac);
            if matches && first.map_or(true, |f| id < f) {
                first = Some(id);
            }
        });
        let mac_id = first?;
        // Domains hold consecutive MAC ranges in order: find the owner.
        let owner = self
            .domains
            .partition_point(|d| d.first_mac + d.mac_count <= mac_id);
        self.domains.get(owner).map(|d| self.text.get(d.name))
    }

    pub fn skipped_entries(&self) -> usize {
        self.skipped_entries
    }
}

impl fmt::Debug for MacsFile {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.debug_struct("MacsFile")
            .field("domains", &self.domains.len())
            .field("macs", &self.macs.len())
            .finish()
    }
}

#[derive(Default)]
struct RawDomain<'a> {
    domain: Option<Scalar<'a>>,
    /// Every string of every `macs` array (repeated arrays accumulate, as in
    /// C), and whether it is text (not garbled, N27); other element types,
    /// and a `macs` that is not an array, add none.
    macs: Vec<(Text<'a>, bool)>,
}

impl<'a> RawDomain<'a> {
    fn read(reader: &mut JsonReader<'a>) -> Result<RawDomain<'a>, Fault> {
        let mut entry = RawDomain::default();
        let mut object = reader.object()?;
        while let Some(member) = object.next_key_among(reader, &[b"domain", b"macs"])? {
            match member {
                Key::Known(0) => entry.domain = Some(reader.scalar(2)?),
                Key::Known(_) if reader.peek() == Some(b'[') => {
                    let mut macs = reader.array()?;
                    while macs.next(reader)? {
                        let mac = match reader.scalar(3)? {
                            Scalar::Str(mac) => (mac, true),
                            Scalar::Garbled(mac) => (Text::Str(mac), false),
                            _ => continue,
                        };
                        entry.macs.try_reserve(1).map_err(OutOfMemory::from)?;
                        entry.macs.push(mac);
                    }
                }
                _ => reader.skip_value(2)?,
            }
        }
        Ok(entry)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn macs_of(file: &MacsFile, name: &str) -> Vec<String> {
        let mut macs = Vec::new();
        file.for_each_mac_of_domain(name.as_bytes(), |m| macs.push(m.to_owned()));
        macs
    }

    #[test]
    fn parses_libvirtd_output() {
        let file = MacsFile::parse(
            br#"[
  {
    "domain": "Beta",
    "macs": [
      "52:54:00:00:00:02"
    ]
  },
  {
    "domain": "alpha",
    "macs": [
      "52:54:00:00:00:01",
      "52:54:00:AA:00:11"
    ]
  }
]
"#,
        )
        .unwrap();
        assert_eq!(
            macs_of(&file, "ALPHA"),
            vec!["52:54:00:00:00:01", "52:54:00:aa:00:11"]
        );
        assert_eq!(macs_of(&file, "beta"), vec!["52:54:00:00:00:02"]);
        assert!(macs_of(&file, "gamma").is_empty());
        assert_eq!(file.domain_of_mac(b"52:54:00:aa:00:11"), Some("alpha"));
        assert_eq!(file.domain_of_mac(b"52:54:00:00:00:02"), Some("Beta"));
        assert_eq!(file.domain_of_mac(b"52:54:00:00:00:09"), None);
    }

    #[test]
    fn odd_entries_are_skipped_not_inherited() {
        let file = MacsFile::parse(
            br#"[{"domain": "a", "macs": ["m1"]},
                 {"macs": ["m2"]},
                 {"domain": 5, "macs": ["m3"]},
                 {"domain": "b", "macs": [1, "m4", null, true, ["x"]], "other": ["m5"], "domain2": "c"},
                 {"domain": "c", "macs": "m6"},
                 {"domain": "b", "macs": ["m7"], "macs": ["m8"]},
                 7, "x"]"#,
        )
        .unwrap();
        assert_eq!(macs_of(&file, "a"), vec!["m1"]);
        assert_eq!(macs_of(&file, "b"), vec!["m4", "m7", "m8"]);
        assert!(macs_of(&file, "c").is_empty());
        assert_eq!(file.skipped_entries(), 2);
    }

    #[test]
    fn garbled_names_and_macs_match_nothing() {
        let file = MacsFile::parse(
            b"[{\"domain\": \"bad\xffname\", \"macs\": [\"m1\"]},\n \
              {\"domain\": \"good\", \"macs\": [\"m\xff\", \"m\\ud800\", \"m2\"]},\n \
              {\"domain\": \"lone\\udc00\", \"macs\": [\"m3\"]}]",
        )
        .unwrap();
        assert!(macs_of(&file, "bad\u{fffd}name").is_empty());
        assert!(macs_of(&file, "lone\u{fffd}").is_empty());
        assert_eq!(macs_of(&file, "good"), vec!["m2"]);
        assert_eq!(file.domain_of_mac(b"m\xef\xbf\xbd"), None);
        assert_eq!(file.domain_of_mac(b"m1"), Some("bad\u{fffd}name"));
        assert_eq!(file.domains().count(), 3);
    }

    #[test]
    fn empty_forms_and_errors() {
        for bytes in [&b""[..], b"\n", b"[]", b"[\n\n]\n"] {
            assert_eq!(MacsFile::parse(bytes).unwrap().domains().count(), 0);
        }
        for bytes in [&b"{}"[..], b"[", b"[{\"domain\": \"a\"}] x"] {
            assert!(MacsFile::parse(bytes).is_err());
        }
    }
}
