//! Per-partition state shared by produce, fetch and (later) replication:
//! the log, the leader epoch, the high watermark, the last stable offset,
//! and the waiters woken when new data becomes visible.
//!
//! A leader advances the high watermark to the lowest log end offset in
//! the ISR (on a single broker: its own, at every append); a follower
//! takes it from its leader's fetch responses. acks=all produce and
//! long-polling fetches wait on the same wake-up, fired whenever the
//! visible end moves or the role changes.

pub mod loaded;
mod ongoing_txns;
pub mod registry;
pub mod replica_move;
pub mod role;

use std::sync::atomic::{AtomicI32, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Notify;
use uuid::Uuid;

use crate::config::LogConfig;
use crate::log::cleaner::CleanStats;
use crate::log::file_records::FileRecords;
use crate::log::log_dir::LogDir;
use crate::log::partition_log::{AppendInfo, AppendOrigin, TimestampAndOffset};
use crate::log::producer_state::{CompletedTxn, ProducerSummary};
use crate::log::read_view::LogView;
use crate::log::txn_index::AbortedTxn;
use crate::log::{LogError, PartitionLog};
use crate::records::batch::Batch;
use crate::records::control::TxnMarker;
use crate::types::{LeaderEpoch, Offset, TopicPartition};

use ongoing_txns::OngoingTxns;
pub use registry::Partitions;
use role::{IsrProposal, LeaderState, Role};

pub struct Partition {
    topic_partition: TopicPartition,
    topic_id: Uuid,
    log: Mutex<PartitionLog>,
    /// The log as fetches read it, without the log lock: published with
    /// the offsets (`publish_offsets`) by whatever changes the log's
    /// segments, before the offsets that make their data visible.
    view: arc_swap::ArcSwap<LogView>,
    /// The log dir the log lives in: an I/O error takes it offline. It
    /// changes when the log moves to another dir (`replica_move.rs`).
    log_dir: arc_swap::ArcSwap<LogDir>,
    /// Set once the partition's folder is renamed for deletion: errors of
    /// requests still running on it are not the disk's.
    deleted: std::sync::atomic::AtomicBool,
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
    /// The first offset of the oldest open transaction (`i64::MAX`: none),
    /// as of the last log change, so that the watermarks can move on a
    /// follower's fetch without the log lock.
    first_unstable_offset: AtomicI64,
    role: Mutex<Role>,
    /// A follower's high watermark, as its leader last reported it.
    leader_high_watermark: AtomicI64,
    /// The newest leader epoch in the log (-1: none).
    latest_epoch: AtomicI32,
    ongoing_txns: OngoingTxns,
    /// Record bytes appended for producers and served to fetches, for
    /// `/metrics`: counted here, without a broker-wide lock per request.
    bytes_in: AtomicU64,
    bytes_out: AtomicU64,
}

/// How long a coordinator's write waits for the ISR (Kafka's
/// `offsets.commit.timeout.ms` default).
const COORDINATOR_WRITE_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(5_000);

/// Why an acks=all append is not acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplicationError {
    /// Leadership moved while waiting.
    NotLeader,
    /// Replicated, but the ISR is smaller than `min.insync.replicas`.
    NotEnoughReplicasAfterAppend,
    TimedOut,
}

/// Which records a consumer may see (the Fetch and ListOffsets field).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Isolation {
    /// Up to the high watermark, aborted records included.
    ReadUncommitted,
    /// Up to the last stable offset, with the aborted transactions listed.
    ReadCommitted,
    /// Up to the log end: a follower replicating the leader's log.
    Replica,
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

/// The records a fetch read: in memory, or left in their segment file for
/// the connection to write.
#[derive(Debug)]
pub enum FetchedRecords {
    Memory(bytes::Bytes),
    File(FileRecords),
}

