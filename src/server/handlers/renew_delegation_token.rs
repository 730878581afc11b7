//! RenewDelegationToken (v1–2): its owner, requester or a renewer moves
//! the token's expiry `renew_period_ms` from now (negative: the broker's
//! `delegation.token.expiry.time.ms`), never past its maximum lifetime.

use std::sync::Arc;

use kafka_protocol::messages::{RenewDelegationTokenRequest, RenewDelegationTokenResponse};

use super::delegation_tokens::change_expiry;
use crate::broker::Broker;
use crate::server::context::RequestContext;

pub async fn handle(
    broker: &Arc<Broker>,
    request: RenewDelegationTokenRequest,
    context: &RequestContext,
) -> RenewDelegationTokenResponse {
    let renewed = change_expiry(
        broker,
        context,
        "renewing",
        move |controller, config, principal, now| {
            controller.renew_delegation_token(
                config,
                &request.hmac,
                principal,
                request.renew_period_ms,
                now,
            )
        },
    )
    .await;
    match renewed {
        Ok(expiry) => RenewDelegationTokenResponse::default().with_expiry_timestamp_ms(expiry),
        Err(code) => RenewDelegationTokenResponse::default().with_error_code(code.code()),
    }
}

pub fn error_response(
    _request: &RenewDelegationTokenRequest,
    _version: i16,
    code: i16,
) -> RenewDelegationTokenResponse {
    RenewDelegationTokenResponse::default().with_error_code(code)
}
