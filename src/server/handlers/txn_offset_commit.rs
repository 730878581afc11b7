//! TxnOffsetCommit (v0–v6): offsets committed inside a transaction. The
//! group's offsets partition must have joined the transaction
//! (AddOffsetsToTxn) — or, from v5 (transactions V2), joins it with this
//! request; the offsets are written now, under the producer's id and
//! epoch, and count once the transaction commits. v4+ answer a partition
//! outside the transaction with TRANSACTION_ABORTABLE, older versions with
//! INVALID_TXN_STATE. v6 (KIP-1319) names topics by id (UNKNOWN_TOPIC_ID
//! for an id the metadata does not know) and answers GROUP_ID_NOT_FOUND
//! and STALE_MEMBER_EPOCH, which older versions get as ILLEGAL_GENERATION.

use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::txn_offset_commit_response::{
    TxnOffsetCommitResponsePartition, TxnOffsetCommitResponseTopic,
};
use kafka_protocol::messages::{TxnOffsetCommitRequest, TxnOffsetCommitResponse};

use super::groups::{
    by_topic, committed_offset, coordinator_for, optional, split_unknown, PartitionErrors, TopicIds,
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
/// Topic ids, GROUP_ID_NOT_FOUND and STALE_MEMBER_EPOCH (KIP-1319).
const TOPIC_IDS_SINCE: i16 = 6;

pub async fn handle(
    broker: &Arc<Broker>,
    request: TxnOffsetCommitRequest,
    version: i16,
    context: &RequestContext,
) -> TxnOffsetCommitResponse {
    let mut ids = TopicIds::new(broker, version >= TOPIC_IDS_SINCE);
    let mut unknown_ids = Vec::new();
    let mut requested: Vec<(TopicPartition, CommittedOffset)> = Vec::new();
    for topic in &request.topics {
        let Some(name) = ids.name(&topic.name, topic.topic_id) else {
            let partitions = topic.partitions.iter().map(|p| p.partition_index);
            unknown_ids.push(answer_topic(
                TxnOffsetCommitResponseTopic::default().with_topic_id(topic.topic_id),
                partitions.map(|index| (index, Some(ResponseError::UnknownTopicId))),
            ));
            continue;
        };
        for p in &topic.partitions {
            requested.push((
                TopicPartition::new(name.clone(), p.partition_index),
                committed_offset(
                    p.committed_offset,
                    p.committed_leader_epoch,
                    p.committed_metadata.as_ref(),
                ),
            ));
        }
    }
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
    let mut topics: Vec<TxnOffsetCommitResponseTopic> = by_topic(results)
        .into_iter()
        .map(|(name, partitions)| {
            let topic = match ids.id_of(&name) {
                Some(id) => TxnOffsetCommitResponseTopic::default().with_topic_id(id),
                None => TxnOffsetCommitResponseTopic::default().with_name(topic_name(&name)),
            };
            answer_topic(topic, partitions)
        })
        .collect();
    topics.append(&mut unknown_ids);
    TxnOffsetCommitResponse::default().with_topics(topics)
}

fn answer_topic(
    topic: TxnOffsetCommitResponseTopic,
    partitions: impl IntoIterator<Item = (i32, Option<ResponseError>)>,
) -> TxnOffsetCommitResponseTopic {
    topic.with_partitions(
        partitions
            .into_iter()
            .map(|(index, error)| {
                TxnOffsetCommitResponsePartition::default()
                    .with_partition_index(index)
                    .with_error_code(error.map_or(0, |e| e.code()))
            })
            .collect(),
    )
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
            Some(request.transactional_id.as_str()),
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
        .await
        .map_err(|error| match error {
            ResponseError::GroupIdNotFound | ResponseError::StaleMemberEpoch
                if version < TOPIC_IDS_SINCE =>
            {
                ResponseError::IllegalGeneration
            }
            other => other,
        })?;
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
                    .with_topic_id(t.topic_id)
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
