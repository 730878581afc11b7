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
