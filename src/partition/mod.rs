//! Per-partition state shared by produce, fetch and (later) replication:
//! the log, the leader epoch, the high watermark, the last stable offset,
//! and the waiters woken when new data becomes visible.
//!
//! On a single broker the ISR is the leader alone, so the high watermark
//! follows the log end offset on every append; replication will advance it
//! from follower progress instead.

pub mod registry;

use std::sync::atomic::{AtomicI32, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Notify;
use uuid::Uuid;

use crate::config::LogConfig;
use crate::log::cleaner::CleanStats;
use crate::log::partition_log::{AppendInfo, AppendOrigin, TimestampAndOffset};
use crate::log::producer_state::{CompletedTxn, ProducerSummary};
use crate::log::txn_index::AbortedTxn;
use crate::log::{LogError, PartitionLog};
use crate::records::control::TxnMarker;
use crate::types::{LeaderEpoch, Offset, TopicPartition};

pub use registry::Partitions;

pub struct Partition {
    topic_partition: TopicPartition,
    topic_id: Uuid,
    log: Mutex<PartitionLog>,
    leader_epoch: AtomicI32,
    /// `min.insync.replicas` of the topic, read by acks=all produce
    /// without taking the log.
    min_insync_replicas: AtomicI32,
    high_watermark: AtomicI64,
    /// The high watermark, held back to the first offset of the oldest
    /// open transaction: read_committed consumers stop here.
    last_stable_offset: AtomicI64,
    log_start_offset: AtomicI64,
    log_end_offset: AtomicI64,
    /// Bytes on disk, refreshed whenever the log changes, so that readers
    /// never wait for the log lock (held during compaction).
    size_bytes: AtomicU64,
    /// Woken when the high watermark moves, for long-polling fetches.
    new_data: Notify,
    /// Set by the fault plane: appends wait while it is true.
    paused: tokio::sync::watch::Sender<bool>,
}

/// Which records a consumer may see (the Fetch and ListOffsets field).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Isolation {
    /// Up to the high watermark, aborted records included.
    ReadUncommitted,
    /// Up to the last stable offset, with the aborted transactions listed.
    ReadCommitted,
}

impl Isolation {
    pub fn from_wire(level: i8) -> Isolation {
        if level == 1 {
            Isolation::ReadCommitted
        } else {
            Isolation::ReadUncommitted
        }
    }
}

/// What a fetch read from one partition.
#[derive(Debug, Default)]
pub struct FetchedData {
    pub records: Vec<u8>,
    pub high_watermark: Offset,
    pub last_stable_offset: Offset,
    pub log_start_offset: Offset,
    /// For read_committed: transactions aborted within the returned range.
    pub aborted: Vec<AbortedTxn>,
}

impl Partition {
    pub fn new(
        topic_partition: TopicPartition,
        topic_id: Uuid,
        log: PartitionLog,
        leader_epoch: LeaderEpoch,
    ) -> Partition {
        let log_end = log.log_end_offset();
        let log_start = log.log_start_offset();
        let size = log.size_bytes();
        let stable = log.first_unstable_offset().unwrap_or(log_end).min(log_end);
        let min_insync_replicas = log.config().min_insync_replicas;
        Partition {
            topic_partition,
            topic_id,
            log: Mutex::new(log),
            leader_epoch: AtomicI32::new(leader_epoch.0),
            min_insync_replicas: AtomicI32::new(min_insync_replicas),
            high_watermark: AtomicI64::new(log_end.0),
            last_stable_offset: AtomicI64::new(stable.0),
            log_start_offset: AtomicI64::new(log_start.0),
            log_end_offset: AtomicI64::new(log_end.0),
            size_bytes: AtomicU64::new(size),
            new_data: Notify::new(),
            paused: tokio::sync::watch::Sender::new(false),
        }
    }

    pub fn topic_partition(&self) -> &TopicPartition {
        &self.topic_partition
    }

    /// Makes appends wait (fault plane), or lets them go again.
    pub fn set_paused(&self, paused: bool) {
        self.paused.send_replace(paused);
    }

    pub fn topic_id(&self) -> Uuid {
        self.topic_id
    }

    /// The topic's `min.insync.replicas`: acks=all writes need that many
    /// replicas in sync.
    pub fn min_insync_replicas(&self) -> i32 {
        self.min_insync_replicas.load(Ordering::Acquire)
    }

    pub fn leader_epoch(&self) -> LeaderEpoch {
        LeaderEpoch(self.leader_epoch.load(Ordering::Acquire))
    }

    pub fn high_watermark(&self) -> Offset {
        Offset(self.high_watermark.load(Ordering::Acquire))
    }

