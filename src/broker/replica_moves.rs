//! Moving replicas between this broker's `log.dirs` (KIP-113,
//! AlterReplicaLogDirs) while they keep serving: one task per move copies
//! the partition's log into a future log in the target dir and swaps it
//! in (`partition/replica_move.rs`, `log/future_log.rs`); the moves in
//! progress are what DescribeLogDirs reports as future replicas.
//!
//! As in Kafka, asking for the dir a partition is already in is a no-op,
//! and asking for another dir while a move runs cancels that move first
//! (a move back to the current dir just cancels it). A future log found
//! at start-up is a move a restart interrupted: it is resumed, as Kafka
//! resumes it, since the operator's request still stands and the copy
//! done so far is valid (it is recovered, then truncated by leader epoch
//! as any replica would be).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use thiserror::Error;
use tracing::{info, warn};

use super::Broker;
use crate::log::future_log::{FutureLog, FUTURE_SUFFIX};
use crate::log::log_dir::LogDir;
use crate::log::manager::remove_later;
use crate::log::LogError;
use crate::partition::replica_move::Swapped;
use crate::partition::Partition;
use crate::types::{Offset, TopicPartition};

/// Bytes copied per round, without the partition's lock, at first; a
/// round that does not reach the log end doubles it, up to the maximum, so
/// that a copy outpaced by the producers speeds up until it catches up
/// rather than trailing them for ever.
const COPY_ROUND_BYTES: usize = 1 << 20;
const MAX_COPY_ROUND_BYTES: usize = 64 << 20;

/// The longest folder name a file system takes (Kafka's KAFKA-4893 check).
const MAX_FOLDER_NAME: usize = 255;

#[derive(Debug, Error)]
pub enum ReplicaMoveError {
    #[error("log dir {0} is not one of log.dirs")]
    LogDirNotFound(String),
    #[error("log dir {0} is offline")]
    LogDirOffline(String),
    #[error("{0} is offline: its log dir failed")]
    PartitionOffline(TopicPartition),
    #[error("{0} has no replica on this broker")]
    ReplicaNotAvailable(TopicPartition),
    #[error("the topic name is too long for a future log's folder name")]
    TopicNameTooLong,
    #[error(transparent)]
    Log(#[from] LogError),
}

/// A move in progress, as DescribeLogDirs reports it.
pub struct MoveProgress {
    pub target: Arc<LogDir>,
    future_log_end_offset: AtomicI64,
    future_size: AtomicU64,
    cancelled: AtomicBool,
}

impl MoveProgress {
    fn new(target: Arc<LogDir>, future: &FutureLog) -> MoveProgress {
        let progress = MoveProgress {
            target,
            future_log_end_offset: AtomicI64::new(0),
            future_size: AtomicU64::new(0),
            cancelled: AtomicBool::new(false),
        };
        progress.record(future);
        progress
    }

    fn record(&self, future: &FutureLog) {
        self.future_log_end_offset
            .store(future.log_end_offset().0, Ordering::Release);
        self.future_size
            .store(future.size_bytes(), Ordering::Release);
    }

    pub fn future_log_end_offset(&self) -> Offset {
        Offset(self.future_log_end_offset.load(Ordering::Acquire))
    }

    pub fn future_size(&self) -> u64 {
        self.future_size.load(Ordering::Acquire)
    }

    fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::Acquire)
    }
}

/// The moves in progress, by partition.
#[derive(Default)]
pub struct ReplicaMoves {
    by_partition: Mutex<HashMap<TopicPartition, Arc<MoveProgress>>>,
}

impl ReplicaMoves {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<TopicPartition, Arc<MoveProgress>>> {
        self.by_partition.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn all(&self) -> Vec<(TopicPartition, Arc<MoveProgress>)> {
        self.lock()
            .iter()
            .map(|(partition, progress)| (partition.clone(), Arc::clone(progress)))
            .collect()
    }

    /// The partitions moving now.
    pub fn moving(&self) -> std::collections::HashSet<TopicPartition> {
        self.lock().keys().cloned().collect()
    }

    /// Forgets a move, if it is still the one registered.
    fn finished(&self, partition: &TopicPartition, progress: &Arc<MoveProgress>) {
        let mut moves = self.lock();
        if moves
            .get(partition)
            .is_some_and(|p| Arc::ptr_eq(p, progress))
        {
            moves.remove(partition);
        }
    }
}

impl Broker {
    pub fn replica_moves(&self) -> &ReplicaMoves {
        &self.replica_moves
    }

