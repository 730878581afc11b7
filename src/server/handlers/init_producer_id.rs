//! InitProducerId (v0–v4) for idempotent producers: a fresh producer id at
//! epoch 0. Like Kafka, a request without a transactional id always gets a
//! new id, even if it names its previous one (KIP-360 epoch bumps only
//! apply to transactional producers).

use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::{InitProducerIdRequest, InitProducerIdResponse, ProducerId};
use tracing::warn;

use crate::broker::Broker;

pub async fn handle(
    broker: &Arc<Broker>,
    request: InitProducerIdRequest,
    _version: i16,
) -> InitProducerIdResponse {
    let failed = |error: ResponseError| {
        InitProducerIdResponse::default()
            .with_error_code(error.code())
            .with_producer_id(ProducerId(-1))
            .with_producer_epoch(-1)
    };
    if request.transactional_id.is_some() {
        // Transactions are not implemented: no coordinator can take them.
        return failed(ResponseError::CoordinatorNotAvailable);
    }
    match broker.next_producer_id().await {
        Ok(producer_id) => InitProducerIdResponse::default()
            .with_producer_id(ProducerId(producer_id))
            .with_producer_epoch(0),
        Err(error) => {
            warn!(%error, "cannot allocate a producer id");
            failed(ResponseError::CoordinatorNotAvailable)
        }
    }
}
