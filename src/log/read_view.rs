//! What readers of a log see of it without its lock: its segments' read
//! sides and its start offset, as an immutable value.
//!
//! The log's writer builds a new view whenever segments come or go or the
//! log start moves (roll, truncation, retention, compaction,
//! DeleteRecords), and the partition publishes it before the offsets that
//! make its data visible, so that a reader bounded by the high watermark
//! always finds what lies below it. Appends within a segment need no new
//! view: they are published by the segment's reader.

use std::sync::Arc;

use super::file_records::FileRecords;
use super::segment_reader::SegmentReader;
use super::txn_index::AbortedTxn;
use super::LogError;
use crate::types::Offset;

pub struct LogView {
    log_start_offset: Offset,
    /// By base offset; the last one is the active segment.
    segments: Vec<Arc<SegmentReader>>,
}

impl LogView {
    pub fn new(log_start_offset: Offset, segments: Vec<Arc<SegmentReader>>) -> LogView {
        LogView {
            log_start_offset,
            segments,
        }
    }

    pub fn log_start_offset(&self) -> Offset {
        self.log_start_offset
    }

    /// The segments from the one that may hold `offset` on.
    fn segments_from(&self, offset: Offset) -> &[Arc<SegmentReader>] {
        let after = self
            .segments
            .partition_point(|segment| segment.base_offset() <= offset);
        &self.segments[after.saturating_sub(1)..]
    }

    /// Whole batches starting at the one holding `offset`, up to
    /// `max_bytes` (but at least one batch), never at or past `max_offset`,
    /// as a slice of their segment's file; `None` when there is nothing to
    /// read. The caller checks `offset` against the log's bounds.
    pub fn read_records(
        &self,
        offset: Offset,
        max_bytes: usize,
        max_offset: Offset,
    ) -> Result<Option<FileRecords>, LogError> {
        if offset >= max_offset {
            return Ok(None);
        }
        for segment in self.segments_from(offset) {
            if let Some(header) = segment.find_batch(offset)? {
                let records = segment.records(header, max_bytes, max_offset)?;
                return Ok((!records.is_empty()).then_some(records));
            }
        }
        Ok(None)
    }

    /// The aborted transactions a read_committed consumer of
    /// `[from, upper_bound)` must know about: those that ended at or after
    /// `from` and began before `upper_bound`.
    pub fn aborted_txns(&self, from: Offset, upper_bound: Offset) -> Vec<AbortedTxn> {
        let mut aborted = Vec::new();
        for segment in self.segments_from(from) {
            segment.aborted_txns(from, upper_bound, &mut aborted);
        }
        aborted
    }
}
