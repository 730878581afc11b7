//! The log of one partition: its ordered segments, log start and end
//! offsets, appends with roll, reads by offset and by time, retention.
//!
//! A `PartitionLog` is single-writer; the partition layer serialises access
//! and runs it on blocking threads, since everything here does file I/O,
//! but for reads and quick appends, which may run on the request's thread.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tracing::{info, warn};

use super::cleaner::{self, CleanStats, Compacted};
use super::disk_faults;
use super::file_records::FileRecords;
use super::leader_epoch_cache::LeaderEpochCache;
use super::producer_state::{
    delete_snapshots, snapshot_path, write_snapshot, BatchMetadata, CompletedTxn, ProducerBatch,
    ProducerState, ProducerSummary, SequenceCheck,
};
use super::read_view::LogView;
use super::recovery::recover_sealed_segment;
use super::rolled_sync::{RolledSync, Snapshot};
use super::segment::{PendingBatch, Segment, SegmentView};
use super::txn_index::AbortedTxn;
use super::validator::LogValidator;
use super::LogError;
use crate::config::topic::{LogConfig, TimestampType};
use crate::records::batch::{
    leader_header, set_base_offset, set_partition_leader_epoch, Batch, BatchError, Batches,
    HEADER_SIZE,
};
use crate::records::compression::records_payload;
use crate::records::control::TxnMarker;
use crate::records::record::Records;
use crate::types::{now_ms, LeaderEpoch, Offset};

/// The largest append done on the request's thread (see
/// [`PartitionLog::append_is_quick`]): a page-cache copy of this size takes
/// tens of microseconds, about what a hop to a blocking thread costs, so
/// larger appends lose little by the hop. They take it so that a writer
/// held up by the kernel (dirty-page throttling under heavy writes) holds
/// a blocking thread, not one of the few threads serving every connection.
const QUICK_APPEND_BYTES: usize = 64 * 1024;

/// Where an append landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppendInfo {
    pub base_offset: Offset,
    pub last_offset: Offset,
    /// The broker time stamped on the batches, for LogAppendTime topics.
    pub log_append_time: Option<i64>,
}

pub use super::validator::AppendOrigin;

/// Where the log start offset is kept across restarts.
pub(super) const LOG_START_OFFSET_FILE: &str = "log-start-offset";

/// A record found by timestamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimestampAndOffset {
    pub timestamp: i64,
    pub offset: Offset,
}

pub struct PartitionLog {
    pub(super) dir: PathBuf,
    pub(super) config: LogConfig,
    /// Segments by base offset; the last one is active.
    pub(super) segments: BTreeMap<Offset, Segment>,
    pub(super) log_start_offset: Offset,
    pub(super) unflushed_messages: i64,
    pub(super) last_flush: Instant,
    pub(super) producers: ProducerState,
    pub(super) leader_epochs: LeaderEpochCache,
    /// The sync of the segment rolled last, while it may still run.
    pub(super) rolled_sync: Option<RolledSync>,
    /// What readers without the lock see: rebuilt whenever segments come
    /// or go or the log start moves ([`refresh_view`](Self::refresh_view)).
    pub(super) view: Arc<LogView>,
}

impl PartitionLog {
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The folder was renamed for deletion: later writes of requests still
    /// running go to the renamed files.
    pub fn renamed_to(&mut self, dir: PathBuf) {
        self.dir = dir;
    }

    pub fn config(&self) -> &LogConfig {
        &self.config
    }

    pub fn set_config(&mut self, config: LogConfig) {
        self.config = config;
    }

    // Invariant: a log always has at least one segment.
    #[allow(clippy::expect_used)]
    pub(super) fn active(&self) -> &Segment {
        self.segments
            .values()
            .next_back()
            .expect("a partition log always has an active segment") // ok: invariant
    }

    #[allow(clippy::expect_used)]
    fn active_mut(&mut self) -> &mut Segment {
        self.segments
            .values_mut()
            .next_back()
            .expect("a partition log always has an active segment") // ok: invariant
    }

    /// The offset the next appended record gets (LEO).
    pub fn log_end_offset(&self) -> Offset {
        self.active().next_offset()
    }

    pub fn log_start_offset(&self) -> Offset {
        self.log_start_offset
    }

