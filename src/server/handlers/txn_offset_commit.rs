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

use super::groups::{coordinator_for, optional};
use super::topic_name;
use crate::broker::Broker;
use crate::error::KafkaError;
use crate::group::state::CommittedOffset;
use crate::group::TxnProducer;
use crate::txn::coordinator::TxnProtocol;
use crate::txn::state::TxnError;

/// TxnOffsetCommit learnt TRANSACTION_ABORTABLE in v4 (KIP-890).
const ABORTABLE_SINCE: i16 = 4;
/// The first TxnOffsetCommit version of transactions V2.
const V2_SINCE: i16 = 5;
use crate::types::{now_ms, TopicPartition};

pub async fn handle(
    broker: &Arc<Broker>,
    request: TxnOffsetCommitRequest,
    version: i16,
) -> TxnOffsetCommitResponse {
    let requested: Vec<(TopicPartition, CommittedOffset)> = request
        .topics
        .iter()
        .flat_map(|topic| {
            topic.partitions.iter().map(move |p| {
                (
                    TopicPartition::new(topic.name.to_string(), p.partition_index),
                    CommittedOffset {
                        offset: p.committed_offset,
                        leader_epoch: p.committed_leader_epoch,
                        metadata: p
                            .committed_metadata
                            .as_ref()
                            .map(|m| m.to_string())
                            .unwrap_or_default(),
                        commit_timestamp: now_ms(),
                    },
                )
            })
        })
        .collect();
    let producer = TxnProducer {
        producer_id: request.producer_id.0,
        producer_epoch: request.producer_epoch,
    };
    let results = match commit(broker, &request, version, producer, requested.clone()).await {
        Ok(results) => results,
        Err(error) => requested
            .into_iter()
            .map(|(p, _)| (p, Some(error)))
            .collect(),
    };
    let mut topics: Vec<TxnOffsetCommitResponseTopic> = Vec::new();
    for (partition, error) in results {
        let entry = TxnOffsetCommitResponsePartition::default()
            .with_partition_index(partition.partition)
            .with_error_code(error.map_or(0, |e| e.code()));
        match topics
            .iter_mut()
            .find(|t| t.name.as_str() == partition.topic)
        {
            Some(topic) => topic.partitions.push(entry),
            None => topics.push(
                TxnOffsetCommitResponseTopic::default()
                    .with_name(topic_name(&partition.topic))
                    .with_partitions(vec![entry]),
            ),
        }
    }
    TxnOffsetCommitResponse::default().with_topics(topics)
}

async fn commit(
    broker: &Arc<Broker>,
    request: &TxnOffsetCommitRequest,
    version: i16,
    producer: TxnProducer,
    requested: Vec<(TopicPartition, CommittedOffset)>,
) -> Result<Vec<(TopicPartition, Option<ResponseError>)>, ResponseError> {
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
    let image = broker.metadata();
    let (known, unknown): (Vec<_>, Vec<_>) = requested.into_iter().partition(|(p, _)| {
        image
            .topic(&p.topic)
            .is_some_and(|t| p.partition >= 0 && (p.partition as usize) < t.partitions.len())
    });
    let mut results: Vec<(TopicPartition, Option<ResponseError>)> = unknown
        .into_iter()
        .map(|(p, _)| (p, Some(ResponseError::UnknownTopicOrPartition)))
        .collect();
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
