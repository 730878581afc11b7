//! One log segment: a `.log` file of record batches, exactly as produced
//! (with broker-assigned offsets), plus its sparse `.index` and `.timeindex`
//! and the `.txnindex` of transactions aborted by markers in it.
//!
//! A segment only grows at its end and is never rewritten in place; the
//! partition log decides when to roll to a new one. Its read side is shared
//! with the log's readers ([`SegmentReader`]).

use std::fs::{File, OpenOptions};
use std::io::{self, IoSlice, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use super::disk_faults::{self, DiskOp};
use super::file_records::FileRecords;
use super::index_file;
use super::offset_index::OffsetIndex;
use super::producer_state::ProducerBatch;
use super::segment_reader::SegmentReader;
use super::time_index::TimeIndex;
use super::txn_index::{txn_index_path, AbortedTxn, AbortedTxns, TxnIndex};
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
    /// Shared with the reads under way ([`FileRecords`]) and the views.
    file: Arc<File>,
    /// What readers see, published after each append.
    reader: Arc<SegmentReader>,
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
}

/// A segment's file, to force to disk away from the segment (which stays
/// with the log and its lock).
pub struct DataSync {
    file: Arc<File>,
    path: PathBuf,
}

impl DataSync {
    pub fn run(&self) -> io::Result<()> {
        sync_file(&self.file, &self.path)
    }
}

/// `fdatasync`, unless the fault plane fails it.
fn sync_file(file: &File, path: &Path) -> io::Result<()> {
    if let Some(error) = disk_faults::check(path, DiskOp::Fsync) {
        return Err(error);
    }
    file.sync_data()
}

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
pub(super) fn read_header(
    file: &File,
    size: u64,
    position: u64,
) -> io::Result<Option<BatchHeader>> {
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

/// A batch on its way into a segment: the header as it will be stored
/// (patched by the leader) and the rest of the batch, borrowed from the
/// request or fetch response it came in.
pub struct PendingBatch<'a> {
    pub header: [u8; HEADER_SIZE],
    pub body: &'a [u8],
}

impl<'a> PendingBatch<'a> {
    /// A batch stored exactly as it is (a replica's, a marker).
    pub fn unchanged(batch: &Batch<'a>) -> PendingBatch<'a> {
        let mut header = [0u8; HEADER_SIZE];
        header.copy_from_slice(&batch.bytes()[..HEADER_SIZE]);
        PendingBatch {
            header,
            body: &batch.bytes()[HEADER_SIZE..],
        }
    }

    pub fn size(&self) -> u64 {
        (HEADER_SIZE + self.body.len()) as u64
    }

    fn batch_header(&self, position: u64) -> BatchHeader {
        BatchHeader {
            size: self.size(),
            ..BatchHeader::of(&Batch::parse_header_only(&self.header), position)
        }
    }
}

/// What [`Segment::append_batches`] restores when a write fails.
struct Bookkeeping {
    next_offset: Offset,
    max_timestamp: Option<MaxTimestamp>,
    bytes_since_last_index_entry: u64,
}

/// Writes every slice at `position` with `pwritev`, continuing after short
/// writes, in chunks of at most `IOV_MAX` slices.
fn write_all_vectored_at(
    file: &File,
    path: &Path,
    mut slices: &mut [IoSlice<'_>],
    mut position: u64,
) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    const IOV_MAX: usize = 1024;
    if let Some(error) = disk_faults::check(path, DiskOp::Write) {
        // What a disk that fails mid-request leaves: part of the bytes.
        let half = slices.iter().map(|slice| slice.len()).sum::<usize>() / 2;
        if let Some(first) = slices.first() {
            file.write_all_at(&first[..half.min(first.len())], position)?;
        }
        return Err(error);
    }
    while !slices.is_empty() {
        let count = slices.len().min(IOV_MAX);
        // SAFETY: `IoSlice` is ABI-compatible with `iovec` on Unix, and the
        // `count` slices borrowed here outlive the call.
        let written = unsafe {
            libc::pwritev(
                file.as_raw_fd(),
                slices.as_ptr().cast::<libc::iovec>(),
                count as libc::c_int,
                position as libc::off_t,
            )
        };
        if written < 0 {
            let error = io::Error::last_os_error();
            if error.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(error);
        }
        if written == 0 {
            return Err(io::Error::new(
                io::ErrorKind::WriteZero,
                "pwritev wrote nothing",
            ));
        }
        position += written as u64;
        IoSlice::advance_slices(&mut slices, written as usize);
    }
    Ok(())
}

/// A sealed segment as the cleaner reads it, outside the partition's lock.
pub struct SegmentView {
    reader: Arc<SegmentReader>,
    size: u64,
    next_offset: Offset,
    max_timestamp: Option<MaxTimestamp>,
}

impl SegmentView {
    pub fn base_offset(&self) -> Offset {
        self.reader.base_offset()
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
        self.reader.read_header(position)
    }

