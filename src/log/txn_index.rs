//! The aborted-transaction index of one segment (`.txnindex`), in Kafka's
//! layout: one 34-byte entry per transaction aborted by a marker in that
//! segment — `version i16 | producer id i64 | first offset i64 | last
//! offset i64 | last stable offset i64`, big-endian.
//!
//! A read_committed fetch returns the entries that overlap the fetched
//! range, so that the consumer can drop the aborted records itself. The
//! entries are few (one per abort), so they are also kept in memory, shared
//! with the log's readers ([`AbortedTxns`]).

use std::fs::OpenOptions;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::types::Offset;

const ENTRY_SIZE: usize = 34;
const ENTRY_VERSION: i16 = 0;

/// One aborted transaction: the producer, the offset of its first record in
/// this partition, the offset of its abort marker, and the partition's last
/// stable offset when the marker was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AbortedTxn {
    pub producer_id: i64,
    pub first_offset: Offset,
    pub last_offset: Offset,
    pub last_stable_offset: Offset,
}

impl AbortedTxn {
    fn encode(&self) -> [u8; ENTRY_SIZE] {
        let mut out = [0u8; ENTRY_SIZE];
        out[0..2].copy_from_slice(&ENTRY_VERSION.to_be_bytes());
        out[2..10].copy_from_slice(&self.producer_id.to_be_bytes());
        out[10..18].copy_from_slice(&self.first_offset.0.to_be_bytes());
        out[18..26].copy_from_slice(&self.last_offset.0.to_be_bytes());
        out[26..34].copy_from_slice(&self.last_stable_offset.0.to_be_bytes());
        out
    }

    fn decode(entry: &[u8]) -> Option<AbortedTxn> {
        let i64_at = |at: usize| -> Option<i64> {
            Some(i64::from_be_bytes(entry.get(at..at + 8)?.try_into().ok()?))
        };
        let version = i16::from_be_bytes(entry.get(0..2)?.try_into().ok()?);
        if version != ENTRY_VERSION {
            return None;
        }
        Some(AbortedTxn {
            producer_id: i64_at(2)?,
            first_offset: Offset(i64_at(10)?),
            last_offset: Offset(i64_at(18)?),
            last_stable_offset: Offset(i64_at(26)?),
        })
    }
}

pub fn txn_index_path(dir: &Path, base_offset: Offset) -> PathBuf {
    dir.join(format!(
        "{}.txnindex",
        super::segment::file_stem(base_offset)
    ))
}

/// A segment's aborted transactions, as its readers share them. The lock
/// is held for in-memory work only.
#[derive(Debug, Clone, Default)]
pub struct AbortedTxns(Arc<Mutex<Vec<AbortedTxn>>>);

impl AbortedTxns {
    fn lock(&self) -> MutexGuard<'_, Vec<AbortedTxn>> {
        // Poisoning cannot leave the entries torn: they are pushed whole.
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Adds to `out` the entries that ended at or after `from` and began
    /// before `upper_bound`: what a read_committed read of `[from,
    /// upper_bound)` must know about.
    pub fn overlapping(&self, from: Offset, upper_bound: Offset, out: &mut Vec<AbortedTxn>) {
        out.extend(
            self.lock()
                .iter()
                .filter(|txn| txn.last_offset >= from && txn.first_offset < upper_bound),
        );
    }

    pub fn to_vec(&self) -> Vec<AbortedTxn> {
        self.lock().clone()
    }
}

/// A segment's aborted transactions, mirrored in its `.txnindex` file.
#[derive(Debug)]
pub struct TxnIndex {
    path: PathBuf,
    entries: AbortedTxns,
}

impl TxnIndex {
    /// Loads the index (absent file: empty). A torn last entry, left by a
    /// crash mid-write, is dropped; recovery re-derives it from the log.
    pub fn open(path: PathBuf) -> io::Result<TxnIndex> {
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(error) if error.kind() == io::ErrorKind::NotFound => Vec::new(),
            Err(error) => return Err(error),
        };
        let entries: Vec<AbortedTxn> = bytes
            .chunks_exact(ENTRY_SIZE)
            .map_while(AbortedTxn::decode)
            .collect();
        let torn = bytes.len() != entries.len() * ENTRY_SIZE;
        let index = TxnIndex {
            path,
            entries: AbortedTxns(Arc::new(Mutex::new(entries))),
        };
        if torn {
            index.rewrite(&index.entries.to_vec())?;
        }
        Ok(index)
    }

    /// The entries, shared with readers.
    pub fn entries(&self) -> &AbortedTxns {
        &self.entries
    }

    pub fn append(&mut self, entry: AbortedTxn) -> io::Result<()> {
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?;
        file.write_all(&entry.encode())?;
        self.entries.lock().push(entry);
        Ok(())
    }

    /// Drops the entries whose marker is at or after `offset`: recovery
    /// replays the log from there and appends them again.
    pub fn truncate_from(&mut self, offset: Offset) -> io::Result<()> {
        let kept = {
            let mut entries = self.entries.lock();
            let before = entries.len();
            entries.retain(|entry| entry.last_offset < offset);
            (entries.len() != before).then(|| entries.clone())
        };
        match kept {
            Some(kept) => self.rewrite(&kept),
            None => Ok(()),
        }
    }

    pub fn flush(&self) -> io::Result<()> {
        match std::fs::File::open(&self.path) {
            Ok(file) => file.sync_all(),
            Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(error) => Err(error),
        }
    }

    fn rewrite(&self, entries: &[AbortedTxn]) -> io::Result<()> {
        if entries.is_empty() {
            return match std::fs::remove_file(&self.path) {
                Err(error) if error.kind() != io::ErrorKind::NotFound => Err(error),
                _ => Ok(()),
            };
        }
        let bytes: Vec<u8> = entries.iter().flat_map(AbortedTxn::encode).collect();
        crate::durable::write_atomically(&self.path, &bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(producer_id: i64, first: i64, last: i64) -> AbortedTxn {
        AbortedTxn {
            producer_id,
            first_offset: Offset(first),
            last_offset: Offset(last),
            last_stable_offset: Offset(first),
        }
    }

    #[test]
    fn entries_survive_reopening_and_a_torn_tail_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = txn_index_path(dir.path(), Offset(0));
        let mut index = TxnIndex::open(path.clone()).unwrap();
        index.append(entry(1, 0, 5)).unwrap();
        index.append(entry(2, 3, 9)).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 68);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes.extend_from_slice(&[0, 0, 0, 0, 7]);
        std::fs::write(&path, bytes).unwrap();
        let mut index = TxnIndex::open(path.clone()).unwrap();
        assert_eq!(index.entries().to_vec(), [entry(1, 0, 5), entry(2, 3, 9)]);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 68);
        index.truncate_from(Offset(6)).unwrap();
        let reopened = TxnIndex::open(path).unwrap();
        assert_eq!(reopened.entries().to_vec(), [entry(1, 0, 5)]);
    }
}