    /// AlterReplicaLogDirs for one partition (Kafka's
    /// `ReplicaManager.alterReplicaLogDirs`): starts moving its log to the
    /// dir at `path`, answered at once; the copy runs in the background.
    /// Blocking (it creates the future log's folder).
    pub fn alter_replica_log_dir(
        self: &Arc<Self>,
        topic_partition: &TopicPartition,
        path: &str,
    ) -> Result<(), ReplicaMoveError> {
        // `<topic>-<partition>.<32 hex>-future`
        if topic_partition.dir_name().len() + 33 + FUTURE_SUFFIX.len() > MAX_FOLDER_NAME {
            return Err(ReplicaMoveError::TopicNameTooLong);
        }
        let target = self
            .logs
            .dir_named(path)
            .ok_or_else(|| ReplicaMoveError::LogDirNotFound(path.to_string()))?;
        if target.is_offline() {
            return Err(ReplicaMoveError::LogDirOffline(path.to_string()));
        }
        let Some(partition) = self.partitions.get(topic_partition) else {
            // Not hosted yet: created in that dir when it comes (a
            // reassignment onto this broker), and answered as Kafka does,
            // so the tool retries until the replica is here.
            self.logs.prefer_dir(topic_partition, target);
            return Err(ReplicaMoveError::ReplicaNotAvailable(
                topic_partition.clone(),
            ));
        };
        if partition.is_offline() {
            return Err(ReplicaMoveError::PartitionOffline(topic_partition.clone()));
        }
        let mut moves = self.replica_moves.lock();
        if let Some(running) = moves.get(topic_partition) {
            if Arc::ptr_eq(&running.target, target) && !running.is_cancelled() {
                return Ok(());
            }
            // It stays registered until its task has removed its future
            // log, so that no resume picks that folder up meanwhile; a new
            // move replaces it in the registry.
            info!(partition = %topic_partition, from = %running.target.path().display(),
                  "cancelling a replica move for a new destination");
            running.cancelled.store(true, Ordering::Release);
        }
        if Arc::ptr_eq(&partition.log_dir(), target) {
            return Ok(());
        }
        // As Kafka: no future log while a dir is offline, so that no two
        // dirs can end up holding one for the same partition.
        if let Some(offline) = self.logs.dirs().iter().find(|dir| dir.is_offline()) {
            return Err(ReplicaMoveError::LogDirOffline(
                offline.path().display().to_string(),
            ));
        }
        let future = self
            .logs
            .create_future_log(topic_partition, target, partition.log_config())
            .inspect_err(|error| {
                if matches!(error, LogError::Io(_)) {
                    target.fail(&format!("creating a future log: {error}"));
                }
            })?;
        info!(partition = %topic_partition, to = %target.path().display(),
              future = %future.path().display(), "moving a replica to another log dir");
        let progress = Arc::new(MoveProgress::new(Arc::clone(target), &future));
        moves.insert(topic_partition.clone(), Arc::clone(&progress));
        drop(moves);
        tokio::spawn(Arc::clone(self).run_move(partition, future, progress));
        Ok(())
    }

    /// Resumes the moves a previous run left in progress, for the hosted
    /// partitions that have none running. Blocking; after each
    /// reconciliation, since a partition may be opened late.
    pub fn resume_replica_moves(self: &Arc<Self>) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        for found in self.logs.future_folders() {
            let Some(partition) = self
                .partitions
                .all()
                .into_iter()
                .find(|p| p.topic_partition().dir_name() == found.partition_folder)
            else {
                continue;
            };
            let topic_partition = partition.topic_partition().clone();
            let mut moves = self.replica_moves.lock();
            // A registered move owns its folder until its task ends, and a
            // swapped one renamed it before it was unregistered: under this
            // lock, a folder still there and unowned is a move to resume.
            if moves.contains_key(&topic_partition)
                || partition.is_offline()
                || !found.path.is_dir()
            {
                continue;
            }
            let future = match FutureLog::open(
                &found.path,
                partition.log_config(),
                found.clean_shutdown,
            ) {
                Ok(future) => future,
                Err(error) => {
                    warn!(partition = %topic_partition, %error, "cannot reopen a future log: the move is dropped");
                    continue;
                }
            };
            if Arc::ptr_eq(&partition.log_dir(), &found.dir) {
                // A future log beside its current one is no move.
                if let Ok(folder) = future.abandon() {
                    remove_later(folder, Duration::ZERO);
                }
                continue;
            }
            info!(partition = %topic_partition, to = %found.dir.path().display(),
                  "resuming a replica move a restart interrupted");
            let progress = Arc::new(MoveProgress::new(Arc::clone(&found.dir), &future));
            moves.insert(topic_partition, Arc::clone(&progress));
            drop(moves);
            runtime.spawn(Arc::clone(self).run_move(partition, future, progress));
        }
    }

