//! The read side of one segment, shared by its writer and every reader of
//! the log: the file, how far its batches are written, the headers of the
//! last ones, the offset index and the aborted transactions.
//!
//! Fetches read through it without the log's lock, as Kafka's readers go
//! through `LogSegment.read` while an append runs: the writer publishes an
//! append here only once its bytes are in the file, under a lock held for
//! in-memory work alone, so a read never waits for a write, a sync or a
//! roll. A read sees a prefix of the log: a batch appended meanwhile is
//! past the high watermark the read was bounded by anyway.

use std::collections::VecDeque;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::sync::{Arc, Mutex, MutexGuard};

use super::file_records::FileRecords;
use super::offset_index::OffsetIndexReader;
use super::segment::{read_header, BatchHeader};
use super::txn_index::{AbortedTxn, AbortedTxns};
use crate::types::Offset;

/// How many recent batch headers a segment remembers.
const RECENT_BATCHES: usize = 64;

pub struct SegmentReader {
    base_offset: Offset,
    /// The segment's file (one descriptor, shared with the writer).
    file: Arc<File>,
    aborted: AbortedTxns,
    tail: Mutex<Tail>,
}

/// What appends move, published together.
struct Tail {
    /// Bytes of whole batches in the file.
    size: u64,
    next_offset: Offset,
    /// Headers of the last batches: consumers that keep up read from here
    /// without scanning the log from the last index entry. Grown as
    /// batches come (an idle partition's segment holds none).
    recent: VecDeque<BatchHeader>,
    index: OffsetIndexReader,
}

impl SegmentReader {
    pub fn new(
        base_offset: Offset,
        file: Arc<File>,
        size: u64,
        index: OffsetIndexReader,
        aborted: AbortedTxns,
    ) -> SegmentReader {
        SegmentReader {
            base_offset,
            file,
            aborted,
            tail: Mutex::new(Tail {
                size,
                next_offset: base_offset,
                recent: VecDeque::new(),
                index,
            }),
        }
    }

    fn tail(&self) -> MutexGuard<'_, Tail> {
        // Poisoning cannot leave the tail torn: its fields are each
        // assigned whole.
        self.tail
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn base_offset(&self) -> Offset {
        self.base_offset
    }

    /// The offset after the last batch published.
    pub fn next_offset(&self) -> Offset {
        self.tail().next_offset
    }

    // --- The writer's side. ---

    /// Publishes a batch now whole in the file, ending the segment at
    /// `size` bytes.
    pub(super) fn appended(&self, header: BatchHeader, size: u64) {
        let mut tail = self.tail();
        tail.size = size;
        tail.next_offset = Offset(header.last_offset.0.saturating_add(1));
        if tail.recent.len() == RECENT_BATCHES {
            tail.recent.pop_front();
        }
        tail.recent.push_back(header);
    }

    /// The segment now ends at `size` bytes and `next_offset`, with no
    /// recent batches known past `size` (truncation, recovery). Called
    /// before the file shrinks: nothing past `size` is served again.
    pub(super) fn cut_to(&self, size: u64, next_offset: Offset) {
        let mut tail = self.tail();
        tail.size = size;
        tail.next_offset = next_offset;
        tail.recent
            .retain(|header| header.position + header.size <= size);
    }

    /// Starts over at `size` bytes and `next_offset`, with no recent
    /// batches (recovery re-derives them).
    pub(super) fn reset(&self, size: u64, next_offset: Offset) {
        let mut tail = self.tail();
        tail.size = size;
        tail.next_offset = next_offset;
        tail.recent.clear();
    }

    /// The offset index changed storage (sealed, or rebuilt).
    pub(super) fn set_index(&self, index: OffsetIndexReader) {
        self.tail().index = index;
    }

    // --- Reads. ---

    /// How many bytes of whole batches are in the file.
    pub fn size(&self) -> u64 {
        self.tail().size
    }

    /// Reads the header of the batch at `position`, if a whole one is there.
    pub fn read_header(&self, position: u64) -> io::Result<Option<BatchHeader>> {
        read_header(&self.file, self.size(), position)
    }

    /// Reads `length` raw bytes at `position` (whole batches by construction).
    pub fn read_at(&self, position: u64, length: usize) -> io::Result<Vec<u8>> {
        let mut buffer = vec![0u8; length];
        self.file.read_exact_at(&mut buffer, position)?;
        Ok(buffer)
    }

