//! DescribeTransactions (v0): the coordinator's live state of each
//! transactional id: state, producer id and epoch, timeout, start time and
//! the partitions of the open transaction.

use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::describe_transactions_response::{TopicData, TransactionState};
use kafka_protocol::messages::{
    DescribeTransactionsRequest, DescribeTransactionsResponse, ProducerId,
};

use super::groups::str_bytes;
use super::topic_name;
use crate::broker::Broker;
use crate::metadata::acls::{AclOperation, ResourceType};
use crate::server::context::RequestContext;

pub async fn handle(
    broker: &Arc<Broker>,
    request: DescribeTransactionsRequest,
    _version: i16,
    context: &RequestContext,
) -> DescribeTransactionsResponse {
    let authz = context.authz(broker);
    let mut states = Vec::with_capacity(request.transactional_ids.len());
    for id in request.transactional_ids {
        if !authz.allows(AclOperation::Describe, ResourceType::TransactionalId, &id) {
            states.push(
                TransactionState::default()
                    .with_transactional_id(id)
                    .with_error_code(ResponseError::TransactionalIdAuthorizationFailed.code()),
            );
            continue;
        }
        let state = TransactionState::default()
            .with_transactional_id(id.clone())
            .with_transaction_state(str_bytes(""))
            .with_transaction_start_time_ms(-1)
            .with_producer_id(ProducerId(-1))
            .with_producer_epoch(-1);
        let Some(meta) = broker.txn().describe(&id).await else {
            states.push(state.with_error_code(ResponseError::TransactionalIdNotFound.code()));
            continue;
        };
        let topics = meta
            .partitions_by_topic()
            .into_iter()
            // Topics one may not DESCRIBE are left out, silently.
            .filter(|(topic, _)| authz.allows(AclOperation::Describe, ResourceType::Topic, topic))
            .map(|(topic, partitions)| {
                TopicData::default()
                    .with_topic(topic_name(topic))
                    .with_partitions(partitions)
            })
            .collect();
        states.push(
            state
                .with_transaction_state(str_bytes(meta.state.name()))
                .with_transaction_timeout_ms(meta.timeout_ms)
                .with_transaction_start_time_ms(meta.start_timestamp)
                .with_producer_id(ProducerId(meta.producer_id))
                .with_producer_epoch(meta.producer_epoch)
                .with_topics(topics),
        );
    }
    DescribeTransactionsResponse::default().with_transaction_states(states)
}

/// The answer to `request` failing with `code` for every transactional id.
pub fn error_response(
    request: &DescribeTransactionsRequest,
    _version: i16,
    code: i16,
) -> DescribeTransactionsResponse {
    DescribeTransactionsResponse::default().with_transaction_states(
        request
            .transactional_ids
            .iter()
            .map(|id| {
                TransactionState::default()
                    .with_transactional_id(id.clone())
                    .with_error_code(code)
            })
            .collect(),
    )
}
