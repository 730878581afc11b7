//! EndTxn (v0–v5): commits or aborts the producer's transaction. The
//! answer comes once every marker is written, so the producer's next
//! transaction never waits on CONCURRENT_TRANSACTIONS.
//!
//! v5 is transactions V2 (KIP-890): the epoch goes up at every end and the
//! answer carries the producer id and epoch to go on with. Lower versions
//! keep the classic rules, whatever other clients of the broker speak.

use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::{EndTxnRequest, EndTxnResponse, ProducerId};

use crate::broker::Broker;
use crate::error::txn_error_code;
use crate::metadata::acls::{AclOperation, ResourceType};
use crate::server::context::RequestContext;
use crate::txn::coordinator::TxnProtocol;

/// EndTxn learnt PRODUCER_FENCED in v2 (KIP-588).
const FENCED_SINCE: i16 = 2;
/// The first EndTxn version of transactions V2.
pub const V2_SINCE: i16 = 5;

pub async fn handle(
    broker: &Arc<Broker>,
    request: EndTxnRequest,
    version: i16,
    context: &RequestContext,
) -> EndTxnResponse {
    if !context.authz(broker).allows(
        AclOperation::Write,
        ResourceType::TransactionalId,
        &request.transactional_id,
    ) {
        return EndTxnResponse::default()
            .with_error_code(ResponseError::TransactionalIdAuthorizationFailed.code());
    }
    let protocol = match version >= V2_SINCE {
        true => TxnProtocol::V2,
        false => TxnProtocol::Classic,
    };
    let result = broker
        .txn()
        .end_txn(
            &request.transactional_id,
            request.producer_id.0,
            request.producer_epoch,
            request.committed,
            protocol,
        )
        .await;
    let response = EndTxnResponse::default();
    match result {
        Ok((producer_id, epoch)) => response
            .with_producer_id(ProducerId(producer_id))
            .with_producer_epoch(epoch),
        Err(error) => response
            .with_error_code(txn_error_code(&error, version, FENCED_SINCE))
            .with_producer_id(ProducerId(-1))
            .with_producer_epoch(-1),
    }
}

/// The answer to `request` failing with `code`.
pub fn error_response(_request: &EndTxnRequest, _version: i16, code: i16) -> EndTxnResponse {
    EndTxnResponse::default().with_error_code(code)
}
