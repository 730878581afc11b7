//! AddPartitionsToTxn. v0–v3, the client path: the partitions join the
//! producer's open transaction. An unknown partition fails the request:
//! it gets UNKNOWN_TOPIC_OR_PARTITION and the others OPERATION_NOT_ATTEMPTED,
//! and nothing is added, as Kafka answers. v4–v5, broker to broker (KIP-890):
//! a partition leader asks the coordinator to verify (`VerifyOnly`,
//! transactions V1) or add (V2) the partitions a transactional write goes
//! to; CLUSTER_ACTION needed.

use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::add_partitions_to_txn_response::{
    AddPartitionsToTxnPartitionResult, AddPartitionsToTxnResult, AddPartitionsToTxnTopicResult,
};
use kafka_protocol::messages::{AddPartitionsToTxnRequest, AddPartitionsToTxnResponse};

use super::topic_name;
use crate::broker::Broker;
use crate::error::txn_error_code;
use crate::metadata::acls::{AclOperation, ResourceType};
use crate::server::context::RequestContext;
use crate::txn::coordinator::TxnProtocol;
use crate::types::TopicPartition;

/// AddPartitionsToTxn learnt PRODUCER_FENCED in v2 (KIP-588).
const FENCED_SINCE: i16 = 2;

/// The first version sent by partition leaders, batching transactions.
const BROKER_SINCE: i16 = 4;

pub async fn handle(
    broker: &Arc<Broker>,
    request: AddPartitionsToTxnRequest,
    version: i16,
    context: &RequestContext,
) -> AddPartitionsToTxnResponse {
    if version >= BROKER_SINCE {
        return verify_for_leader(broker, request, version, context).await;
    }
    let wanted: Vec<TopicPartition> = request
        .v3_and_below_topics
        .iter()
        .flat_map(|topic| {
            topic
                .partitions
                .iter()
                .map(|p| TopicPartition::new(topic.name.to_string(), *p))
        })
        .collect();
    // WRITE on the transactional id, else every partition is refused;
    // then WRITE on each topic (internal topics never count as written to
    // by clients). One refused or unknown partition fails the others
    // with OPERATION_NOT_ATTEMPTED.
    let authz = context.authz(broker);
    let id_allowed = authz.allows(
        AclOperation::Write,
        ResourceType::TransactionalId,
        &request.v3_and_below_transactional_id,
    );
    let failures: Vec<Option<ResponseError>> = wanted
        .iter()
        .map(|tp| {
            let internal = tp.topic.starts_with("__");
            if !id_allowed {
                Some(ResponseError::TransactionalIdAuthorizationFailed)
            } else if internal || !authz.allows(AclOperation::Write, ResourceType::Topic, &tp.topic)
            {
                Some(ResponseError::TopicAuthorizationFailed)
            } else if broker.partition(tp).is_none() {
                Some(ResponseError::UnknownTopicOrPartition)
            } else {
                None
            }
        })
        .collect();
    drop(authz);
    let any_failed = failures.iter().any(Option::is_some);
    let code_for = |index: usize, code: i16| -> i16 {
        match (any_failed, failures[index]) {
            (true, Some(error)) => error.code(),
            (true, None) => ResponseError::OperationNotAttempted.code(),
            (false, _) => code,
        }
    };
    let code = if any_failed {
        0
    } else {
        let result = broker
            .txn()
            .add_partitions(
                &request.v3_and_below_transactional_id,
                request.v3_and_below_producer_id.0,
                request.v3_and_below_producer_epoch,
                wanted.clone(),
            )
            .await;
        match result {
            Ok(()) => 0,
            Err(error) => txn_error_code(&error, version, FENCED_SINCE),
        }
    };
    let mut topics: Vec<AddPartitionsToTxnTopicResult> = Vec::new();
    for (index, partition) in wanted.iter().enumerate() {
        let result = AddPartitionsToTxnPartitionResult::default()
            .with_partition_index(partition.partition)
            .with_partition_error_code(code_for(index, code));
        match topics.last_mut() {
            Some(last) if last.name.as_str() == partition.topic => {
                last.results_by_partition.push(result)
            }
            _ => topics.push(
                AddPartitionsToTxnTopicResult::default()
                    .with_name(topic_name(&partition.topic))
                    .with_results_by_partition(vec![result]),
            ),
        }
    }
    AddPartitionsToTxnResponse::default().with_results_by_topic_v3_and_below(topics)
}

/// A partition leader's request: each transaction's partitions verified
/// or added by this broker, their coordinator.
async fn verify_for_leader(
    broker: &Arc<Broker>,
    request: AddPartitionsToTxnRequest,
    version: i16,
    context: &RequestContext,
) -> AddPartitionsToTxnResponse {
    if !context.may_on_cluster(broker, AclOperation::ClusterAction) {
        return error_response(
            &request,
            version,
            ResponseError::ClusterAuthorizationFailed.code(),
        );
    }
    let mut results = Vec::with_capacity(request.transactions.len());
    for transaction in request.transactions {
        let protocol = match transaction.verify_only {
            true => TxnProtocol::Classic,
            false => TxnProtocol::V2,
        };
        let mut topic_results = Vec::with_capacity(transaction.topics.len());
        for topic in transaction.topics {
            let mut partitions = Vec::with_capacity(topic.partitions.len());
            for index in topic.partitions {
                let partition = TopicPartition::new(topic.name.to_string(), index);
                let verified = broker
                    .txn()
                    .verify_here(
                        &transaction.transactional_id,
                        transaction.producer_id.0,
                        transaction.producer_epoch,
                        &partition,
                        protocol,
                    )
                    .await;
                let code = match verified {
                    Ok(()) => 0,
                    Err(error) => txn_error_code(&error, version, FENCED_SINCE),
                };
                partitions.push(
                    AddPartitionsToTxnPartitionResult::default()
                        .with_partition_index(index)
                        .with_partition_error_code(code),
                );
            }
            topic_results.push(
                AddPartitionsToTxnTopicResult::default()
                    .with_name(topic.name)
                    .with_results_by_partition(partitions),
            );
        }
        results.push(
            AddPartitionsToTxnResult::default()
                .with_transactional_id(transaction.transactional_id)
                .with_topic_results(topic_results),
        );
    }
    AddPartitionsToTxnResponse::default().with_results_by_transaction(results)
}

/// The answer to `request` failing with `code`: in every partition of a
/// client's (v3 and below) request, at the top of a leader's.
pub fn error_response(
    request: &AddPartitionsToTxnRequest,
    version: i16,
    code: i16,
) -> AddPartitionsToTxnResponse {
    if version >= BROKER_SINCE {
        return AddPartitionsToTxnResponse::default().with_error_code(code);
    }
    AddPartitionsToTxnResponse::default().with_results_by_topic_v3_and_below(
        request
            .v3_and_below_topics
            .iter()
            .map(|t| {
                AddPartitionsToTxnTopicResult::default()
                    .with_name(t.name.clone())
                    .with_results_by_partition(
                        t.partitions
                            .iter()
                            .map(|p| {
                                AddPartitionsToTxnPartitionResult::default()
                                    .with_partition_index(*p)
                                    .with_partition_error_code(code)
                            })
                            .collect(),
                    )
            })
            .collect(),
    )
}