    /// The first batch holding an offset `>= target`, from the recent
    /// batches or by scanning from the index.
    pub fn find_batch(&self, target: Offset) -> io::Result<Option<BatchHeader>> {
        let (size, index) = {
            let tail = self.tail();
            if let Some(found) = find_recent(&tail.recent, target) {
                return Ok(found);
            }
            (tail.size, tail.index.clone())
        };
        let mut position = u64::from(index.lookup(target).position);
        while let Some(header) = read_header(&self.file, size, position)? {
            if header.last_offset >= target {
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
        let size = self.size();
        let mut position = first.position;
        while let Some(header) = read_header(&self.file, size, position)? {
            position += header.size;
            headers.push(header);
        }
        Ok(headers)
    }

    /// Whole batches from `first` on, as many as fit in `max_bytes` (but
    /// always `first`, even if larger: KIP-74) and none at or past
    /// `max_offset`, as a slice of the file. Where they end is found from
    /// the recent batches' headers when the read is near the end of the
    /// segment (no I/O, the common case of consumers that keep up), else
    /// from the offset index and a scan of at most one index interval of
    /// headers.
    pub fn records(
        &self,
        first: BatchHeader,
        max_bytes: usize,
        max_offset: Offset,
    ) -> io::Result<FileRecords> {
        if first.base_offset >= max_offset {
            return Ok(self.slice(first.position, first.position, first.base_offset));
        }
        // `max_bytes` may be "all of it" (usize::MAX).
        let limit = first
            .position
            .saturating_add((max_bytes as u64).max(first.size));
        let mut end = first.position + first.size;
        let mut next_offset = Offset(first.last_offset.0.saturating_add(1));
        let takes = |header: &BatchHeader, end: u64| {
            header.base_offset < max_offset && end + header.size <= limit
        };
        let (size, index) = {
            let tail = self.tail();
            if tail
                .recent
                .front()
                .is_some_and(|oldest| oldest.position <= end)
            {
                // The recent headers run, contiguous, to the segment's end.
                let after_first = end;
                for header in tail.recent.iter().filter(|h| h.position >= after_first) {
                    if header.position != end || !takes(header, end) {
                        break;
                    }
                    end += header.size;
                    next_offset = Offset(header.last_offset.0.saturating_add(1));
                }
                return Ok(self.slice(first.position, end, next_offset));
            }
            (tail.size, tail.index.clone())
        };
        // Skip to the last indexed batch start both bounds allow: every
        // batch before it is within them. An entry past the segment's end
        // is one a truncation is removing: not followed.
        let by_position = index.floor_by_position(limit);
        let by_offset =
            (max_offset.0 > self.base_offset.0).then(|| index.lookup(Offset(max_offset.0 - 1)));
        if let (Some(by_position), Some(by_offset)) = (by_position, by_offset) {
            let skip = u64::from(by_position.min(by_offset.position));
            if skip > end && skip <= size {
                end = skip;
            }
        }
        while let Some(header) = read_header(&self.file, size, end)? {
            if !takes(&header, end) {
                next_offset = next_offset.max(header.base_offset);
                break;
            }
            end += header.size;
            next_offset = Offset(header.last_offset.0.saturating_add(1));
        }
        Ok(self.slice(first.position, end, next_offset))
    }

    fn slice(&self, start: u64, end: u64, next_offset: Offset) -> FileRecords {
        let len = (end - start) as usize;
        FileRecords::new(Arc::clone(&self.file), start, len, next_offset)
    }

    /// Adds to `out` the transactions aborted by markers in this segment
    /// that overlap `[from, upper_bound)`.
    pub fn aborted_txns(&self, from: Offset, upper_bound: Offset, out: &mut Vec<AbortedTxn>) {
        self.aborted.overlapping(from, upper_bound, out);
    }
}

/// [`SegmentReader::find_batch`] answered from the recent batches' headers,
/// without I/O; `None` if `target` is older than they are.
fn find_recent(recent: &VecDeque<BatchHeader>, target: Offset) -> Option<Option<BatchHeader>> {
    let oldest = recent.front()?;
    (oldest.base_offset <= target).then(|| recent.iter().find(|h| h.last_offset >= target).copied())
}