    /// The view of this log for readers that do not take its lock.
    pub fn view(&self) -> &Arc<LogView> {
        &self.view
    }

    /// Rebuilds the readers' view: every change to the segments or the log
    /// start calls this before it returns.
    pub(super) fn refresh_view(&mut self) {
        self.view = Arc::new(view_of(&self.segments, self.log_start_offset));
    }

    pub fn size_bytes(&self) -> u64 {
        self.segments.values().map(Segment::size).sum()
    }

    pub fn segment_count(&self) -> usize {
        self.segments.len()
    }

    /// The epoch of the leader that wrote the last batch that has one, or
    /// that leads this log now.
    pub fn latest_epoch(&self) -> Option<LeaderEpoch> {
        self.leader_epochs.latest_epoch()
    }

    /// A new leader's epoch starts at the log end even before anything is
    /// appended (Kafka's `maybeAssignEpochStartOffset`), so that
    /// OffsetForLeaderEpoch answers the current epoch with the log end.
    pub fn assign_epoch_start(&mut self, epoch: LeaderEpoch) -> Result<(), LogError> {
        let end = self.log_end_offset();
        self.leader_epochs.assign(epoch, end)?;
        Ok(())
    }

    /// Where leader epoch `epoch` ended in this log, for
    /// OffsetsForLeaderEpoch: see [`LeaderEpochCache::end_offset_for`].
    pub fn end_offset_for_epoch(&self, epoch: i32) -> (i32, Offset) {
        self.leader_epochs
            .end_offset_for(epoch, self.log_end_offset())
    }

    /// The partition's name (its folder's), for messages.
    fn name(&self) -> String {
        self.dir
            .file_name()
            .map_or_else(String::new, |name| name.to_string_lossy().into_owned())
    }

    /// Appends a produce request's batches as leader: validates them, gives
    /// each a header of its own with its offsets and the leader epoch, and
    /// writes them with the request's record bytes in one all-or-nothing
    /// write. Nothing is changed if any of it fails.
    pub fn append_as_leader(
        &mut self,
        records: &[u8],
        leader_epoch: LeaderEpoch,
        origin: AppendOrigin,
    ) -> Result<AppendInfo, LogError> {
        let now = now_ms();
        let name = self.name();
        let batches = LogValidator::new(&self.config, &name, origin, now).validate(records)?;
        // Idempotent produce carries exactly one batch (checked above).
        let producer = batches.first().and_then(ProducerBatch::of);
        if let Some(producer) = &producer {
            let check = match origin {
                AppendOrigin::Client => self.producers.check(producer)?,
                AppendOrigin::Coordinator => self.producers.check_epoch(producer)?,
            };
            if let SequenceCheck::Duplicate(original) = check {
                return Ok(AppendInfo {
                    base_offset: original.first_offset,
                    last_offset: original.last_offset,
                    log_append_time: None,
                });
            }
        }
        let log_append_time =
            (self.config.message_timestamp_type == TimestampType::LogAppendTime).then_some(now);
        let base_offset = self.log_end_offset();
        let mut next_offset = base_offset;
        let mut messages = 0i64;
        let mut max_timestamp = i64::MIN;
        let pending: Vec<PendingBatch<'_>> = batches
            .iter()
            .map(|batch| {
                let header = leader_header(batch, next_offset, leader_epoch, log_append_time);
                next_offset = next_offset.plus(i64::from(batch.last_offset_delta()) + 1);
                messages += i64::from(batch.records_count());
                max_timestamp = max_timestamp.max(log_append_time.unwrap_or(batch.max_timestamp()));
                PendingBatch {
                    header,
                    body: &batch.bytes()[HEADER_SIZE..],
                }
            })
            .collect();
        self.append_pending(&pending)?;
        let last_offset = next_offset.plus(-1);
        if let Some(producer) = &producer {
            let metadata = BatchMetadata::new(producer, base_offset, last_offset, max_timestamp);
            self.producers.update(producer, metadata);
        }
        self.leader_epochs.assign(leader_epoch, base_offset)?;
        self.after_append(messages)?;
        Ok(AppendInfo {
            base_offset,
            last_offset,
            log_append_time,
        })
    }

