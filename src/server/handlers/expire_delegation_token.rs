//! ExpireDelegationToken (v1–2): its owner, requester or a renewer sets
//! the token to expire `expiry_time_period_ms` from now (capped at its
//! maximum); a negative period ends it at once.

use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::{ExpireDelegationTokenRequest, ExpireDelegationTokenResponse};

use super::delegation_tokens::requests_allowed;
use crate::broker::Broker;
use crate::server::context::RequestContext;
use crate::types::now_ms;

pub async fn handle(
    broker: &Arc<Broker>,
    request: ExpireDelegationTokenRequest,
    context: &RequestContext,
) -> ExpireDelegationTokenResponse {
    if !requests_allowed(context) {
        return error(ResponseError::DelegationTokenRequestNotAllowed);
    }
    let config = broker.config().delegation_token.clone();
    let principal = context.principal.to_string();
    let expired = broker
        .on_controller(move |broker| {
            Ok(broker.controller().expire_delegation_token(
                &config,
                &request.hmac,
                &principal,
                request.expiry_time_period_ms,
                now_ms(),
            )?)
        })
        .await;
    match expired {
        Ok(Ok(expiry)) => ExpireDelegationTokenResponse::default().with_expiry_timestamp_ms(expiry),
        Ok(Err(code)) => error(code),
        Err(failure) => {
            tracing::warn!(error = %failure, "expiring a delegation token failed");
            error(ResponseError::UnknownServerError)
        }
    }
}

fn error(code: ResponseError) -> ExpireDelegationTokenResponse {
    ExpireDelegationTokenResponse::default().with_error_code(code.code())
}

pub fn error_response(
    _request: &ExpireDelegationTokenRequest,
    _version: i16,
    code: i16,
) -> ExpireDelegationTokenResponse {
    ExpireDelegationTokenResponse::default().with_error_code(code)
}
