//! EndTxn (v0–v4, the classic protocol): commits or aborts the producer's
//! transaction. The answer comes once every marker is written, so the
//! producer's next transaction never waits on CONCURRENT_TRANSACTIONS.

use std::sync::Arc;

use kafka_protocol::messages::{EndTxnRequest, EndTxnResponse};

use crate::broker::Broker;
use crate::error::txn_error_code;

/// EndTxn learnt PRODUCER_FENCED in v2 (KIP-588).
const FENCED_SINCE: i16 = 2;

pub async fn handle(broker: &Arc<Broker>, request: EndTxnRequest, version: i16) -> EndTxnResponse {
    let result = broker
        .txn()
        .end_txn(
            &request.transactional_id,
            request.producer_id.0,
            request.producer_epoch,
            request.committed,
        )
        .await;
    match result {
        Ok(()) => EndTxnResponse::default(),
        Err(error) => {
            EndTxnResponse::default().with_error_code(txn_error_code(&error, version, FENCED_SINCE))
        }
    }
}
