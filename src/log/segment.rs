//! One log segment: a `.log` file of record batches, exactly as produced
//! (with broker-assigned offsets), plus its sparse `.index` and `.timeindex`
//! and the `.txnindex` of transactions aborted by markers in it.
//!
//! A segment only grows at its end and is never rewritten in place; the
//! partition log decides when to roll to a new one.

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::Instant;

use super::offset_index::OffsetIndex;
use super::producer_state::ProducerBatch;
use super::time_index::TimeIndex;
use super::txn_index::{txn_index_path, AbortedTxn, TxnIndex};
use crate::records::batch::{frame_size, Batch, HEADER_SIZE};
use crate::types::{LeaderEpoch, Offset};

/// File name stem of a segment: its base offset on 20 digits, as Kafka names them.
pub fn file_stem(base_offset: Offset) -> String {
    format!("{:020}", base_offset.0)
}

pub fn log_path(dir: &Path, base_offset: Offset) -> PathBuf {
    dir.join(format!("{}.log", file_stem(base_offset)))
}

pub fn index_path(dir: &Path, base_offset: Offset) -> PathBuf {
    dir.join(format!("{}.index", file_stem(base_offset)))
}

pub fn time_index_path(dir: &Path, base_offset: Offset) -> PathBuf {
    dir.join(format!("{}.timeindex", file_stem(base_offset)))
}

/// The greatest timestamp in a segment and the offset that carried it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MaxTimestamp {
    pub timestamp: i64,
    pub offset: Offset,
}

pub struct Segment {
    base_offset: Offset,
    file: File,
    path: PathBuf,
    size: u64,
    next_offset: Offset,
    offset_index: OffsetIndex,
    time_index: TimeIndex,
    txn_index: TxnIndex,
    index_interval_bytes: u64,
    bytes_since_last_index_entry: u64,
    max_timestamp: Option<MaxTimestamp>,
    created: Instant,
    /// Headers of the last appended batches: consumers that keep up read
    /// from here without scanning the log from the last index entry.
    recent: VecDeque<BatchHeader>,
}

/// How many recent batch headers a segment remembers.
const RECENT_BATCHES: usize = 64;

/// Batch header fields read from disk while scanning a segment.
#[derive(Debug, Clone, Copy)]
pub struct BatchHeader {
    pub position: u64,
    pub size: u64,
    pub base_offset: Offset,
    pub last_offset: Offset,
    pub max_timestamp: i64,
    /// The epoch of the leader that appended the batch.
    pub leader_epoch: LeaderEpoch,
    /// The idempotent producer that wrote the batch, if any.
    pub producer: Option<ProducerBatch>,
    /// A control batch (transaction marker).
    pub control: bool,
}

impl BatchHeader {
    fn of(batch: &Batch<'_>, position: u64) -> BatchHeader {
        BatchHeader {
            position,
            size: batch.size() as u64,
            base_offset: batch.base_offset(),
            last_offset: batch.last_offset(),
            max_timestamp: batch.max_timestamp(),
            leader_epoch: batch.partition_leader_epoch(),
            producer: ProducerBatch::of(batch),
            control: batch.is_control(),
        }
    }
}

/// Reads the header of the batch at `position` of a segment file of `size`
/// bytes, if a whole batch is there.
fn read_header(file: &File, size: u64, position: u64) -> io::Result<Option<BatchHeader>> {
    if position + HEADER_SIZE as u64 > size {
        return Ok(None);
    }
    let mut header = [0u8; HEADER_SIZE];
    file.read_exact_at(&mut header, position)?;
    let batch_size = match frame_size(&header) {
        Some(Ok(batch_size)) => batch_size as u64,
        _ => return Ok(None),
    };
    if position + batch_size > size {
        return Ok(None);
    }
    let batch = Batch::parse_header_only(&header);
    Ok(Some(BatchHeader {
        size: batch_size,
        ..BatchHeader::of(&batch, position)
    }))
}

/// A sealed segment as the cleaner reads it, outside the partition's lock.
pub struct SegmentView {
    base_offset: Offset,
    file: File,
    size: u64,
    next_offset: Offset,
    max_timestamp: Option<MaxTimestamp>,
}

impl SegmentView {
    pub fn base_offset(&self) -> Offset {
        self.base_offset
    }