impl FetchedRecords {
    pub fn len(&self) -> usize {
        match self {
            FetchedRecords::Memory(bytes) => bytes.len(),
            FetchedRecords::File(records) => records.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Default for FetchedRecords {
    fn default() -> FetchedRecords {
        FetchedRecords::Memory(bytes::Bytes::new())
    }
}

/// What a fetch read from one partition.
#[derive(Debug, Default)]
pub struct FetchedData {
    pub records: FetchedRecords,
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
        log_dir: Arc<LogDir>,
        leader_epoch: LeaderEpoch,
        checkpointed_high_watermark: Option<Offset>,
    ) -> Partition {
        let log_end = log.log_end_offset();
        // What the replicas had confirmed when the last run checkpointed;
        // a leader moves it on as followers fetch (at once if it is alone).
        let high_watermark = checkpointed_high_watermark
            .unwrap_or(log.log_start_offset())
            .clamp(log.log_start_offset(), log_end);
        let log_start = log.log_start_offset();
        let size = log.size_bytes();
        let stable = log
            .first_unstable_offset()
            .unwrap_or(log_end)
            .min(high_watermark);
        let min_insync_replicas = log.config().min_insync_replicas;
        let first_unstable = log.first_unstable_offset().map_or(i64::MAX, |o| o.0);
        let latest_epoch = log.latest_epoch().map_or(-1, |e| e.0);
        Partition {
            topic_partition,
            topic_id,
            view: arc_swap::ArcSwap::new(Arc::clone(log.view())),
            log: Mutex::new(log),
            log_dir: arc_swap::ArcSwap::new(log_dir),
            deleted: Default::default(),
            first_unstable_offset: AtomicI64::new(first_unstable),
            // Until the metadata says otherwise: a follower of nobody.
            role: Mutex::new(Role::Follower { leader: -1 }),
            leader_high_watermark: AtomicI64::new(high_watermark.0),
            ongoing_txns: OngoingTxns::default(),
            bytes_in: AtomicU64::new(0),
            bytes_out: AtomicU64::new(0),
            latest_epoch: AtomicI32::new(latest_epoch),
            leader_epoch: AtomicI32::new(leader_epoch.0),
            min_insync_replicas: AtomicI32::new(min_insync_replicas),
            high_watermark: AtomicI64::new(high_watermark.0),
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
            Isolation::Replica => self.log_end_offset(),
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

    fn lock_role(&self) -> MutexGuard<'_, Role> {
        self.role
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A copy of the current role.
    pub fn role(&self) -> Role {
        self.lock_role().clone()
    }

    pub fn is_leader(&self) -> bool {
        matches!(*self.lock_role(), Role::Leader(_))
    }

    /// The ISR as this broker knows it: the leader's, or empty on a follower.
    pub fn in_sync_replicas(&self) -> Vec<i32> {
        match &*self.lock_role() {
            Role::Leader(state) => state.isr.clone(),
            Role::Follower { .. } => Vec::new(),
        }
    }

    /// Becomes (or stays) the leader at `leader_epoch`. A new epoch starts
    /// follower tracking afresh; the same epoch only takes the new ISR.
    ///
    /// The role changes and the epoch's start is written under the log
    /// lock (taken before the role lock, as publishing offsets takes
    /// them): a replica fetch still in flight from the follower days checks
    /// its epoch under that lock and cannot land after the epoch began,
    /// and no append of this epoch lands before its start is recorded.
    pub fn become_leader(
        &self,
        node_id: i32,
        leader_epoch: LeaderEpoch,
        replicas: Vec<i32>,
        isr: Vec<i32>,
        partition_epoch: i32,
    ) {
        {
            let log = &mut *self.lock_log();
            let mut role = self.lock_role();
            let new_epoch = match &mut *role {
                Role::Leader(state) if self.leader_epoch() == leader_epoch => {
                    state.update(replicas, isr, partition_epoch);
                    false
                }
                _ => {
                    *role = Role::Leader(LeaderState::new(
                        node_id,
                        replicas,
                        isr,
                        partition_epoch,
                        log.log_end_offset(),
                    ));
                    true
                }
            };
            self.leader_epoch.store(leader_epoch.0, Ordering::Release);
            drop(role);
            if new_epoch {
                self.ongoing_txns.clear();
                if let Err(error) = log.assign_epoch_start(leader_epoch) {
                    tracing::warn!(partition = %self.topic_partition, %error,
                                   "cannot record the new leader epoch");
                }
                self.latest_epoch
                    .store(log.latest_epoch().map_or(-1, |e| e.0), Ordering::Release);
            }
        }
        self.refresh_watermarks();
    }

    /// Becomes a follower of `leader` at `leader_epoch`; acks=all waiters
    /// learn that they will not be acknowledged here.
    /// Appends check leadership under the log lock, so taking it here
    /// means no append of the old leadership lands after this returns.
    pub fn become_follower(&self, leader: i32, leader_epoch: LeaderEpoch) {
        {
            let _no_append_meanwhile = self.lock_log();
            *self.lock_role() = Role::Follower { leader };
            self.ongoing_txns.clear();
            self.leader_epoch.store(leader_epoch.0, Ordering::Release);
        }
        self.new_data.notify_waiters();
    }

    /// The epoch this broker leads at, or `NotLeader`.
    fn leading_epoch(&self) -> Result<LeaderEpoch, LogError> {
        match &*self.lock_role() {
            Role::Leader(_) => Ok(self.leader_epoch()),
            Role::Follower { .. } => Err(LogError::NotLeader),
        }
    }

    /// The log dir this partition's log lives in.
    pub fn log_dir(&self) -> Arc<LogDir> {
        self.log_dir.load_full()
    }

    /// Whether the partition's log dir failed.
    pub fn is_offline(&self) -> bool {
        self.log_dir.load().is_offline()
    }

    /// Passes a log outcome on, taking the log dir offline on an I/O error
    /// and logging every storage error answered with its cause.
    fn checked<T>(&self, outcome: Result<T, LogError>) -> Result<T, LogError> {
        match &outcome {
            Err(LogError::Io(error)) if !self.deleted.load(Ordering::Acquire) => {
                self.log_dir
                    .load()
                    .fail(&format!("{}: {error}", self.topic_partition));
                tracing::warn!(partition = %self.topic_partition, %error,
                               "KAFKA_STORAGE_ERROR: log I/O failed");
            }
            Err(LogError::LogDirOffline { dir }) => {
                tracing::warn!(partition = %self.topic_partition, %dir,
                               cause = self.log_dir.load().failure().unwrap_or(""),
                               "KAFKA_STORAGE_ERROR: log dir offline");
            }
            _ => {}
        }
        outcome
    }

    fn offline_error(&self) -> LogError {
        LogError::LogDirOffline {
            dir: self.log_dir.load().path().display().to_string(),
        }
    }

    /// Leader: records a follower's fetch; the ISR change to ask the
    /// controller for if the follower just caught up.
    pub fn record_follower_fetch(&self, replica: i32, fetch_offset: Offset) -> Option<IsrProposal> {
        let mut role = self.lock_role();
        let Role::Leader(state) = &mut *role else {
            return None;
        };
        state.record_fetch(replica, fetch_offset, self.log_end_offset());
        let proposal = state.propose_expansion(replica, self.high_watermark());
        self.refresh_watermarks_locked(&role);
        proposal
    }

    /// Leader: the ISR change to ask for if followers lag more than
    /// `max_lag` (none while another is pending).
    pub fn propose_isr_shrink(&self, max_lag: std::time::Duration) -> Option<IsrProposal> {
        match &mut *self.lock_role() {
            Role::Leader(state) => state.propose_shrink(max_lag),
            Role::Follower { .. } => None,
        }
    }

    /// Leader: the controller answered the ISR change asked against
    /// `partition_epoch` at `leader_epoch`, with the partition as written
    /// if it took it (replicas, ISR, partition epoch).
    pub fn isr_proposal_answered(
        &self,
        leader_epoch: LeaderEpoch,
        partition_epoch: i32,
        applied: Option<(Vec<i32>, Vec<i32>, i32)>,
    ) {
        let mut role = self.lock_role();
        if self.leader_epoch() != leader_epoch {
            return;
        }
        let Role::Leader(state) = &mut *role else {
            return;
        };
        state.proposal_answered(partition_epoch);
        if let Some((replicas, isr, partition_epoch)) = applied {
            state.update(replicas, isr, partition_epoch);
        }
        self.refresh_watermarks_locked(&role);
    }

    /// Recomputes the high watermark (never backwards on a leader) and the
    /// last stable offset, and wakes waiters if they moved.
    fn refresh_watermarks(&self) {
        let role = self.lock_role();
        self.refresh_watermarks_locked(&role);
    }

    /// [`refresh_watermarks`](Self::refresh_watermarks) under the role
    /// lock, which every writer of the watermarks holds: two refreshes
    /// cannot store their figures out of order, and a follower joining the
    /// maximal ISR holds back every later one.
    fn refresh_watermarks_locked(&self, role: &Role) {
        let end = self.log_end_offset();
        let current = self.high_watermark();
        let high_watermark = match role {
            Role::Leader(state) => state
                .isr_high_watermark(end)
                .map_or(current, |allowed| allowed.max(current))
                .min(end),
            Role::Follower { .. } => {
                Offset(self.leader_high_watermark.load(Ordering::Acquire)).min(end)
            }
        };
        let unstable = Offset(self.first_unstable_offset.load(Ordering::Acquire));
        let stable = unstable.min(high_watermark);
        let moved = high_watermark != current || stable != self.last_stable_offset();
        // Store the LSO first: a reader never sees it above the watermark.
        self.last_stable_offset.store(stable.0, Ordering::Release);
        self.high_watermark
            .store(high_watermark.0, Ordering::Release);
        if moved {
            self.new_data.notify_waiters();
        }
    }

    /// acks=all: waits until the high watermark passes `last_offset`, then
    /// checks the ISR is still at least `min.insync.replicas` strong.
    pub async fn wait_for_replication(
        &self,
        last_offset: Offset,
        timeout: std::time::Duration,
    ) -> Result<(), ReplicationError> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.new_data.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let in_sync = match &*self.lock_role() {
                Role::Leader(state) => state.isr.len() as i32,
                Role::Follower { .. } => return Err(ReplicationError::NotLeader),
            };
            if self.high_watermark() > last_offset {
                if in_sync < self.min_insync_replicas() {
                    return Err(ReplicationError::NotEnoughReplicasAfterAppend);
                }
                return Ok(());
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return Err(ReplicationError::TimedOut);
            }
        }
    }

    /// The newest leader epoch in the log (the follower's last fetched
    /// epoch), kept with the offsets so a fetcher need not lock the log.
    pub fn latest_epoch(&self) -> Option<LeaderEpoch> {
        match self.latest_epoch.load(Ordering::Acquire) {
            -1 => None,
            epoch => Some(LeaderEpoch(epoch)),
        }
    }

    /// Follower: the high watermark the leader reported.
    pub fn set_leader_high_watermark(&self, high_watermark: Offset) {
        self.leader_high_watermark
            .store(high_watermark.0, Ordering::Release);
        self.refresh_watermarks();
    }

    /// Follower: appends batches fetched from the leader at
    /// `leader_epoch`, byte for byte.
    pub async fn append_as_follower(
        self: &Arc<Self>,
        records: bytes::Bytes,
        leader_epoch: LeaderEpoch,
    ) -> Result<(), LogError> {
        let bytes = Some(records.len());
        self.changing_log_as_follower(leader_epoch, bytes, move |log| {
            log.append_as_follower(&records)
        })
        .await?;
        self.new_data.notify_waiters();
        Ok(())
    }

    /// Follower: drops the log from `offset` on (it diverged from the
    /// leader's there), as the leader at `leader_epoch` said.
    pub async fn truncate_to(
        self: &Arc<Self>,
        offset: Offset,
        leader_epoch: LeaderEpoch,
    ) -> Result<(), LogError> {
        self.changing_log_as_follower(leader_epoch, None, move |log| log.truncate_to(offset))
            .await
    }

    /// Follower: empties the log and restarts it at `offset` (the leader's
    /// log start, past everything held here), as the leader at
    /// `leader_epoch` said.
    pub async fn truncate_fully_and_start_at(
        self: &Arc<Self>,
        offset: Offset,
        leader_epoch: LeaderEpoch,
    ) -> Result<(), LogError> {
        self.changing_log_as_follower(leader_epoch, None, move |log| {
            log.truncate_fully_and_start_at(offset)
        })
        .await
    }

    /// `changing_log` for what a replica fetch made at `leader_epoch`
    /// does to the log, once [`following_at`](Self::following_at) allows it;
    /// `appended` is the size of the records it appends, if it appends.
    async fn changing_log_as_follower<T: Send + 'static>(
        self: &Arc<Self>,
        leader_epoch: LeaderEpoch,
        appended: Option<usize>,
        work: impl FnOnce(&mut PartitionLog) -> Result<T, LogError> + Send + 'static,
    ) -> Result<T, LogError> {
        let partition = Arc::clone(self);
        let work = move |log: &mut PartitionLog| {
            partition.following_at(leader_epoch)?;
            work(log)
        };
        match appended {
            Some(bytes) => self.appending(bytes, work).await,
            None => self.changing_log(work).await,
        }
    }

    /// Checked under the log lock before a replica fetch changes the log:
    /// this broker still follows at the epoch the fetch was made at. A
    /// fetch answered after this broker became the leader (or followed a
    /// newer one) must not touch the log: its records or truncation would
    /// land inside the new epoch, under offsets already counted for it.
    fn following_at(&self, leader_epoch: LeaderEpoch) -> Result<(), LogError> {
        match &*self.lock_role() {
            Role::Follower { .. } if self.leader_epoch() == leader_epoch => Ok(()),
            _ => Err(LogError::StaleReplicaFetch {
                fetched_at: leader_epoch.0,
            }),
        }
    }

    /// Leader: where the given epoch ends in this log (Kafka's
    /// OffsetForLeaderEpoch answer): the epoch found and its end offset.
    pub async fn end_offset_for_epoch(
        self: &Arc<Self>,
        epoch: i32,
    ) -> Result<(i32, Offset), LogError> {
        if self
            .latest_epoch()
            .is_some_and(|latest| latest.value() == epoch)
        {
            return Ok((epoch, self.log_end_offset()));
        }
        self.with_log(move |log| Ok(log.end_offset_for_epoch(epoch)))
            .await
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
    /// Nothing runs on a log whose dir is offline.
    async fn with_log<T: Send + 'static>(
        self: &Arc<Self>,
        work: impl FnOnce(&mut PartitionLog) -> Result<T, LogError> + Send + 'static,
    ) -> Result<T, LogError> {
        if self.is_offline() {
            return self.checked(Err(self.offline_error()));
        }
        let partition = Arc::clone(self);
        let outcome = tokio::task::spawn_blocking(move || work(&mut partition.lock_log()))
            .await
            .map_err(|join_error| LogError::TaskFailed(join_error.to_string()))
            .and_then(|outcome| outcome);
        self.checked(outcome)
    }

    /// `with_log` on the request's thread when the log is free and `quick`
    /// says the work cannot block for long (as Kafka's request handlers
    /// append): this saves two thread wake-ups per request. Otherwise on a
    /// blocking thread.
    async fn with_log_quick<T: Send + 'static>(
        self: &Arc<Self>,
        quick: impl FnOnce(&PartitionLog) -> bool,
        work: impl FnOnce(&mut PartitionLog) -> Result<T, LogError> + Send + 'static,
    ) -> Result<T, LogError> {
        if !self.is_offline() {
            if let Ok(mut log) = self.log.try_lock() {
                if quick(&log) {
                    let outcome = work(&mut log);
                    drop(log);
                    return self.checked(outcome);
                }
            }
        }
        self.with_log(work).await
    }

