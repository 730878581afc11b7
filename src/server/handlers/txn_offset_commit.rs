//! TxnOffsetCommit (v0–v5): offsets committed inside a transaction. The
//! group's offsets partition must have joined the transaction
//! (AddOffsetsToTxn) — or, from v5 (transactions V2), joins it with this
//! request; the offsets are written now, under the producer's id and
//! epoch, and count once the transaction commits. v4+ answer a partition
//! outside the transaction with TRANSACTION_ABORTABLE, older versions with
//! INVALID_TXN_STATE.

use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::txn_offset_commit_response::{
    TxnOffsetCommitResponsePartition, TxnOffsetCommitResponseTopic,
};
use kafka_protocol::messages::{TxnOffsetCommitRequest, TxnOffsetCommitResponse};

use super::groups::{
    by_topic, committed_offset, coordinator_for, optional, split_unknown, PartitionErrors,
};
use super::topic_name;
use crate::broker::Broker;
use crate::error::KafkaError;
use crate::group::state::CommittedOffset;
use crate::group::TxnProducer;
use crate::metadata::acls::{AclOperation, ResourceType};
use crate::server::context::RequestContext;
use crate::txn::coordinator::TxnProtocol;
use crate::txn::state::TxnError;
use crate::types::TopicPartition;

/// TxnOffsetCommit learnt TRANSACTION_ABORTABLE in v4 (KIP-890).
const ABORTABLE_SINCE: i16 = 4;
/// The first TxnOffsetCommit version of transactions V2.
const V2_SINCE: i16 = 5;

pub async fn handle(
    broker: &Arc<Broker>,
    request: TxnOffsetCommitRequest,
    version: i16,
    context: &RequestContext,
) -> TxnOffsetCommitResponse {
    let requested: Vec<(TopicPartition, CommittedOffset)> = request
        .topics
        .iter()
        .flat_map(|topic| {
            topic.partitions.iter().map(move |p| {
                (
                    TopicPartition::new(topic.name.to_string(), p.partition_index),
                    committed_offset(
                        p.committed_offset,
                        p.committed_leader_epoch,
                        p.committed_metadata.as_ref(),
                    ),
                )
            })
        })
        .collect();
    let producer = TxnProducer {
        producer_id: request.producer_id.0,
        producer_epoch: request.producer_epoch,
    };
    // WRITE on the transactional id, READ on the group (each refusal
    // for every partition), then READ on each topic.
    let authz = context.authz(broker);
    let refused_all = if !authz.allows(
        AclOperation::Write,
        ResourceType::TransactionalId,
        &request.transactional_id,
    ) {
        Some(ResponseError::TransactionalIdAuthorizationFailed)
    } else if !authz.allows(AclOperation::Read, ResourceType::Group, &request.group_id) {
        Some(ResponseError::GroupAuthorizationFailed)
    } else {
        None
    };
    let (requested, mut refused): (Vec<_>, Vec<_>) = requested.into_iter().partition(|(p, _)| {
        refused_all.is_none() && authz.allows(AclOperation::Read, ResourceType::Topic, &p.topic)
    });
    drop(authz);
    let refused: Vec<(TopicPartition, Option<ResponseError>)> = refused
        .drain(..)
        .map(|(p, _)| {
            let error = refused_all.unwrap_or(ResponseError::TopicAuthorizationFailed);
            (p, Some(error))
        })
        .collect();
    let mut results = match requested.is_empty() {
        true => Vec::new(),
        false => match commit(broker, &request, version, producer, requested.clone()).await {
            Ok(results) => results,
            Err(error) => requested
                .into_iter()
                .map(|(p, _)| (p, Some(error)))
                .collect(),
        },
    };
    results.extend(refused);
    let topics = by_topic(results)
        .into_iter()
        .map(|(name, partitions)| {
            TxnOffsetCommitResponseTopic::default()
                .with_name(topic_name(&name))
                .with_partitions(
                    partitions
                        .into_iter()
                        .map(|(index, error)| {
                            TxnOffsetCommitResponsePartition::default()
                                .with_partition_index(index)
                                .with_error_code(error.map_or(0, |e| e.code()))
                        })
                        .collect(),
                )
        })
        .collect();
    TxnOffsetCommitResponse::default().with_topics(topics)
}

async fn commit(
    broker: &Arc<Broker>,
    request: &TxnOffsetCommitRequest,
    version: i16,
    producer: TxnProducer,
    requested: Vec<(TopicPartition, CommittedOffset)>,
) -> Result<PartitionErrors, ResponseError> {
    let group_id = request.group_id.as_str();
    let coordinator = coordinator_for(broker, group_id).await?;
    let protocol = match version >= V2_SINCE {
        true => TxnProtocol::V2,
        false => TxnProtocol::Classic,
    };
    let offsets_partition = broker.txn().offsets_partition(group_id);
    broker
        .txn()
        .verify(
            producer.producer_id,
            producer.producer_epoch,
            &offsets_partition,
            protocol,
        )
        .await
        .map_err(|error| match error {
            // The log answers a stale epoch this way for TxnOffsetCommit.
            TxnError::ProducerFenced { .. } => ResponseError::InvalidProducerEpoch,
            TxnError::InvalidTxnState(_) if version >= ABORTABLE_SINCE => {
                ResponseError::TransactionAbortable
            }
            other => other.kafka_error(),
        })?;
    let (known, mut results) = split_unknown(broker, requested);
    let member = (
        request.member_id.to_string(),
        request.generation_id,
        optional(&request.group_instance_id),
    );
    let committed = coordinator
        .txn_commit_offsets(group_id, producer, member, known)
        .await?;
    results.extend(committed);
    Ok(results)
}

/// The answer to `request` failing with `code` in every partition.
pub fn error_response(
    request: &TxnOffsetCommitRequest,
    _version: i16,
    code: i16,
) -> TxnOffsetCommitResponse {
    TxnOffsetCommitResponse::default().with_topics(
        request
            .topics
            .iter()
            .map(|t| {
                TxnOffsetCommitResponseTopic::default()
                    .with_name(t.name.clone())
                    .with_partitions(
                        t.partitions
                            .iter()
                            .map(|p| {
                                TxnOffsetCommitResponsePartition::default()
                                    .with_partition_index(p.partition_index)
                                    .with_error_code(code)
                            })
                            .collect(),
                    )
            })
            .collect(),
    )
}
