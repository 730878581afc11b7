//! CreateDelegationToken (v1–3, KIP-48): a token for the requester, or
//! (v3, KIP-373, which also names the requester) for another owner when the requester is allowed
//! CREATE_TOKENS on that user. Refused on connections that may not ask
//! for tokens, and when `delegation.token.secret.key` is unset.

use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::{CreateDelegationTokenRequest, CreateDelegationTokenResponse};

use super::delegation_tokens::{join, requests_allowed, split, USER_TYPE};
use super::groups::str_bytes;
use crate::broker::Broker;
use crate::controller::delegation_tokens::NewToken;
use crate::metadata::acls::{AclOperation, ResourceType};
use crate::metadata::delegation_tokens::hmac;
use crate::server::context::RequestContext;
use crate::types::now_ms;

pub async fn handle(
    broker: &Arc<Broker>,
    request: CreateDelegationTokenRequest,
    version: i16,
    context: &RequestContext,
) -> CreateDelegationTokenResponse {
    let requester = context.principal.to_string();
    let owner = match request.owner_principal_name.as_deref() {
        Some(name) if !name.is_empty() => join(
            request.owner_principal_type.as_deref().unwrap_or(USER_TYPE),
            name,
        ),
        _ => requester.clone(),
    };
    let refused =
        |error: ResponseError| answer(&owner, &requester, version).with_error_code(error.code());
    if !requests_allowed(context) {
        return refused(ResponseError::DelegationTokenRequestNotAllowed);
    }
    if owner != requester
        && !context
            .authz(broker)
            .allows(AclOperation::CreateTokens, ResourceType::User, &owner)
    {
        return refused(ResponseError::DelegationTokenAuthorizationFailed);
    }
    let renewers: Vec<String> = request
        .renewers
        .iter()
        .map(|r| join(&r.principal_type, &r.principal_name))
        .collect();
    if split(&owner).0 != USER_TYPE || renewers.iter().any(|r| split(r).0 != USER_TYPE) {
        return refused(ResponseError::InvalidPrincipalType);
    }
    let config = broker.config().delegation_token.clone();
    let new = NewToken {
        owner: owner.clone(),
        requester: requester.clone(),
        renewers,
        max_lifetime_ms: request.max_lifetime_ms,
    };
    let created = broker
        .on_controller(move |broker| {
            Ok(broker
                .controller()
                .create_delegation_token(&config, new, now_ms())?)
        })
        .await;
    let token = match created {
        Ok(Ok(token)) => token,
        Ok(Err(error)) => return refused(error),
        Err(error) => {
            tracing::warn!(%error, "creating a delegation token failed");
            return refused(ResponseError::UnknownServerError);
        }
    };
    let secret = broker
        .config()
        .delegation_token
        .secret()
        .unwrap_or_default();
    answer(&owner, &requester, version)
        .with_issue_timestamp_ms(token.issue_timestamp_ms)
        .with_expiry_timestamp_ms(token.expiry_timestamp_ms)
        .with_max_timestamp_ms(token.max_timestamp_ms)
        .with_hmac(hmac(secret, &token.token_id).into())
        .with_token_id(str_bytes(token.token_id))
}

/// The response naming the owner and (v3+) the requester, as Kafka's
/// says them in success and failure alike.
fn answer(owner: &str, requester: &str, version: i16) -> CreateDelegationTokenResponse {
    let (owner_type, owner_name) = split(owner);
    let response = CreateDelegationTokenResponse::default()
        .with_principal_type(str_bytes(owner_type))
        .with_principal_name(str_bytes(owner_name));
    match version >= 3 {
        true => {
            let (requester_type, requester_name) = split(requester);
            response
                .with_token_requester_principal_type(str_bytes(requester_type))
                .with_token_requester_principal_name(str_bytes(requester_name))
        }
        false => response,
    }
}

pub fn error_response(
    _request: &CreateDelegationTokenRequest,
    _version: i16,
    code: i16,
) -> CreateDelegationTokenResponse {
    CreateDelegationTokenResponse::default().with_error_code(code)
}