    pub fn next_offset(&self) -> Offset {
        self.next_offset
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    pub fn max_timestamp(&self) -> Option<MaxTimestamp> {
        self.max_timestamp
    }

    pub fn read_header(&self, position: u64) -> io::Result<Option<BatchHeader>> {
        read_header(&self.file, self.size, position)
    }

    pub fn read_at(&self, position: u64, length: usize) -> io::Result<Vec<u8>> {
        let mut buffer = vec![0u8; length];
        self.file.read_exact_at(&mut buffer, position)?;
        Ok(buffer)
    }
}

impl Segment {
    /// Creates an empty segment (truncating any leftover files of that name).
    pub fn create(dir: &Path, base_offset: Offset, index_interval_bytes: u64) -> io::Result<Self> {
        let path = log_path(dir, base_offset);
        let file = OpenOptions::new()
            .create(true)
            .truncate(true)
            .read(true)
            .write(true)
            .open(&path)?;
        std::fs::write(index_path(dir, base_offset), [])?;
        std::fs::write(time_index_path(dir, base_offset), [])?;
        match std::fs::remove_file(txn_index_path(dir, base_offset)) {
            Err(error) if error.kind() != io::ErrorKind::NotFound => return Err(error),
            _ => {}
        }
        Ok(Segment {
            base_offset,
            file,
            path,
            size: 0,
            next_offset: base_offset,
            offset_index: OffsetIndex::open_active(&index_path(dir, base_offset), base_offset)?,
            time_index: TimeIndex::open_active(&time_index_path(dir, base_offset), base_offset)?,
            txn_index: TxnIndex::open(txn_index_path(dir, base_offset))?,
            index_interval_bytes,
            bytes_since_last_index_entry: 0,
            max_timestamp: None,
            created: Instant::now(),
            recent: VecDeque::with_capacity(RECENT_BATCHES),
        })
    }

    /// Opens an existing segment for appending. The caller (recovery) must
    /// establish `next_offset` and index consistency before use.
    pub fn open(dir: &Path, base_offset: Offset, index_interval_bytes: u64) -> io::Result<Self> {
        let path = log_path(dir, base_offset);
        let file = OpenOptions::new().read(true).write(true).open(&path)?;
        let size = file.metadata()?.len();
        Ok(Segment {
            base_offset,
            file,
            path,
            size,
            next_offset: base_offset,
            offset_index: OffsetIndex::open_active(&index_path(dir, base_offset), base_offset)?,
            time_index: TimeIndex::open_active(&time_index_path(dir, base_offset), base_offset)?,
            txn_index: TxnIndex::open(txn_index_path(dir, base_offset))?,
            index_interval_bytes,
            bytes_since_last_index_entry: 0,
            max_timestamp: None,
            created: Instant::now(),
            recent: VecDeque::with_capacity(RECENT_BATCHES),
        })
    }

    pub fn base_offset(&self) -> Offset {
        self.base_offset
    }

