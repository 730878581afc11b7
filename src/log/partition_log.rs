//! The log of one partition: its ordered segments, log start and end
//! offsets, appends with roll, reads by offset and by time, retention.
//!
//! A `PartitionLog` is single-writer; the partition layer serialises access
//! and runs it on blocking threads, since everything here does file I/O.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tracing::{debug, info};

use super::cleaner::{self, CleanStats, Compacted};
use super::leader_epoch_cache::LeaderEpochCache;
use super::producer_state::{
    delete_snapshots, load_latest_snapshot, write_snapshot, BatchMetadata, CompletedTxn,
    ProducerBatch, ProducerState, ProducerSummary, SequenceCheck,
};
use super::recovery::{list_segment_base_offsets, recover_active_segment, recover_sealed_segment};
use super::segment::{Segment, SegmentView};
use super::txn_index::AbortedTxn;
use super::LogError;
use crate::config::topic::{CleanupPolicy, LogConfig, TimestampType};
use crate::records::batch::{
    set_base_offset, set_log_append_time, set_partition_leader_epoch, Batch, BatchError, Batches,
    Compression,
};
use crate::records::compression::decompress;
use crate::records::control::TxnMarker;
use crate::records::record::Records;
use crate::types::{now_ms, LeaderEpoch, Offset};

/// Where an append landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppendInfo {
    pub base_offset: Offset,
    pub last_offset: Offset,
    /// The broker time stamped on the batches, for LogAppendTime topics.
    pub log_append_time: Option<i64>,
}

/// Who is appending: clients go through sequence checks; the broker's own
/// coordinators write transactional records without sequences (offsets
/// committed in a transaction), as Kafka's coordinator appends do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppendOrigin {
    Client,
    Coordinator,
}

/// A record found by timestamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimestampAndOffset {
    pub timestamp: i64,
    pub offset: Offset,
}

pub struct PartitionLog {
    dir: PathBuf,
    config: LogConfig,
    /// Segments by base offset; the last one is active.
    segments: BTreeMap<Offset, Segment>,
    log_start_offset: Offset,
    unflushed_messages: i64,
    last_flush: Instant,
    producers: ProducerState,
    leader_epochs: LeaderEpochCache,
}

const LOG_START_OFFSET_FILE: &str = "log-start-offset";

