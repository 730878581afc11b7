//! The durable Raft log of the metadata quorum, in the controller's
//! directory:
//!
//! - `raft.log`: entries as frames `length u32 | crc32c u32 | JSON`, each
//!   append fsynced before openraft is told it is durable; a torn or
//!   corrupt tail (a crash mid-append) is cut on open;
//! - `raft-vote.json`, `raft-committed.json`, `raft-purged.json`: the
//!   vote, the last committed log id and the last purged log id. The
//!   committed id alone is written without a sync: Raft keeps it in memory
//!   only (it lets a restart apply its log before the next commit), so a
//!   machine crash that leaves it older, or unreadable, costs nothing but
//!   that wait; it never runs ahead of the log, whose appends are synced
//!   before they can be committed.
//!
//! Truncation and purging rewrite the log file atomically: the metadata
//! log is small, and snapshots keep it short.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::ops::RangeBounds;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use openraft::storage::{LogFlushed, LogState, RaftLogReader, RaftLogStorage};
use openraft::{Entry, ErrorSubject, ErrorVerb, LogId, OptionalSend, RaftLogId, Vote};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::{storage_error, StorageError, TypeConfig};
use crate::durable::{replace_unforced, write_atomically};

const LOG_FILE: &str = "raft.log";
const VOTE_FILE: &str = "raft-vote.json";
const COMMITTED_FILE: &str = "raft-committed.json";
const PURGED_FILE: &str = "raft-purged.json";
const FRAME_HEADER: usize = 8;

struct LogInner {
    dir: PathBuf,
    file: File,
    entries: BTreeMap<u64, Entry<TypeConfig>>,
    last_purged: Option<LogId<u64>>,
    vote: Option<Vote<u64>>,
    committed: Option<LogId<u64>>,
}

/// The log; clones share it (openraft reads through a clone).
#[derive(Clone)]
pub struct LogStore {
    inner: Arc<Mutex<LogInner>>,
}

fn encode_frame(entry: &Entry<TypeConfig>) -> Result<Vec<u8>, serde_json::Error> {
    let body = serde_json::to_vec(entry)?;
    let mut frame = Vec::with_capacity(FRAME_HEADER + body.len());
    frame.extend_from_slice(&(body.len() as u32).to_be_bytes());
    frame.extend_from_slice(&crc32c::crc32c(&body).to_be_bytes());
    frame.extend_from_slice(&body);
    Ok(frame)
}

/// The whole entries at the start of `bytes`, and how many bytes they use.
pub(crate) fn decode_frames(bytes: &[u8]) -> (Vec<Entry<TypeConfig>>, usize) {
    let mut entries = Vec::new();
    let mut position = 0;
    while let Some(header) = bytes.get(position..position + FRAME_HEADER) {
        let length = u32::from_be_bytes([header[0], header[1], header[2], header[3]]) as usize;
        let crc = u32::from_be_bytes([header[4], header[5], header[6], header[7]]);
        let Some(body) = bytes.get(position + FRAME_HEADER..position + FRAME_HEADER + length)
        else {
            break;
        };
        if crc32c::crc32c(body) != crc {
            break;
        }
        let Ok(entry) = serde_json::from_slice::<Entry<TypeConfig>>(body) else {
            break;
        };
        entries.push(entry);
        position += FRAME_HEADER + length;
    }
    (entries, position)
}

fn read_json<T: DeserializeOwned>(path: &Path) -> std::io::Result<Option<T>> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(std::io::Error::other),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(error),
    }
}

fn write_json<T: Serialize>(path: &Path, value: &T) -> std::io::Result<()> {
    let bytes = serde_json::to_vec(value).map_err(std::io::Error::other)?;
    write_atomically(path, &bytes)
}

