//! A partition's future replica (KIP-113): a copy of its log built in
//! another of `log.dirs`, in a folder `<topic>-<partition>.<id>-future` as
//! Kafka names it, while the current log keeps taking appends and serving
//! reads; once it has caught up, it replaces the current log.
//!
//! The copy goes as a follower's replication goes: the future log takes
//! the current log's batches byte for byte with
//! [`PartitionLog::append_as_follower`], so its producer state,
//! transaction index and leader-epoch cache are rebuilt as it grows, and
//! it truncates by leader epoch where the current log was truncated
//! meanwhile (a follower's divergence). Each round finds what to copy under
//! the current log's lock (an index lookup) and reads and writes it
//! without the lock: the read is of a file slice, valid whatever the log
//! does next. Only the last delta is copied under the lock, followed by
//! the swap, so no append lands in between.
//!
//! Crash safety: the swap renames the current folder to `-delete` only
//! once the future is complete and on disk, then renames the future to the
//! partition's own name. A crash between the two leaves a `-future` folder
//! and no current one: [`LogManager::open`](super::LogManager::open)
//! promotes it. Any other `-future` folder at start-up is a copy in
//! progress, resumed as Kafka resumes it.

use std::path::{Path, PathBuf};

use thiserror::Error;
use tracing::info;

use super::file_records::FileRecords;
use super::manager::deleted_name;
use super::producer_state::write_snapshot;
use super::{LogError, PartitionLog};
use crate::config::LogConfig;
use crate::types::{Offset, TopicPartition};

/// Bytes copied per round under the current log's lock.
const COMPLETE_ROUND_BYTES: usize = 8 << 20;

/// The suffix of a future replica's folder.
pub const FUTURE_SUFFIX: &str = "-future";

/// Why a move of a log to another dir stopped, by whose disk failed:
/// the broker takes that dir offline.
#[derive(Debug, Error)]
pub enum FutureLogError {
    /// Reading the current log (or renaming its folder) failed.
    #[error("current log: {0}")]
    Current(#[source] LogError),
    /// Writing the future log failed.
    #[error("future log: {0}")]
    Future(#[source] LogError),
    /// The current log could not be copied as it is (nothing to read below
    /// its end): a bug, not a disk failure.
    #[error("the current log cannot be read at offset {offset} below its end {log_end_offset}")]
    Stuck {
        offset: Offset,
        log_end_offset: Offset,
    },
}

fn in_current(error: impl Into<LogError>) -> FutureLogError {
    FutureLogError::Current(error.into())
}

fn in_future(error: impl Into<LogError>) -> FutureLogError {
    FutureLogError::Future(error.into())
}

/// `<topic>-<partition>.<id>-future` → the partition, if the name is one.
pub fn future_folder_partition(name: &str) -> Option<String> {
    let (live, id) = name.strip_suffix(FUTURE_SUFFIX)?.rsplit_once('.')?;
    let is_id = id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit());
    is_id.then(|| live.to_string())
}

/// What one copy round takes from the current log, found under its lock.
pub struct CopyRound {
    /// Where the future log must be cut first (the current log diverged).
    truncate_to: Option<Offset>,
    /// The future log must restart empty here (the current log's start
    /// moved past what it holds).
    start_at: Option<Offset>,
    /// Slices of the current log's segments, in order.
    records: Vec<FileRecords>,
    /// The current log's end when the round was planned.
    current_end: Offset,
}

pub struct FutureLog {
    log: PartitionLog,
}

impl FutureLog {
    /// Starts an empty future log for `partition` in the log dir `dir`.
    pub fn create(
        dir: &Path,
        partition: &TopicPartition,
        config: LogConfig,
    ) -> Result<FutureLog, LogError> {
        let id = uuid::Uuid::new_v4().simple();
        let path = dir.join(format!("{}.{id}{FUTURE_SUFFIX}", partition.dir_name()));
        let log = PartitionLog::open(&path, config, true)?;
        Ok(FutureLog { log })
    }

    /// Reopens a future log a previous run left, recovering it as any log.
    pub fn open(
        path: &Path,
        config: LogConfig,
        clean_shutdown: bool,
    ) -> Result<FutureLog, LogError> {
        Ok(FutureLog {
            log: PartitionLog::open(path, config, clean_shutdown)?,
        })
    }

    pub fn path(&self) -> &Path {
        self.log.dir()
    }

    pub fn log_end_offset(&self) -> Offset {
        self.log.log_end_offset()
    }

    pub fn size_bytes(&self) -> u64 {
        self.log.size_bytes()
    }

    /// Under the current log's lock: what to copy next, at most
    /// `max_bytes` (but a whole batch) from where the future log ends.
    pub fn plan(
        &self,
        current: &PartitionLog,
        max_bytes: usize,
    ) -> Result<CopyRound, FutureLogError> {
        let current_end = current.log_end_offset();
        let current_start = current.log_start_offset();
        let mut end = self.log.log_end_offset();
        let mut truncate_to = None;
        let mut start_at = None;
        if let Some(epoch) = self.log.latest_epoch() {
            // Kafka's follower truncation: up to where the current log's
            // copy of our latest epoch (or the newest one before it) ends.
            let (found, found_end) = current.end_offset_for_epoch(epoch.0);
            if found < 0 || found_end < Offset::ZERO {
                start_at = Some(current_start);
            } else {
                let target = match found == epoch.0 {
                    true => found_end,
                    false => self.log.end_offset_for_epoch(found).1.min(found_end),
                };
                if target < end {
                    truncate_to = Some(target);
                    end = target;
                }
            }
        } else if end > current_end {
            truncate_to = Some(current_end);
            end = current_end;
        }
        if start_at.is_none() && (end < current_start || self.log.log_start_offset() > end) {
            start_at = Some(current_start);
        }
        if start_at.is_none() && self.log.log_end_offset() == self.log.log_start_offset() {
            // An empty future log starts where the current one does.
            if self.log.log_start_offset() != current_start {
                start_at = Some(current_start);
            }
        }
        if let Some(start) = start_at {
            end = start;
            truncate_to = None;
        }
        // A read stops at its segment's end: read on into the next ones.
        let mut records = Vec::new();
        let mut taken = 0;
        while end < current_end && taken < max_bytes {
            let Some(slice) = current
                .read_records(end, max_bytes - taken, current_end)
                .map_err(in_current)?
            else {
                break;
            };
            taken += slice.len();
            end = slice.next_offset();
            records.push(slice);
        }
        Ok(CopyRound {
            truncate_to,
            start_at,
            records,
            current_end,
        })
    }

