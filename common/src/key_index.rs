//! A compact multimap from a case-insensitive byte key to entry ids.
//!
//! Lease files can hold 100,000 entries, and every process that resolves a
//! name keeps one snapshot of them, so the indexes must be small: this is an
//! open-addressing table of `u32` ids (4 bytes per slot, at most half full),
//! not a `HashMap<String, Vec<_>>`. Keys are not stored: the caller checks each
//! candidate id against its own entry, which also filters hash collisions.
//!
//! Building the indexes is on the cold path (every lease of a changed file is
//! hashed three times), so the hash is a seeded multiply-rotate over 8-byte
//! words with SWAR case folding rather than SipHash byte by byte.

use std::hash::{BuildHasher, RandomState};

use crate::OutOfMemory;

/// Slot value for "empty"; occupied slots hold `id + 1`.
const EMPTY: u32 = 0;

pub(crate) struct KeyIndex {
    slots: Vec<u32>,
    /// Random per table, so that guests choosing their DHCP hostnames cannot
    /// precompute names that share one probe chain.
    seed: u64,
}

impl KeyIndex {
    /// A table for up to `capacity` entries.
    pub(crate) fn with_capacity(capacity: usize) -> Result<Self, OutOfMemory> {
        let len = (capacity.saturating_mul(2)).next_power_of_two().max(8);
        let mut slots = Vec::new();
        slots.try_reserve_exact(len)?;
        slots.resize(len, EMPTY);
        Ok(KeyIndex {
            slots,
            seed: RandomState::new().hash_one(0x6c69_6276_6972_7421_u64),
        })
    }

    /// Hash of `key` with ASCII letters folded to lower case.
    pub(crate) fn hash(&self, key: &[u8]) -> u64 {
        const MULTIPLIER: u64 = 0x517c_c1b7_2722_0a95;
        let mix = |hash: u64, word: u64| {
            (hash.rotate_left(5) ^ fold_ascii_case(word)).wrapping_mul(MULTIPLIER)
        };
        let mut hash = self.seed ^ key.len() as u64;
        let mut words = key.chunks_exact(8);
        for word in &mut words {
            let mut bytes = [0u8; 8];
            bytes.copy_from_slice(word);
            hash = mix(hash, u64::from_le_bytes(bytes));
        }
        let tail = words.remainder();
        if !tail.is_empty() {
            let mut bytes = [0u8; 8];
            bytes[..tail.len()].copy_from_slice(tail);
            hash = mix(hash, u64::from_le_bytes(bytes));
        }
        // The slot is taken from the low bits: spread the high ones down.
        hash ^= hash >> 32;
        hash = hash.wrapping_mul(MULTIPLIER);
        hash ^ (hash >> 29)
    }

    /// Adds `id` under `hash`. Ids inserted in increasing order under one
    /// key are found again in that order.
    pub(crate) fn insert(&mut self, hash: u64, id: u32) {
        let mask = self.slots.len() - 1;
        let mut slot = hash as usize & mask;
        while self.slots[slot] != EMPTY {
            slot = (slot + 1) & mask;
        }
        self.slots[slot] = id + 1;
    }

    /// Calls `visit` with every id inserted under `hash`, plus possibly some
    /// ids of other keys (the caller compares keys).
    pub(crate) fn candidates(&self, hash: u64, mut visit: impl FnMut(u32)) {
        let mask = self.slots.len() - 1;
        let mut slot = hash as usize & mask;
        while self.slots[slot] != EMPTY {
            visit(self.slots[slot] - 1);
            slot = (slot + 1) & mask;
        }
    }
}

/// Lower-cases the ASCII letters among 8 bytes at once (bytes >= 0x80 are
/// left alone, as `eq_ignore_ascii_case` does).
fn fold_ascii_case(word: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH_BITS: u64 = 0x80 * ONES;
    let low7 = word & (0x7f * ONES);
    // Per byte, bit 7 is set when low7 >= 'A' (resp. > 'Z'); no carries, as
    // each sum stays below 0x100.
    let at_least_a = low7 + (0x80 - b'A' as u64) * ONES;
    let above_z = low7 + (0x80 - b'Z' as u64 - 1) * ONES;
    let upper = at_least_a & !above_z & !word & HIGH_BITS;
    word | (upper >> 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_every_id_of_a_key_in_insertion_order_despite_collisions() {
        let keys: [&[u8]; 5] = [b"alpha", b"Beta", b"ALPHA", b"gamma", b"alpha"];
        let mut index = KeyIndex::with_capacity(keys.len()).unwrap();
        for (id, key) in keys.iter().enumerate() {
            index.insert(index.hash(key), id as u32);
        }
        let mut found = Vec::new();
        index.candidates(index.hash(b"aLpHa"), |id| {
            if keys[id as usize].eq_ignore_ascii_case(b"alpha") {
                found.push(id)
            }
        });
        assert_eq!(found, vec![0, 2, 4]);
        let mut none = Vec::new();
        index.candidates(index.hash(b"delta"), |id| {
            if keys[id as usize].eq_ignore_ascii_case(b"delta") {
                none.push(id)
            }
        });
        assert!(none.is_empty());
    }

    #[test]
    fn hash_folds_exactly_ascii_letters() {
        let index = KeyIndex::with_capacity(1).unwrap();
        for byte in 0..=255u8 {
            let word = u64::from_le_bytes([byte; 8]);
            let expected = u64::from_le_bytes([byte.to_ascii_lowercase(); 8]);
            assert_eq!(fold_ascii_case(word), expected, "byte {byte:#x}");
        }
        assert_eq!(
            index.hash(b"Web-Server01.Example"),
            index.hash(b"web-server01.example")
        );
        assert_ne!(index.hash(b"web-server01"), index.hash(b"web-server02"));
        assert_ne!(index.hash(b"a"), index.hash(b"a\0"));
    }

    #[test]
    fn a_full_chain_of_identical_keys_is_still_found() {
        let mut index = KeyIndex::with_capacity(1000).unwrap();
        let hash = index.hash(b"same");
        for id in 0..1000 {
            index.insert(hash, id);
        }
        let mut count = 0;
        index.candidates(hash, |_| count += 1);
        assert_eq!(count, 1000);
    }
}