impl PartitionLog {
    /// Opens (or creates) the log in `dir`, recovering it. `clean_shutdown`
    /// says whether the previous run closed its logs; if not, the active
    /// segment is validated batch by batch.
    pub fn open(dir: &Path, config: LogConfig, clean_shutdown: bool) -> Result<Self, LogError> {
        std::fs::create_dir_all(dir)?;
        cleaner::remove_leftovers(dir)?;
        let base_offsets = list_segment_base_offsets(dir)?;
        let mut segments = BTreeMap::new();
        let last = base_offsets.last().copied();
        for base_offset in base_offsets {
            let mut segment = Segment::open(dir, base_offset, config.index_interval_bytes)?;
            if Some(base_offset) == last {
                if clean_shutdown {
                    recover_sealed_segment(&mut segment, dir)?;
                } else {
                    recover_active_segment(&mut segment, dir)?;
                }
            } else {
                recover_sealed_segment(&mut segment, dir)?;
                segment.seal()?;
            }
            segments.insert(base_offset, segment);
        }
        if segments.is_empty() {
            segments.insert(
                Offset::ZERO,
                Segment::create(dir, Offset::ZERO, config.index_interval_bytes)?,
            );
        }
        let first_base = *segments.keys().next().unwrap_or(&Offset::ZERO);
        let stored_start = std::fs::read_to_string(dir.join(LOG_START_OFFSET_FILE))
            .ok()
            .and_then(|text| text.trim().parse::<i64>().ok())
            .map(Offset);
        let mut log = PartitionLog {
            dir: dir.to_path_buf(),
            config,
            segments,
            log_start_offset: first_base,
            unflushed_messages: 0,
            last_flush: Instant::now(),
            producers: ProducerState::default(),
            leader_epochs: LeaderEpochCache::empty(dir),
        };
        if let Some(start) = stored_start {
            log.log_start_offset = start.clamp(first_base, log.log_end_offset());
        }
        log.load_producer_state()?;
        log.load_leader_epoch_cache(clean_shutdown)?;
        debug!(dir = %dir.display(), log_start_offset = %log.log_start_offset,
               log_end_offset = %log.log_end_offset(), "log opened");
        Ok(log)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn config(&self) -> &LogConfig {
        &self.config
    }

    pub fn set_config(&mut self, config: LogConfig) {
        self.config = config;
    }

    fn active(&self) -> &Segment {
        // Invariant: a log always has at least one segment.
        self.segments
            .values()
            .next_back()
            .expect("a partition log always has an active segment") // ok: invariant
    }

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

    pub fn size_bytes(&self) -> u64 {
        self.segments.values().map(Segment::size).sum()
    }

    pub fn segment_count(&self) -> usize {
        self.segments.len()
    }

    /// Rebuilds the idempotent-producer state: the newest snapshot, then
    /// the batches written after it.
    fn load_producer_state(&mut self) -> Result<(), LogError> {
        let end = self.log_end_offset();
        let (from, state) = match load_latest_snapshot(&self.dir, end)? {
            Some((offset, state)) if offset >= self.log_start_offset => (offset, state),
            _ => (self.log_start_offset, ProducerState::default()),
        };
        self.producers = state;
        for segment in self.segments.values_mut() {
            if segment.next_offset() <= from {
                continue;
            }
            // The replay below re-derives the aborted transactions from here.
            segment.truncate_aborted_txns(from)?;
            for header in segment.headers_from(from)? {
                if let Some(producer) = header.producer {
                    let metadata = BatchMetadata::new(
                        &producer,
                        header.base_offset,
                        header.last_offset,
                        header.max_timestamp,
                    );
                    self.producers.update(&producer, metadata);
                }
                if header.control {
                    let bytes = segment.read_at(header.position, header.size as usize)?;
                    let batch = Batch::parse(&bytes)?;
                    if let Some(marker) = TxnMarker::of(&batch) {
                        let completed = self.producers.complete_txn(
                            &marker,
                            batch.base_offset(),
                            batch.max_timestamp(),
                        );
                        if let Some(aborted) = aborted_entry(&completed, &self.producers) {
                            segment.record_aborted_txn(aborted)?;
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Loads the leader-epoch checkpoint, or rebuilds it from the batch
    /// headers if it is missing or unreadable, then fits it to the log as
    /// recovered: after a crash the active segment may hold a batch of a new
    /// epoch the checkpoint never saw, or lack one it did.
    fn load_leader_epoch_cache(&mut self, clean_shutdown: bool) -> Result<(), LogError> {
        let (cache, replay_from) = match LeaderEpochCache::load(&self.dir) {
            Some(cache) if clean_shutdown => (cache, None),
            Some(cache) => (cache, Some(self.active().base_offset())),
            None => {
                let mut cache = LeaderEpochCache::empty(&self.dir);
                cache.clear()?;
                (cache, Some(Offset::ZERO))
            }
        };
        self.leader_epochs = cache;
        let log_end_offset = self.log_end_offset();
        self.leader_epochs.truncate_from_end(log_end_offset)?;
        if let Some(from) = replay_from {
            for segment in self.segments.range(from..).map(|(_, segment)| segment) {
                let mut position = 0;
                while let Some(header) = segment.read_header(position)? {
                    // Only newer epochs: older batches are already accounted for.
                    if self
                        .leader_epochs
                        .latest_epoch()
                        .is_none_or(|latest| header.leader_epoch > latest)
                    {
                        self.leader_epochs
                            .assign(header.leader_epoch, header.base_offset)?;
                    }
                    position += header.size;
                }
            }
        }
        self.leader_epochs
            .truncate_from_start(self.log_start_offset)?;
        Ok(())
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

    /// Checks every batch of a produce request's records before anything is
    /// written, so that a bad batch appends nothing.
    pub fn validate_records(&self, records: &[u8]) -> Result<usize, LogError> {
        let mut count = 0;
        let mut idempotent = false;
        for item in Batches::new(records) {
            let (_, batch) = item?;
            batch.validate()?;
            if batch.is_control() {
                return Err(LogError::ControlBatchFromClient);
            }
            idempotent |= batch.producer_id() >= 0;
            if batch.size() > self.config.max_message_bytes {
                return Err(LogError::MessageTooLarge {
                    size: batch.size(),
                    max: self.config.max_message_bytes,
                });
            }
            if self.is_compacted()
                && !cleaner::all_records_keyed(&batch, self.decompression_limit())?
            {
                return Err(LogError::KeylessRecordOnCompactedTopic);
            }
            count += 1;
        }
        if count == 0 {
            return Err(LogError::EmptyRecords);
        }
        if idempotent && count > 1 {
            return Err(LogError::MultipleIdempotentBatches);
        }
        Ok(count)
    }

    /// Appends a produce request's batches as leader: validates them, assigns
    /// offsets and the leader epoch in place, and writes them.
    pub fn append_as_leader(
        &mut self,
        records: &mut [u8],
        leader_epoch: LeaderEpoch,
        origin: AppendOrigin,
    ) -> Result<AppendInfo, LogError> {
        self.validate_records(records)?;
        // Idempotent produce carries exactly one batch (checked above).
        let producer = ProducerBatch::of(&Batch::parse(records)?);
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
            (self.config.message_timestamp_type == TimestampType::LogAppendTime).then(now_ms);
        let base_offset = self.log_end_offset();
        let mut next_offset = base_offset;
        let mut position = 0;
        let mut messages = 0i64;
        while position < records.len() {
            let size = Batch::parse(&records[position..])?.size();
            let bytes = &mut records[position..position + size];
            set_base_offset(bytes, next_offset);
            set_partition_leader_epoch(bytes, leader_epoch);
            if let Some(now) = log_append_time {
                set_log_append_time(bytes, now);
            }
            let batch = Batch::parse(bytes)?;
            messages += i64::from(batch.records_count());
            self.maybe_roll(batch.size() as u64)?;
            self.active_mut().append(&batch)?;
            if let Some(producer) = &producer {
                let metadata = BatchMetadata::new(
                    producer,
                    batch.base_offset(),
                    batch.last_offset(),
                    batch.max_timestamp(),
                );
                self.producers.update(producer, metadata);
            }
            next_offset = batch.next_offset();
            position += size;
        }
        self.leader_epochs.assign(leader_epoch, base_offset)?;
        self.unflushed_messages += messages;
        if self.unflushed_messages >= self.config.flush_messages {
            self.flush()?;
        }
        Ok(AppendInfo {
            base_offset,
            last_offset: next_offset.plus(-1),
            log_append_time,
        })
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
        self.maybe_roll(batch.size() as u64)?;
        self.active_mut().append(&batch)?;
        let completed = self
            .producers
            .complete_txn(marker, offset, batch.max_timestamp());
        if let Some(aborted) = aborted_entry(&completed, &self.producers) {
            self.active_mut().record_aborted_txn(aborted)?;
        }
        self.leader_epochs.assign(leader_epoch, offset)?;
        self.unflushed_messages += 1;
        if self.unflushed_messages >= self.config.flush_messages {
            self.flush()?;
        }
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
            self.maybe_roll(batch.size() as u64)?;
            self.active_mut().append(batch)?;
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
        self.unflushed_messages += messages;
        if self.unflushed_messages >= self.config.flush_messages {
            self.flush()?;
        }
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
            let gap = base_offset > log_end_offset && !self.is_compacted();
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
                segment.delete_files(&self.dir)?;
            }
        }
        // Reopened so that its indexes are appendable again, were it sealed.
        drop(self.segments.remove(&base_offset));
        let mut segment = Segment::open(&self.dir, base_offset, self.config.index_interval_bytes)?;
        segment.truncate_to_position(position, cut_offset)?;
        recover_sealed_segment(&mut segment, &self.dir)?;
        segment.flush()?;
        self.segments.insert(base_offset, segment);
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
        info!(dir = %self.dir.display(), %offset, "deleting the whole log to start it anew");
        let old: Vec<Offset> = self.segments.keys().copied().collect();
        if !self.segments.contains_key(&offset) {
            // The new segment goes in first: a log always has an active one.
            let segment = Segment::create(&self.dir, offset, self.config.index_interval_bytes)?;
            self.segments.insert(offset, segment);
        }
        for base in old.into_iter().rev() {
            if let Some(segment) = self.segments.remove(&base) {
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
        let first_segment = self
            .segments
            .range(..=from)
            .next_back()
            .map_or(Offset::ZERO, |(base, _)| *base);
        self.segments
            .range(first_segment..)
            .flat_map(|(_, segment)| segment.aborted_txns())
            .filter(|txn| txn.last_offset >= from && txn.first_offset < upper_bound)
            .copied()
            .collect()
    }

    /// Rolls to a new segment if the active one is full or too old.
    fn maybe_roll(&mut self, incoming: u64) -> Result<(), LogError> {
        let active = self.active();
        let full = active.size() + incoming > self.config.segment_bytes;
        let old = active.age() >= Duration::from_millis(self.config.segment_ms.max(0) as u64);
        // Index entries hold offsets relative to the base offset in 32 bits.
        let offsets_exhausted =
            active.next_offset().0 - active.base_offset().0 > i64::from(i32::MAX) - 1_000_000;
        if !active.is_empty() && (full || old || offsets_exhausted) {
            self.roll()?;
        }
        Ok(())
    }

    /// Seals the active segment and starts a new one at the log end offset,
    /// snapshotting the producer state there so recovery replays less.
    pub fn roll(&mut self) -> Result<(), LogError> {
        let next = self.log_end_offset();
        self.active_mut().seal()?;
        write_snapshot(&self.dir, next, &self.producers)?;
        let segment = Segment::create(&self.dir, next, self.config.index_interval_bytes)?;
        info!(dir = %self.dir.display(), base_offset = %next, "rolled new segment");
        self.segments.insert(next, segment);
        Ok(())
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
        if offset < self.log_start_offset || offset > self.log_end_offset() {
            return Err(LogError::OffsetOutOfRange {
                requested: offset,
                log_start_offset: self.log_start_offset,
                log_end_offset: self.log_end_offset(),
            });
        }
        if offset >= max_offset {
            return Ok(Vec::new());
        }
        for (_, segment) in self
            .segments
            .range(..=offset)
            .next_back()
            .into_iter()
            .chain(self.segments.range((
                std::ops::Bound::Excluded(offset),
                std::ops::Bound::Unbounded,
            )))
        {
            if let Some(header) = segment.find_batch(offset)? {
                let mut bytes = segment.read_batches(header.position, max_bytes)?;
                trim_to_offset(&mut bytes, max_offset);
                return Ok(bytes);
            }
        }
        Ok(Vec::new())
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

    fn is_compacted(&self) -> bool {
        matches!(
            self.config.cleanup_policy,
            CleanupPolicy::Compact | CleanupPolicy::CompactAndDelete
        )
    }

    /// Records of one batch never exceed the largest allowed message by more
    /// than the compression ratio; cap decompression generously above that.
    fn decompression_limit(&self) -> usize {
        (self.config.max_message_bytes * 64).max(64 * 1024 * 1024)
    }

    /// One compaction pass over the sealed segments, if the topic is
    /// compacted and enough of it is dirty (see `log/cleaner.rs`). The
    /// partition layer runs the three steps apart, so that only the first
    /// and the last hold the partition.
    pub fn compact(&mut self, now_ms: i64) -> Result<Option<CleanStats>, LogError> {
        let Some(job) = self.compaction_job()? else {
            return Ok(None);
        };
        match job.run(now_ms, usize::MAX)? {
            Some(compacted) => self.install_compaction(compacted).map(Some),
            None => Ok(None),
        }
    }

    /// What a compaction pass reads: the sealed segments below the first
    /// unstable offset (an open transaction's outcome decides which of its
    /// records stay), as views that stay valid without the lock.
    pub fn compaction_job(&self) -> Result<Option<CompactionJob>, LogError> {
        if !self.is_compacted() {
            return Ok(None);
        }
        let first_dirty = cleaner::read_checkpoint(&self.dir)
            .unwrap_or(self.log_start_offset)
            .max(self.log_start_offset);
        let active_base = self.active().base_offset();
        let stable = self.first_unstable_offset().unwrap_or(active_base);
        let segments = self
            .segments
            .values()
            .filter(|s| s.base_offset() != active_base && s.next_offset() <= stable)
            .map(Segment::view)
            .collect::<Result<Vec<_>, _>>()?;
        let aborted = self
            .segments
            .values()
            .flat_map(|s| s.aborted_txns().iter().copied())
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
            self.segments.insert(cleaned.base_offset, segment);
        }
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
        let decompressed;
        let payload = match batch.compression() {
            Compression::None => batch.records_payload(),
            codec => {
                decompressed =
                    decompress(codec, batch.records_payload(), self.decompression_limit())?;
                &decompressed
            }
        };
        let found = Records::new(payload, batch.records_count())
            .map(|record| TimestampAndOffset {
                timestamp: batch.base_timestamp() + record.timestamp_delta,
                offset: batch.base_offset().plus(record.offset_delta),
            })
            .find(|record| record.timestamp >= timestamp);
        Ok(found)
    }

    /// Deletes whole segments that retention no longer keeps: older than
    /// `retention.ms` (by their largest timestamp) or beyond
    /// `retention.bytes`. The active segment is never deleted. Returns the
    /// number of segments removed.
    pub fn apply_retention(&mut self, now_ms: i64) -> Result<usize, LogError> {
        if self.config.cleanup_policy == CleanupPolicy::Compact {
            return Ok(0);
        }
        let mut removable = Vec::new();
        let mut size = self.size_bytes() as i64;
        let active_base = self.active().base_offset();
        for (base_offset, segment) in &self.segments {
            if segment.is_empty() && *base_offset == active_base {
                break;
            }
            let expired = self.config.retention_ms >= 0
                && segment
                    .max_timestamp()
                    .is_some_and(|max| now_ms - max.timestamp > self.config.retention_ms);
            let over_size = self.config.retention_bytes >= 0
                && size - segment.size() as i64 >= self.config.retention_bytes;
            if !(expired || over_size) {
                break;
            }
            size -= segment.size() as i64;
            removable.push(*base_offset);
        }
        // Like Kafka, an expired active segment goes too: roll first, so the
        // log keeps an empty active segment at its end offset. (With one
        // replica the high watermark is the log end, so all of it is safe.)
        if removable.last() == Some(&active_base) {
            self.roll()?;
        }
        for base_offset in &removable {
            if let Some(segment) = self.segments.remove(base_offset) {
                info!(dir = %self.dir.display(), base_offset = %base_offset, "deleting segment past retention");
                segment.delete_files(&self.dir)?;
            }
        }
        if let Some(first) = self.segments.keys().next().copied() {
            if first > self.log_start_offset {
                self.set_log_start_offset(first)?;
            }
        }
        Ok(removable.len())
    }

    /// DeleteRecords: moves the log start offset up to `offset` (at most the
    /// high watermark) and deletes the segments wholly before it.
    pub fn delete_records_before(
        &mut self,
        offset: Offset,
        high_watermark: Offset,
    ) -> Result<Offset, LogError> {
        if offset < Offset::ZERO || offset > high_watermark {
            return Err(LogError::OffsetOutOfRange {
                requested: offset,
                log_start_offset: self.log_start_offset,
                log_end_offset: high_watermark,
            });
        }
        if offset <= self.log_start_offset {
            return Ok(self.log_start_offset);
        }
        let active_base = self.active().base_offset();
        let removable: Vec<Offset> = self
            .segments
            .values()
            .filter(|segment| {
                segment.base_offset() != active_base && segment.next_offset() <= offset
            })
            .map(Segment::base_offset)
            .collect();
        for base_offset in removable {
            if let Some(segment) = self.segments.remove(&base_offset) {
                segment.delete_files(&self.dir)?;
            }
        }
        self.set_log_start_offset(offset)?;
        info!(dir = %self.dir.display(), log_start_offset = %offset, "records deleted");
        Ok(offset)
    }

    fn set_log_start_offset(&mut self, offset: Offset) -> Result<(), LogError> {
        self.log_start_offset = offset;
        self.leader_epochs.truncate_from_start(offset)?;
        let path = self.dir.join(LOG_START_OFFSET_FILE);
        let temporary = self.dir.join(format!("{LOG_START_OFFSET_FILE}.tmp"));
        std::fs::write(&temporary, offset.0.to_string())?;
        std::fs::rename(&temporary, &path)?;
        Ok(())
    }

    /// Flushes if `flush.ms` has passed since the last flush.
    pub fn maybe_flush_by_time(&mut self) -> Result<(), LogError> {
        let due = self.last_flush.elapsed() >= Duration::from_millis(self.config.flush_ms as u64);
        if due && self.unflushed_messages > 0 {
            self.flush()?;
        }
        Ok(())
    }

    /// Forgets producers idle for longer than `producer.id.expiration.ms`.
    pub fn expire_producers(&mut self, now_ms: i64, expiration_ms: i64) -> usize {
        self.producers.expire(now_ms, expiration_ms)
    }

    /// Flushes and snapshots the producer state (clean shutdown).
    pub fn checkpoint(&mut self) -> Result<(), LogError> {
        self.flush()?;
        write_snapshot(&self.dir, self.log_end_offset(), &self.producers)?;
        Ok(())
    }

    /// Forces the active segment and its indexes to disk.
    pub fn flush(&mut self) -> Result<(), LogError> {
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
fn aborted_entry(completed: &CompletedTxn, producers: &ProducerState) -> Option<AbortedTxn> {
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

/// Drops batches at or past `max_offset` from a read buffer.
fn trim_to_offset(bytes: &mut Vec<u8>, max_offset: Offset) {
    let mut keep = 0;
    for (position, batch) in Batches::new(bytes).map_while(Result::ok) {
        if batch.base_offset() >= max_offset {
            break;
        }
        keep = position + batch.size();
    }
    bytes.truncate(keep);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::leader_epoch_cache::CHECKPOINT_FILE as EPOCH_CHECKPOINT_FILE;
    use crate::records::batch::tests::sample_batch;
    use crate::records::batch::{set_base_offset, set_partition_leader_epoch};
    use crate::records::builder::BatchBuilder;

    fn small_config() -> LogConfig {
        LogConfig {
            segment_bytes: 1024,
            index_interval_bytes: 128,
            ..LogConfig::default()
        }
    }

    fn append(log: &mut PartitionLog, records: usize) -> AppendInfo {
        let mut bytes = sample_batch(records);
        log.append_as_leader(&mut bytes, LeaderEpoch(0), AppendOrigin::Client)
            .unwrap()
    }

    #[test]
    fn appends_assign_consecutive_offsets_and_roll_segments() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = PartitionLog::open(dir.path(), small_config(), true).unwrap();
        let mut expected = 0;
        for _ in 0..50 {
            let info = append(&mut log, 3);
            assert_eq!(info.base_offset, Offset(expected));
            assert_eq!(info.last_offset, Offset(expected + 2));
            expected += 3;
        }
        assert_eq!(log.log_end_offset(), Offset(150));
        assert!(log.segment_count() > 3, "segments: {}", log.segment_count());
        for target in [0, 1, 77, 149] {
            let bytes = log.read(Offset(target), 1, Offset(150)).unwrap();
            let batch = Batch::parse(&bytes).unwrap();
            assert!(batch.base_offset() <= Offset(target) && batch.last_offset() >= Offset(target));
        }
        assert!(log.read(Offset(150), 1000, Offset(150)).unwrap().is_empty());
        assert!(matches!(
            log.read(Offset(151), 1000, Offset(150)),
            Err(LogError::OffsetOutOfRange { .. })
        ));
    }

    #[test]
    fn reads_stop_at_the_max_offset() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = PartitionLog::open(dir.path(), LogConfig::default(), true).unwrap();
        append(&mut log, 2);
        append(&mut log, 2);
        let bytes = log.read(Offset(0), 1 << 20, Offset(2)).unwrap();
        assert_eq!(Batches::new(&bytes).count(), 1);
    }

    #[test]
    fn a_bad_batch_appends_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = PartitionLog::open(dir.path(), LogConfig::default(), true).unwrap();
        let mut bytes = sample_batch(2);
        bytes.extend(sample_batch(2));
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        assert!(matches!(
            log.append_as_leader(&mut bytes, LeaderEpoch(0), AppendOrigin::Client),
            Err(LogError::Batch(_))
        ));
        assert_eq!(log.log_end_offset(), Offset(0));
    }

    #[test]
    fn reopening_restores_offsets_and_data() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut log = PartitionLog::open(dir.path(), small_config(), true).unwrap();
            for _ in 0..30 {
                append(&mut log, 2);
            }
        }
        for clean in [true, false] {
            let log = PartitionLog::open(dir.path(), small_config(), clean).unwrap();
            assert_eq!(log.log_end_offset(), Offset(60));
            let bytes = log.read(Offset(33), 1, Offset(60)).unwrap();
            assert_eq!(Batch::parse(&bytes).unwrap().base_offset(), Offset(32));
        }
    }

    #[test]
    fn finds_records_by_timestamp_inside_batches() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = PartitionLog::open(dir.path(), small_config(), true).unwrap();
        for batch in 0..20i64 {
            let mut builder = BatchBuilder::new(batch * 100);
            for record in 0..5 {
                builder.push(batch * 100 + record * 10, None, Some(b"v"), &[]);
            }
            log.append_as_leader(&mut builder.build(), LeaderEpoch(0), AppendOrigin::Client)
                .unwrap();
        }
        let at = |t| {
            log.offset_for_timestamp(t)
                .unwrap()
                .map(|f| (f.offset.0, f.timestamp))
        };
        assert_eq!(at(0), Some((0, 0)));
        assert_eq!(at(15), Some((2, 20)));
        assert_eq!(at(1_030), Some((53, 1_030)));
        assert_eq!(at(1_941), None);
        let max = log.max_timestamp().unwrap().unwrap();
        assert_eq!((max.offset.0, max.timestamp), (99, 1_940));
    }

    fn idempotent_batch(sequence: i32, records: i32) -> Vec<u8> {
        let mut builder = BatchBuilder::new(now_ms()).idempotent(42, 0, sequence);
        for _ in 0..records {
            builder.push(now_ms(), None, Some(b"v"), &[]);
        }
        builder.build()
    }

    #[test]
    fn idempotent_retries_get_their_original_offsets_even_after_restarts() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = PartitionLog::open(dir.path(), small_config(), true).unwrap();
        append(&mut log, 1); // offset 0, not idempotent
        for sequence in [0, 2, 4] {
            log.append_as_leader(
                &mut idempotent_batch(sequence, 2),
                LeaderEpoch(0),
                AppendOrigin::Client,
            )
            .unwrap();
        }
        let retry = log
            .append_as_leader(
                &mut idempotent_batch(2, 2),
                LeaderEpoch(0),
                AppendOrigin::Client,
            )
            .unwrap();
        assert_eq!(
            (retry.base_offset, retry.last_offset),
            (Offset(3), Offset(4))
        );
        assert_eq!(log.log_end_offset(), Offset(7));
        assert!(matches!(
            log.append_as_leader(
                &mut idempotent_batch(9, 1),
                LeaderEpoch(0),
                AppendOrigin::Client
            ),
            Err(LogError::ProducerState(_))
        ));
        let mut two = idempotent_batch(6, 1);
        two.extend(idempotent_batch(7, 1));
        assert!(matches!(
            log.append_as_leader(&mut two, LeaderEpoch(0), AppendOrigin::Client),
            Err(LogError::MultipleIdempotentBatches)
        ));
        drop(log);
        // Unclean restart: no snapshot, the state comes from replaying the log.
        let mut log = PartitionLog::open(dir.path(), small_config(), false).unwrap();
        let retry = log
            .append_as_leader(
                &mut idempotent_batch(4, 2),
                LeaderEpoch(0),
                AppendOrigin::Client,
            )
            .unwrap();
        assert_eq!(retry.base_offset, Offset(5));
        log.checkpoint().unwrap();
        drop(log);
        // Clean restart: from the snapshot.
        let mut log = PartitionLog::open(dir.path(), small_config(), true).unwrap();
        let retry = log
            .append_as_leader(
                &mut idempotent_batch(4, 2),
                LeaderEpoch(0),
                AppendOrigin::Client,
            )
            .unwrap();
        assert_eq!(retry.base_offset, Offset(5));
        let next = log
            .append_as_leader(
                &mut idempotent_batch(6, 1),
                LeaderEpoch(0),
                AppendOrigin::Client,
            )
            .unwrap();
        assert_eq!(next.base_offset, Offset(7));
    }

    fn txn_batch(producer_id: i64, sequence: i32, records: i32) -> Vec<u8> {
        let mut builder = BatchBuilder::new(now_ms())
            .idempotent(producer_id, 0, sequence)
            .transactional();
        for _ in 0..records {
            builder.push(now_ms(), None, Some(b"t"), &[]);
        }
        builder.build()
    }

    fn marker(producer_id: i64, commit: bool) -> TxnMarker {
        TxnMarker {
            producer_id,
            producer_epoch: 0,
            commit,
            coordinator_epoch: 0,
        }
    }

    #[test]
    fn open_transactions_hold_the_stable_offset_and_aborts_are_indexed() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = PartitionLog::open(dir.path(), small_config(), true).unwrap();
        let client = AppendOrigin::Client;
        append(&mut log, 2); // 0..=1
        log.append_as_leader(&mut txn_batch(7, 0, 3), LeaderEpoch(0), client)
            .unwrap(); // 2..=4, producer 7
        log.append_as_leader(&mut txn_batch(8, 0, 2), LeaderEpoch(0), client)
            .unwrap(); // 5..=6, producer 8
        assert_eq!(log.first_unstable_offset(), Some(Offset(2)));
        let (_, completed) = log
            .append_marker(&marker(7, false), LeaderEpoch(0))
            .unwrap();
        assert_eq!(
            (completed.first_offset, completed.last_offset),
            (Some(Offset(2)), Offset(7))
        );
        assert_eq!(log.first_unstable_offset(), Some(Offset(5)));
        log.append_marker(&marker(8, true), LeaderEpoch(0)).unwrap(); // 8
        assert_eq!(log.first_unstable_offset(), None);
        let aborted = |log: &PartitionLog, from, to| -> Vec<(i64, i64)> {
            log.aborted_txns(Offset(from), Offset(to))
                .iter()
                .map(|t| (t.producer_id, t.first_offset.value()))
                .collect()
        };
        assert_eq!(aborted(&log, 0, 9), vec![(7, 2)]);
        assert_eq!(aborted(&log, 0, 2), vec![], "ends before the transaction");
        assert_eq!(aborted(&log, 8, 9), vec![], "starts after its marker");
        // A client may not forge markers.
        assert!(matches!(
            log.append_as_leader(&mut marker(9, true).to_batch(0), LeaderEpoch(0), client),
            Err(LogError::ControlBatchFromClient)
        ));
        // A marker from an older producer epoch is fenced.
        let stale = TxnMarker {
            producer_epoch: -1,
            ..marker(7, true)
        };
        assert!(log.append_marker(&stale, LeaderEpoch(0)).is_err());
        // One more open transaction, then restarts: clean and unclean.
        log.append_as_leader(&mut txn_batch(7, 3, 1), LeaderEpoch(0), client)
            .unwrap(); // 9
        log.checkpoint().unwrap();
        drop(log);
        for clean in [true, false] {
            let log = PartitionLog::open(dir.path(), small_config(), clean).unwrap();
            assert_eq!(
                log.first_unstable_offset(),
                Some(Offset(9)),
                "clean={clean}"
            );
            assert_eq!(aborted(&log, 0, 10), vec![(7, 2)], "clean={clean}");
        }
        // Without snapshots everything is replayed from the log.
        for entry in std::fs::read_dir(dir.path()).unwrap() {
            let path = entry.unwrap().path();
            if path
                .extension()
                .is_some_and(|e| e == "snapshot" || e == "txnindex")
            {
                std::fs::remove_file(path).unwrap();
            }
        }
        let mut log = PartitionLog::open(dir.path(), small_config(), false).unwrap();
        assert_eq!(log.first_unstable_offset(), Some(Offset(9)));
        assert_eq!(aborted(&log, 0, 10), vec![(7, 2)]);
        log.append_marker(&marker(7, false), LeaderEpoch(0))
            .unwrap(); // 10
        assert_eq!(aborted(&log, 0, 11), vec![(7, 2), (7, 9)]);
    }

    /// What a Kafka read_committed consumer keeps of a read: it skips
    /// control batches, and drops a producer's transactional batches from
    /// the first offset of an aborted transaction the broker listed up to
    /// that producer's abort marker.
    fn read_committed_values(log: &PartitionLog, max_bytes: usize) -> Vec<(i64, String)> {
        let stable = log.first_unstable_offset().unwrap_or(log.log_end_offset());
        let mut kept = Vec::new();
        let mut offset = log.log_start_offset();
        let mut aborted_now = std::collections::HashSet::new();
        while offset < stable {
            let bytes = log.read(offset, max_bytes, stable).unwrap();
            let batches: Vec<_> = Batches::new(&bytes).map(|b| b.unwrap().1).collect();
            let upper = batches.last().unwrap().next_offset();
            let mut listed = log.aborted_txns(offset, upper);
            listed.sort_by_key(|t| t.first_offset);
            for batch in batches {
                assert!(batch.last_offset() < stable, "read past the LSO");
                for txn in listed
                    .iter()
                    .filter(|t| t.first_offset <= batch.last_offset())
                {
                    if txn.last_offset >= batch.base_offset() {
                        aborted_now.insert(txn.producer_id);
                    }
                }
                if let Some(marker) = TxnMarker::of(&batch) {
                    if !marker.commit {
                        aborted_now.remove(&marker.producer_id);
                    }
                } else if !(batch.is_transactional() && aborted_now.contains(&batch.producer_id()))
                {
                    for record in Records::new(batch.records_payload(), batch.records_count()) {
                        let value = String::from_utf8(record.value.unwrap().to_vec()).unwrap();
                        kept.push((batch.base_offset().value() + record.offset_delta, value));
                    }
                }
                offset = batch.next_offset();
            }
        }
        kept
    }

    #[derive(Debug, Clone)]
    enum TxnOp {
        Write { producer: i64, records: usize },
        Plain,
        End { producer: i64, commit: bool },
        Roll,
        Reopen { clean: bool },
    }

    fn txn_op() -> impl proptest::strategy::Strategy<Value = TxnOp> {
        use proptest::prelude::*;
        prop_oneof![
            4 => (0i64..3, 1usize..4).prop_map(|(producer, records)| TxnOp::Write { producer, records }),
            1 => Just(TxnOp::Plain),
            3 => (0i64..3, proptest::bool::ANY).prop_map(|(producer, commit)| TxnOp::End { producer, commit }),
            1 => Just(TxnOp::Roll),
            1 => proptest::bool::ANY.prop_map(|clean| TxnOp::Reopen { clean }),
        ]
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(32))]
        /// Random interleavings of transactional writes, commits, aborts,
        /// rolls and restarts: a read_committed consumer never sees an
        /// aborted record nor anything past the LSO, and sees every record
        /// of every committed transaction and every plain write below it.
        #[test]
        fn read_committed_never_sees_aborted_records(
            ops in proptest::collection::vec(txn_op(), 1..60),
            max_bytes in 1usize..600,
        ) {
            let dir = tempfile::tempdir().unwrap();
            let config = LogConfig { segment_bytes: 400, ..LogConfig::default() };
            let mut log = PartitionLog::open(dir.path(), config.clone(), true).unwrap();
            let mut sequences = [0i32; 3];
            let mut open: [Vec<(i64, String)>; 3] = Default::default();
            let mut visible: Vec<(i64, String)> = Vec::new();
            let mut aborted: Vec<String> = Vec::new();
            for (step, op) in ops.into_iter().enumerate() {
                match op {
                    TxnOp::Write { producer, records } => {
                        let index = producer as usize;
                        let mut builder = BatchBuilder::new(now_ms())
                            .idempotent(producer, 0, sequences[index])
                            .transactional();
                        let values: Vec<String> =
                            (0..records).map(|r| format!("p{producer}-s{step}-r{r}")).collect();
                        for value in &values {
                            builder.push(now_ms(), None, Some(value.as_bytes()), &[]);
                        }
                        let info = log
                            .append_as_leader(&mut builder.build(), LeaderEpoch(0), AppendOrigin::Client)
                            .unwrap();
                        sequences[index] += records as i32;
                        for (i, value) in values.into_iter().enumerate() {
                            open[index].push((info.base_offset.value() + i as i64, value));
                        }
                    }
                    TxnOp::Plain => {
                        let value = format!("plain-s{step}");
                        let mut builder = BatchBuilder::new(now_ms());
                        builder.push(now_ms(), None, Some(value.as_bytes()), &[]);
                        let info = log
                            .append_as_leader(&mut builder.build(), LeaderEpoch(0), AppendOrigin::Client)
                            .unwrap();
                        visible.push((info.base_offset.value(), value));
                    }
                    TxnOp::End { producer, commit } => {
                        log.append_marker(&marker(producer, commit), LeaderEpoch(0)).unwrap();
                        let records = std::mem::take(&mut open[producer as usize]);
                        if commit {
                            visible.extend(records);
                        } else {
                            aborted.extend(records.into_iter().map(|(_, v)| v));
                        }
                    }
                    TxnOp::Roll => log.roll().unwrap(),
                    TxnOp::Reopen { clean } => {
                        if clean {
                            log.checkpoint().unwrap();
                        }
                        drop(log);
                        log = PartitionLog::open(dir.path(), config.clone(), clean).unwrap();
                    }
                }
                let stable = log.first_unstable_offset().unwrap_or(log.log_end_offset());
                let expected: Vec<(i64, String)> = {
                    let mut below: Vec<_> =
                        visible.iter().filter(|(o, _)| *o < stable.value()).cloned().collect();
                    below.sort();
                    below
                };
                let seen = read_committed_values(&log, max_bytes);
                for (_, value) in &seen {
                    proptest::prop_assert!(!aborted.contains(value), "aborted {value} visible");
                }
                proptest::prop_assert_eq!(seen, expected);
            }
        }
    }

    #[test]
    fn retention_by_size_deletes_old_segments_and_moves_the_start_offset() {
        let dir = tempfile::tempdir().unwrap();
        let config = LogConfig {
            retention_bytes: 2048,
            ..small_config()
        };
        let mut log = PartitionLog::open(dir.path(), config, true).unwrap();
        for _ in 0..60 {
            append(&mut log, 2);
        }
        let removed = log.apply_retention(now_ms()).unwrap();
        assert!(removed > 0);
        assert!(log.size_bytes() <= 2048 + 1024);
        assert!(log.log_start_offset() > Offset(0));
        assert!(matches!(
            log.read(Offset(0), 100, Offset(120)),
            Err(LogError::OffsetOutOfRange { .. })
        ));
        let start = log.log_start_offset();
        drop(log);
        let reopened = PartitionLog::open(dir.path(), small_config(), true).unwrap();
        assert_eq!(reopened.log_start_offset(), start);
    }

    #[test]
    fn deleting_records_moves_the_start_offset_and_drops_whole_segments() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = PartitionLog::open(dir.path(), small_config(), true).unwrap();
        for _ in 0..40 {
            append(&mut log, 2);
        }
        let segments = log.segment_count();
        assert_eq!(
            log.delete_records_before(Offset(50), Offset(80)).unwrap(),
            Offset(50)
        );
        assert!(log.segment_count() < segments);
        assert!(matches!(
            log.read(Offset(49), 100, Offset(80)),
            Err(LogError::OffsetOutOfRange { .. })
        ));
        let bytes = log.read(Offset(50), 1, Offset(80)).unwrap();
        assert_eq!(Batch::parse(&bytes).unwrap().base_offset(), Offset(50));
        assert_eq!(
            log.delete_records_before(Offset(10), Offset(80)).unwrap(),
            Offset(50)
        );
        assert!(log.delete_records_before(Offset(81), Offset(80)).is_err());
        drop(log);
        assert_eq!(
            PartitionLog::open(dir.path(), small_config(), true)
                .unwrap()
                .log_start_offset(),
            Offset(50)
        );
    }

