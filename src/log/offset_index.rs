//! The sparse offset index of one segment (`.index`), in Kafka's layout.
//!
//! Each 8-byte entry is `relative offset: u32 | position: u32`, big-endian:
//! the last offset of a batch (relative to the segment's base offset) and the
//! byte position where that batch starts in the `.log`. An entry is added after
//! every `log.index.interval.bytes` of appended data, so a lookup is a binary
//! search followed by a short scan of the log.

use std::io;
use std::path::Path;

use super::index_file::{self, be_u32, IndexEntries, IndexFile};
use crate::types::Offset;

pub const ENTRY_SIZE: usize = 8;

pub struct OffsetIndex {
    base_offset: Offset,
    file: IndexFile,
}

/// A position in the log from which to scan for an offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OffsetPosition {
    pub offset: Offset,
    pub position: u32,
}

impl OffsetIndex {
    pub fn open_active(path: &Path, base_offset: Offset) -> io::Result<Self> {
        Ok(OffsetIndex {
            base_offset,
            file: IndexFile::open_active(path, ENTRY_SIZE)?,
        })
    }

    pub fn open_sealed(path: &Path, base_offset: Offset) -> io::Result<Self> {
        Ok(OffsetIndex {
            base_offset,
            file: IndexFile::open_sealed(path, ENTRY_SIZE)?,
        })
    }

    fn decode(&self, entry: &[u8]) -> OffsetPosition {
        decode(self.base_offset, entry)
    }

    /// The entries as readers of the log look them up, without its lock.
    pub fn reader(&self) -> OffsetIndexReader {
        OffsetIndexReader {
            base_offset: self.base_offset,
            entries: self.file.entries(),
        }
    }

    pub fn len(&self) -> usize {
        self.file.len()
    }

    pub fn is_empty(&self) -> bool {
        self.file.is_empty()
    }

    pub fn last(&self) -> Option<OffsetPosition> {
        let count = self.file.len();
        (count > 0).then(|| self.file.entry(count - 1, |entry| self.decode(entry)))
    }

    /// Fails for an offset a 4-byte relative offset cannot hold (a batch
    /// below the segment's base offset, or more than u32::MAX above it).
    pub fn append(&mut self, last_offset: Offset, position: u32) -> io::Result<()> {
        let relative = relative_offset(self.base_offset, last_offset)?;
        let mut entry = [0u8; ENTRY_SIZE];
        entry[..4].copy_from_slice(&relative.to_be_bytes());
        entry[4..].copy_from_slice(&position.to_be_bytes());
        self.file.append(&entry)
    }

    /// Where to start scanning for `target`: the greatest indexed batch whose
    /// last offset is `<= target`, or the segment start.
    pub fn lookup(&self, target: Offset) -> OffsetPosition {
        self.file
            .with_bytes(|bytes| lookup(self.base_offset, bytes, target))
    }

    /// Drops every entry at or after byte `position` of the log.
    pub fn truncate_to_position(&mut self, position: u32) -> io::Result<()> {
        let keep = (0..self.file.len())
            .take_while(|&index| {
                self.file.entry(index, |entry| self.decode(entry)).position < position
            })
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

    /// True if entries are strictly increasing and within `log_size`: what
    /// recovery checks before trusting an index left by a previous run.
    pub fn is_consistent(&self, log_size: u64) -> bool {
        let mut previous: Option<OffsetPosition> = None;
        for index in 0..self.file.len() {
            let entry = self.file.entry(index, |entry| self.decode(entry));
            if u64::from(entry.position) >= log_size {
                return false;
            }
            if let Some(previous) = previous {
                if entry.offset <= previous.offset || entry.position <= previous.position {
                    return false;
                }
            }
            previous = Some(entry);
        }
        true
    }
}

/// A segment's offset index as the log's readers look it up: the entries
/// its writer appends, shared.
#[derive(Clone)]
pub struct OffsetIndexReader {
    base_offset: Offset,
    entries: IndexEntries,
}

impl OffsetIndexReader {
    /// [`OffsetIndex::lookup`].
    pub fn lookup(&self, target: Offset) -> OffsetPosition {
        self.entries
            .with_bytes(ENTRY_SIZE, |bytes| lookup(self.base_offset, bytes, target))
    }