    pub fn next_offset(&self) -> Offset {
        self.next_offset
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    pub fn is_empty(&self) -> bool {
        self.size == 0
    }

    pub fn age(&self) -> std::time::Duration {
        self.created.elapsed()
    }

    pub fn max_timestamp(&self) -> Option<MaxTimestamp> {
        self.max_timestamp
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn offset_index(&self) -> &OffsetIndex {
        &self.offset_index
    }

    pub fn time_index(&self) -> &TimeIndex {
        &self.time_index
    }

    /// Transactions aborted by markers in this segment.
    pub fn aborted_txns(&self) -> &[AbortedTxn] {
        self.txn_index.entries()
    }

    pub fn record_aborted_txn(&mut self, entry: AbortedTxn) -> io::Result<()> {
        self.txn_index.append(entry)
    }

    /// Forgets aborted transactions whose marker is at or after `offset`.
    pub fn truncate_aborted_txns(&mut self, offset: Offset) -> io::Result<()> {
        self.txn_index.truncate_from(offset)
    }

    /// Appends one batch whose header already carries its final offsets.
    pub fn append(&mut self, batch: &Batch<'_>) -> io::Result<()> {
        let position = self.size;
        self.file.write_all_at(batch.bytes(), position)?;
        self.size += batch.size() as u64;
        self.after_append(BatchHeader::of(batch, position), true)
    }

    /// Index and bookkeeping for a batch now at `header.position`; shared by
    /// appends and by recovery's index rebuild.
    fn after_append(&mut self, header: BatchHeader, write_indexes: bool) -> io::Result<()> {
        self.next_offset = header.last_offset.plus(1);
        if self.recent.len() == RECENT_BATCHES {
            self.recent.pop_front();
        }
        self.recent.push_back(header);
        if self
            .max_timestamp
            .is_none_or(|max| header.max_timestamp > max.timestamp)
        {
            self.max_timestamp = Some(MaxTimestamp {
                timestamp: header.max_timestamp,
                offset: header.last_offset,
            });
        }
        self.bytes_since_last_index_entry += header.size;
        if self.bytes_since_last_index_entry >= self.index_interval_bytes {
            if write_indexes {
                self.offset_index
                    .append(header.last_offset, header.position as u32)?;
                if let Some(max) = self.max_timestamp {
                    self.time_index.maybe_append(max.timestamp, max.offset)?;
                }
            }
            self.bytes_since_last_index_entry = 0;
        }
        Ok(())
    }

    /// Reads the header of the batch at `position`, if a whole one is there.
    pub fn read_header(&self, position: u64) -> io::Result<Option<BatchHeader>> {
        read_header(&self.file, self.size, position)
    }

    /// A read-only view of this (sealed) segment for work done without the
    /// partition's lock: a sealed segment's file never changes in place.
    pub fn view(&self) -> io::Result<SegmentView> {
        Ok(SegmentView {
            base_offset: self.base_offset,
            file: self.file.try_clone()?,
            size: self.size,
            next_offset: self.next_offset,
            max_timestamp: self.max_timestamp,
        })
    }

    /// The first batch holding an offset `>= target`, from the recent
    /// batches or by scanning from the index.
    pub fn find_batch(&self, target: Offset) -> io::Result<Option<BatchHeader>> {
        if self
            .recent
            .front()
            .is_some_and(|oldest| oldest.base_offset <= target)
        {
            return Ok(self
                .recent
                .iter()
                .find(|h| h.last_offset >= target)
                .copied());
        }
        let mut position = u64::from(self.offset_index.lookup(target).position);
        while let Some(header) = self.read_header(position)? {
            if header.last_offset >= target {
                return Ok(Some(header));
            }
            position += header.size;
        }
        Ok(None)
    }

    /// The first batch whose max timestamp is `>= timestamp`.
    pub fn find_batch_by_time(&self, timestamp: i64) -> io::Result<Option<BatchHeader>> {
        let start_offset = self.time_index.lookup(timestamp);
        let mut position = u64::from(self.offset_index.lookup(start_offset).position);
        while let Some(header) = self.read_header(position)? {
            if header.max_timestamp >= timestamp {
                return Ok(Some(header));
            }
            position += header.size;
        }
        Ok(None)
    }

    /// Headers of every batch from the one holding `offset` to the end.
    pub fn headers_from(&self, offset: Offset) -> io::Result<Vec<BatchHeader>> {
        let mut headers = Vec::new();
        let Some(first) = self.find_batch(offset)? else {
            return Ok(headers);
        };
        let mut position = first.position;
        while let Some(header) = self.read_header(position)? {
            position += header.size;
            headers.push(header);
        }
        Ok(headers)
    }

    /// Reads whole batches from `position`, at most `max_bytes` of them, but
    /// always the first batch even if it is larger (KIP-74).
    pub fn read_batches(&self, position: u64, max_bytes: usize) -> io::Result<Vec<u8>> {
        let available = self.size.saturating_sub(position) as usize;
        let mut buffer = vec![0u8; available.min(max_bytes.max(HEADER_SIZE))];
        self.file.read_exact_at(&mut buffer, position)?;
        let mut whole = 0usize;
        while let Some(Ok(size)) = frame_size(&buffer[whole..]) {
            if whole + size > buffer.len() {
                break;
            }
            whole += size;
        }
        if whole == 0 {
            // The first batch alone exceeds max_bytes: send it whole.
            match self.read_header(position)? {
                Some(header) => {
                    buffer.resize(header.size as usize, 0);
                    self.file.read_exact_at(&mut buffer, position)?;
                    return Ok(buffer);
                }
                None => return Ok(Vec::new()),
            }
        }
        buffer.truncate(whole);
        Ok(buffer)
    }

    /// Reads `length` raw bytes at `position` (whole batches by construction).
    pub fn read_at(&self, position: u64, length: usize) -> io::Result<Vec<u8>> {
        let mut buffer = vec![0u8; length];
        self.file.read_exact_at(&mut buffer, position)?;
        Ok(buffer)
    }

    /// Cuts the segment at byte `position`, dropping batches and index
    /// entries from there on, then restores `next_offset`.
    pub fn truncate_to_position(&mut self, position: u64, next_offset: Offset) -> io::Result<()> {
        self.file.set_len(position)?;
        self.size = position;
        self.next_offset = next_offset;
        self.recent.retain(|header| header.position < position);
        self.offset_index.truncate_to_position(position as u32)?;
        self.time_index.truncate_to_offset(next_offset)?;
        self.txn_index.truncate_from(next_offset)?;
        Ok(())
    }

    /// Rebuilds both indexes from the log file (they were missing or
    /// inconsistent), scanning headers only.
    pub fn rebuild_indexes(&mut self, dir: &Path) -> io::Result<()> {
        std::fs::write(index_path(dir, self.base_offset), [])?;
        std::fs::write(time_index_path(dir, self.base_offset), [])?;
        self.offset_index =
            OffsetIndex::open_active(&index_path(dir, self.base_offset), self.base_offset)?;
        self.time_index =
            TimeIndex::open_active(&time_index_path(dir, self.base_offset), self.base_offset)?;
        self.replay_headers(true)
    }

    /// Re-derives next offset and max timestamp from the log's batch headers,
    /// optionally re-writing index entries on the way.
    pub fn replay_headers(&mut self, write_indexes: bool) -> io::Result<()> {
        self.next_offset = self.base_offset;
        self.recent.clear();
        self.max_timestamp = None;
        self.bytes_since_last_index_entry = 0;
        let mut position = 0;
        while let Some(header) = self.read_header(position)? {
            self.after_append(header, write_indexes)?;
            position += header.size;
        }
        Ok(())
    }

    /// Restores next offset and max timestamp of a segment whose indexes are
    /// trusted: scans only the batches after the last offset-index entry.
    pub fn restore_from_indexes(&mut self) -> io::Result<()> {
        self.recent.clear();
        let mut position = self
            .offset_index
            .last()
            .map_or(0, |entry| u64::from(entry.position));
        self.next_offset = self.base_offset;
        self.max_timestamp = self.time_index.last().map(|entry| MaxTimestamp {
            timestamp: entry.timestamp,
            offset: entry.offset,
        });
        while let Some(header) = self.read_header(position)? {
            self.after_append(header, false)?;
            position += header.size;
        }
        Ok(())
    }

    /// Makes the segment read-only: records its final max timestamp in the
    /// time index (as Kafka does on roll), flushes, and maps the indexes.
    pub fn seal(&mut self) -> io::Result<()> {
        if let Some(max) = self.max_timestamp {
            self.time_index.maybe_append(max.timestamp, max.offset)?;
        }
        self.file.sync_data()?;
        self.offset_index.seal()?;
        self.time_index.seal()
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.file.flush()?;
        self.file.sync_data()?;
        self.offset_index.flush()?;
        self.txn_index.flush()?;
        self.time_index.flush()
    }

    /// Removes the segment's files (retention, topic deletion).
    pub fn delete_files(self, dir: &Path) -> io::Result<()> {
        let base_offset = self.base_offset;
        drop(self);
        for path in [
            log_path(dir, base_offset),
            index_path(dir, base_offset),
            time_index_path(dir, base_offset),
            txn_index_path(dir, base_offset),
        ] {
            match std::fs::remove_file(&path) {
                Err(error) if error.kind() != io::ErrorKind::NotFound => return Err(error),
                _ => {}
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::batch::{set_base_offset, tests::sample_batch};

    #[test]
    fn finds_every_offset_whether_recent_or_scanned() {
        let dir = tempfile::tempdir().unwrap();
        let mut segment = Segment::create(dir.path(), Offset(0), 4096).unwrap();
        for _ in 0..200 {
            let mut bytes = sample_batch(2);
            set_base_offset(&mut bytes, segment.next_offset());
            segment.append(&Batch::parse(&bytes).unwrap()).unwrap();
        }
        for target in 0..400 {
            let found = segment.find_batch(Offset(target)).unwrap().unwrap();
            assert_eq!(
                found.base_offset,
                Offset(target - target % 2),
                "offset {target}"
            );
            assert_eq!(
                segment
                    .read_header(found.position)
                    .unwrap()
                    .unwrap()
                    .base_offset,
                found.base_offset
            );
        }
        assert!(segment.find_batch(Offset(400)).unwrap().is_none());
        // After a truncation, forgotten batches are not served from memory.
        let cut = segment.find_batch(Offset(398)).unwrap().unwrap();
        segment
            .truncate_to_position(cut.position, Offset(398))
            .unwrap();
        assert!(segment.find_batch(Offset(398)).unwrap().is_none());
        assert_eq!(
            segment
                .find_batch(Offset(397))
                .unwrap()
                .unwrap()
                .base_offset,
            Offset(396)
        );
    }
}
