//! What the four delegation token APIs share (Kafka's `KafkaApis` and
//! `ControllerApis`): which connections may ask for tokens at all, and
//! principals as the protocol spells them (type and name apart).

use std::sync::Arc;

use kafka_protocol::error::ResponseError;

use crate::broker::Broker;
use crate::config::delegation_token::DelegationTokenConfig;
use crate::config::security::SecurityProtocol;
use crate::controller::delegation_tokens::ExpiryOutcome;
use crate::controller::{Controller, ControllerError};
use crate::server::context::{RequestContext, ANONYMOUS};

/// Kafka's `allowTokenRequests`: not on PLAINTEXT, not on one-way TLS
/// (an SSL client without a certificate), and not from a connection a
/// token authenticated — a token cannot beget tokens.
pub fn requests_allowed(context: &RequestContext) -> bool {
    let protocol = context.listener.protocol;
    !(context.token_authenticated
        || protocol == SecurityProtocol::Plaintext
        || (protocol == SecurityProtocol::Ssl && &*context.principal == ANONYMOUS))
}

/// `User:alice` → (`User`, `alice`).
pub fn split(principal: &str) -> (&str, &str) {
    principal.split_once(':').unwrap_or(("User", principal))
}

/// (`User`, `alice`) → `User:alice`.
pub fn join(principal_type: &str, name: &str) -> String {
    format!("{principal_type}:{name}")
}

/// The only principal type tokens are for.
pub const USER_TYPE: &str = "User";

/// What Renew and Expire share: refused where tokens may not be asked
/// for, else `change` on the controller as the request's principal, now;
/// the token's new expiry or Kafka's error.
pub async fn change_expiry(
    broker: &Arc<Broker>,
    context: &RequestContext,
    what: &'static str,
    change: impl FnOnce(
            &Controller,
            &DelegationTokenConfig,
            &str,
            i64,
        ) -> Result<ExpiryOutcome, ControllerError>
        + Send
        + 'static,
) -> ExpiryOutcome {
    if !requests_allowed(context) {
        return Err(ResponseError::DelegationTokenRequestNotAllowed);
    }
    let config = broker.config().delegation_token.clone();
    let principal = context.principal.to_string();
    let changed = broker
        .on_controller(move |broker| {
            Ok(change(
                broker.controller(),
                &config,
                &principal,
                crate::types::now_ms(),
            )?)
        })
        .await;
    changed.unwrap_or_else(|failure| {
        tracing::warn!(error = %failure, "{what} a delegation token failed");
        Err(ResponseError::UnknownServerError)
    })
}
