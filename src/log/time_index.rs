//! The sparse time index of one segment (`.timeindex`), in Kafka's layout.
//!
//! Each 12-byte entry is `timestamp: i64 | relative offset: u32`, big-endian:
//! the greatest timestamp seen so far in the segment and the offset of the
//! record that carried it. Entries are added alongside offset-index entries,
//! only when the max timestamp grew, so timestamps are non-decreasing and a
//! lookup for "first offset with timestamp >= T" is a binary search followed
//! by a scan of the log.

use std::io;
use std::path::Path;

use super::index_file::{be_i64, be_u32, IndexFile};
use super::offset_index::relative_offset;
use crate::types::Offset;

pub const ENTRY_SIZE: usize = 12;

pub struct TimeIndex {
    base_offset: Offset,
    file: IndexFile,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimestampOffset {
    pub timestamp: i64,
    pub offset: Offset,
}

impl TimeIndex {
    pub fn open_active(path: &Path, base_offset: Offset) -> io::Result<Self> {
        Ok(TimeIndex {
            base_offset,
            file: IndexFile::open_active(path, ENTRY_SIZE)?,
        })
    }

    pub fn open_sealed(path: &Path, base_offset: Offset) -> io::Result<Self> {
        Ok(TimeIndex {
            base_offset,
            file: IndexFile::open_sealed(path, ENTRY_SIZE)?,
        })
    }

    fn decode(&self, entry: &[u8]) -> TimestampOffset {
        TimestampOffset {
            timestamp: be_i64(&entry[..8]),
            offset: self.base_offset.plus(i64::from(be_u32(&entry[8..]))),
        }
    }

    pub fn len(&self) -> usize {
        self.file.len()
    }

    pub fn is_empty(&self) -> bool {
        self.file.is_empty()
    }

    pub fn last(&self) -> Option<TimestampOffset> {
        let count = self.file.len();
        (count > 0).then(|| self.file.entry(count - 1, |entry| self.decode(entry)))
    }

    /// Appends an entry if `timestamp` is greater than the last one. Fails
    /// for an offset outside the segment's index range, as the offset
    /// index does.
    pub fn maybe_append(&mut self, timestamp: i64, offset: Offset) -> io::Result<()> {
        if self.last().is_some_and(|last| last.timestamp >= timestamp) {
            return Ok(());
        }
        let relative = relative_offset(self.base_offset, offset)?;
        let mut entry = [0u8; ENTRY_SIZE];
        entry[..8].copy_from_slice(&timestamp.to_be_bytes());
        entry[8..].copy_from_slice(&relative.to_be_bytes());
        self.file.append(&entry)
    }

    /// The offset from which to scan for the first record with a timestamp
    /// `>= target`: the offset of the last entry whose timestamp is `< target`
    /// (every record before it is older), or the segment start.
    pub fn lookup(&self, target: i64) -> Offset {
        // floor on "timestamp < target" == floor on timestamp <= target - 1.
        match self
            .file
            .floor(&target.saturating_sub(1), |entry| be_i64(&entry[..8]))
        {
            Some(index) => self.file.entry(index, |entry| self.decode(entry)).offset,
            None => self.base_offset,
        }
    }

    pub fn truncate_to_offset(&mut self, offset: Offset) -> io::Result<()> {
        let keep = (0..self.file.len())
            .take_while(|&index| self.file.entry(index, |entry| self.decode(entry)).offset < offset)
            .count();
        self.file.truncate_entries(keep)
    }

    pub fn seal(&mut self) -> io::Result<()> {
        self.file.seal()
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }

    pub fn path(&self) -> &Path {
        self.file.path()
    }

    pub fn is_consistent(&self, next_offset: Offset) -> bool {
        let mut previous: Option<TimestampOffset> = None;
        for index in 0..self.file.len() {
            let entry = self.file.entry(index, |entry| self.decode(entry));
            if entry.offset >= next_offset {
                return false;
            }
            if let Some(previous) = previous {
                if entry.timestamp < previous.timestamp || entry.offset < previous.offset {
                    return false;
                }
            }
            previous = Some(entry);
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_starts_before_the_first_possible_match() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("00000000000000000010.timeindex");
        let mut index = TimeIndex::open_active(&path, Offset(10)).unwrap();
        index.maybe_append(1_000, Offset(14)).unwrap();
        index.maybe_append(900, Offset(15)).unwrap(); // not greater: skipped
        index.maybe_append(2_000, Offset(20)).unwrap();
        assert_eq!(index.len(), 2);
        assert_eq!(index.lookup(500), Offset(10));
        assert_eq!(index.lookup(1_000), Offset(10));
        assert_eq!(index.lookup(1_001), Offset(14));
        assert_eq!(index.lookup(5_000), Offset(20));
        assert!(index.is_consistent(Offset(21)));
        assert!(!index.is_consistent(Offset(20)));
    }

    #[test]
    fn an_offset_below_the_segment_is_refused_without_overflow() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("00000000000000000010.timeindex");
        let mut index = TimeIndex::open_active(&path, Offset(10)).unwrap();
        assert!(index.maybe_append(1_000, Offset(i64::MIN)).is_err());
        assert!(index.maybe_append(1_000, Offset(9)).is_err());
        assert!(index.is_empty());
    }
}
