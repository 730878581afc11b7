//! ListTransactions (v0–v2): the transactional ids this broker coordinates,
//! filtered by state, producer id, (v1) how long they have been running and
//! (v2, KIP-1152) a regular expression the whole id must match; a pattern
//! that does not compile answers INVALID_REGULAR_EXPRESSION.

use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::list_transactions_response::TransactionState;
use kafka_protocol::messages::{
    ListTransactionsRequest, ListTransactionsResponse, ProducerId, TransactionalId,
};

use super::groups::str_bytes;
use crate::broker::Broker;
use crate::metadata::acls::{AclOperation, ResourceType};
use crate::server::context::RequestContext;
use crate::txn::state::TxnState;
use crate::types::now_ms;

const STATES: [TxnState; 8] = [
    TxnState::Empty,
    TxnState::Ongoing,
    TxnState::PrepareCommit,
    TxnState::PrepareAbort,
    TxnState::CompleteCommit,
    TxnState::CompleteAbort,
    TxnState::Dead,
    TxnState::PrepareEpochFence,
];

pub async fn handle(
    broker: &Arc<Broker>,
    request: ListTransactionsRequest,
    _version: i16,
    context: &RequestContext,
) -> ListTransactionsResponse {
    // Null or empty: every id.
    let pattern = match request.transactional_id_pattern.as_deref() {
        None | Some("") => None,
        Some(pattern) => match regex::Regex::new(&format!("^(?:{pattern})$")) {
            Ok(compiled) => Some(compiled),
            Err(_) => {
                return ListTransactionsResponse::default()
                    .with_error_code(ResponseError::InvalidRegularExpression.code())
            }
        },
    };
    let authz = context.authz(broker);
    let unknown_filters: Vec<_> = request
        .state_filters
        .iter()
        .filter(|f| !STATES.iter().any(|s| s.name() == f.as_str()))
        .cloned()
        .collect();
    let now = now_ms();
    let states = broker
        .txn()
        .list()
        .await
        .into_iter()
        .filter(|meta| {
            request.state_filters.is_empty()
                || request
                    .state_filters
                    .iter()
                    .any(|f| f.as_str() == meta.state.name())
        })
        .filter(|meta| {
            pattern
                .as_ref()
                .is_none_or(|p| p.is_match(&meta.transactional_id))
        })
        .filter(|meta| {
            request.producer_id_filters.is_empty()
                || request
                    .producer_id_filters
                    .iter()
                    .any(|p| p.0 == meta.producer_id)
        })
        // Only the transactions one may DESCRIBE, silently.
        .filter(|meta| {
            authz.allows(
                AclOperation::Describe,
                ResourceType::TransactionalId,
                &meta.transactional_id,
            )
        })
        .filter(|meta| {
            // KIP-994: only transactions running for longer than the
            // filter, counted from their start time as Kafka counts it.
            request.duration_filter < 0 || now - meta.start_timestamp > request.duration_filter
        })
        .map(|meta| {
            TransactionState::default()
                .with_transactional_id(TransactionalId(str_bytes(meta.transactional_id)))
                .with_producer_id(ProducerId(meta.producer_id))
                .with_transaction_state(str_bytes(meta.state.name()))
        })
        .collect();
    ListTransactionsResponse::default()
        .with_unknown_state_filters(unknown_filters)
        .with_transaction_states(states)
}

/// The answer to `request` failing with `code`.
pub fn error_response(
    _request: &ListTransactionsRequest,
    _version: i16,
    code: i16,
) -> ListTransactionsResponse {
    ListTransactionsResponse::default().with_error_code(code)
}