    fn keyed_batch(timestamp: i64, records: &[(&str, Option<&str>)]) -> Vec<u8> {
        let mut builder = BatchBuilder::new(timestamp);
        for (key, value) in records {
            builder.push(
                timestamp,
                Some(key.as_bytes()),
                value.map(str::as_bytes),
                &[],
            );
        }
        builder.build()
    }

    /// Every (offset, key, value) a full read returns.
    fn read_all(log: &PartitionLog) -> Vec<(i64, String, Option<String>)> {
        let mut out = Vec::new();
        let mut offset = log.log_start_offset();
        while offset < log.log_end_offset() {
            let bytes = log.read(offset, 1 << 20, log.log_end_offset()).unwrap();
            if bytes.is_empty() {
                break;
            }
            for (_, batch) in Batches::new(&bytes).map(Result::unwrap) {
                batch.validate().unwrap();
                let records = match batch.is_control() {
                    true => 0,
                    false => batch.records_count(),
                };
                for record in Records::new(batch.records_payload(), records) {
                    let text = |b: &[u8]| String::from_utf8(b.to_vec()).unwrap();
                    out.push((
                        batch.base_offset().value() + record.offset_delta,
                        text(record.key.unwrap()),
                        record.value.map(text),
                    ));
                }
                offset = batch.next_offset();
            }
        }
        out
    }