    /// The greatest indexed batch start at or before byte `position`.
    pub fn floor_by_position(&self, position: u64) -> Option<u32> {
        let position = u32::try_from(position).unwrap_or(u32::MAX);
        self.entries.with_bytes(ENTRY_SIZE, |bytes| {
            index_file::floor(bytes, ENTRY_SIZE, &position, |entry| be_u32(&entry[4..]))
                .map(|index| be_u32(&bytes[index * ENTRY_SIZE + 4..]))
        })
    }
}

fn decode(base_offset: Offset, entry: &[u8]) -> OffsetPosition {
    OffsetPosition {
        offset: base_offset.plus(i64::from(be_u32(&entry[..4]))),
        position: be_u32(&entry[4..]),
    }
}

/// The greatest entry of `bytes` whose offset is `<= target`, or the
/// segment start.
fn lookup(base_offset: Offset, bytes: &[u8], target: Offset) -> OffsetPosition {
    let relative = target.0.saturating_sub(base_offset.0);
    match index_file::floor(bytes, ENTRY_SIZE, &relative, |entry| {
        i64::from(be_u32(entry))
    }) {
        Some(index) => decode(base_offset, &bytes[index * ENTRY_SIZE..]),
        None => OffsetPosition {
            offset: base_offset,
            position: 0,
        },
    }
}

/// `offset` relative to a segment's `base_offset`, as the index entries of
/// both indexes store it.
pub(crate) fn relative_offset(base_offset: Offset, offset: Offset) -> io::Result<u32> {
    offset
        .0
        .checked_sub(base_offset.0)
        .and_then(|relative| u32::try_from(relative).ok())
        .ok_or_else(|| {
            io::Error::other(format!(
                "offset {offset} is outside the index range of the segment at {base_offset}"
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_finds_the_floor_entry_or_the_segment_start() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("00000000000000000100.index");
        let mut index = OffsetIndex::open_active(&path, Offset(100)).unwrap();
        index.append(Offset(109), 0).unwrap();
        index.append(Offset(119), 4096).unwrap();
        index.append(Offset(129), 8192).unwrap();

        let start = OffsetPosition {
            offset: Offset(100),
            position: 0,
        };
        assert_eq!(index.lookup(Offset(100)), start);
        assert_eq!(index.lookup(Offset(109)).position, 0);
        assert_eq!(index.lookup(Offset(125)).position, 4096);
        assert_eq!(index.lookup(Offset(10_000)).position, 8192);
        assert!(index.is_consistent(10_000));
        assert!(!index.is_consistent(8192));
    }

    /// Found by the segment_recovery fuzz target: a sealed segment's
    /// unvalidated batches may claim any offset, and looking one up (or
    /// indexing one) below the base offset overflowed.
    #[test]
    fn offsets_outside_the_segment_are_looked_up_and_refused_without_overflow() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("00000000000000000100.index");
        let mut index = OffsetIndex::open_active(&path, Offset(100)).unwrap();
        index.append(Offset(109), 0).unwrap();
        assert_eq!(index.lookup(Offset(i64::MIN)).offset, Offset(100));
        assert_eq!(index.lookup(Offset(i64::MAX)).offset, Offset(109));
        assert!(index.append(Offset(i64::MIN), 10).is_err());
        assert!(index.append(Offset(99), 10).is_err());
        assert!(index.append(Offset(100 + (1 << 32)), 10).is_err());
        assert_eq!(index.len(), 1, "nothing refused was written");
    }

    #[test]
    fn an_active_index_reaches_its_file_when_flushed_and_holds_no_descriptor() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("00000000000000000000.index");
        let on_disk = || std::fs::metadata(&path).unwrap().len();
        let mut index = OffsetIndex::open_active(&path, Offset(0)).unwrap();
        index.append(Offset(5), 100).unwrap();
        index.append(Offset(9), 4200).unwrap();
        assert_eq!(on_disk(), 0, "appends stay in memory");
        index.flush().unwrap();
        assert_eq!(on_disk(), 16);
        index.append(Offset(14), 8300).unwrap();
        index.flush().unwrap();
        assert_eq!(on_disk(), 24);
        // A truncation below what was written cuts the file too.
        index.truncate_to_position(4200).unwrap();
        assert_eq!((index.len(), on_disk()), (1, 8));
        index.append(Offset(11), 4300).unwrap();
        // A crash before the next flush: the file has a prefix of the
        // entries, which recovery scans on from.
        drop(index);
        let reopened = OffsetIndex::open_active(&path, Offset(0)).unwrap();
        assert_eq!(reopened.len(), 1);
        assert_eq!(reopened.lookup(Offset(20)).position, 100);
    }

    #[test]
    fn entries_survive_sealing_and_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("00000000000000000000.index");
        let mut index = OffsetIndex::open_active(&path, Offset(0)).unwrap();
        index.append(Offset(5), 100).unwrap();
        index.seal().unwrap();
        assert_eq!(index.lookup(Offset(7)).position, 100);
        let reopened = OffsetIndex::open_sealed(&path, Offset(0)).unwrap();
        assert_eq!(reopened.len(), 1);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 8);
    }

    #[test]
    fn a_torn_trailing_entry_is_dropped_on_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("00000000000000000000.index");
        std::fs::write(&path, [0, 0, 0, 1, 0, 0, 0, 10, 0, 0, 0]).unwrap();
        let index = OffsetIndex::open_active(&path, Offset(0)).unwrap();
        assert_eq!(index.len(), 1);
    }

    #[test]
    fn truncation_keeps_entries_before_the_position() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("00000000000000000000.index");
        let mut index = OffsetIndex::open_active(&path, Offset(0)).unwrap();
        index.append(Offset(1), 10).unwrap();
        index.append(Offset(2), 20).unwrap();
        index.truncate_to_position(20).unwrap();
        assert_eq!(index.len(), 1);
        assert_eq!(index.last().unwrap().offset, Offset(1));
    }
}
