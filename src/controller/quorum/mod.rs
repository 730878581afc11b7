//! The metadata quorum: the controller's state replicated by Raft
//! (openraft, storage v2) across the voters of `controller.quorum.voters`.
//!
//! - `records.rs`: what the metadata log holds (brokers, topics with their
//!   partitions, leaders and ISR, producer-id blocks, dynamic broker
//!   configs) and the state it folds into;
//! - `log_store.rs`: the durable Raft log (entries, vote, committed id);
//! - `state_machine.rs`: the applied metadata state and its snapshots;
//! - `network.rs`: Raft's RPCs between controllers, length-prefixed JSON
//!   over the controller listener.
//!
//! The leader validates a change before proposing it; applying a record is
//! deterministic, so every voter and learner folds the log into the same
//! state.

pub mod log_store;
pub mod network;
pub mod records;
pub mod state_machine;

use std::io::Cursor;

pub use records::{MetadataRecord, MetadataResponse, MetadataState};

openraft::declare_raft_types!(
    /// The Raft types of gregor's metadata quorum.
    pub TypeConfig:
        D = MetadataRecord,
        R = MetadataResponse,
        NodeId = u64,
        Node = openraft::BasicNode,
        Entry = openraft::Entry<TypeConfig>,
        SnapshotData = Cursor<Vec<u8>>,
        AsyncRuntime = openraft::TokioRuntime,
);

/// The Raft handle of one controller.
pub type MetadataRaft = openraft::Raft<TypeConfig>;

/// Where the metadata log lives in the data directory (Kafka's name for
/// the KRaft log); the log manager leaves it alone.
pub const METADATA_LOG_DIR: &str = "__cluster_metadata-0";

/// Why the quorum could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum QuorumError {
    #[error("metadata log storage failed: {0}")]
    Storage(#[from] std::io::Error),
    #[error("metadata quorum: {0}")]
    Raft(String),
}

/// One controller's part in the quorum, used from blocking threads: the
/// controller validates on the caller's thread and waits here for its
/// records to be committed and applied.
pub struct Quorum {
    raft: MetadataRaft,
    state: state_machine::StateMachineStore,
    runtime: tokio::runtime::Handle,
}

impl Quorum {
    /// Starts this node as the only voter (the single-broker default),
    /// initialising the quorum on first start, and waits until it leads.
    /// Call from a thread outside the runtime (a blocking task).
    pub fn start_single_voter(
        data_dir: &std::path::Path,
        node_id: u64,
        runtime: tokio::runtime::Handle,
    ) -> Result<Quorum, QuorumError> {
        let dir = data_dir.join(METADATA_LOG_DIR);
        let log = log_store::LogStore::open(&dir)?;
        let state = state_machine::StateMachineStore::open(&dir)?;
        let config = openraft::Config {
            cluster_name: "gregor".to_string(),
            heartbeat_interval: 50,
            election_timeout_min: 150,
            election_timeout_max: 300,
            ..Default::default()
        }
        .validate()
        .map_err(|e| QuorumError::Raft(e.to_string()))?;
        let raft = runtime
            .block_on(MetadataRaft::new(
                node_id,
                std::sync::Arc::new(config),
                network::QuorumNetwork,
                log,
                state.clone(),
            ))
            .map_err(|e| QuorumError::Raft(e.to_string()))?;
        let quorum = Quorum {
            raft,
            state,
            runtime,
        };
        quorum.runtime.block_on(quorum.lead_alone(node_id))?;
        Ok(quorum)
    }

    async fn lead_alone(&self, node_id: u64) -> Result<(), QuorumError> {
        let raft_error = |e: &dyn std::fmt::Display| QuorumError::Raft(e.to_string());
        if !self
            .raft
            .is_initialized()
            .await
            .map_err(|e| raft_error(&e))?
        {
            let members =
                std::collections::BTreeMap::from([(node_id, openraft::BasicNode::default())]);
            self.raft
                .initialize(members)
                .await
                .map_err(|e| raft_error(&e))?;
        } else {
            // A lone voter need not wait out an election timeout.
            self.raft
                .trigger()
                .elect()
                .await
                .map_err(|e| raft_error(&e))?;
        }
        self.raft
            .wait(Some(std::time::Duration::from_secs(30)))
            .current_leader(node_id, "this controller leads")
            .await
            .map_err(|e| raft_error(&e))?;
        Ok(())
    }

    /// Proposes a record and waits until it is committed and applied.
    pub fn propose(&self, record: MetadataRecord) -> Result<MetadataResponse, QuorumError> {
        self.runtime
            .block_on(self.raft.client_write(record))
            .map(|written| written.data)
            .map_err(|e| QuorumError::Raft(e.to_string()))
    }

    /// The applied metadata.
    pub fn state(&self) -> std::sync::Arc<MetadataState> {
        self.state.state()
    }

    /// Stops the Raft tasks (clean shutdown).
    pub fn shutdown(&self) {
        if let Err(error) = self.runtime.block_on(self.raft.shutdown()) {
            tracing::warn!(%error, "metadata quorum did not stop cleanly");
        }
    }
}

/// A storage failure, in openraft's terms.
pub type StorageError = openraft::StorageError<u64>;

/// Turns an I/O failure of `subject`/`verb` into openraft's error.
pub(crate) fn storage_error(
    subject: openraft::ErrorSubject<u64>,
    verb: openraft::ErrorVerb,
    error: impl std::error::Error + 'static,
) -> StorageError {
    openraft::StorageIOError::new(subject, verb, openraft::AnyError::new(&error)).into()
}

#[cfg(test)]
mod tests {
    use super::log_store::LogStore;
    use super::state_machine::StateMachineStore;
    use super::{StorageError, TypeConfig};
    use openraft::testing::{StoreBuilder, Suite};

    struct OnDisk;

    impl StoreBuilder<TypeConfig, LogStore, StateMachineStore, tempfile::TempDir> for OnDisk {
        async fn build(
            &self,
        ) -> Result<(tempfile::TempDir, LogStore, StateMachineStore), StorageError> {
            let dir = tempfile::tempdir().map_err(|e| {
                super::storage_error(openraft::ErrorSubject::Store, openraft::ErrorVerb::Write, e)
            })?;
            let open = |e| {
                super::storage_error(openraft::ErrorSubject::Store, openraft::ErrorVerb::Read, e)
            };
            let log = LogStore::open(dir.path()).map_err(open)?;
            let state_machine = StateMachineStore::open(dir.path()).map_err(open)?;
            Ok((dir, log, state_machine))
        }
    }

    /// openraft's own conformance suite for log and state-machine storage.
    #[test]
    fn the_storage_passes_openraft_s_suite() {
        Suite::test_all(OnDisk).unwrap();
    }
}