    /// Without the current log's lock: carries out a round; true when the
    /// future log reached the end the current one had when it was planned.
    pub fn copy(&mut self, round: CopyRound) -> Result<bool, FutureLogError> {
        if let Some(offset) = round.start_at {
            self.log
                .truncate_fully_and_start_at(offset)
                .map_err(in_future)?;
        }
        if let Some(offset) = round.truncate_to {
            self.log.truncate_to(offset).map_err(in_future)?;
        }
        let from = self.log.log_end_offset();
        for records in round.records {
            let bytes = records.read().map_err(in_current)?;
            self.log.append_as_follower(&bytes).map_err(in_future)?;
        }
        let to = self.log.log_end_offset();
        if to < round.current_end && to == from && round.start_at.is_none() {
            return Err(FutureLogError::Stuck {
                offset: to,
                log_end_offset: round.current_end,
            });
        }
        Ok(to >= round.current_end)
    }

    /// Under the current log's lock, with no append possible meanwhile:
    /// copies what is left, then gives the future log what is not in the
    /// batches (the current log start, leader epochs begun without a
    /// record, producers whose batches retention already deleted) and
    /// forces it to disk. It is then a complete replacement.
    pub fn complete(&mut self, current: &PartitionLog) -> Result<(), FutureLogError> {
        while self.log.log_end_offset() != current.log_end_offset() {
            let round = self.plan(current, COMPLETE_ROUND_BYTES)?;
            self.copy(round)?;
        }
        let end = self.log.log_end_offset();
        if current.log_start_offset() > self.log.log_start_offset() {
            self.log
                .delete_records_before(current.log_start_offset(), end)
                .map_err(in_future)?;
        }
        for entry in current.leader_epochs.entries() {
            self.log
                .leader_epochs
                .assign(entry.epoch, entry.start_offset)
                .map_err(in_future)?;
        }
        // Flushed first: that also waits for the sync of the segment the
        // copy rolled last, whose producer snapshot is written (and older
        // ones pruned) in the background.
        self.log.flush().map_err(in_future)?;
        write_snapshot(self.log.dir(), end, &current.producers).map_err(in_future)?;
        self.log.producers = current.producers.clone();
        Ok(())
    }

    /// Under the current log's lock, after [`complete`](Self::complete):
    /// the current folder is renamed for deletion, the future one takes
    /// the partition's name in its dir, and `current` becomes the future
    /// log reopened there. Returns the old log (to drop once readers are
    /// done with it) and its renamed folder.
    pub fn replace(
        self,
        current: &mut PartitionLog,
    ) -> Result<(PartitionLog, PathBuf), FutureLogError> {
        let config = current.config().clone();
        let epochs = current.leader_epochs.entries().to_vec();
        let old_path = current.dir().to_path_buf();
        let Some(name) = old_path.file_name().map(|name| name.to_os_string()) else {
            return Err(current_io("the current log has no folder name"));
        };
        let future_path = self.log.dir().to_path_buf();
        let Some(target_dir) = future_path.parent().map(Path::to_path_buf) else {
            return Err(in_future(io_error("the future log has no parent dir")));
        };
        let live_path = target_dir.join(name);
        let deleted = deleted_name(&old_path);
        drop(self.log);
        std::fs::rename(&old_path, &deleted).map_err(in_current)?;
        sync_parent(&deleted).map_err(in_current)?;
        if let Err(error) = std::fs::rename(&future_path, &live_path) {
            // Put the current log back: the move failed, not the partition.
            let _ = std::fs::rename(&deleted, &old_path);
            return Err(in_future(error));
        }
        sync_parent(&live_path).map_err(in_future)?;
        current.renamed_to(deleted.clone());
        let mut reopened = PartitionLog::open(&live_path, config, true).map_err(in_future)?;
        // Reopening drops an epoch begun at the log end without records.
        for entry in epochs {
            reopened
                .leader_epochs
                .assign(entry.epoch, entry.start_offset)
                .map_err(in_future)?;
        }
        let old = std::mem::replace(current, reopened);
        info!(from = %old_path.display(), to = %live_path.display(), "log moved to another log dir");
        Ok((old, deleted))
    }

    /// Gives the move up: the future folder is renamed for deletion at
    /// once; returns its new name, for the caller to remove.
    pub fn abandon(self) -> Result<PathBuf, LogError> {
        let path = self.log.dir().to_path_buf();
        drop(self.log);
        let deleted = deleted_name(&path);
        std::fs::rename(&path, &deleted)?;
        Ok(deleted)
    }
}

fn io_error(message: &str) -> std::io::Error {
    std::io::Error::other(message.to_string())
}

fn current_io(message: &str) -> FutureLogError {
    in_current(io_error(message))
}

/// Makes a rename durable: the directory entry is in the parent's data.
fn sync_parent(path: &Path) -> std::io::Result<()> {
    match path.parent() {
        Some(parent) => crate::durable::sync_all(&std::fs::File::open(parent)?),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests;