    #[test]
    fn compaction_keeps_the_latest_value_per_key_at_its_offset() {
        let dir = tempfile::tempdir().unwrap();
        let config = LogConfig {
            cleanup_policy: CleanupPolicy::Compact,
            segment_bytes: 300,
            delete_retention_ms: 1_000,
            ..LogConfig::default()
        };
        let mut log = PartitionLog::open(dir.path(), config.clone(), true).unwrap();
        let now = now_ms();
        // keys a, b, c with several versions; b deleted by an old tombstone, c by a fresh one.
        let old = now - 10_000;
        for (round, records) in [
            vec![("a", Some("a0")), ("b", Some("b0"))],
            vec![("c", Some("c0")), ("a", Some("a1"))],
            vec![("b", None)],
            vec![("a", Some("a2")), ("c", Some("c1"))],
        ]
        .into_iter()
        .enumerate()
        {
            log.append_as_leader(
                &mut keyed_batch(old + round as i64, &records),
                LeaderEpoch(0),
                AppendOrigin::Client,
            )
            .unwrap();
        }
        log.append_as_leader(
            &mut keyed_batch(now, &[("c", None)]),
            LeaderEpoch(0),
            AppendOrigin::Client,
        )
        .unwrap();
        log.roll().unwrap();
        log.append_as_leader(
            &mut keyed_batch(now, &[("d", Some("active"))]),
            LeaderEpoch(0),
            AppendOrigin::Client,
        )
        .unwrap();
        let stats = log.compact(now).unwrap().expect("dirty enough to clean");
        assert!(stats.records_removed >= 5, "{stats:?}");
        assert_eq!(
            read_all(&log),
            vec![
                (5, "a".into(), Some("a2".into())),
                (7, "c".into(), None), // fresh tombstone kept
                (8, "d".into(), Some("active".into())),
            ]
        );
        assert_eq!(log.compact(now).unwrap(), None, "nothing dirty any more");
        assert!(matches!(
            log.append_as_leader(
                &mut sample_batch_without_keys(),
                LeaderEpoch(0),
                AppendOrigin::Client
            ),
            Err(LogError::KeylessRecordOnCompactedTopic)
        ));
        drop(log);
        let reopened = PartitionLog::open(dir.path(), config, false).unwrap();
        assert_eq!(read_all(&reopened).len(), 3);
        assert_eq!(reopened.log_end_offset(), Offset(9));
    }

