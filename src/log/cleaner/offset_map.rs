//! A compaction pass's key → latest offset map in a fixed memory budget
//! (`log.cleaner.dedupe.buffer.size`), as Kafka's `SkimpyOffsetMap`: a key
//! is kept as a 128-bit hash beside its offset, 24 bytes a slot, in an
//! open-addressing table filled to at most 90% (Kafka's default
//! `log.cleaner.io.buffer.load.factor`). A full map takes no new key; the
//! pass then cleans only as far as the map reached.
//!
//! The hash is keyed afresh for every map, so that no producer can choose
//! two keys that collide (one would then shadow the other's latest value).

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;

use crate::types::Offset;

/// How full the table may get before it takes no new key.
const LOAD_FACTOR: f64 = 0.9;

#[derive(Debug, Clone, Copy)]
struct Slot {
    hash: [u64; 2],
    /// -1: empty.
    offset: i64,
}

const EMPTY: Slot = Slot {
    hash: [0, 0],
    offset: -1,
};

pub struct OffsetMap {
    slots: Vec<Slot>,
    entries: usize,
    max_entries: usize,
    hashers: [RandomState; 2],
}

impl OffsetMap {
    /// A map of at most `memory` bytes, and no larger than `keys` entries
    /// need (the records of the dirty range bound them).
    pub fn new(memory: usize, keys: usize) -> OffsetMap {
        let affordable = memory / std::mem::size_of::<Slot>();
        let needed = (keys as f64 / LOAD_FACTOR).ceil() as usize + 1;
        // Two slots at least: one entry, and an empty slot ending every probe.
        let slots = affordable.min(needed).max(2);
        let max_entries = ((slots as f64 * LOAD_FACTOR) as usize).clamp(1, slots - 1);
        OffsetMap {
            slots: vec![EMPTY; slots],
            entries: 0,
            max_entries,
            hashers: [RandomState::new(), RandomState::new()],
        }
    }

    fn hash(&self, key: &[u8]) -> [u64; 2] {
        [self.hashers[0].hash_one(key), self.hashers[1].hash_one(key)]
    }

    /// The slot holding `hash`, or the empty one where it would go.
    fn position(&self, hash: [u64; 2]) -> usize {
        let mut index = (hash[0] % self.slots.len() as u64) as usize;
        loop {
            let slot = &self.slots[index];
            if slot.offset < 0 || slot.hash == hash {
                return index;
            }
            index = (index + 1) % self.slots.len();
        }
    }

    /// Records `offset` as the latest of `key`. A key already in the map
    /// always fits; `false` if the key is new and the map is full.
    pub fn put(&mut self, key: &[u8], offset: Offset) -> bool {
        let hash = self.hash(key);
        let index = self.position(hash);
        if self.slots[index].offset < 0 {
            if self.entries >= self.max_entries {
                return false;
            }
            self.entries += 1;
        }
        self.slots[index] = Slot {
            hash,
            offset: offset.0,
        };
        true
    }

    /// The latest offset recorded for `key`.
    pub fn get(&self, key: &[u8]) -> Option<Offset> {
        let slot = &self.slots[self.position(self.hash(key))];
        (slot.offset >= 0).then_some(Offset(slot.offset))
    }

    /// Bytes the table takes.
    pub fn memory(&self) -> usize {
        self.slots.len() * std::mem::size_of::<Slot>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_keep_their_latest_offset_until_the_map_is_full() {
        // 240 bytes: ten slots, nine entries
        let mut map = OffsetMap::new(240, 1_000);
        assert_eq!(map.memory(), 240);
        for i in 0..9 {
            assert!(map.put(format!("key-{i}").as_bytes(), Offset(i)));
        }
        assert!(!map.put(b"one too many", Offset(9)));
        assert!(map.put(b"key-3", Offset(42)), "a known key always fits");
        assert_eq!(map.get(b"key-3"), Some(Offset(42)));
        assert_eq!(map.get(b"key-8"), Some(Offset(8)));
        assert_eq!(map.get(b"one too many"), None);
    }

    #[test]
    fn the_map_is_no_larger_than_its_keys_need() {
        let map = OffsetMap::new(128 << 20, 100);
        assert!(map.memory() <= 113 * 24, "{}", map.memory());
        let tiny = OffsetMap::new(0, 100);
        assert_eq!(tiny.max_entries, 1);
    }
}