    pub fn read_at(&self, position: u64, length: usize) -> io::Result<Vec<u8>> {
        self.reader.read_at(position, length)
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
        let file = Arc::new(file);
        index_file::create_empty(&index_path(dir, base_offset))?;
        index_file::create_empty(&time_index_path(dir, base_offset))?;
        match std::fs::remove_file(txn_index_path(dir, base_offset)) {
            Err(error) if error.kind() != io::ErrorKind::NotFound => return Err(error),
            _ => {}
        }
        Segment::with_file(dir, base_offset, file, 0, index_interval_bytes)
    }

    /// Opens an existing segment for appending. The caller (recovery) must
    /// establish `next_offset` and index consistency before use.
    pub fn open(dir: &Path, base_offset: Offset, index_interval_bytes: u64) -> io::Result<Self> {
        let path = log_path(dir, base_offset);
        let file = Arc::new(OpenOptions::new().read(true).write(true).open(&path)?);
        let size = file.metadata()?.len();
        Segment::with_file(dir, base_offset, file, size, index_interval_bytes)
    }

    fn with_file(
        dir: &Path,
        base_offset: Offset,
        file: Arc<File>,
        size: u64,
        index_interval_bytes: u64,
    ) -> io::Result<Self> {
        let offset_index = OffsetIndex::open_active(&index_path(dir, base_offset), base_offset)?;
        let txn_index = TxnIndex::open(txn_index_path(dir, base_offset))?;
        let reader = SegmentReader::new(
            base_offset,
            Arc::clone(&file),
            size,
            offset_index.reader(),
            AbortedTxns::clone(txn_index.entries()),
        );
        Ok(Segment {
            base_offset,
            file,
            reader: Arc::new(reader),
            path: log_path(dir, base_offset),
            size,
            next_offset: base_offset,
            offset_index,
            time_index: TimeIndex::open_active(&time_index_path(dir, base_offset), base_offset)?,
            txn_index,
            index_interval_bytes,
            bytes_since_last_index_entry: 0,
            max_timestamp: None,
            created: Instant::now(),
        })
    }

