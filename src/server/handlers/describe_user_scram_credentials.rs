//! DescribeUserScramCredentials (v0, KIP-554): needs DESCRIBE on the
//! cluster; answers each user's mechanisms and iteration counts — never
//! salts or keys. No users named (null or empty): every user with one.

use std::collections::BTreeMap;
use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::describe_user_scram_credentials_response::{
    CredentialInfo, DescribeUserScramCredentialsResult,
};
use kafka_protocol::messages::{
    ApiKey, DescribeUserScramCredentialsRequest, DescribeUserScramCredentialsResponse,
};

use super::acls::not_authorized;
use super::groups::str_bytes;
use crate::broker::Broker;
use crate::metadata::acls::AclOperation;
use crate::server::context::RequestContext;

pub fn handle(
    broker: &Arc<Broker>,
    request: DescribeUserScramCredentialsRequest,
    context: &RequestContext,
) -> DescribeUserScramCredentialsResponse {
    let requested: Vec<String> = request
        .users
        .unwrap_or_default()
        .into_iter()
        .map(|u| u.name.to_string())
        .collect();
    if !context.may_on_cluster(broker, AclOperation::Describe) {
        let code = ResponseError::ClusterAuthorizationFailed.code();
        let message = not_authorized(ApiKey::DescribeUserScramCredentials);
        // Kafka leaves the user names out of a refusal.
        return DescribeUserScramCredentialsResponse::default()
            .with_error_code(code)
            .with_error_message(Some(str_bytes(message.clone())))
            .with_results(
                requested
                    .iter()
                    .map(|_| {
                        DescribeUserScramCredentialsResult::default()
                            .with_error_code(code)
                            .with_error_message(Some(str_bytes(message.clone())))
                    })
                    .collect(),
            );
    }
    let image = broker.metadata();
    let described = |user: &str| {
        let result = DescribeUserScramCredentialsResult::default().with_user(str_bytes(user));
        match image.scram.get(user) {
            Some(credentials) => result.with_error_message(None).with_credential_infos(
                credentials
                    .iter()
                    .map(|(mechanism, credential)| {
                        CredentialInfo::default()
                            .with_mechanism(mechanism.code())
                            .with_iterations(
                                i32::try_from(credential.iterations).unwrap_or(i32::MAX),
                            )
                    })
                    .collect(),
            ),
            None => result
                .with_error_code(ResponseError::ResourceNotFound.code())
                .with_error_message(Some(str_bytes(format!(
                    "Attempt to describe a user credential that does not exist: {user}"
                )))),
        }
    };
    if requested.is_empty() {
        let results = image.scram.keys().map(|user| described(user)).collect();
        return DescribeUserScramCredentialsResponse::default()
            .with_error_message(None)
            .with_results(results);
    }
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for user in &requested {
        *counts.entry(user).or_default() += 1;
    }
    let results = counts
        .into_iter()
        .map(|(user, count)| match count {
            1 => described(user),
            _ => DescribeUserScramCredentialsResult::default()
                .with_user(str_bytes(user))
                .with_error_code(ResponseError::DuplicateResource.code())
                .with_error_message(Some(str_bytes(format!(
                    "Cannot describe SCRAM credentials for the same user twice in a single request: {user}"
                )))),
        })
        .collect();
    DescribeUserScramCredentialsResponse::default()
        .with_error_message(None)
        .with_results(results)
}

/// The answer to `request` failing with `code`.
pub fn error_response(
    _request: &DescribeUserScramCredentialsRequest,
    _version: i16,
    code: i16,
) -> DescribeUserScramCredentialsResponse {
    DescribeUserScramCredentialsResponse::default().with_error_code(code)
}