    /// `with_log` on the calling thread, for start-up and shutdown.
    fn with_log_blocking<T>(
        &self,
        work: impl FnOnce(&mut PartitionLog) -> Result<T, LogError>,
    ) -> Result<T, LogError> {
        if self.is_offline() {
            return self.checked(Err(self.offline_error()));
        }
        let outcome = work(&mut self.lock_log());
        self.checked(outcome)
    }

    /// `with_log` for work that changes the log: the offsets it moved are
    /// published while the lock is still held, so that they only move
    /// forward.
    async fn changing_log<T: Send + 'static>(
        self: &Arc<Self>,
        work: impl FnOnce(&mut PartitionLog) -> Result<T, LogError> + Send + 'static,
    ) -> Result<T, LogError> {
        self.with_log(self.publishing(work)).await
    }

    /// `changing_log` for an append of `bytes` of records: on the
    /// request's thread if the append is quick (see
    /// [`PartitionLog::append_is_quick`]).
    async fn appending<T: Send + 'static>(
        self: &Arc<Self>,
        bytes: usize,
        work: impl FnOnce(&mut PartitionLog) -> Result<T, LogError> + Send + 'static,
    ) -> Result<T, LogError> {
        let quick = move |log: &PartitionLog| log.append_is_quick(bytes);
        self.with_log_quick(quick, self.publishing(work)).await
    }

    /// `work`, then the offsets it moved published under the same lock;
    /// the readers' view even if it failed.
    fn publishing<T>(
        self: &Arc<Self>,
        work: impl FnOnce(&mut PartitionLog) -> Result<T, LogError> + Send + 'static,
    ) -> impl FnOnce(&mut PartitionLog) -> Result<T, LogError> + Send + 'static {
        let partition = Arc::clone(self);
        move |log| match work(log) {
            Ok(outcome) => {
                partition.publish_offsets(log);
                Ok(outcome)
            }
            // Segments a failed change already took away (a truncation cut
            // short) are not read any more.
            Err(error) => {
                partition.publish_view(log);
                Err(error)
            }
        }
    }

    /// Appends a produce request's batches as leader, then makes them visible.
    /// Leadership and its epoch are checked under the log lock, which a
    /// demotion takes too: no append of a deposed leader lands.
    pub async fn append_as_leader(
        self: &Arc<Self>,
        records: bytes::Bytes,
        origin: AppendOrigin,
    ) -> Result<AppendInfo, LogError> {
        // A paused partition (fault plane) holds appends until resumed.
        let _ = self.paused.subscribe().wait_for(|paused| !*paused).await;
        let partition = Arc::clone(self);
        let info = self
            .appending(records.len(), move |log| {
                let epoch = partition.leading_epoch()?;
                let info = log.append_as_leader(&records, epoch, origin)?;
                if let Ok(batch) = Batch::parse(&records) {
                    if batch.is_transactional() && !batch.is_control() {
                        let ongoing = &partition.ongoing_txns;
                        ongoing.appended(batch.producer_id(), batch.producer_epoch());
                    }
                }
                Ok(info)
            })
            .await?;
        self.new_data.notify_waiters();
        Ok(info)
    }

    /// Counts record bytes a producer's request appended.
    pub fn count_bytes_in(&self, bytes: usize) {
        self.bytes_in.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    /// Counts record bytes answered to a fetch.
    pub fn count_bytes_out(&self, bytes: usize) {
        self.bytes_out.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    /// Record bytes appended for producers and served to fetches so far.
    pub fn bytes_in_out(&self) -> (u64, u64) {
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        (load(&self.bytes_in), load(&self.bytes_out))
    }

    /// Whether `producer_id` at `epoch` has an open transaction that has
    /// written here since this broker began leading.
    pub fn has_ongoing_transaction(&self, producer_id: i64, epoch: i16) -> bool {
        self.ongoing_txns.contains(producer_id, epoch)
    }

    /// Writes a transaction marker (coordinator only) and publishes the
    /// last stable offset it releases; answered, as Kafka's marker writes
    /// are, once the ISR has it (acks=all).
    pub async fn append_marker(
        self: &Arc<Self>,
        marker: TxnMarker,
    ) -> Result<CompletedTxn, LogError> {
        let partition = Arc::clone(self);
        let (info, completed) = self
            .changing_log(move |log| {
                let written = log.append_marker(&marker, partition.leading_epoch()?)?;
                partition.ongoing_txns.ended(marker.producer_id);
                Ok(written)
            })
            .await?;
        self.new_data.notify_waiters();
        self.replicated(info.last_offset).await?;
        Ok(completed)
    }

    /// Appends a coordinator's own records (group metadata and offsets,
    /// transaction state), answered once the ISR has them: a coordinator
    /// must not acknowledge what a leader failover would lose.
    pub async fn append_coordinator_records(
        self: &Arc<Self>,
        records: Vec<u8>,
    ) -> Result<AppendInfo, LogError> {
        let info = self
            .append_as_leader(records.into(), AppendOrigin::Coordinator)
            .await?;
        self.replicated(info.last_offset).await?;
        Ok(info)
    }

    async fn replicated(&self, last_offset: Offset) -> Result<(), LogError> {
        self.wait_for_replication(last_offset, COORDINATOR_WRITE_TIMEOUT)
            .await
            .map_err(|error| match error {
                ReplicationError::NotLeader => LogError::NotLeader,
                other => LogError::NotReplicated(format!("{other:?}")),
            })
    }

    /// Publishes the log's view for readers, if it changed: before the
    /// offsets, so that a reader bounded by them finds their data in it.
    fn publish_view(&self, log: &PartitionLog) {
        if !Arc::ptr_eq(&self.view.load(), log.view()) {
            self.view.store(Arc::clone(log.view()));
        }
    }

    fn publish_offsets(&self, log: &PartitionLog) {
        self.publish_view(log);
        let end = log.log_end_offset();
        self.log_end_offset.store(end.0, Ordering::Release);
        self.log_start_offset
            .store(log.log_start_offset().0, Ordering::Release);
        self.size_bytes.store(log.size_bytes(), Ordering::Release);
        self.latest_epoch
            .store(log.latest_epoch().map_or(-1, |e| e.0), Ordering::Release);
        let unstable = log.first_unstable_offset().map_or(i64::MAX, |o| o.0);
        self.first_unstable_offset
            .store(unstable, Ordering::Release);
        self.refresh_watermarks();
    }

    /// Reads for a consumer: never past the high watermark, or for
    /// read_committed the last stable offset, listing the aborted
    /// transactions in what it returns. With `in_files`, the records stay
    /// in their segment file for the connection to write.
    pub async fn read(
        self: &Arc<Self>,
        offset: Offset,
        max_bytes: usize,
        isolation: Isolation,
        in_files: bool,
    ) -> Result<FetchedData, LogError> {
        let high_watermark = self.high_watermark();
        let last_stable_offset = self.last_stable_offset();
        let end = self.visible_end(isolation);
        let log_start_offset = self.log_start_offset();
        // Caught up: nothing to read, and no need to go to the log (a long
        // poll's idle partitions cost no blocking hop when it wakes up).
        if offset == end && offset >= log_start_offset && !self.is_offline() {
            return Ok(FetchedData {
                high_watermark,
                last_stable_offset,
                log_start_offset,
                ..FetchedData::default()
            });
        }
        if self.is_offline() {
            return self.checked(Err(self.offline_error()));
        }
        // Read without the log lock, from its published view: a writer
        // holding the lock (an append, a roll, a sync) holds no reader up.
        let view = self.view.load_full();
        let log_end_offset = self.log_end_offset();
        if offset < view.log_start_offset() || offset > log_end_offset {
            return Err(LogError::OffsetOutOfRange {
                requested: offset,
                log_start_offset: view.log_start_offset(),
                log_end_offset,
            });
        }
        let read = move || read_from(&view, offset, max_bytes, end, isolation, in_files);
        let read = match in_files {
            // Only where the records start and end is read here: from the
            // recent batch headers (readers that keep up: no I/O at all)
            // or from the offset index and a few batch headers in the page
            // cache. The records stay in their file for the connection.
            true => read(),
            // The records themselves are read, on a blocking thread.
            false => tokio::task::spawn_blocking(read)
                .await
                .map_err(|join_error| LogError::TaskFailed(join_error.to_string()))
                .and_then(|outcome| outcome),
        };
        let (records, aborted) = self.checked(read)?;
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

    /// Reads up to the log end on the calling thread, for the coordinators'
    /// loaders (off the async runtime). The log end, not the high watermark,
    /// as Kafka's loaders read: a leader restarted after kill -9 starts from
    /// its checkpointed high watermark, below records it acknowledged and
    /// every in-sync replica holds.
    pub fn read_to_log_end_blocking(
        &self,
        offset: Offset,
        max_bytes: usize,
    ) -> Result<Vec<u8>, LogError> {
        self.with_log_blocking(|log| log.read(offset, max_bytes, log.log_end_offset()))
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

    /// Deletes segments past retention, never above the high watermark;
    /// returns how many went.
    pub async fn apply_retention(self: &Arc<Self>, now_ms: i64) -> Result<usize, LogError> {
        let partition = Arc::clone(self);
        self.changing_log(move |log| log.apply_retention(now_ms, partition.high_watermark()))
            .await
    }

    /// One compaction pass (compacted topics only), its key map within
    /// `dedupe_buffer_size` bytes. The partition is held only to take the
    /// sealed segments and to swap the cleaned ones in; produce and fetch
    /// go on while the segments are rewritten.
    pub async fn compact(
        self: &Arc<Self>,
        now_ms: i64,
        dedupe_buffer_size: usize,
    ) -> Result<Option<CleanStats>, LogError> {
        let last_stable_offset = self.last_stable_offset();
        // Deciding that a topic is not compacted takes no blocking hop: the
        // cleaner's pass visits every partition.
        let not_compacted = |log: &PartitionLog| !log.config().is_compacted();
        let Some(job) = self
            .with_log_quick(not_compacted, move |log| {
                log.compaction_job(last_stable_offset)
            })
            .await?
        else {
            return Ok(None);
        };
        let cleaned = tokio::task::spawn_blocking(move || job.run(now_ms, dedupe_buffer_size))
            .await
            .map_err(|join_error| LogError::TaskFailed(join_error.to_string()))
            .and_then(|outcome| outcome);
        let cleaned = self.checked(cleaned)?;
        let Some(compacted) = cleaned else {
            return Ok(None);
        };
        self.changing_log(move |log| log.install_compaction(compacted).map(Some))
            .await
    }

    /// A flush if `flush.ms` is due. The scheduler asks every partition
    /// every `log.flush.scheduler.interval.ms`; one that is not due answers
    /// on the calling thread: a blocking hop each made 10,000 partitions
    /// cost the broker more CPU than the records they took.
    pub async fn maybe_flush_by_time(self: &Arc<Self>) -> Result<(), LogError> {
        let not_due = |log: &PartitionLog| !log.flush_by_time_due();
        self.with_log_quick(not_due, |log| log.maybe_flush_by_time())
            .await
    }

    /// Flushes the log and snapshots its producer state (clean shutdown).
    pub fn checkpoint_blocking(&self) -> Result<(), LogError> {
        self.with_log_blocking(PartitionLog::checkpoint)
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
        self.changing_log(move |log| log.delete_records_before(target, high_watermark))
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
        // In memory only: no blocking hop.
        self.with_log_quick(
            |_| true,
            move |log| Ok(log.expire_producers(now_ms, expiration_ms)),
        )
        .await
    }

    /// Renames the partition's folder for deletion (topic deletion, or no
    /// longer a replica here) and has it removed after
    /// `file.delete.delay.ms`. Under the log lock, so no log operation sees
    /// the folder move under it; requests still holding the partition
    /// finish on the renamed files.
    pub fn delete_log_blocking(&self, logs: &crate::log::LogManager) -> Result<(), LogError> {
        let mut log = self.lock_log();
        self.deleted.store(true, Ordering::Release);
        let delay = std::time::Duration::from_millis(log.config().file_delete_delay_ms as u64);
        if let Some(renamed) = logs.delete_partition(&self.topic_partition, delay)? {
            log.renamed_to(renamed);
        }
        Ok(())
    }
}

/// A read of `log` from `offset`, with the aborted transactions within it
/// for read_committed; the records left in their file (`in_files`) or
/// read into memory.
fn read_from(
    view: &LogView,
    offset: Offset,
    max_bytes: usize,
    end: Offset,
    isolation: Isolation,
    in_files: bool,
) -> Result<(FetchedRecords, Vec<AbortedTxn>), LogError> {
    let Some(records) = view.read_records(offset, max_bytes, end)? else {
        return Ok((FetchedRecords::default(), Vec::new()));
    };
    let aborted = match isolation {
        Isolation::ReadCommitted => view.aborted_txns(offset, records.next_offset()),
        _ => Vec::new(),
    };
    let records = match in_files {
        true => FetchedRecords::File(records),
        false => FetchedRecords::Memory(records.read()?.into()),
    };
    Ok((records, aborted))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::batch::tests::sample_batch;

    fn partition(dir: &std::path::Path) -> Arc<Partition> {
        let log_dir = Arc::new(LogDir::new(
            dir.to_path_buf(),
            tokio::sync::watch::Sender::new(0),
        ));
        let log = PartitionLog::open(&dir.join("t-0"), LogConfig::default(), true).unwrap();
        let partition = Arc::new(Partition::new(
            TopicPartition::new("t", 0),
            Uuid::nil(),
            log,
            log_dir,
            LeaderEpoch(0),
            None,
        ));
        partition.become_leader(1, LeaderEpoch(1), vec![1], vec![1], 0);
        partition
    }

    #[tokio::test]
    async fn a_demoted_leader_appends_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let partition = partition(dir.path());
        let client = AppendOrigin::Client;
        let info = partition
            .append_as_leader(sample_batch(2).into(), client)
            .await
            .unwrap();
        assert_eq!(info.base_offset, Offset(0));
        partition.become_follower(2, LeaderEpoch(2));
        assert!(matches!(
            partition
                .append_as_leader(sample_batch(2).into(), client)
                .await,
            Err(LogError::NotLeader)
        ));
        assert_eq!(partition.log_end_offset(), Offset(2));
    }

    /// Fetches read the published view: one runs to the end while a
    /// writer holds the log lock, and it sees every segment a roll made.
    #[tokio::test]
    async fn reads_do_not_wait_for_the_log_lock() {
        let dir = tempfile::tempdir().unwrap();
        let partition = partition(dir.path());
        let client = AppendOrigin::Client;
        for _ in 0..3 {
            partition
                .append_as_leader(sample_batch(2).into(), client)
                .await
                .unwrap();
        }
        partition.changing_log(|log| log.roll()).await.unwrap();
        partition
            .append_as_leader(sample_batch(2).into(), client)
            .await
            .unwrap();
        // A writer on another thread holds the log lock throughout.
        let (held, release) = (std::sync::mpsc::channel(), std::sync::mpsc::channel::<()>());
        let writer = {
            let partition = Arc::clone(&partition);
            std::thread::spawn(move || {
                let _log = partition.lock_log();
                held.0.send(()).unwrap();
                release.1.recv().unwrap();
            })
        };
        held.1.recv().unwrap();
        for in_files in [true, false] {
            // A read stops at the end of the segment it starts in.
            for (offset, expected) in [(0, 6), (4, 2), (6, 2)] {
                let read = partition.read(
                    Offset(offset),
                    usize::MAX,
                    Isolation::ReadUncommitted,
                    in_files,
                );
                let fetched = tokio::time::timeout(std::time::Duration::from_secs(5), read)
                    .await
                    .expect("a read does not wait for the writer")
                    .unwrap();
                let bytes = match fetched.records {
                    FetchedRecords::File(records) => records.read().unwrap(),
                    FetchedRecords::Memory(bytes) => bytes.to_vec(),
                };
                let offsets: i64 = crate::records::batch::Batches::new(&bytes)
                    .map(|batch| i64::from(batch.unwrap().1.records_count()))
                    .sum();
                assert_eq!(offsets, expected, "from {offset}, in files: {in_files}");
            }
        }
        release.0.send(()).unwrap();
        writer.join().unwrap();
    }

    #[tokio::test]
    async fn a_replica_fetch_answered_after_the_epoch_moved_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let partition = partition(dir.path());
        partition.become_follower(2, LeaderEpoch(2));
        partition
            .append_as_follower(sample_batch(2).into(), LeaderEpoch(2))
            .await
            .unwrap();
        assert_eq!(partition.log_end_offset(), Offset(2));
        // Made at epoch 2, answered once this broker leads at epoch 3.
        partition.become_leader(1, LeaderEpoch(3), vec![1, 2], vec![1, 2], 1);
        let stale = LeaderEpoch(2);
        assert!(matches!(
            partition.truncate_to(Offset(0), stale).await,
            Err(LogError::StaleReplicaFetch { fetched_at: 2 })
        ));
        assert!(partition
            .append_as_follower(sample_batch(2).into(), stale)
            .await
            .is_err());
        // ... or once it follows a newer epoch.
        partition.become_follower(2, LeaderEpoch(4));
        assert!(partition
            .truncate_fully_and_start_at(Offset(10), stale)
            .await
            .is_err());
        assert_eq!(partition.log_end_offset(), Offset(2));
        assert_eq!(partition.latest_epoch(), Some(LeaderEpoch(3)));
    }

    #[tokio::test]
    async fn an_io_error_takes_the_log_dir_offline_for_every_later_call() {
        use crate::log::disk_faults::{self, DiskErrno, DiskFault, DiskOp};
        let dir = tempfile::tempdir().unwrap();
        let partition = partition(dir.path());
        disk_faults::arm(DiskFault {
            path: dir.path().to_path_buf(),
            op: DiskOp::Write,
            errno: Some(DiskErrno::Eio),
            latency_ms: 0,
            count: 1,
        });
        let client = AppendOrigin::Client;
        assert!(matches!(
            partition
                .append_as_leader(sample_batch(2).into(), client)
                .await,
            Err(LogError::Io(_))
        ));
        assert!(partition.is_offline());
        assert!(partition
            .log_dir()
            .failure()
            .is_some_and(|cause| cause.contains("t-0")));
        // The fault is used up; the dir stays offline all the same.
        assert!(matches!(
            partition
                .append_as_leader(sample_batch(2).into(), client)
                .await,
            Err(LogError::LogDirOffline { .. })
        ));
        assert!(matches!(
            partition
                .read(Offset(0), 1024, Isolation::ReadUncommitted, true)
                .await,
            Err(LogError::LogDirOffline { .. })
        ));
        assert_eq!(partition.log_end_offset(), Offset(0));
    }

    #[tokio::test]
    async fn a_transaction_that_wrote_here_is_known_until_its_marker_or_a_new_leadership() {
        use crate::records::builder::BatchBuilder;
        let dir = tempfile::tempdir().unwrap();
        let partition = partition(dir.path());
        let txn_batch = |sequence| {
            let mut builder = BatchBuilder::new(crate::types::now_ms())
                .idempotent(7, 3, sequence)
                .transactional();
            builder.push(crate::types::now_ms(), None, Some(b"t"), &[]);
            bytes::Bytes::from(builder.build())
        };
        let client = AppendOrigin::Client;
        assert!(!partition.has_ongoing_transaction(7, 3));
        partition
            .append_as_leader(txn_batch(0), client)
            .await
            .unwrap();
        assert!(partition.has_ongoing_transaction(7, 3));
        assert!(
            !partition.has_ongoing_transaction(7, 4),
            "another epoch is asked about"
        );
        let marker = TxnMarker {
            producer_id: 7,
            producer_epoch: 3,
            commit: true,
            coordinator_epoch: 0,
        };
        partition.append_marker(marker).await.unwrap();
        assert!(!partition.has_ongoing_transaction(7, 3));
        partition
            .append_as_leader(txn_batch(1), client)
            .await
            .unwrap();
        assert!(partition.has_ongoing_transaction(7, 3));
        partition.become_leader(1, LeaderEpoch(2), vec![1], vec![1], 1);
        assert!(
            !partition.has_ongoing_transaction(7, 3),
            "a new epoch knows nothing"
        );
        partition
            .append_as_leader(txn_batch(2), client)
            .await
            .unwrap();
        partition.become_follower(2, LeaderEpoch(3));
        assert!(!partition.has_ongoing_transaction(7, 3));
    }
}