/// The committed log id, or none when the file is missing or unreadable
/// (it is written without a sync, so a machine crash may leave it empty).
fn load_committed(path: &Path) -> Option<LogId<u64>> {
    match read_json::<Option<LogId<u64>>>(path) {
        Ok(committed) => committed.flatten(),
        Err(error) => {
            tracing::warn!(path = %path.display(), %error, "the metadata log's committed id is unreadable; the next commit restores it");
            None
        }
    }
}

fn open_for_append(path: &Path) -> std::io::Result<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .read(true)
        .open(path)
}

impl LogStore {
    /// Opens the log in `dir` (created if absent), cutting a torn tail.
    pub fn open(dir: &Path) -> std::io::Result<LogStore> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join(LOG_FILE);
        let mut bytes = Vec::new();
        if let Ok(mut file) = File::open(&path) {
            file.read_to_end(&mut bytes)?;
        }
        let (entries, valid) = decode_frames(&bytes);
        let file = open_for_append(&path)?;
        if valid < bytes.len() {
            tracing::warn!(path = %path.display(), cut = bytes.len() - valid, "cutting a torn metadata log tail");
            file.set_len(valid as u64)?;
            file.sync_all()?;
        }
        let last_purged: Option<LogId<u64>> = read_json(&dir.join(PURGED_FILE))?;
        let purged_index = last_purged.map(|id| id.index);
        let entries = entries
            .into_iter()
            .filter(|entry| purged_index.is_none_or(|purged| entry.log_id.index > purged))
            .map(|entry| (entry.log_id.index, entry))
            .collect();
        Ok(LogStore {
            inner: Arc::new(Mutex::new(LogInner {
                dir: dir.to_path_buf(),
                file,
                entries,
                last_purged,
                vote: read_json(&dir.join(VOTE_FILE))?,
                committed: load_committed(&dir.join(COMMITTED_FILE)),
            })),
        })
    }

    fn lock(&self) -> MutexGuard<'_, LogInner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl LogInner {
    /// Rewrites the log file with the entries kept in memory.
    fn rewrite(&mut self) -> std::io::Result<()> {
        let mut bytes = Vec::new();
        for entry in self.entries.values() {
            bytes.extend_from_slice(&encode_frame(entry).map_err(std::io::Error::other)?);
        }
        let path = self.dir.join(LOG_FILE);
        write_atomically(&path, &bytes)?;
        self.file = open_for_append(&path)?;
        Ok(())
    }
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry<TypeConfig>>, StorageError> {
        let inner = self.lock();
        Ok(inner
            .entries
            .range(range)
            .map(|(_, entry)| entry.clone())
            .collect())
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = LogStore;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, StorageError> {
        let inner = self.lock();
        let last = inner
            .entries
            .values()
            .next_back()
            .map(|entry| *entry.get_log_id());
        Ok(LogState {
            last_purged_log_id: inner.last_purged,
            last_log_id: last.or(inner.last_purged),
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote<u64>) -> Result<(), StorageError> {
        let mut inner = self.lock();
        write_json(&inner.dir.join(VOTE_FILE), vote)
            .map_err(|e| storage_error(ErrorSubject::Vote, ErrorVerb::Write, e))?;
        inner.vote = Some(*vote);
        Ok(())
    }

    async fn read_vote(&mut self) -> Result<Option<Vote<u64>>, StorageError> {
        Ok(self.lock().vote)
    }

    async fn save_committed(&mut self, committed: Option<LogId<u64>>) -> Result<(), StorageError> {
        let mut inner = self.lock();
        serde_json::to_vec(&committed)
            .map_err(std::io::Error::other)
            .and_then(|bytes| replace_unforced(&inner.dir.join(COMMITTED_FILE), &bytes))
            .map_err(|e| storage_error(ErrorSubject::Store, ErrorVerb::Write, e))?;
        inner.committed = committed;
        Ok(())
    }

    async fn read_committed(&mut self) -> Result<Option<LogId<u64>>, StorageError> {
        Ok(self.lock().committed)
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: LogFlushed<TypeConfig>,
    ) -> Result<(), StorageError>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let mut inner = self.lock();
        let mut bytes = Vec::new();
        let mut appended = Vec::new();
        for entry in entries {
            let frame = encode_frame(&entry)
                .map_err(|e| storage_error(ErrorSubject::Logs, ErrorVerb::Write, e))?;
            bytes.extend_from_slice(&frame);
            appended.push(entry);
        }
        let file = &mut inner.file;
        if let Err(error) = file
            .write_all(&bytes)
            .and_then(|()| crate::durable::sync_data(file))
        {
            let copy = std::io::Error::new(error.kind(), error.to_string());
            callback.log_io_completed(Err(copy));
            return Err(storage_error(ErrorSubject::Logs, ErrorVerb::Write, error));
        }
        for entry in appended {
            inner.entries.insert(entry.log_id.index, entry);
        }
        callback.log_io_completed(Ok(()));
        Ok(())
    }

    async fn truncate(&mut self, log_id: LogId<u64>) -> Result<(), StorageError> {
        let mut inner = self.lock();
        let removed = inner.entries.split_off(&log_id.index);
        if !removed.is_empty() {
            inner
                .rewrite()
                .map_err(|e| storage_error(ErrorSubject::Logs, ErrorVerb::Write, e))?;
        }
        Ok(())
    }

    async fn purge(&mut self, log_id: LogId<u64>) -> Result<(), StorageError> {
        let mut inner = self.lock();
        // Record the purge first: a crash before the rewrite then only
        // leaves entries that opening filters out.
        write_json(&inner.dir.join(PURGED_FILE), &log_id)
            .map_err(|e| storage_error(ErrorSubject::Logs, ErrorVerb::Delete, e))?;
        inner.last_purged = Some(log_id);
        inner.entries = inner.entries.split_off(&(log_id.index + 1));
        inner
            .rewrite()
            .map_err(|e| storage_error(ErrorSubject::Logs, ErrorVerb::Delete, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controller::quorum::MetadataRecord;
    use openraft::{CommittedLeaderId, EntryPayload};

    fn entry(index: u64) -> Entry<TypeConfig> {
        Entry {
            log_id: LogId::new(CommittedLeaderId::new(1, 1), index),
            payload: EntryPayload::Normal(MetadataRecord::RemoveTopic {
                name: format!("t{index}"),
            }),
        }
    }

    #[test]
    fn a_torn_tail_is_cut_and_whole_entries_survive() {
        let dir = tempfile::tempdir().unwrap();
        let mut bytes = Vec::new();
        for index in 1..=3 {
            bytes.extend(encode_frame(&entry(index)).unwrap());
        }
        let whole = bytes.len();
        bytes.extend(&encode_frame(&entry(4)).unwrap()[..10]);
        std::fs::write(dir.path().join(LOG_FILE), &bytes).unwrap();
        let store = LogStore::open(dir.path()).unwrap();
        assert_eq!(store.lock().entries.len(), 3);
        assert_eq!(
            std::fs::metadata(dir.path().join(LOG_FILE)).unwrap().len(),
            whole as u64
        );
    }

    /// The committed id is written without a sync: a machine crash may
    /// leave it empty or torn, and the log must still open.
    #[tokio::test]
    async fn a_committed_id_is_read_back_and_an_unreadable_one_is_none() {
        let dir = tempfile::tempdir().unwrap();
        let committed = Some(LogId::new(CommittedLeaderId::new(2, 1), 7));
        let mut store = LogStore::open(dir.path()).unwrap();
        store.save_committed(committed).await.unwrap();
        assert_eq!(
            LogStore::open(dir.path()).unwrap().lock().committed,
            committed
        );
        for torn in [&b""[..], b"{\"leader_id\":{\"te"] {
            std::fs::write(dir.path().join(COMMITTED_FILE), torn).unwrap();
            assert_eq!(LogStore::open(dir.path()).unwrap().lock().committed, None);
        }
    }
}
