//! ExpireDelegationToken (v1–2): its owner, requester or a renewer sets
//! the token to expire `expiry_time_period_ms` from now (capped at its
//! maximum); a negative period ends it at once.

use std::sync::Arc;

use kafka_protocol::messages::{ExpireDelegationTokenRequest, ExpireDelegationTokenResponse};

use super::delegation_tokens::change_expiry;
use crate::broker::Broker;
use crate::server::context::RequestContext;

pub async fn handle(
    broker: &Arc<Broker>,
    request: ExpireDelegationTokenRequest,
    context: &RequestContext,
) -> ExpireDelegationTokenResponse {
    let expired = change_expiry(
        broker,
        context,
        "expiring",
        move |controller, config, principal, now| {
            controller.expire_delegation_token(
                config,
                &request.hmac,
                principal,
                request.expiry_time_period_ms,
                now,
            )
        },
    )
    .await;
    match expired {
        Ok(expiry) => ExpireDelegationTokenResponse::default().with_expiry_timestamp_ms(expiry),
        Err(code) => ExpireDelegationTokenResponse::default().with_error_code(code.code()),
    }
}

pub fn error_response(
    _request: &ExpireDelegationTokenRequest,
    _version: i16,
    code: i16,
) -> ExpireDelegationTokenResponse {
    ExpireDelegationTokenResponse::default().with_error_code(code)
}
