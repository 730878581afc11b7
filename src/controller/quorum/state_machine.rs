//! The applied side of the metadata quorum: the state the log folds into,
//! the last applied log id and membership, and snapshots of it (kept in
//! `raft-snapshot.json`, so that a restart starts from the latest one and
//! replays only the log after it).
//!
//! Every apply publishes the new state on a watch channel: the broker's
//! metadata image follows it.

use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use openraft::storage::{RaftStateMachine, Snapshot, SnapshotMeta};
use openraft::{
    Entry, EntryPayload, ErrorSubject, ErrorVerb, LogId, OptionalSend, RaftSnapshotBuilder,
    StoredMembership,
};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use super::{
    storage_error, ControllerNode, MetadataResponse, MetadataState, StorageError, TypeConfig,
};
use crate::durable::write_atomically;

const SNAPSHOT_FILE: &str = "raft-snapshot.json";

#[derive(Debug, Clone, Serialize, Deserialize)]
struct StoredSnapshot {
    meta: SnapshotMeta<u64, ControllerNode>,
    data: Vec<u8>,
}

struct Applied {
    dir: PathBuf,
    state: MetadataState,
    last_applied: Option<LogId<u64>>,
    membership: StoredMembership<u64, ControllerNode>,
    snapshot: Option<StoredSnapshot>,
    snapshots_built: u64,
}

/// The state machine; clones share it (openraft builds snapshots through
/// a clone).
#[derive(Clone)]
pub struct StateMachineStore {
    applied: Arc<Mutex<Applied>>,
    published: watch::Sender<Arc<MetadataState>>,
}

impl StateMachineStore {
    /// Opens the state machine in `dir`, from its latest snapshot if any.
    pub fn open(dir: &Path) -> std::io::Result<StateMachineStore> {
        std::fs::create_dir_all(dir)?;
        let snapshot: Option<StoredSnapshot> = match std::fs::read(dir.join(SNAPSHOT_FILE)) {
            Ok(bytes) => Some(serde_json::from_slice(&bytes).map_err(std::io::Error::other)?),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => None,
            Err(error) => return Err(error),
        };
        let (state, last_applied, membership) = match &snapshot {
            Some(stored) => (
                serde_json::from_slice(&stored.data).map_err(std::io::Error::other)?,
                stored.meta.last_log_id,
                stored.meta.last_membership.clone(),
            ),
            None => (MetadataState::default(), None, StoredMembership::default()),
        };
        let (published, _) = watch::channel(Arc::new(state.clone()));
        Ok(StateMachineStore {
            applied: Arc::new(Mutex::new(Applied {
                dir: dir.to_path_buf(),
                state,
                last_applied,
                membership,
                snapshot,
                snapshots_built: 0,
            })),
            published,
        })
    }

    fn lock(&self) -> MutexGuard<'_, Applied> {
        self.applied.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The applied metadata, updated at every apply.
    pub fn subscribe(&self) -> watch::Receiver<Arc<MetadataState>> {
        self.published.subscribe()
    }

    /// The applied metadata now.
    pub fn state(&self) -> Arc<MetadataState> {
        self.published.borrow().clone()
    }
}

fn save_snapshot(dir: &Path, snapshot: &StoredSnapshot) -> std::io::Result<()> {
    let bytes = serde_json::to_vec(snapshot).map_err(std::io::Error::other)?;
    write_atomically(&dir.join(SNAPSHOT_FILE), &bytes)
}

/// The error of writing a snapshot, in openraft's terms.
fn snapshot_write_error(
    meta: &SnapshotMeta<u64, ControllerNode>,
    error: std::io::Error,
) -> StorageError {
    storage_error(
        ErrorSubject::Snapshot(Some(meta.signature())),
        ErrorVerb::Write,
        error,
    )
}

impl RaftSnapshotBuilder<TypeConfig> for StateMachineStore {
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>, StorageError> {
        let mut applied = self.lock();
        let data = serde_json::to_vec(&applied.state).map_err(|e| {
            storage_error(
                ErrorSubject::StateMachine,
                ErrorVerb::Read,
                std::io::Error::other(e),
            )
        })?;
        applied.snapshots_built += 1;
        let snapshot_id = match applied.last_applied {
            Some(id) => format!("{}-{}-{}", id.leader_id, id.index, applied.snapshots_built),
            None => format!("empty-{}", applied.snapshots_built),
        };
        let meta = SnapshotMeta {
            last_log_id: applied.last_applied,
            last_membership: applied.membership.clone(),
            snapshot_id,
        };
        let stored = StoredSnapshot {
            meta: meta.clone(),
            data: data.clone(),
        };
        save_snapshot(&applied.dir, &stored).map_err(|e| snapshot_write_error(&meta, e))?;
        applied.snapshot = Some(stored);
        Ok(Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(data)),
        })
    }
}

impl RaftStateMachine<TypeConfig> for StateMachineStore {
    type SnapshotBuilder = StateMachineStore;

    async fn applied_state(
        &mut self,
    ) -> Result<(Option<LogId<u64>>, StoredMembership<u64, ControllerNode>), StorageError> {
        let applied = self.lock();
        Ok((applied.last_applied, applied.membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<MetadataResponse>, StorageError>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let mut applied = self.lock();
        let mut responses = Vec::new();
        for entry in entries {
            applied.last_applied = Some(entry.log_id);
            let response = match entry.payload {
                EntryPayload::Blank => MetadataResponse::Applied,
                EntryPayload::Normal(record) => applied.state.apply(&record),
                EntryPayload::Membership(membership) => {
                    applied.membership = StoredMembership::new(Some(entry.log_id), membership);
                    MetadataResponse::Applied
                }
            };
            responses.push(response);
        }
        self.published.send_replace(Arc::new(applied.state.clone()));
        Ok(responses)
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        self.clone()
    }

    async fn begin_receiving_snapshot(&mut self) -> Result<Box<Cursor<Vec<u8>>>, StorageError> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta<u64, ControllerNode>,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> Result<(), StorageError> {
        let data = snapshot.into_inner();
        let state: MetadataState = serde_json::from_slice(&data).map_err(|e| {
            storage_error(
                ErrorSubject::Snapshot(Some(meta.signature())),
                ErrorVerb::Read,
                std::io::Error::other(e),
            )
        })?;
        let mut applied = self.lock();
        let stored = StoredSnapshot {
            meta: meta.clone(),
            data,
        };
        save_snapshot(&applied.dir, &stored).map_err(|e| snapshot_write_error(meta, e))?;
        applied.state = state;
        applied.last_applied = meta.last_log_id;
        applied.membership = meta.last_membership.clone();
        applied.snapshot = Some(stored);
        self.published.send_replace(Arc::new(applied.state.clone()));
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot<TypeConfig>>, StorageError> {
        let applied = self.lock();
        Ok(applied.snapshot.as_ref().map(|stored| Snapshot {
            meta: stored.meta.clone(),
            snapshot: Box::new(Cursor::new(stored.data.clone())),
        }))
    }
}