    pub fn log_start_offset(&self) -> Offset {
        Offset(self.log_start_offset.load(Ordering::Acquire))
    }

    pub fn last_stable_offset(&self) -> Offset {
        Offset(self.last_stable_offset.load(Ordering::Acquire))
    }

    /// Where a consumer with this isolation stops reading.
    pub fn visible_end(&self, isolation: Isolation) -> Offset {
        match isolation {
            Isolation::ReadUncommitted => self.high_watermark(),
            Isolation::ReadCommitted => self.last_stable_offset(),
        }
    }

    pub fn log_end_offset(&self) -> Offset {
        Offset(self.log_end_offset.load(Ordering::Acquire))
    }

    /// A future that completes the next time new data becomes visible.
    /// Create it (and `enable` it) before checking for data, so that no
    /// wake-up is missed between the check and the wait.
    pub fn data_arrived(&self) -> tokio::sync::futures::Notified<'_> {
        self.new_data.notified()
    }

    fn lock_log(&self) -> MutexGuard<'_, PartitionLog> {
        // A panic while holding the lock cannot leave the log half-written in
        // memory in a way later calls would misread: its state is re-derived
        // from the files on the next open. Keep serving.
        self.log
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs `work` on the log on a blocking thread: log calls do file I/O.
    async fn with_log<T: Send + 'static>(
        self: &Arc<Self>,
        work: impl FnOnce(&mut PartitionLog) -> Result<T, LogError> + Send + 'static,
    ) -> Result<T, LogError> {
        let partition = Arc::clone(self);
        tokio::task::spawn_blocking(move || work(&mut partition.lock_log()))
            .await
            .map_err(|join_error| LogError::Io(std::io::Error::other(join_error.to_string())))?
    }

    /// Appends a produce request's batches as leader, then makes them visible.
    pub async fn append_as_leader(
        self: &Arc<Self>,
        mut records: Vec<u8>,
        origin: AppendOrigin,
    ) -> Result<AppendInfo, LogError> {
        // A paused partition (fault plane) holds appends until resumed.
        let _ = self.paused.subscribe().wait_for(|paused| !*paused).await;
        let epoch = self.leader_epoch();
        let partition = Arc::clone(self);
        let info = self
            .with_log(move |log| {
                let info = log.append_as_leader(&mut records, epoch, origin)?;
                // Publish while still holding the log lock, so that offsets only move forward.
                partition.publish_offsets(log);
                Ok(info)
            })
            .await?;
        self.new_data.notify_waiters();
        Ok(info)
    }

    /// Writes a transaction marker (coordinator only) and publishes the
    /// last stable offset it releases.
    pub async fn append_marker(
        self: &Arc<Self>,
        marker: TxnMarker,
    ) -> Result<CompletedTxn, LogError> {
        let epoch = self.leader_epoch();
        let partition = Arc::clone(self);
        let completed = self
            .with_log(move |log| {
                let (_, completed) = log.append_marker(&marker, epoch)?;
                partition.publish_offsets(log);
                Ok(completed)
            })
            .await?;
        self.new_data.notify_waiters();
        Ok(completed)
    }

    fn publish_offsets(&self, log: &PartitionLog) {
        let end = log.log_end_offset();
        self.log_end_offset.store(end.0, Ordering::Release);
        self.log_start_offset
            .store(log.log_start_offset().0, Ordering::Release);
        self.size_bytes.store(log.size_bytes(), Ordering::Release);
        // Single replica: everything appended is replicated to the whole ISR.
        let high_watermark = end;
        let stable = log
            .first_unstable_offset()
            .map_or(high_watermark, |first| first.min(high_watermark));
        // Store the LSO first: a reader never sees it above the watermark.
        self.last_stable_offset.store(stable.0, Ordering::Release);
        self.high_watermark
            .store(high_watermark.0, Ordering::Release);
    }

    /// Reads for a consumer: never past the high watermark, or for
    /// read_committed the last stable offset, listing the aborted
    /// transactions in what it returns.
    pub async fn read(
        self: &Arc<Self>,
        offset: Offset,
        max_bytes: usize,
        isolation: Isolation,
    ) -> Result<FetchedData, LogError> {
        let high_watermark = self.high_watermark();
        let last_stable_offset = self.last_stable_offset();
        let end = self.visible_end(isolation);
        let (records, aborted) = self
            .with_log(move |log| {
                let records = log.read(offset, max_bytes, end)?;
                let aborted = match isolation {
                    Isolation::ReadCommitted if !records.is_empty() => {
                        log.aborted_txns(offset, upper_bound(&records, offset))
                    }
                    _ => Vec::new(),
                };
                Ok((records, aborted))
            })
            .await?;
        Ok(FetchedData {
            records,
            high_watermark,
            last_stable_offset,
            log_start_offset: self.log_start_offset(),
            aborted,
        })
    }

    /// Every producer with state here, for DescribeProducers.
    pub async fn producer_summaries(self: &Arc<Self>) -> Result<Vec<ProducerSummary>, LogError> {
        self.with_log(|log| Ok(log.producer_summaries())).await
    }

    /// Reads up to the high watermark on the calling thread: for loaders
    /// that run at start-up, off the async runtime.
    pub fn read_blocking(&self, offset: Offset, max_bytes: usize) -> Result<Vec<u8>, LogError> {
        let high_watermark = self.high_watermark();
        self.lock_log().read(offset, max_bytes, high_watermark)
    }

    pub async fn offset_for_timestamp(
        self: &Arc<Self>,
        timestamp: i64,
    ) -> Result<Option<TimestampAndOffset>, LogError> {
        self.with_log(move |log| log.offset_for_timestamp(timestamp))
            .await
    }

    pub async fn max_timestamp(self: &Arc<Self>) -> Result<Option<TimestampAndOffset>, LogError> {
        self.with_log(|log| log.max_timestamp()).await
    }

    pub async fn set_config(self: &Arc<Self>, config: LogConfig) -> Result<(), LogError> {
        self.min_insync_replicas
            .store(config.min_insync_replicas, Ordering::Release);
        self.with_log(move |log| {
            log.set_config(config);
            Ok(())
        })
        .await
    }

    /// Deletes segments past retention; returns how many went.
    pub async fn apply_retention(self: &Arc<Self>, now_ms: i64) -> Result<usize, LogError> {
        let partition = Arc::clone(self);
        self.with_log(move |log| {
            let removed = log.apply_retention(now_ms)?;
            partition.publish_offsets(log);
            Ok(removed)
        })
        .await
    }

    /// One compaction pass (compacted topics only). The partition is held
    /// only to take the sealed segments and to swap the cleaned ones in;
    /// produce and fetch go on while the segments are rewritten.
    pub async fn compact(self: &Arc<Self>, now_ms: i64) -> Result<Option<CleanStats>, LogError> {
        let Some(job) = self.with_log(|log| log.compaction_job()).await? else {
            return Ok(None);
        };
        let cleaned = tokio::task::spawn_blocking(move || job.run(now_ms))
            .await
            .map_err(|join_error| LogError::Io(std::io::Error::other(join_error.to_string())))??;
        let Some(compacted) = cleaned else {
            return Ok(None);
        };
        let partition = Arc::clone(self);
        self.with_log(move |log| {
            let stats = log.install_compaction(compacted)?;
            partition.publish_offsets(log);
            Ok(Some(stats))
        })
        .await
    }

    pub async fn maybe_flush_by_time(self: &Arc<Self>) -> Result<(), LogError> {
        self.with_log(|log| log.maybe_flush_by_time()).await
    }

    /// Flushes the log and snapshots its producer state (clean shutdown).
    pub fn checkpoint_blocking(&self) -> Result<(), LogError> {
        self.lock_log().checkpoint()
    }

    /// DeleteRecords up to `offset` (-1: the high watermark); returns the
    /// new log start offset.
    pub async fn delete_records_before(
        self: &Arc<Self>,
        offset: Offset,
    ) -> Result<Offset, LogError> {
        let high_watermark = self.high_watermark();
        let target = if offset.0 == -1 {
            high_watermark
        } else {
            offset
        };
        let partition = Arc::clone(self);
        self.with_log(move |log| {
            let start = log.delete_records_before(target, high_watermark)?;
            partition.publish_offsets(log);
            Ok(start)
        })
        .await
    }

    pub fn size_bytes(&self) -> u64 {
        self.size_bytes.load(Ordering::Acquire)
    }

    pub async fn expire_producers(
        self: &Arc<Self>,
        now_ms: i64,
        expiration_ms: i64,
    ) -> Result<usize, LogError> {
        self.with_log(move |log| Ok(log.expire_producers(now_ms, expiration_ms)))
            .await
    }

    /// Removes the partition's folder (topic deletion). Requests still holding
    /// this partition keep working on the unlinked files until they finish.
    pub async fn delete_log_files(self: &Arc<Self>) -> Result<(), LogError> {
        self.with_log(|log| {
            std::fs::remove_dir_all(log.dir())?;
            Ok(())
        })
        .await
    }
}

/// The offset after the last batch of a read buffer.
fn upper_bound(records: &[u8], from: Offset) -> Offset {
    crate::records::batch::Batches::new(records)
        .map_while(Result::ok)
        .last()
        .map_or(from, |(_, batch)| batch.next_offset())
}
