//! Bringing a partition's log back when the broker starts (Kafka's
//! `LogLoader`): its segments recovered, its log start offset, the
//! producer state and the leader-epoch cache rebuilt from what is on disk.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use tracing::{debug, warn};

use super::cleaner;
use super::leader_epoch_cache::{LeaderEpochCache, CHECKPOINT_FILE};
use super::partition_log::{aborted_entry, view_of, LOG_START_OFFSET_FILE};
use super::producer_state::{load_latest_snapshot, BatchMetadata, ProducerState};
use super::recovery::{list_segment_base_offsets, recover_active_segment, recover_sealed_segment};
use super::segment::Segment;
use super::{LogError, PartitionLog};
use crate::config::topic::LogConfig;
use crate::records::batch::Batch;
use crate::records::control::TxnMarker;
use crate::types::Offset;

impl PartitionLog {
    /// Opens (or creates) the log in `dir`, recovering it. `clean_shutdown`
    /// says whether the previous run closed its logs: if not, the whole
    /// active segment is validated batch by batch; if so, only what follows
    /// its last index entry, where a failed write the run survived may have
    /// left bytes.
    pub fn open(dir: &Path, config: LogConfig, clean_shutdown: bool) -> Result<Self, LogError> {
        std::fs::create_dir_all(dir)?;
        cleaner::remove_leftovers(dir)?;
        let base_offsets = list_segment_base_offsets(dir)?;
        let mut segments = BTreeMap::new();
        let count = base_offsets.len();
        for (i, &base_offset) in base_offsets.iter().enumerate() {
            let mut segment = Segment::open(dir, base_offset, config.index_interval_bytes)?;
            if i + 1 == count {
                recover_active_segment(&mut segment, dir, clean_shutdown)?;
            } else if i + 2 == count && !clean_shutdown {
                // The segment rolled last is synced after its roll
                // (`rolled_sync.rs`): after a crash it is validated as the
                // active one is, and made durable now.
                let cut = recover_active_segment(&mut segment, dir, false)?;
                segment.seal()?;
                segment.sync()?;
                segments.insert(base_offset, segment);
                if cut > 0 {
                    // What followed a torn segment cannot be trusted.
                    let after = base_offsets[count - 1];
                    warn!(dir = %dir.display(), base_offset = %after,
                          "deleting the segment after a torn one");
                    Segment::open(dir, after, config.index_interval_bytes)?.delete_files(dir)?;
                    break;
                }
                continue;
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
        let view = Arc::new(view_of(&segments, first_base));
        let mut log = PartitionLog {
            dir: dir.to_path_buf(),
            config,
            segments,
            log_start_offset: first_base,
            unflushed_messages: 0,
            last_flush: Instant::now(),
            producers: ProducerState::default(),
            leader_epochs: LeaderEpochCache::empty(dir),
            rolled_sync: None,
            view,
        };
        if let Some(start) = stored_start {
            log.log_start_offset = start.clamp(first_base, log.log_end_offset());
        }
        log.refresh_view();
        log.load_producer_state()?;
        log.load_leader_epoch_cache(clean_shutdown)?;
        debug!(dir = %dir.display(), log_start_offset = %log.log_start_offset,
               log_end_offset = %log.log_end_offset(), "log opened");
        Ok(log)
    }

    /// Rebuilds the idempotent-producer state: the newest snapshot, then
    /// the batches written after it.
    pub(super) fn load_producer_state(&mut self) -> Result<(), LogError> {
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
                // An unreadable file is replaced; a missing one (a new
                // partition) is written with its first epoch, not empty.
                if self.dir.join(CHECKPOINT_FILE).exists() {
                    cache.clear()?;
                }
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
}
