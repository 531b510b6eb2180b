//! A compact multimap from a case-insensitive byte key to entry ids.
//!
//! Lease files can hold 100,000 entries, and every process that resolves a
//! name keeps one snapshot of them, so the indexes must be small: this is an
//! open-addressing table of `u32` ids (4 bytes per slot, at most half full),
//! not a `HashMap<String, Vec<_>>`. Keys are not stored: the caller checks each
//! candidate id against its own entry, which also filters hash collisions.

use std::hash::{BuildHasher, Hasher, RandomState};

/// Slot value for "empty"; occupied slots hold `id + 1`.
const EMPTY: u32 = 0;

pub(crate) struct KeyIndex {
    slots: Box<[u32]>,
    /// Random per table, so that guests choosing their DHCP hostnames cannot
    /// force every name into one probe chain.
    seed: RandomState,
}

impl KeyIndex {
    /// A table for up to `capacity` entries.
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        let slots = (capacity.saturating_mul(2)).next_power_of_two().max(8);
        KeyIndex {
            slots: vec![EMPTY; slots].into_boxed_slice(),
            seed: RandomState::new(),
        }
    }

    /// Hash of `key` with ASCII letters folded to lower case.
    pub(crate) fn hash(&self, key: &[u8]) -> u64 {
        let mut hasher = self.seed.build_hasher();
        for &byte in key {
            hasher.write_u8(byte.to_ascii_lowercase());
        }
        hasher.finish()
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

    pub(crate) fn heap_bytes(&self) -> usize {
        self.slots.len() * std::mem::size_of::<u32>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_every_id_of_a_key_in_insertion_order_despite_collisions() {
        let keys: [&[u8]; 5] = [b"alpha", b"Beta", b"ALPHA", b"gamma", b"alpha"];
        let mut index = KeyIndex::with_capacity(keys.len());
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
    fn a_full_chain_of_identical_keys_is_still_found() {
        let mut index = KeyIndex::with_capacity(1000);
        let hash = index.hash(b"same");
        for id in 0..1000 {
            index.insert(hash, id);
        }
        let mut count = 0;
        index.candidates(hash, |_| count += 1);
        assert_eq!(count, 1000);
    }
}
