//! KIP-890 verification of transactional writes whose transactional id
//! another broker coordinates: the partition leader asks the coordinator
//! with AddPartitionsToTxn v5 (broker to broker, one transaction), which
//! checks that the partition is in the producer's open transaction
//! (transactions V1: `VerifyOnly`) or adds it (V2, where the write itself
//! starts the partition's part of the transaction). Without this, a V2
//! write to a partition led elsewhere would never get its marker: its
//! transaction would stay open there forever, holding the last stable
//! offset back.

use std::collections::HashMap;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::add_partitions_to_txn_request::{
    AddPartitionsToTxnTopic, AddPartitionsToTxnTransaction,
};
use kafka_protocol::messages::{AddPartitionsToTxnRequest, ProducerId, TopicName, TransactionalId};
use kafka_protocol::protocol::StrBytes;
use tokio::sync::Mutex;
use tracing::debug;

use super::coordinator::TxnProtocol;
use super::state::TxnError;
use crate::client::Connection;
use crate::config::client_security::ClientSecurityConfig;
use crate::metadata::MetadataImage;
use crate::types::TopicPartition;

/// The broker-to-broker version, with `VerifyOnly`.
const VERSION: i16 = 5;

/// Idle connections to coordinators, by address: a transactional write
/// asks its coordinator once per request, so connections are reused.
#[derive(Default)]
pub struct CoordinatorLinks {
    idle: Mutex<HashMap<String, Vec<Connection>>>,
}

/// At most this many idle connections are kept per coordinator.
const IDLE_PER_COORDINATOR: usize = 4;

impl CoordinatorLinks {
    /// Asks the broker leading `state_partition` (the transactional id's
    /// `__transaction_state` partition) to verify or add `partition`.
    #[allow(clippy::too_many_arguments)]
    pub async fn verify(
        &self,
        image: &MetadataImage,
        security: &ClientSecurityConfig,
        state_partition: &TopicPartition,
        transactional_id: &str,
        producer_id: i64,
        epoch: i16,
        partition: &TopicPartition,
        protocol: TxnProtocol,
    ) -> Result<(), TxnError> {
        let coordinator = image
            .topic(&state_partition.topic)
            .and_then(|t| {
                t.partitions
                    .get(usize::try_from(state_partition.partition).ok()?)
            })
            .and_then(|p| image.broker(p.leader))
            .ok_or(TxnError::NotCoordinator)?;
        let address = format!("{}:{}", coordinator.host, coordinator.port);
        let request = AddPartitionsToTxnRequest::default().with_transactions(vec![
            AddPartitionsToTxnTransaction::default()
                .with_transactional_id(TransactionalId(StrBytes::from_string(
                    transactional_id.to_string(),
                )))
                .with_producer_id(ProducerId(producer_id))
                .with_producer_epoch(epoch)
                .with_verify_only(protocol == TxnProtocol::Classic)
                .with_topics(vec![AddPartitionsToTxnTopic::default()
                    .with_name(TopicName(StrBytes::from_string(partition.topic.clone())))
                    .with_partitions(vec![partition.partition])]),
        ]);
        let unavailable = |why: String| {
            debug!(coordinator = %address, %why, "transaction verification failed");
            TxnError::CoordinatorNotAvailable(why)
        };
        let pooled = self.idle.lock().await.get_mut(&address).and_then(Vec::pop);
        let mut connection = match pooled {
            Some(connection) => connection,
            None => Connection::connect_with(&address, "gregor-txn-verification", security)
                .await
                .map_err(|e| unavailable(e.to_string()))?,
        };
        let response = connection
            .request_at(request, VERSION)
            .await
            .map_err(|e| unavailable(e.to_string()))?;
        {
            let mut idle = self.idle.lock().await;
            let spare = idle.entry(address.clone()).or_default();
            if spare.len() < IDLE_PER_COORDINATOR {
                spare.push(connection);
            }
        }
        let code = std::iter::once(response.error_code)
            .chain(
                response
                    .results_by_transaction
                    .iter()
                    .flat_map(|t| &t.topic_results)
                    .flat_map(|t| &t.results_by_partition)
                    .map(|p| p.partition_error_code),
            )
            .find(|code| *code != 0);
        match code {
            None => Ok(()),
            Some(code) => Err(error_of(code)),
        }
    }
}

/// The coordinator's refusal as the partition leader answers it.
fn error_of(code: i16) -> TxnError {
    match ResponseError::try_from_code(code) {
        Some(ResponseError::NotCoordinator) => TxnError::NotCoordinator,
        Some(ResponseError::CoordinatorLoadInProgress)
        | Some(ResponseError::CoordinatorNotAvailable) => {
            TxnError::CoordinatorNotAvailable(format!("the coordinator answered error {code}"))
        }
        Some(ResponseError::ProducerFenced) | Some(ResponseError::InvalidProducerEpoch) => {
            TxnError::ProducerFenced {
                given: -1,
                current: -1,
            }
        }
        Some(ResponseError::ConcurrentTransactions) => TxnError::ConcurrentTransactions,
        _ => TxnError::InvalidTxnState(format!(
            "the transaction coordinator refused the partition (error {code})"
        )),
    }
}