    /// Writes batches at the log end in one write, rolling first if the
    /// active segment cannot take them all.
    fn append_pending(&mut self, pending: &[PendingBatch<'_>]) -> Result<(), LogError> {
        self.check_rolled_sync()?;
        let size = pending.iter().map(PendingBatch::size).sum();
        self.maybe_roll(size)?;
        self.active_mut().append_batches(pending)?;
        Ok(())
    }

    /// Counts appended messages towards `flush.messages`.
    fn after_append(&mut self, messages: i64) -> Result<(), LogError> {
        self.unflushed_messages += messages;
        if self.unflushed_messages >= self.config.flush_messages {
            self.flush()?;
        }
        Ok(())
    }

    /// Appends a transaction marker for the coordinator, closing the
    /// producer's transaction here; an abort is recorded in the active
    /// segment's `.txnindex` for read_committed fetches.
    pub fn append_marker(
        &mut self,
        marker: &TxnMarker,
        leader_epoch: LeaderEpoch,
    ) -> Result<(AppendInfo, CompletedTxn), LogError> {
        self.producers.check_marker(marker)?;
        let mut bytes = marker.to_batch(now_ms());
        let offset = self.log_end_offset();
        set_base_offset(&mut bytes, offset);
        set_partition_leader_epoch(&mut bytes, leader_epoch);
        let batch = Batch::parse(&bytes)?;
        self.append_pending(&[PendingBatch::unchanged(&batch)])?;
        let completed = self
            .producers
            .complete_txn(marker, offset, batch.max_timestamp());
        if let Some(aborted) = aborted_entry(&completed, &self.producers) {
            self.active_mut().record_aborted_txn(aborted)?;
        }
        self.leader_epochs.assign(leader_epoch, offset)?;
        self.after_append(1)?;
        let info = AppendInfo {
            base_offset: offset,
            last_offset: offset,
            log_append_time: None,
        };
        Ok((info, completed))
    }

    /// Appends what a leader returned to this replica's Fetch: whole v2
    /// batches that already carry their offsets and leader epochs, written
    /// as they are so that replicas stay byte-identical. The leader checked
    /// sequences and epochs; here the batches only update the producer
    /// state, the transaction index and the leader-epoch cache. Batches
    /// already in the log are skipped, and an incomplete last batch (a fetch
    /// response may end inside one) is ignored. `None` if nothing was new.
    pub fn append_as_follower(&mut self, records: &[u8]) -> Result<Option<AppendInfo>, LogError> {
        let batches = match self.replicated_batches(records) {
            // An empty follower whose first batch starts before its log
            // start (the leader's log start is inside that batch, after
            // DeleteRecords) restarts its log at the batch, as Kafka does.
            Err(LogError::NonContiguousReplicaAppend {
                base_offset,
                log_end_offset,
                ..
            }) if log_end_offset == self.log_start_offset
                && log_end_offset == self.log_end_offset()
                && base_offset < log_end_offset =>
            {
                info!(dir = %self.dir.display(), %base_offset,
                      "first replicated batch starts before the log start: restarting the log there");
                self.truncate_fully_and_start_at(base_offset)?;
                self.replicated_batches(records)?
            }
            other => other?,
        };
        let (Some(first), Some(last)) = (batches.first(), batches.last()) else {
            return Ok(None);
        };
        let info = AppendInfo {
            base_offset: first.base_offset(),
            last_offset: last.last_offset(),
            log_append_time: None,
        };
        let mut messages = 0i64;
        for batch in &batches {
            // One batch at a time, rolling where the leader rolled, so that
            // the segments stay byte-identical; what is written before a
            // failure is a consistent prefix for the next fetch to extend.
            self.append_pending(&[PendingBatch::unchanged(batch)])?;
            self.leader_epochs
                .assign(batch.partition_leader_epoch(), batch.base_offset())?;
            if let Some(producer) = ProducerBatch::of(batch) {
                let metadata = BatchMetadata::new(
                    &producer,
                    batch.base_offset(),
                    batch.last_offset(),
                    batch.max_timestamp(),
                );
                self.producers.update(&producer, metadata);
            }
            if let Some(marker) = TxnMarker::of(batch) {
                let completed = self.producers.complete_txn(
                    &marker,
                    batch.base_offset(),
                    batch.max_timestamp(),
                );
                if let Some(aborted) = aborted_entry(&completed, &self.producers) {
                    self.active_mut().record_aborted_txn(aborted)?;
                }
            }
            messages += i64::from(batch.records_count());
        }
        self.after_append(messages)?;
        Ok(Some(info))
    }

    /// The batches of a replica fetch that extend the log, all checked
    /// before anything is written. Each must start exactly at the log end
    /// offset so far: a gap would lose records, an overlap duplicate them.
    /// Only compacted topics may skip offsets, where the leader's cleaner
    /// left gaps.
    fn replicated_batches<'a>(&self, records: &'a [u8]) -> Result<Vec<Batch<'a>>, LogError> {
        let mut log_end_offset = self.log_end_offset();
        let mut batches = Vec::new();
        for item in Batches::new(records) {
            let batch = match item {
                Ok((_, batch)) => batch,
                Err(BatchError::Truncated { .. }) => break,
                Err(error) => return Err(error.into()),
            };
            batch.validate()?;
            if batches.is_empty() && batch.last_offset() < log_end_offset {
                continue;
            }
            let base_offset = batch.base_offset();
            let gap = base_offset > log_end_offset && !self.config.is_compacted();
            if base_offset < log_end_offset || gap {
                return Err(LogError::NonContiguousReplicaAppend {
                    base_offset,
                    last_offset: batch.last_offset(),
                    log_end_offset,
                });
            }
            log_end_offset = batch.next_offset();
            batches.push(batch);
        }
        Ok(batches)
    }

    /// Drops every batch at or after `offset`, as a follower does where its
    /// log diverged from its leader's. A batch holding `offset` goes whole,
    /// so the log may then end before `offset` (truncation points are batch
    /// boundaries in practice). Segments above it are deleted, the one
    /// holding it is cut; the transaction indexes, producer state and
    /// leader-epoch cache follow. Cutting at or below the log start empties
    /// the log there ([`PartitionLog::truncate_fully_and_start_at`]).
    /// Nothing happens if `offset` is at or past the log end.
    pub fn truncate_to(&mut self, offset: Offset) -> Result<(), LogError> {
        self.wait_for_rolled_sync()?;
        if offset >= self.log_end_offset() {
            // No records go, but an epoch that started here without a
            // record (a leader that wrote nothing) is not this log's: the
            // follower must not claim it in its next fetch.
            self.leader_epochs.truncate_from_end(offset)?;
            return Ok(());
        }
        if offset <= self.log_start_offset {
            return self.truncate_fully_and_start_at(offset);
        }
        let Some((&base_offset, segment)) = self.segments.range(..=offset).next_back() else {
            return self.truncate_fully_and_start_at(offset);
        };
        let (position, cut_offset) = match segment.find_batch(offset)? {
            Some(header) => (header.position, header.base_offset),
            None => (segment.size(), segment.next_offset()),
        };
        if cut_offset <= self.log_start_offset {
            // The batch holding `offset` also holds the log start.
            return self.truncate_fully_and_start_at(self.log_start_offset);
        }
        info!(dir = %self.dir.display(), %offset, %cut_offset, "truncating log");
        let above: Vec<Offset> = self
            .segments
            .range(base_offset.plus(1)..)
            .map(|(base, _)| *base)
            .collect();
        for base in above.into_iter().rev() {
            if let Some(segment) = self.segments.remove(&base) {
                segment.reader().cut_to(0, base);
                segment.delete_files(&self.dir)?;
            }
        }
        // Reopened so that its indexes are appendable again, were it sealed.
        // Reads under way on the old one see it end where it is cut.
        if let Some(old) = self.segments.remove(&base_offset) {
            old.reader().cut_to(position, cut_offset);
        }
        let mut segment = Segment::open(&self.dir, base_offset, self.config.index_interval_bytes)?;
        segment.truncate_to_position(position, cut_offset)?;
        recover_sealed_segment(&mut segment, &self.dir)?;
        segment.flush()?;
        self.segments.insert(base_offset, segment);
        self.refresh_view();
        let log_end_offset = self.log_end_offset();
        self.leader_epochs.truncate_from_end(log_end_offset)?;
        self.lower_cleaner_checkpoint(log_end_offset)?;
        // Snapshots past the new end are deleted; the rest is replayed.
        self.load_producer_state()?;
        Ok(())
    }

    /// Deletes the whole log and starts it empty at `offset`, which becomes
    /// both log start and log end: a follower whose log lies wholly below
    /// its leader's log start does this. Producer state, its snapshots and
    /// the leader-epoch cache are cleared.
    pub fn truncate_fully_and_start_at(&mut self, offset: Offset) -> Result<(), LogError> {
        self.wait_for_rolled_sync()?;
        info!(dir = %self.dir.display(), %offset, "deleting the whole log to start it anew");
        let old: Vec<Offset> = self.segments.keys().copied().collect();
        if !self.segments.contains_key(&offset) {
            // The new segment goes in first: a log always has an active one.
            let segment = Segment::create(&self.dir, offset, self.config.index_interval_bytes)?;
            self.segments.insert(offset, segment);
        }
        for base in old.into_iter().rev() {
            if let Some(segment) = self.segments.remove(&base) {
                segment.reader().cut_to(0, base);
                segment.delete_files(&self.dir)?;
            }
            if base == offset {
                let segment = Segment::create(&self.dir, offset, self.config.index_interval_bytes)?;
                self.segments.insert(offset, segment);
            }
        }
        self.leader_epochs.clear()?;
        self.producers = ProducerState::default();
        delete_snapshots(&self.dir)?;
        self.lower_cleaner_checkpoint(offset)?;
        self.set_log_start_offset(offset)?;
        self.flush()
    }

    /// Past a truncation, the cleaner must not take re-appended records
    /// for already-compacted ones.
    fn lower_cleaner_checkpoint(&self, log_end_offset: Offset) -> Result<(), LogError> {
        if cleaner::read_checkpoint(&self.dir).is_some_and(|checkpoint| checkpoint > log_end_offset)
        {
            cleaner::write_checkpoint(&self.dir, log_end_offset)?;
        }
        Ok(())
    }

    /// The first offset of the oldest open transaction, if any.
    pub fn first_unstable_offset(&self) -> Option<Offset> {
        self.producers.first_unstable_offset()
    }

    /// Every producer known here, for DescribeProducers.
    pub fn producer_summaries(&self) -> Vec<ProducerSummary> {
        self.producers.summaries()
    }

    /// The aborted transactions a read_committed consumer of
    /// `[from, upper_bound)` must know about: those that ended at or after
    /// `from` and began before `upper_bound`.
    pub fn aborted_txns(&self, from: Offset, upper_bound: Offset) -> Vec<AbortedTxn> {
        self.view.aborted_txns(from, upper_bound)
    }

    /// Rolls to a new segment if the active one is full or too old.
    fn maybe_roll(&mut self, incoming: u64) -> Result<(), LogError> {
        if self.needs_roll(incoming) {
            self.roll()?;
        }
        Ok(())
    }

    /// Whether `incoming` bytes must go to a new segment: the active one
    /// would pass `segment.bytes`, is older than `segment.ms`, or is near
    /// the end of the offsets its indexes can hold.
    fn needs_roll(&self, incoming: u64) -> bool {
        let active = self.active();
        let full = active.size() + incoming > self.config.segment_bytes;
        let old = active.age() >= Duration::from_millis(self.config.segment_ms.max(0) as u64);
        // Index entries hold offsets relative to the base offset in 32 bits.
        let offsets_exhausted =
            active.next_offset().0 - active.base_offset().0 > i64::from(i32::MAX) - 1_000_000;
        !active.is_empty() && (full || old || offsets_exhausted)
    }

    /// Whether appending `bytes` of records only copies them into the page
    /// cache: no roll, no flush forced by `flush.messages` (every record
    /// takes at least a byte, so `bytes` bounds their count), no disk fault
    /// armed, and small. Such an append may run on the request's thread,
    /// as Kafka's request handlers append; any other goes to a blocking
    /// thread, so a sync or a slow disk never stalls the async runtime.
    pub fn append_is_quick(&self, bytes: usize) -> bool {
        bytes <= QUICK_APPEND_BYTES
            && !disk_faults::any_armed()
            && self.unflushed_messages.saturating_add(bytes as i64) < self.config.flush_messages
            && !self.needs_roll(bytes as u64)
    }

    /// Seals the active segment and starts a new one at the log end offset,
    /// snapshotting the producer state there so recovery replays less.
    /// The new segment is made before the old one is sealed, so that a
    /// failure leaves the old one active and the log as it was.
    pub fn roll(&mut self) -> Result<(), LogError> {
        // One rolled segment awaits its sync at a time.
        self.wait_for_rolled_sync()?;
        let next = self.log_end_offset();
        let segment = Segment::create(&self.dir, next, self.config.index_interval_bytes)?;
        let sealed = self
            .active_mut()
            .seal()
            .and_then(|()| self.active().data_sync());
        let data = match sealed {
            Ok(data) => data,
            Err(error) => {
                if let Err(cleanup) = segment.delete_files(&self.dir) {
                    warn!(dir = %self.dir.display(), %cleanup, "cannot remove the segment of a failed roll");
                }
                return Err(error.into());
            }
        };
        info!(dir = %self.dir.display(), base_offset = %next, "rolled new segment");
        self.segments.insert(next, segment);
        self.refresh_view();
        let snapshot = Snapshot {
            dir: self.dir.clone(),
            offset: next,
            encoded: self.producers.encode(),
        };
        self.rolled_sync = Some(RolledSync::start(data, snapshot));
        Ok(())
    }

    /// Waits for the rolled segment's sync, if one runs; its error if it
    /// failed (the log dir then goes offline).
    fn wait_for_rolled_sync(&mut self) -> Result<(), LogError> {
        match self.rolled_sync.take() {
            Some(sync) => Ok(sync.wait()?),
            None => Ok(()),
        }
    }

    /// Fails an append once the rolled segment's sync has failed: what
    /// was written may not be on disk.
    fn check_rolled_sync(&mut self) -> Result<(), LogError> {
        match self.rolled_sync.as_ref().and_then(RolledSync::outcome) {
            Some(outcome) => {
                self.rolled_sync = None;
                Ok(outcome?)
            }
            None => Ok(()),
        }
    }

    /// Reads whole batches starting at the one holding `offset`, up to
    /// `max_bytes` (but at least one batch), never past `max_offset`
    /// (exclusive: the high watermark for consumers).
    pub fn read(
        &self,
        offset: Offset,
        max_bytes: usize,
        max_offset: Offset,
    ) -> Result<Vec<u8>, LogError> {
        match self.read_records(offset, max_bytes, max_offset)? {
            Some(records) => Ok(records.read()?),
            None => Ok(Vec::new()),
        }
    }

    /// What [`read`](Self::read) would read, as a slice of its segment's
    /// file rather than bytes; `None` when there is nothing to read.
    pub fn read_records(
        &self,
        offset: Offset,
        max_bytes: usize,
        max_offset: Offset,
    ) -> Result<Option<FileRecords>, LogError> {
        if offset < self.log_start_offset || offset > self.log_end_offset() {
            return Err(LogError::OffsetOutOfRange {
                requested: offset,
                log_start_offset: self.log_start_offset,
                log_end_offset: self.log_end_offset(),
            });
        }
        self.view.read_records(offset, max_bytes, max_offset)
    }

    /// The first record with a timestamp `>= timestamp` (ListOffsets by time).
    pub fn offset_for_timestamp(
        &self,
        timestamp: i64,
    ) -> Result<Option<TimestampAndOffset>, LogError> {
        for segment in self.segments.values() {
            if segment
                .max_timestamp()
                .is_none_or(|max| max.timestamp < timestamp)
            {
                continue;
            }
            let Some(header) = segment.find_batch_by_time(timestamp)? else {
                continue;
            };
            let bytes = segment.read_at(header.position, header.size as usize)?;
            let batch = Batch::parse(&bytes)?;
            if let Some(found) = self.first_record_at_or_after(&batch, timestamp)? {
                if found.offset >= self.log_start_offset {
                    return Ok(Some(found));
                }
            }
        }
        Ok(None)
    }

    /// The record with the greatest timestamp (ListOffsets MAX_TIMESTAMP).
    pub fn max_timestamp(&self) -> Result<Option<TimestampAndOffset>, LogError> {
        let max = self
            .segments
            .values()
            .filter_map(Segment::max_timestamp)
            .max_by_key(|max| max.timestamp);
        match max {
            Some(max) => self.offset_for_timestamp(max.timestamp),
            None => Ok(None),
        }
    }

    /// One compaction pass over the sealed segments, if the topic is
    /// compacted and enough of it is dirty (see `log/cleaner.rs`). The
    /// partition layer runs the three steps apart, so that only the first
    /// and the last hold the partition.
    pub fn compact(
        &mut self,
        now_ms: i64,
        last_stable_offset: Offset,
    ) -> Result<Option<CleanStats>, LogError> {
        let Some(job) = self.compaction_job(last_stable_offset)? else {
            return Ok(None);
        };
        match job.run(now_ms, usize::MAX)? {
            Some(compacted) => self.install_compaction(compacted).map(Some),
            None => Ok(None),
        }
    }

    /// What a compaction pass reads: the sealed segments below the last
    /// stable offset (an open transaction's outcome decides which of its
    /// records stay, and nothing above the high watermark is final), as
    /// views that stay valid without the lock.
    pub fn compaction_job(
        &self,
        last_stable_offset: Offset,
    ) -> Result<Option<CompactionJob>, LogError> {
        if !self.config.is_compacted() {
            return Ok(None);
        }
        let first_dirty = cleaner::read_checkpoint(&self.dir)
            .unwrap_or(self.log_start_offset)
            .max(self.log_start_offset);
        let active_base = self.active().base_offset();
        let stable = self
            .first_unstable_offset()
            .unwrap_or(active_base)
            .min(last_stable_offset);
        let segments = self
            .segments
            .values()
            .filter(|s| s.base_offset() != active_base && s.next_offset() <= stable)
            .map(Segment::view)
            .collect::<Result<Vec<_>, _>>()?;
        let aborted = self
            .segments
            .values()
            .flat_map(Segment::aborted_txns)
            .collect();
        Ok(Some(CompactionJob {
            dir: self.dir.clone(),
            segments,
            first_dirty,
            config: self.config.clone(),
            aborted,
        }))
    }

    /// Swaps cleaned segments in. One whose source changed meanwhile
    /// (retention deleted it) is dropped instead.
    pub fn install_compaction(&mut self, compacted: Compacted) -> Result<CleanStats, LogError> {
        // A log that moved to another dir while the job ran (its future
        // replica swapped in) was cleaned in the old folder, now gone or
        // going: nothing of it applies to this copy.
        if compacted.dir != self.dir {
            for cleaned in compacted.outputs {
                let _ = std::fs::remove_file(&cleaned.path);
            }
            return Ok(CleanStats::default());
        }
        for cleaned in compacted.outputs {
            let unchanged = self
                .segments
                .get(&cleaned.base_offset)
                .is_some_and(|s| s.size() == cleaned.source_size);
            if !unchanged {
                std::fs::remove_file(&cleaned.path)?;
                continue;
            }
            // Close the old files (and index mappings) before replacing them.
            drop(self.segments.remove(&cleaned.base_offset));
            cleaner::install(&self.dir, cleaned.base_offset, &cleaned.path)?;
            let mut segment = Segment::open(
                &self.dir,
                cleaned.base_offset,
                self.config.index_interval_bytes,
            )?;
            recover_sealed_segment(&mut segment, &self.dir)?;
            segment.seal()?;
            segment.sync()?;
            self.segments.insert(cleaned.base_offset, segment);
        }
        self.refresh_view();
        cleaner::write_checkpoint(&self.dir, compacted.checkpoint)?;
        info!(dir = %self.dir.display(), stats = ?compacted.stats, "compacted");
        Ok(compacted.stats)
    }

    /// Looks inside a batch for the first record whose timestamp is
    /// `>= timestamp`; LogAppendTime batches carry one time for all records.
    fn first_record_at_or_after(
        &self,
        batch: &Batch<'_>,
        timestamp: i64,
    ) -> Result<Option<TimestampAndOffset>, LogError> {
        if batch.is_log_append_time() {
            return Ok(
                (batch.max_timestamp() >= timestamp).then(|| TimestampAndOffset {
                    timestamp: batch.max_timestamp(),
                    offset: batch.base_offset(),
                }),
            );
        }
        let payload = records_payload(batch, self.config.decompression_limit())?;
        let found = Records::new(&payload, batch.records_count())
            .map(|record| TimestampAndOffset {
                timestamp: batch.base_timestamp() + record.timestamp_delta,
                offset: batch.base_offset().plus(record.offset_delta),
            })
            .find(|record| record.timestamp >= timestamp);
        Ok(found)
    }

    /// Flushes if `flush.ms` has passed since the last flush.
    pub fn maybe_flush_by_time(&mut self) -> Result<(), LogError> {
        if self.flush_by_time_due() {
            self.flush()?;
        }
        Ok(())
    }

    /// Whether `flush.ms` has passed since the last flush with messages
    /// appended meanwhile (never, with Kafka's default `flush.ms`).
    pub fn flush_by_time_due(&self) -> bool {
        self.unflushed_messages > 0
            && self.last_flush.elapsed() >= Duration::from_millis(self.config.flush_ms as u64)
    }

    /// Forgets producers idle for longer than `producer.id.expiration.ms`.
    pub fn expire_producers(&mut self, now_ms: i64, expiration_ms: i64) -> usize {
        self.producers.expire(now_ms, expiration_ms)
    }

    /// Flushes and snapshots the producer state (clean shutdown).
    pub fn checkpoint(&mut self) -> Result<(), LogError> {
        self.flush()?;
        let end = self.log_end_offset();
        // As Kafka, no new snapshot where one already stands (a truncation
        // below it deletes it), nor of an empty log without producers: the
        // next start derives the same state without it, and writing one
        // costs two `fsync`s per partition at every shutdown.
        let empty = end == self.log_start_offset && self.producers.is_empty();
        if !empty && !snapshot_path(&self.dir, end).exists() {
            write_snapshot(&self.dir, end, &self.producers)?;
        }
        Ok(())
    }

    /// Forces the active segment and its indexes to disk, and the segment
    /// rolled last if its sync still runs.
    pub fn flush(&mut self) -> Result<(), LogError> {
        self.wait_for_rolled_sync()?;
        self.active_mut().flush()?;
        self.unflushed_messages = 0;
        self.last_flush = Instant::now();
        Ok(())
    }
}