    #[test]
    fn appends_and_retention_may_run_while_a_compaction_pass_cleans() {
        let dir = tempfile::tempdir().unwrap();
        let config = LogConfig {
            cleanup_policy: CleanupPolicy::CompactAndDelete,
            min_cleanable_dirty_ratio: 0.0,
            segment_bytes: 200,
            ..LogConfig::default()
        };
        let mut log = PartitionLog::open(dir.path(), config, true).unwrap();
        let now = now_ms();
        let client = AppendOrigin::Client;
        for round in 0..6 {
            let value = format!("v{round}");
            let records = [("k", Some(value.as_str())), ("other", Some("x"))];
            log.append_as_leader(&mut keyed_batch(now, &records), LeaderEpoch(0), client)
                .unwrap();
        }
        log.roll().unwrap();
        let job = log.compaction_job().unwrap().unwrap();
        // Meanwhile: more appends, and the oldest segment goes by DeleteRecords.
        log.append_as_leader(
            &mut keyed_batch(now, &[("k", Some("new"))]),
            LeaderEpoch(0),
            client,
        )
        .unwrap();
        let first_sealed_end = *log.segments.keys().nth(1).unwrap();
        log.delete_records_before(first_sealed_end, log.log_end_offset())
            .unwrap();
        let compacted = job.run(now, usize::MAX).unwrap().unwrap();
        log.install_compaction(compacted).unwrap();
        let all = read_all(&log);
        assert_eq!(all.last().unwrap(), &(12, "k".into(), Some("new".into())));
        assert!(all.iter().all(|(o, _, _)| *o >= first_sealed_end.value()));
        assert_eq!(
            all.iter().filter(|(_, k, _)| k == "other").count(),
            1,
            "{all:?}"
        );
        let leftovers = std::fs::read_dir(dir.path())
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .path()
                    .to_string_lossy()
                    .ends_with(".cleaned")
            })
            .count();
        assert_eq!(
            leftovers, 0,
            "the cleaned copy of a deleted segment is removed"
        );
    }

    #[test]
    fn compaction_drops_aborted_records_and_leaves_open_transactions_alone() {
        let dir = tempfile::tempdir().unwrap();
        let config = LogConfig {
            cleanup_policy: CleanupPolicy::Compact,
            min_cleanable_dirty_ratio: 0.0,
            ..LogConfig::default()
        };
        let mut log = PartitionLog::open(dir.path(), config, true).unwrap();
        let now = now_ms();
        let keyed_txn = |producer: i64, sequence: i32, key: &str, value: &str| {
            let mut builder = BatchBuilder::new(now)
                .idempotent(producer, 0, sequence)
                .transactional();
            builder.push(now, Some(key.as_bytes()), Some(value.as_bytes()), &[]);
            builder.build()
        };
        let client = AppendOrigin::Client;
        log.append_as_leader(
            &mut keyed_batch(now, &[("a", Some("a0"))]),
            LeaderEpoch(0),
            client,
        )
        .unwrap(); // 0
        log.append_as_leader(&mut keyed_txn(1, 0, "a", "aborted"), LeaderEpoch(0), client)
            .unwrap(); // 1
        log.append_marker(&marker(1, false), LeaderEpoch(0))
            .unwrap(); // 2
        log.append_as_leader(
            &mut keyed_txn(1, 1, "b", "b-committed"),
            LeaderEpoch(0),
            client,
        )
        .unwrap(); // 3
        log.append_marker(&marker(1, true), LeaderEpoch(0)).unwrap(); // 4
        log.roll().unwrap();
        log.append_as_leader(&mut keyed_txn(2, 0, "a", "open"), LeaderEpoch(0), client)
            .unwrap(); // 5, stays open
        log.roll().unwrap();
        log.append_as_leader(
            &mut keyed_batch(now, &[("a", Some("a1"))]),
            LeaderEpoch(0),
            client,
        )
        .unwrap(); // 6
        log.roll().unwrap();
        // Markers carry the broker's clock at append: clean as of later.
        let stats = log
            .compact(now_ms())
            .unwrap()
            .expect("cleans below the open transaction");
        assert_eq!(stats.records_removed, 1, "only the aborted record");
        assert_eq!(
            read_all(&log),
            vec![
                (0, "a".into(), Some("a0".into())),
                (3, "b".into(), Some("b-committed".into())),
                (5, "a".into(), Some("open".into())),
                (6, "a".into(), Some("a1".into())),
            ]
        );
        assert_eq!(log.aborted_txns(Offset(0), Offset(7)).len(), 1);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]
        /// Compaction never loses the latest value of a key, never moves an
        /// offset, and never reorders: a full read equals, key by key, the
        /// last write of each key, in offset order.
        #[test]
        fn compaction_keeps_exactly_the_last_write_of_every_key(
            writes in proptest::collection::vec((0u8..6, proptest::option::of(0u16..1000)), 1..80),
            segment_bytes in 200u64..800,
            batch_size in 1usize..4,
        ) {
            let dir = tempfile::tempdir().unwrap();
            let config = LogConfig {
                cleanup_policy: CleanupPolicy::Compact,
                segment_bytes,
                min_cleanable_dirty_ratio: 0.0,
                ..LogConfig::default()
            };
            let mut log = PartitionLog::open(dir.path(), config, true).unwrap();
            let now = now_ms();
            let keys: Vec<String> = writes.iter().map(|(k, _)| format!("key-{k}")).collect();
            let values: Vec<Option<String>> = writes.iter().map(|(_, v)| v.map(|v| format!("v{v}"))).collect();
            for chunk in (0..writes.len()).collect::<Vec<_>>().chunks(batch_size) {
                let records: Vec<(&str, Option<&str>)> =
                    chunk.iter().map(|&i| (keys[i].as_str(), values[i].as_deref())).collect();
                log.append_as_leader(&mut keyed_batch(now, &records), LeaderEpoch(0), AppendOrigin::Client).unwrap();
            }
            log.roll().unwrap();
            log.compact(now).unwrap();
            let mut expected: Vec<(i64, String, Option<String>)> = Vec::new();
            for (offset, key) in keys.iter().enumerate() {
                if keys[offset + 1..].iter().all(|later| later != key) {
                    expected.push((offset as i64, key.clone(), values[offset].clone()));
                }
            }
            proptest::prop_assert_eq!(read_all(&log), expected);
            proptest::prop_assert_eq!(log.log_end_offset(), Offset(writes.len() as i64));
        }
    }

    fn sample_batch_without_keys() -> Vec<u8> {
        let mut builder = BatchBuilder::new(now_ms());
        builder.push(now_ms(), None, Some(b"v"), &[]);
        builder.build()
    }

    #[test]
    fn retention_by_time_retires_even_the_active_segment_once_it_expired() {
        let dir = tempfile::tempdir().unwrap();
        let config = LogConfig {
            retention_ms: 1_000,
            ..small_config()
        };
        let mut log = PartitionLog::open(dir.path(), config, true).unwrap();
        for _ in 0..30 {
            append(&mut log, 2); // timestamps around 1000 ms after the epoch
        }
        log.apply_retention(now_ms()).unwrap();
        assert_eq!(log.segment_count(), 1);
        assert!(log.active().is_empty());
        assert_eq!(log.log_start_offset(), Offset(60));
        assert_eq!(log.log_end_offset(), Offset(60));
        assert_eq!(
            log.apply_retention(now_ms()).unwrap(),
            0,
            "an empty active segment stays"
        );
        let info = append(&mut log, 1);
        assert_eq!(info.base_offset, Offset(60));
    }

    #[test]
    fn retention_leaves_compact_only_topics_alone() {
        let dir = tempfile::tempdir().unwrap();
        let config = LogConfig {
            retention_ms: 1_000,
            cleanup_policy: CleanupPolicy::Compact,
            ..small_config()
        };
        let mut log = PartitionLog::open(dir.path(), config, true).unwrap();
        log.append_as_leader(
            &mut keyed_batch(1_000, &[("k", Some("v"))]),
            LeaderEpoch(0),
            AppendOrigin::Client,
        )
        .unwrap();
        assert_eq!(log.apply_retention(now_ms()).unwrap(), 0);
        assert_eq!(log.log_start_offset(), Offset(0));
    }

    /// Everything a leader's log holds, as a replica Fetch would read it.
    fn all_bytes(log: &PartitionLog) -> Vec<u8> {
        let mut all = Vec::new();
        let mut offset = log.log_start_offset();
        while offset < log.log_end_offset() {
            let bytes = log.read(offset, 1 << 20, log.log_end_offset()).unwrap();
            let (_, last) = Batches::new(&bytes).last().unwrap().unwrap();
            offset = last.next_offset();
            all.extend_from_slice(&bytes);
        }
        all
    }

    /// The `.log` files of a partition folder, by name.
    fn segment_files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .filter(|path| path.extension().is_some_and(|e| e == "log"))
            .map(|path| {
                let name = path.file_name().unwrap().to_string_lossy().into_owned();
                (name, std::fs::read(&path).unwrap())
            })
            .collect()
    }

    fn epoch_checkpoint(dir: &Path) -> String {
        std::fs::read_to_string(dir.join(EPOCH_CHECKPOINT_FILE)).unwrap()
    }

    /// Feeds a follower the leader's bytes in growing windows that end
    /// inside batches and repeat what it already has.
    fn replicate(leader: &PartitionLog, follower: &mut PartitionLog) {
        let all = all_bytes(leader);
        let mut end = 0;
        while end < all.len() {
            end = (end + 150).min(all.len());
            follower.append_as_follower(&all[..end]).unwrap();
        }
        assert_eq!(follower.log_end_offset(), leader.log_end_offset());
    }

    /// A leader log of plain, idempotent and transactional batches and
    /// markers over leader epochs 0, 2 and 5, across several segments.
    fn leader_with_history(dir: &Path) -> PartitionLog {
        let mut log = PartitionLog::open(dir, small_config(), true).unwrap();
        let client = AppendOrigin::Client;
        for _ in 0..12 {
            append(&mut log, 3);
        }
        log.append_as_leader(&mut idempotent_batch(0, 2), LeaderEpoch(2), client)
            .unwrap();
        log.append_as_leader(&mut txn_batch(7, 0, 2), LeaderEpoch(2), client)
            .unwrap();
        log.append_as_leader(&mut sample_batch(4), LeaderEpoch(2), client)
            .unwrap();
        log.append_marker(&marker(7, false), LeaderEpoch(2))
            .unwrap();
        log.append_as_leader(&mut txn_batch(8, 0, 1), LeaderEpoch(5), client)
            .unwrap();
        log.append_marker(&marker(8, true), LeaderEpoch(5)).unwrap();
        for _ in 0..8 {
            log.append_as_leader(&mut sample_batch(2), LeaderEpoch(5), client)
                .unwrap();
        }
        log.append_as_leader(&mut txn_batch(7, 2, 1), LeaderEpoch(5), client)
            .unwrap();
        log
    }

    #[test]
    fn a_follower_log_is_byte_identical_to_its_leaders() {
        let (leader_dir, follower_dir) =
            (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let leader = leader_with_history(leader_dir.path());
        let mut follower = PartitionLog::open(follower_dir.path(), small_config(), true).unwrap();
        replicate(&leader, &mut follower);
        assert!(leader.segment_count() > 2);
        assert_eq!(
            segment_files(follower_dir.path()),
            segment_files(leader_dir.path())
        );
        let end = leader.log_end_offset();
        assert_eq!(
            follower.aborted_txns(Offset::ZERO, end),
            leader.aborted_txns(Offset::ZERO, end)
        );
        assert_eq!(follower.aborted_txns(Offset::ZERO, end).len(), 1);
        assert_eq!(
            follower.first_unstable_offset(),
            leader.first_unstable_offset()
        );
        assert_eq!(follower.producer_summaries(), leader.producer_summaries());
        assert_eq!(
            epoch_checkpoint(follower_dir.path()),
            epoch_checkpoint(leader_dir.path())
        );
        assert_eq!(follower.latest_epoch(), Some(LeaderEpoch(5)));
        assert_eq!(
            follower.append_as_follower(&all_bytes(&leader)).unwrap(),
            None,
            "nothing new"
        );
    }

    /// A batch of `records` records already placed at `base_offset`.
    fn placed_batch(base_offset: i64, records: usize, epoch: i32) -> Vec<u8> {
        let mut bytes = sample_batch(records);
        set_base_offset(&mut bytes, Offset(base_offset));
        set_partition_leader_epoch(&mut bytes, LeaderEpoch(epoch));
        bytes
    }

    #[test]
    fn a_follower_refuses_batches_that_do_not_continue_its_log() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = PartitionLog::open(dir.path(), small_config(), true).unwrap();
        assert!(matches!(
            log.append_as_follower(&placed_batch(2, 3, 0)),
            Err(LogError::NonContiguousReplicaAppend {
                base_offset: Offset(2),
                ..
            })
        ));
        let info = log
            .append_as_follower(&placed_batch(0, 3, 0))
            .unwrap()
            .unwrap();
        assert_eq!((info.base_offset, info.last_offset), (Offset(0), Offset(2)));
        assert!(matches!(
            log.append_as_follower(&placed_batch(2, 3, 0)),
            Err(LogError::NonContiguousReplicaAppend {
                log_end_offset: Offset(3),
                ..
            })
        ));
        // A gap after a good batch refuses the whole fetch.
        let mut bytes = placed_batch(3, 1, 0);
        bytes.extend(placed_batch(5, 1, 0));
        assert!(log.append_as_follower(&bytes).is_err());
        assert_eq!(log.log_end_offset(), Offset(3));
        let mut corrupt = placed_batch(3, 1, 0);
        let last = corrupt.len() - 1;
        corrupt[last] ^= 1;
        assert!(matches!(
            log.append_as_follower(&corrupt),
            Err(LogError::Batch(_))
        ));
        assert_eq!(
            log.append_as_follower(&placed_batch(0, 3, 0)).unwrap(),
            None
        );
        assert!(log
            .append_as_follower(&placed_batch(3, 1, 0))
            .unwrap()
            .is_some());

        // Compacted topics have gaps where the leader's cleaner removed batches.
        let compacted_dir = tempfile::tempdir().unwrap();
        let config = LogConfig {
            cleanup_policy: CleanupPolicy::Compact,
            ..small_config()
        };
        let mut compacted = PartitionLog::open(compacted_dir.path(), config, true).unwrap();
        compacted
            .append_as_follower(&placed_batch(4, 2, 0))
            .unwrap();
        assert_eq!(compacted.log_end_offset(), Offset(6));
    }

    #[test]
    fn an_empty_follower_restarts_at_a_batch_holding_its_log_start() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = PartitionLog::open(dir.path(), small_config(), true).unwrap();
        log.truncate_fully_and_start_at(Offset(5)).unwrap();
        log.append_as_follower(&placed_batch(3, 4, 1)).unwrap();
        assert_eq!(log.log_start_offset(), Offset(3));
        assert_eq!(log.log_end_offset(), Offset(7));
        assert_eq!(log.latest_epoch(), Some(LeaderEpoch(1)));
    }

    #[test]
    fn truncation_cuts_inside_and_across_segments_and_replication_resumes() {
        let (leader_dir, follower_dir) =
            (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let leader = leader_with_history(leader_dir.path());
        let mut follower = PartitionLog::open(follower_dir.path(), small_config(), true).unwrap();
        replicate(&leader, &mut follower);
        let end = leader.log_end_offset();
        let segments = follower.segment_count();

        // Inside the active segment, at a batch boundary.
        let active_base = follower.active().base_offset();
        let last_batch = follower.active().find_batch(end.plus(-1)).unwrap().unwrap();
        follower.truncate_to(last_batch.base_offset).unwrap();
        assert_eq!(follower.log_end_offset(), last_batch.base_offset);
        assert_eq!(follower.segment_count(), segments);
        follower.truncate_to(end).unwrap();
        assert_eq!(
            follower.log_end_offset(),
            last_batch.base_offset,
            "no-op past the end"
        );

        // Inside a batch of an older segment: the whole batch goes.
        let second_base = *follower.segments.keys().nth(1).unwrap();
        let batch = follower.segments[&second_base]
            .headers_from(second_base)
            .unwrap()[1];
        assert!(batch.last_offset > batch.base_offset);
        follower.truncate_to(batch.base_offset.plus(1)).unwrap();
        assert_eq!(follower.log_end_offset(), batch.base_offset);
        assert_eq!(follower.segment_count(), 2);
        assert!(!follower_dir
            .path()
            .join(format!("{:020}.log", active_base.0))
            .exists());
        let bytes = follower
            .read(second_base, 1 << 20, follower.log_end_offset())
            .unwrap();
        assert_eq!(
            Batches::new(&bytes)
                .last()
                .unwrap()
                .unwrap()
                .1
                .next_offset(),
            batch.base_offset
        );

        // At a segment's base offset: that segment stays, empty and active.
        follower.truncate_to(second_base).unwrap();
        assert_eq!(follower.log_end_offset(), second_base);
        assert_eq!(follower.segment_count(), 2);

        replicate(&leader, &mut follower);
        assert_eq!(
            segment_files(follower_dir.path()),
            segment_files(leader_dir.path())
        );
        assert_eq!(
            follower.aborted_txns(Offset::ZERO, end),
            leader.aborted_txns(Offset::ZERO, end)
        );
        assert_eq!(follower.producer_summaries(), leader.producer_summaries());
        drop(follower);
        for clean in [true, false] {
            let reopened = PartitionLog::open(follower_dir.path(), small_config(), clean).unwrap();
            assert_eq!(reopened.log_end_offset(), end, "clean={clean}");
            assert_eq!(all_bytes(&reopened), all_bytes(&leader), "clean={clean}");
        }
    }

    #[test]
    fn truncation_forgets_the_truncated_batches_of_idempotent_producers() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = PartitionLog::open(dir.path(), small_config(), true).unwrap();
        let client = AppendOrigin::Client;
        append(&mut log, 1); // 0
        for sequence in [0, 2] {
            log.append_as_leader(&mut idempotent_batch(sequence, 2), LeaderEpoch(0), client)
                .unwrap(); // 1..=2, 3..=4
        }
        log.roll().unwrap(); // a producer snapshot at 5
        log.append_as_leader(&mut idempotent_batch(4, 2), LeaderEpoch(0), client)
            .unwrap(); // 5..=6
        log.truncate_to(Offset(3)).unwrap();
        assert_eq!(log.log_end_offset(), Offset(3));
        assert!(
            !dir.path().join("00000000000000000005.snapshot").exists(),
            "snapshot past the end deleted"
        );
        assert!(matches!(
            log.append_as_leader(&mut idempotent_batch(4, 2), LeaderEpoch(0), client),
            Err(LogError::ProducerState(_))
        ));
        let retried = log
            .append_as_leader(&mut idempotent_batch(2, 2), LeaderEpoch(0), client)
            .unwrap();
        assert_eq!(
            (retried.base_offset, log.log_end_offset()),
            (Offset(3), Offset(5)),
            "appended, not a duplicate"
        );
        let duplicate = log
            .append_as_leader(&mut idempotent_batch(0, 2), LeaderEpoch(0), client)
            .unwrap();
        assert_eq!(
            duplicate.base_offset,
            Offset(1),
            "kept batches are still duplicates"
        );
    }

    #[test]
    fn truncating_a_transaction_marker_reopens_its_transaction() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = PartitionLog::open(dir.path(), small_config(), true).unwrap();
        let client = AppendOrigin::Client;
        log.append_as_leader(&mut txn_batch(7, 0, 2), LeaderEpoch(0), client)
            .unwrap(); // 0..=1
        append(&mut log, 1); // 2
        log.append_marker(&marker(7, false), LeaderEpoch(0))
            .unwrap(); // 3
        assert_eq!(log.aborted_txns(Offset(0), Offset(4)).len(), 1);
        assert_eq!(log.first_unstable_offset(), None);
        log.truncate_to(Offset(3)).unwrap();
        assert_eq!(log.aborted_txns(Offset(0), Offset(3)), vec![]);
        assert_eq!(log.first_unstable_offset(), Some(Offset(0)));
        let marker_bytes = {
            let mut bytes = marker(7, true).to_batch(now_ms());
            set_base_offset(&mut bytes, Offset(3));
            bytes
        };
        log.append_as_follower(&marker_bytes).unwrap();
        assert_eq!(log.first_unstable_offset(), None);
        assert_eq!(
            log.aborted_txns(Offset(0), Offset(4)),
            vec![],
            "committed this time"
        );
    }

    #[test]
    fn an_epoch_a_leader_wrote_nothing_in_goes_when_truncated_at_the_end() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = leader_with_history(dir.path());
        let end = log.log_end_offset();
        log.assign_epoch_start(LeaderEpoch(7)).unwrap();
        assert_eq!(log.latest_epoch(), Some(LeaderEpoch(7)));
        assert_eq!(log.end_offset_for_epoch(7), (7, end));
        // A follower told its log diverges at its own end: no record goes,
        // the empty epoch does.
        log.truncate_to(end).unwrap();
        assert_eq!(log.log_end_offset(), end);
        assert_eq!(log.latest_epoch(), Some(LeaderEpoch(5)));
    }

    #[test]
    fn the_leader_epoch_cache_follows_appends_truncation_and_restarts() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = leader_with_history(dir.path());
        // Epoch 0 wrote 0..=35, epoch 2 from 36, epoch 5 from 45.
        assert_eq!(epoch_checkpoint(dir.path()), "0\n3\n0 0\n2 36\n5 45\n");
        assert_eq!(log.latest_epoch(), Some(LeaderEpoch(5)));
        let end = log.log_end_offset();
        assert_eq!(log.end_offset_for_epoch(5), (5, end));
        assert_eq!(log.end_offset_for_epoch(3), (2, Offset(45)));
        assert_eq!(log.end_offset_for_epoch(0), (0, Offset(36)));
        assert_eq!(log.end_offset_for_epoch(6), (-1, Offset(-1)));

        log.truncate_to(Offset(45)).unwrap();
        assert_eq!(epoch_checkpoint(dir.path()), "0\n2\n0 0\n2 36\n");
        assert_eq!(log.end_offset_for_epoch(2), (2, Offset(45)));
        log.append_as_leader(&mut sample_batch(1), LeaderEpoch(6), AppendOrigin::Client)
            .unwrap();
        assert_eq!(epoch_checkpoint(dir.path()), "0\n3\n0 0\n2 36\n6 45\n");

        log.delete_records_before(Offset(38), Offset(46)).unwrap();
        let expected = "0\n2\n2 38\n6 45\n";
        assert_eq!(epoch_checkpoint(dir.path()), expected);
        assert_eq!(
            log.end_offset_for_epoch(1),
            (1, Offset(38)),
            "below the first known epoch"
        );
        drop(log);
        for clean in [true, false] {
            let log = PartitionLog::open(dir.path(), small_config(), clean).unwrap();
            assert_eq!(epoch_checkpoint(dir.path()), expected, "clean={clean}");
            assert_eq!(log.latest_epoch(), Some(LeaderEpoch(6)));
        }
        std::fs::remove_file(dir.path().join(EPOCH_CHECKPOINT_FILE)).unwrap();
        let log = PartitionLog::open(dir.path(), small_config(), true).unwrap();
        assert_eq!(
            epoch_checkpoint(dir.path()),
            expected,
            "rebuilt from the batches"
        );
        assert_eq!(log.end_offset_for_epoch(2), (2, Offset(45)));
    }

    #[test]
    fn after_a_crash_the_epoch_cache_matches_the_recovered_log() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = PartitionLog::open(dir.path(), LogConfig::default(), true).unwrap();
        append(&mut log, 2); // epoch 0 at 0
        log.append_as_leader(&mut sample_batch(2), LeaderEpoch(3), AppendOrigin::Client)
            .unwrap(); // epoch 3 at 2
        drop(log);
        let checkpoint = dir.path().join(EPOCH_CHECKPOINT_FILE);
        // The cache never saw epoch 3, but saw an epoch 4 whose batch was lost.
        std::fs::write(&checkpoint, "0\n2\n0 0\n4 4\n").unwrap();
        let log = PartitionLog::open(dir.path(), LogConfig::default(), false).unwrap();
        assert_eq!(epoch_checkpoint(dir.path()), "0\n2\n0 0\n3 2\n");
        assert_eq!(log.latest_epoch(), Some(LeaderEpoch(3)));
    }

    #[test]
    fn a_log_truncated_fully_starts_empty_at_the_new_offset() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = leader_with_history(dir.path());
        log.checkpoint().unwrap();
        log.truncate_fully_and_start_at(Offset(100)).unwrap();
        let check = |log: &PartitionLog| {
            assert_eq!(log.log_start_offset(), Offset(100));
            assert_eq!(log.log_end_offset(), Offset(100));
            assert_eq!(log.segment_count(), 1);
            assert_eq!(log.latest_epoch(), None);
            assert!(log.producer_summaries().is_empty());
            assert_eq!(log.first_unstable_offset(), None);
        };
        check(&log);
        assert_eq!(epoch_checkpoint(dir.path()), "0\n0\n");
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| name.ends_with(".snapshot") || name.ends_with(".txnindex"))
            .collect();
        assert_eq!(leftovers, Vec::<String>::new());
        drop(log);
        let mut log = PartitionLog::open(dir.path(), small_config(), false).unwrap();
        check(&log);
        assert_eq!(append(&mut log, 1).base_offset, Offset(100));
        // Truncating below the log start empties the log there too.
        log.truncate_to(Offset(50)).unwrap();
        assert_eq!(
            (log.log_start_offset(), log.log_end_offset()),
            (Offset(50), Offset(50))
        );
    }
}
