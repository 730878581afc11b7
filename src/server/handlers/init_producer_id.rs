//! InitProducerId (v0–v4). Without a transactional id: a fresh producer id
//! at epoch 0 for an idempotent producer (like Kafka, even if the request
//! names its previous one: KIP-360 epoch bumps apply to transactional
//! producers only). With one: the transaction coordinator's id and next
//! epoch, which fences every earlier instance of that transactional id.

use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::{InitProducerIdRequest, InitProducerIdResponse, ProducerId};
use tracing::warn;

use crate::broker::Broker;
use crate::error::txn_error_code;
use crate::metadata::acls::{AclOperation, ResourceType, CLUSTER_NAME};
use crate::records::primitives::check_string;
use crate::server::context::RequestContext;
use crate::txn::coordinator::InitRequest;

/// InitProducerId learnt PRODUCER_FENCED in v4 (KIP-588).
const FENCED_SINCE: i16 = 4;

pub async fn handle(
    broker: &Arc<Broker>,
    request: InitProducerIdRequest,
    version: i16,
    context: &RequestContext,
) -> InitProducerIdResponse {
    let failed = |code: i16| {
        InitProducerIdResponse::default()
            .with_error_code(code)
            .with_producer_id(ProducerId(-1))
            .with_producer_epoch(-1)
    };
    let granted = |producer_id: i64, epoch: i16| {
        InitProducerIdResponse::default()
            .with_producer_id(ProducerId(producer_id))
            .with_producer_epoch(epoch)
    };
    let authz = context.authz(broker);
    let Some(transactional_id) = request.transactional_id.as_ref().map(|id| id.to_string()) else {
        // An idempotent producer: IDEMPOTENT_WRITE on the cluster, or
        // WRITE on at least one topic (Kafka's `authorizeByResourceType`).
        if !authz.allows(
            AclOperation::IdempotentWrite,
            ResourceType::Cluster,
            CLUSTER_NAME,
        ) && !authz.allows_any(AclOperation::Write, ResourceType::Topic)
        {
            return failed(ResponseError::ClusterAuthorizationFailed.code());
        }
        return match broker.next_producer_id().await {
            Ok(producer_id) => granted(producer_id, 0),
            Err(error) => {
                warn!(%error, "cannot allocate a producer id");
                failed(ResponseError::CoordinatorNotAvailable.code())
            }
        };
    };
    if !authz.allows(
        AclOperation::Write,
        ResourceType::TransactionalId,
        &transactional_id,
    ) {
        return failed(ResponseError::TransactionalIdAuthorizationFailed.code());
    }
    drop(authz);
    // The id keys a `__transaction_state` record: an i16-length string.
    if transactional_id.is_empty() || check_string(&transactional_id).is_err() {
        return failed(ResponseError::InvalidRequest.code());
    }
    let expected = match (request.producer_id.0, request.producer_epoch) {
        (-1, -1) => None,
        (producer_id, epoch) if producer_id >= 0 && epoch >= 0 => Some((producer_id, epoch)),
        _ => return failed(ResponseError::InvalidRequest.code()),
    };
    if let Err(error) = broker.ensure_transaction_state_topic().await {
        warn!(%error, "cannot create __transaction_state");
        return failed(ResponseError::CoordinatorNotAvailable.code());
    }
    let init = InitRequest {
        transactional_id,
        timeout_ms: request.transaction_timeout_ms,
        expected,
    };
    match broker.txn().init_producer_id(init).await {
        Ok((producer_id, epoch)) => granted(producer_id, epoch),
        Err(error) => failed(txn_error_code(&error, version, FENCED_SINCE)),
    }
}

/// The answer to `request` failing with `code`: no producer id.
pub fn error_response(
    _request: &InitProducerIdRequest,
    _version: i16,
    code: i16,
) -> InitProducerIdResponse {
    InitProducerIdResponse::default()
        .with_error_code(code)
        .with_producer_id(ProducerId(-1))
        .with_producer_epoch(-1)
}