/// A compaction pass's input, taken under the partition's lock; `run`
/// cleans without it.
pub struct CompactionJob {
    dir: PathBuf,
    segments: Vec<SegmentView>,
    first_dirty: Offset,
    config: LogConfig,
    aborted: Vec<AbortedTxn>,
}

impl CompactionJob {
    /// Writes the cleaned segments beside the originals; `None` if the log
    /// is not dirty enough. The key map takes at most `dedupe_buffer_size`
    /// bytes (`log.cleaner.dedupe.buffer.size`).
    pub fn run(
        &self,
        now_ms: i64,
        dedupe_buffer_size: usize,
    ) -> Result<Option<Compacted>, LogError> {
        cleaner::compact(
            &self.dir,
            &self.segments,
            self.first_dirty,
            &self.config,
            now_ms,
            &self.aborted,
            dedupe_buffer_size,
        )
    }
}

/// The `.txnindex` entry for a transaction a marker aborted (none for
/// commits, or when the producer wrote nothing here).
/// The readers' view of `segments`.
pub(super) fn view_of(segments: &BTreeMap<Offset, Segment>, log_start_offset: Offset) -> LogView {
    let readers = segments.values().map(|s| Arc::clone(s.reader())).collect();
    LogView::new(log_start_offset, readers)
}

pub(super) fn aborted_entry(
    completed: &CompletedTxn,
    producers: &ProducerState,
) -> Option<AbortedTxn> {
    let first_offset = completed.first_offset?;
    (!completed.committed).then(|| AbortedTxn {
        producer_id: completed.producer_id,
        first_offset,
        last_offset: completed.last_offset,
        last_stable_offset: producers
            .first_unstable_offset()
            .unwrap_or(completed.last_offset.plus(1)),
    })
}

#[cfg(test)]
pub(crate) mod tests;
