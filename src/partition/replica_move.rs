//! The partition's side of a move to another log dir (KIP-113): the
//! future log copies round by round, each planned under the log lock and
//! carried out without it, and the swap happens under the lock, where
//! appends, truncation and deletion also happen: none can land between the
//! last copied batch and the swap, and a partition deleted meanwhile is
//! never swapped.

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::Partition;
use crate::config::LogConfig;
use crate::log::future_log::{FutureLog, FutureLogError};
use crate::log::log_dir::LogDir;
use crate::log::LogError;

/// How a swap ended.
#[derive(Debug)]
pub enum Swapped {
    /// The future log is the partition's log; the old folder was renamed
    /// to this, for removal after `file.delete.delay.ms`.
    Moved { old_folder: PathBuf },
    /// The partition was deleted meanwhile: the future log was abandoned
    /// (its folder renamed to this, for removal).
    PartitionDeleted { future_folder: PathBuf },
}

impl Partition {
    /// Whether the partition's folder was renamed for deletion.
    pub fn is_deleted(&self) -> bool {
        self.deleted.load(Ordering::Acquire)
    }

    /// The log's current config, for a future log to take.
    pub fn log_config(&self) -> LogConfig {
        self.lock_log().config().clone()
    }

    /// One copy round of at most `max_bytes`: true once the future log has
    /// reached the end the log had when the round began. Blocking.
    pub fn copy_to_future_blocking(
        &self,
        future: &mut FutureLog,
        target: &LogDir,
        max_bytes: usize,
    ) -> Result<bool, LogError> {
        if self.is_offline() {
            return Err(self.offline_error());
        }
        let round = future.plan(&self.lock_log(), max_bytes);
        let copied = round.and_then(|round| future.copy(round));
        self.moved_or_failed(copied, target)
    }

    /// Copies what is left and swaps the future log in, all under the log
    /// lock; from then on the partition's log and log dir are the future
    /// one's. Blocking.
    pub fn swap_in_future_blocking(
        &self,
        mut future: FutureLog,
        target: Arc<LogDir>,
    ) -> Result<Swapped, LogError> {
        let mut log = self.lock_log();
        if self.is_deleted() {
            return Ok(Swapped::PartitionDeleted {
                future_folder: future.abandon()?,
            });
        }
        if self.is_offline() {
            return Err(self.offline_error());
        }
        let completed = future.complete(&log);
        self.moved_or_failed(completed, &target)?;
        let replaced = future.replace(&mut log);
        let (old, old_folder) = self.moved_or_failed(replaced, &target)?;
        self.log_dir.store(target);
        self.publish_offsets(&log);
        drop(log);
        // Requests still reading the old files hold them open.
        drop(old);
        Ok(Swapped::Moved { old_folder })
    }

    /// An I/O error takes offline the dir it happened in: the current
    /// log's (as any log error does) or the future log's.
    fn moved_or_failed<T>(
        &self,
        outcome: Result<T, FutureLogError>,
        target: &LogDir,
    ) -> Result<T, LogError> {
        match outcome {
            Ok(value) => Ok(value),
            Err(FutureLogError::Current(error)) => self.checked(Err(error)),
            Err(FutureLogError::Future(error)) => {
                if let LogError::Io(io) = &error {
                    target.fail(&format!("future log of {}: {io}", self.topic_partition));
                }
                Err(error)
            }
            Err(stuck @ FutureLogError::Stuck { .. }) => {
                Err(LogError::TaskFailed(stuck.to_string()))
            }
        }
    }
}
