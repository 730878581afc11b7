//! AddOffsetsToTxn (v0–v3): the group's `__consumer_offsets` partition joins
//! the producer's transaction, so that TxnOffsetCommit may write there and
//! the transaction's marker reaches it.

use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::{AddOffsetsToTxnRequest, AddOffsetsToTxnResponse};
use tracing::warn;

use crate::broker::Broker;
use crate::error::txn_error_code;
use crate::metadata::acls::{AclOperation, ResourceType};
use crate::server::context::RequestContext;

/// AddOffsetsToTxn learnt PRODUCER_FENCED in v2 (KIP-588).
const FENCED_SINCE: i16 = 2;

pub async fn handle(
    broker: &Arc<Broker>,
    request: AddOffsetsToTxnRequest,
    version: i16,
    context: &RequestContext,
) -> AddOffsetsToTxnResponse {
    let response = AddOffsetsToTxnResponse::default();
    let authz = context.authz(broker);
    if !authz.allows(
        AclOperation::Write,
        ResourceType::TransactionalId,
        &request.transactional_id,
    ) {
        return response.with_error_code(ResponseError::TransactionalIdAuthorizationFailed.code());
    }
    if !authz.allows(AclOperation::Read, ResourceType::Group, &request.group_id) {
        return response.with_error_code(ResponseError::GroupAuthorizationFailed.code());
    }
    drop(authz);
    if request.group_id.is_empty() {
        return response.with_error_code(ResponseError::InvalidGroupId.code());
    }
    if let Err(error) = broker.ensure_offsets_topic().await {
        warn!(%error, "cannot create __consumer_offsets");
        return response.with_error_code(ResponseError::CoordinatorNotAvailable.code());
    }
    let offsets_partition = broker.txn().offsets_partition(&request.group_id);
    let result = broker
        .txn()
        .add_partitions(
            &request.transactional_id,
            request.producer_id.0,
            request.producer_epoch,
            vec![offsets_partition],
        )
        .await;
    match result {
        Ok(()) => response,
        Err(error) => response.with_error_code(txn_error_code(&error, version, FENCED_SINCE)),
    }
}

/// The answer to `request` failing with `code`.
pub fn error_response(
    _request: &AddOffsetsToTxnRequest,
    _version: i16,
    code: i16,
) -> AddOffsetsToTxnResponse {
    AddOffsetsToTxnResponse::default().with_error_code(code)
}