    /// Copies round by round until the future log has caught up, then
    /// swaps it in; gives up (removing the future log) if the move is
    /// cancelled, the partition goes away or a dir fails.
    async fn run_move(
        self: Arc<Self>,
        partition: Arc<Partition>,
        mut future: FutureLog,
        progress: Arc<MoveProgress>,
    ) {
        let topic_partition = partition.topic_partition().clone();
        let delay =
            Duration::from_millis(partition.log_config().file_delete_delay_ms.max(0) as u64);
        let mut round_bytes = COPY_ROUND_BYTES;
        loop {
            let hosted = self
                .partitions
                .get(&topic_partition)
                .is_some_and(|hosted| Arc::ptr_eq(&hosted, &partition));
            if progress.is_cancelled() || !hosted || partition.is_deleted() {
                info!(partition = %topic_partition, "replica move stopped: cancelled or the partition is gone");
                self.abandon(future, &progress, delay);
                self.replica_moves.finished(&topic_partition, &progress);
                return;
            }
            let (moving, target) = (Arc::clone(&partition), Arc::clone(&progress.target));
            let round = tokio::task::spawn_blocking(move || {
                let copied = moving.copy_to_future_blocking(&mut future, &target, round_bytes);
                (future, copied)
            })
            .await;
            let Ok((returned, copied)) = round else {
                warn!(partition = %topic_partition, "replica move task failed");
                self.replica_moves.finished(&topic_partition, &progress);
                return;
            };
            future = returned;
            progress.record(&future);
            match copied {
                Ok(true) => break,
                Ok(false) => round_bytes = (round_bytes * 2).min(MAX_COPY_ROUND_BYTES),
                Err(error) => {
                    warn!(partition = %topic_partition, %error, "replica move failed");
                    self.abandon(future, &progress, delay);
                    self.replica_moves.finished(&topic_partition, &progress);
                    return;
                }
            }
        }
        let (moving, target) = (Arc::clone(&partition), Arc::clone(&progress.target));
        let swapped =
            tokio::task::spawn_blocking(move || moving.swap_in_future_blocking(future, target))
                .await;
        match swapped {
            Ok(Ok(Swapped::Moved { old_folder })) => {
                info!(partition = %topic_partition, to = %progress.target.path().display(),
                      ?delay, "replica moved; the old log is removed after file.delete.delay.ms");
                remove_later(old_folder, delay);
                // The high watermark goes to the new dir's checkpoint now.
                let broker = Arc::clone(&self);
                let _ =
                    tokio::task::spawn_blocking(move || broker.checkpoint_high_watermarks()).await;
            }
            Ok(Ok(Swapped::PartitionDeleted { future_folder })) => {
                info!(partition = %topic_partition, "partition deleted during its move: the copy is removed");
                remove_later(future_folder, delay);
            }
            Ok(Err(error)) => {
                warn!(partition = %topic_partition, %error, "replica move failed at the swap")
            }
            Err(join_error) => {
                warn!(partition = %topic_partition, %join_error, "replica move task failed")
            }
        }
        self.replica_moves.finished(&topic_partition, &progress);
    }

    /// Removes a future log that will not be swapped in, unless its dir
    /// failed (a restart recovers and resumes it then).
    fn abandon(&self, future: FutureLog, progress: &MoveProgress, delay: Duration) {
        if progress.target.is_offline() {
            return;
        }
        match future.abandon() {
            Ok(folder) => remove_later(folder, delay),
            Err(error) => {
                progress
                    .target
                    .fail(&format!("removing an abandoned future log: {error}"));
            }
        }
    }
}