    /// The read side, for readers that do not hold the log's lock.
    pub fn reader(&self) -> &Arc<SegmentReader> {
        &self.reader
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
    pub fn aborted_txns(&self) -> Vec<AbortedTxn> {
        self.txn_index.entries().to_vec()
    }

    pub fn record_aborted_txn(&mut self, entry: AbortedTxn) -> io::Result<()> {
        self.txn_index.append(entry)
    }

    /// Forgets aborted transactions whose marker is at or after `offset`.
    pub fn truncate_aborted_txns(&mut self, offset: Offset) -> io::Result<()> {
        self.txn_index.truncate_from(offset)
    }

    /// Appends batches whose headers carry their final offsets, all or
    /// nothing: one vectored write of every header and body, then the index
    /// entries. If any of it fails, the file is cut back to where it ended
    /// and the segment's state is as before, so a failed request leaves no
    /// batch behind for its retry to duplicate.
    pub fn append_batches(&mut self, batches: &[PendingBatch<'_>]) -> io::Result<()> {
        let start = self.size;
        let before = self.bookkeeping();
        let mut slices = Vec::with_capacity(2 * batches.len());
        for batch in batches {
            slices.push(IoSlice::new(&batch.header));
            slices.push(IoSlice::new(batch.body));
        }
        let written =
            write_all_vectored_at(&self.file, &self.path, &mut slices, start).and_then(|()| {
                let mut position = start;
                for batch in batches {
                    let header = batch.batch_header(position);
                    position += header.size;
                    self.size = position;
                    self.after_append(header, true)?;
                }
                Ok(())
            });
        if let Err(error) = written {
            self.cut_back(start, before);
            return Err(error);
        }
        Ok(())
    }

    /// Appends one batch stored exactly as it is.
    pub fn append(&mut self, batch: &Batch<'_>) -> io::Result<()> {
        self.append_batches(&[PendingBatch::unchanged(batch)])
    }

    /// The in-memory state an append moves, to put back if it fails.
    fn bookkeeping(&self) -> Bookkeeping {
        Bookkeeping {
            next_offset: self.next_offset,
            max_timestamp: self.max_timestamp,
            bytes_since_last_index_entry: self.bytes_since_last_index_entry,
        }
    }

    /// Undoes a failed append: the file and the indexes end at `position`
    /// again. If even that fails the log dir is going offline anyway, and
    /// recovery cuts the torn tail at the next start.
    fn cut_back(&mut self, position: u64, before: Bookkeeping) {
        if let Err(error) = self.truncate_to_position(position, before.next_offset) {
            tracing::error!(segment = %self.path.display(), %error,
                            "cannot cut back a failed append");
        }
        self.max_timestamp = before.max_timestamp;
        self.bytes_since_last_index_entry = before.bytes_since_last_index_entry;
    }

    /// Index and bookkeeping for a batch now at `header.position`; shared by
    /// appends and by recovery's index rebuild.
    fn after_append(&mut self, header: BatchHeader, write_indexes: bool) -> io::Result<()> {
        // Saturating: a sealed segment's headers are read unvalidated, and a
        // corrupt one may end at i64::MAX (found by fuzzing).
        self.next_offset = Offset(header.last_offset.0.saturating_add(1));
        self.reader.appended(header, self.size);
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
        self.reader.read_header(position)
    }

    /// A read-only view of this (sealed) segment for work done without the
    /// partition's lock: a sealed segment's file never changes in place.
    pub fn view(&self) -> io::Result<SegmentView> {
        Ok(SegmentView {
            reader: Arc::clone(&self.reader),
            size: self.size,
            next_offset: self.next_offset,
            max_timestamp: self.max_timestamp,
        })
    }

    /// The first batch holding an offset `>= target`.
    pub fn find_batch(&self, target: Offset) -> io::Result<Option<BatchHeader>> {
        self.reader.find_batch(target)
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
        self.reader.headers_from(offset)
    }

    /// See [`SegmentReader::records`].
    pub fn records(
        &self,
        first: BatchHeader,
        max_bytes: usize,
        max_offset: Offset,
    ) -> io::Result<FileRecords> {
        self.reader.records(first, max_bytes, max_offset)
    }

    /// Reads `length` raw bytes at `position` (whole batches by construction).
    pub fn read_at(&self, position: u64, length: usize) -> io::Result<Vec<u8>> {
        self.reader.read_at(position, length)
    }

    /// Cuts the segment at byte `position`, dropping batches and index
    /// entries from there on, then restores `next_offset`.
    pub fn truncate_to_position(&mut self, position: u64, next_offset: Offset) -> io::Result<()> {
        // Memory first: whatever the file does, nothing past `position` is
        // served again.
        self.size = position;
        self.next_offset = next_offset;
        self.reader.cut_to(position, next_offset);
        self.file.set_len(position)?;
        self.offset_index.truncate_to_position(position as u32)?;
        self.time_index.truncate_to_offset(next_offset)?;
        self.txn_index.truncate_from(next_offset)?;
        Ok(())
    }

    /// Rebuilds both indexes from the log file (they were missing or
    /// inconsistent), scanning headers only.
    pub fn rebuild_indexes(&mut self, dir: &Path) -> io::Result<()> {
        index_file::create_empty(&index_path(dir, self.base_offset))?;
        index_file::create_empty(&time_index_path(dir, self.base_offset))?;
        self.offset_index =
            OffsetIndex::open_active(&index_path(dir, self.base_offset), self.base_offset)?;
        self.reader.set_index(self.offset_index.reader());
        self.time_index =
            TimeIndex::open_active(&time_index_path(dir, self.base_offset), self.base_offset)?;
        self.replay_headers(true)
    }

    /// Re-derives next offset and max timestamp from the log's batch headers,
    /// optionally re-writing index entries on the way.
    pub fn replay_headers(&mut self, write_indexes: bool) -> io::Result<()> {
        self.next_offset = self.base_offset;
        self.reader.reset(self.size, self.next_offset);
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
        self.reader.reset(self.size, self.base_offset);
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
    /// time index (as Kafka does on roll) and maps the indexes. Its data
    /// is not forced to disk here: a roll syncs it in the background
    /// ([`Segment::data_sync`]), the others call [`Segment::sync`].
    pub fn seal(&mut self) -> io::Result<()> {
        if let Some(max) = self.max_timestamp {
            self.time_index.maybe_append(max.timestamp, max.offset)?;
        }
        self.offset_index.seal()?;
        self.reader.set_index(self.offset_index.reader());
        self.time_index.seal()
    }

    /// Forces the segment's data to disk.
    pub fn sync(&self) -> io::Result<()> {
        self.sync_data()
    }

    /// A handle that forces the segment's data to disk from another thread.
    pub fn data_sync(&self) -> io::Result<DataSync> {
        Ok(DataSync {
            file: Arc::clone(&self.file),
            path: self.path.clone(),
        })
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.file.flush()?;
        self.sync_data()?;
        self.offset_index.flush()?;
        self.txn_index.flush()?;
        self.time_index.flush()
    }

    fn sync_data(&self) -> io::Result<()> {
        sync_file(&self.file, &self.path)
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
    fn headers_ending_at_i64_max_are_read_without_overflow() {
        let dir = tempfile::tempdir().unwrap();
        let mut bytes = sample_batch(1);
        set_base_offset(&mut bytes, Offset(i64::MAX));
        std::fs::write(log_path(dir.path(), Offset(0)), &bytes).unwrap();
        let mut segment = Segment::open(dir.path(), Offset(0), 4096).unwrap();
        segment.replay_headers(false).unwrap();
        assert_eq!(segment.next_offset(), Offset(i64::MAX));
        segment.restore_from_indexes().unwrap();
        assert_eq!(segment.next_offset(), Offset(i64::MAX));
    }

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
