//! DescribeDelegationToken (v1–3): the tokens of the owners asked for
//! (null: all; empty: none) that the requester may see — its own, those
//! it requested or may renew, and others' only with DESCRIBE on the token
//! or DESCRIBE_TOKENS on its owner (Kafka's `DelegationTokenManager.filterToken`).
//! Expired tokens are not listed.

use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::describe_delegation_token_response::{
    DescribedDelegationToken, DescribedDelegationTokenRenewer,
};
use kafka_protocol::messages::{DescribeDelegationTokenRequest, DescribeDelegationTokenResponse};

use super::delegation_tokens::{join, requests_allowed, split};
use super::groups::str_bytes;
use crate::broker::Broker;
use crate::metadata::acls::{AclOperation, ResourceType};
use crate::metadata::delegation_tokens::{hmac, TokenInformation};
use crate::server::context::RequestContext;
use crate::types::now_ms;

pub fn handle(
    broker: &Arc<Broker>,
    request: DescribeDelegationTokenRequest,
    version: i16,
    context: &RequestContext,
) -> DescribeDelegationTokenResponse {
    if !requests_allowed(context) {
        return error(ResponseError::DelegationTokenRequestNotAllowed);
    }
    let Some(secret) = broker.config().delegation_token.secret() else {
        return error(ResponseError::DelegationTokenAuthDisabled);
    };
    let owners: Option<Vec<String>> = request.owners.map(|owners| {
        owners
            .iter()
            .map(|o| join(&o.principal_type, &o.principal_name))
            .collect()
    });
    if owners.as_ref().is_some_and(Vec::is_empty) {
        return DescribeDelegationTokenResponse::default();
    }
    let principal = &*context.principal;
    let authz = context.authz(broker);
    let now = now_ms();
    let visible = |token: &TokenInformation| {
        let asked = owners
            .as_ref()
            .is_none_or(|owners| owners.iter().any(|o| token.owner_or_renewer(o)));
        asked
            && (token.owner_or_renewer(principal)
                || authz.allows(
                    AclOperation::Describe,
                    ResourceType::DelegationToken,
                    &token.token_id,
                )
                || authz.allows(
                    AclOperation::DescribeTokens,
                    ResourceType::User,
                    &token.owner,
                ))
    };
    let image = broker.metadata();
    let tokens = image
        .delegation_tokens
        .values()
        .filter(|token| !token.expired(now) && visible(token))
        .map(|token| described(token, &hmac(secret, &token.token_id), version))
        .collect();
    DescribeDelegationTokenResponse::default().with_tokens(tokens)
}

fn described(token: &TokenInformation, hmac: &[u8], version: i16) -> DescribedDelegationToken {
    let (owner_type, owner_name) = split(&token.owner);
    let mut described = DescribedDelegationToken::default()
        .with_principal_type(str_bytes(owner_type))
        .with_principal_name(str_bytes(owner_name));
    // The requester is told from v3 (KIP-373).
    if version >= 3 {
        let (requester_type, requester_name) = split(&token.requester);
        described = described
            .with_token_requester_principal_type(str_bytes(requester_type))
            .with_token_requester_principal_name(str_bytes(requester_name));
    }
    described
        .with_issue_timestamp(token.issue_timestamp_ms)
        .with_expiry_timestamp(token.expiry_timestamp_ms)
        .with_max_timestamp(token.max_timestamp_ms)
        .with_token_id(str_bytes(token.token_id.clone()))
        .with_hmac(hmac.to_vec().into())
        .with_renewers(
            token
                .renewers
                .iter()
                .map(|renewer| {
                    let (kind, name) = split(renewer);
                    DescribedDelegationTokenRenewer::default()
                        .with_principal_type(str_bytes(kind))
                        .with_principal_name(str_bytes(name))
                })
                .collect(),
        )
}

fn error(code: ResponseError) -> DescribeDelegationTokenResponse {
    DescribeDelegationTokenResponse::default().with_error_code(code.code())
}

pub fn error_response(
    _request: &DescribeDelegationTokenRequest,
    _version: i16,
    code: i16,
) -> DescribeDelegationTokenResponse {
    DescribeDelegationTokenResponse::default().with_error_code(code)
}
