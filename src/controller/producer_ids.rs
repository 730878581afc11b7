//! Producer-id blocks (Kafka's `ProducerIdControlManager`).

use super::quorum::{self, MetadataRecord, MetadataResponse};
use super::{Controller, ControllerError, PRODUCER_ID_BLOCK_SIZE};

impl Controller {
    /// Hands out the next block of producer ids, committed before it is
    /// used so that no id is ever given twice, even across restarts.
    pub fn allocate_producer_ids(&self) -> Result<std::ops::Range<i64>, ControllerError> {
        let _writer = self.write_lock.lock().unwrap_or_else(|p| p.into_inner());
        let record = MetadataRecord::AllocateProducerIds {
            block_size: PRODUCER_ID_BLOCK_SIZE,
        };
        match self.commit(vec![record])?.pop() {
            Some(MetadataResponse::ProducerIds { start, end }) => Ok(start..end),
            other => Err(quorum::QuorumError::Raft(format!(
                "producer id allocation answered {other:?}"
            ))
            .into()),
        }
    }
}
