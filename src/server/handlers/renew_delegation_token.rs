//! RenewDelegationToken (v1–2): its owner, requester or a renewer moves
//! the token's expiry `renew_period_ms` from now (negative: the broker's
//! `delegation.token.expiry.time.ms`), never past its maximum lifetime.

use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::{RenewDelegationTokenRequest, RenewDelegationTokenResponse};

use super::delegation_tokens::requests_allowed;
use crate::broker::Broker;
use crate::server::context::RequestContext;
use crate::types::now_ms;

pub async fn handle(
    broker: &Arc<Broker>,
    request: RenewDelegationTokenRequest,
    context: &RequestContext,
) -> RenewDelegationTokenResponse {
    if !requests_allowed(context) {
        return error(ResponseError::DelegationTokenRequestNotAllowed);
    }
    let config = broker.config().delegation_token.clone();
    let principal = context.principal.to_string();
    let renewed = broker
        .on_controller(move |broker| {
            Ok(broker.controller().renew_delegation_token(
                &config,
                &request.hmac,
                &principal,
                request.renew_period_ms,
                now_ms(),
            )?)
        })
        .await;
    match renewed {
        Ok(Ok(expiry)) => RenewDelegationTokenResponse::default().with_expiry_timestamp_ms(expiry),
        Ok(Err(code)) => error(code),
        Err(failure) => {
            tracing::warn!(error = %failure, "renewing a delegation token failed");
            error(ResponseError::UnknownServerError)
        }
    }
}

fn error(code: ResponseError) -> RenewDelegationTokenResponse {
    RenewDelegationTokenResponse::default().with_error_code(code.code())
}

pub fn error_response(
    _request: &RenewDelegationTokenRequest,
    _version: i16,
    code: i16,
) -> RenewDelegationTokenResponse {
    RenewDelegationTokenResponse::default().with_error_code(code)
}
