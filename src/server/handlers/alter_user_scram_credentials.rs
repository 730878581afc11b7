//! AlterUserScramCredentials (v0, KIP-554): needs ALTER on the cluster.
//! The request carries salted passwords, never passwords; the controller
//! keeps StoredKey and ServerKey derived from them. One result per user.

use std::collections::BTreeSet;
use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::alter_user_scram_credentials_response::AlterUserScramCredentialsResult;
use kafka_protocol::messages::{
    AlterUserScramCredentialsRequest, AlterUserScramCredentialsResponse, ApiKey,
};

use super::acls::not_authorized;
use super::groups::str_bytes;
use crate::broker::Broker;
use crate::controller::scram::ScramAlteration;
use crate::metadata::acls::AclOperation;
use crate::server::context::RequestContext;

pub async fn handle(
    broker: &Arc<Broker>,
    request: AlterUserScramCredentialsRequest,
    context: &RequestContext,
) -> AlterUserScramCredentialsResponse {
    // Deletions first, then upsertions: the order Kafka validates them in.
    let alterations: Vec<ScramAlteration> = request
        .deletions
        .into_iter()
        .map(|d| ScramAlteration::Delete {
            user: d.name.to_string(),
            mechanism: d.mechanism,
        })
        .chain(
            request
                .upsertions
                .into_iter()
                .map(|u| ScramAlteration::Upsert {
                    user: u.name.to_string(),
                    mechanism: u.mechanism,
                    iterations: u.iterations,
                    salt: u.salt.to_vec(),
                    salted_password: u.salted_password.to_vec(),
                }),
        )
        .collect();
    let result = |user: &str, error: Option<(ResponseError, String)>| {
        let result = AlterUserScramCredentialsResult::default().with_user(str_bytes(user));
        match error {
            None => result.with_error_message(None),
            Some((code, message)) => result
                .with_error_code(code.code())
                .with_error_message(Some(str_bytes(message))),
        }
    };
    let users: BTreeSet<String> = alterations.iter().map(|a| a.user().to_string()).collect();
    let every = |code: ResponseError, message: String| {
        AlterUserScramCredentialsResponse::default().with_results(
            users
                .iter()
                .map(|user| result(user, Some((code, message.clone()))))
                .collect(),
        )
    };
    if !context.may_on_cluster(broker, AclOperation::Alter) {
        return every(
            ResponseError::ClusterAuthorizationFailed,
            not_authorized(ApiKey::AlterUserScramCredentials),
        );
    }
    if alterations.is_empty() {
        return AlterUserScramCredentialsResponse::default();
    }
    let outcome = broker
        .on_controller(move |broker| {
            Ok(broker.controller().alter_scram_credentials(alterations)?)
        })
        .await;
    match outcome {
        Ok(outcomes) => AlterUserScramCredentialsResponse::default().with_results(
            outcomes
                .into_iter()
                .map(|(user, error)| result(&user, error))
                .collect(),
        ),
        Err(error) => every(ResponseError::UnknownServerError, error.to_string()),
    }
}

/// The answer to `request` failing with `code` for every user named, in
/// the order of the deletions then the upsertions.
pub fn error_response(
    request: &AlterUserScramCredentialsRequest,
    _version: i16,
    code: i16,
) -> AlterUserScramCredentialsResponse {
    AlterUserScramCredentialsResponse::default().with_results(
        request
            .deletions
            .iter()
            .map(|d| d.name.clone())
            .chain(request.upsertions.iter().map(|u| u.name.clone()))
            .map(|user| {
                AlterUserScramCredentialsResult::default()
                    .with_user(user)
                    .with_error_code(code)
            })
            .collect(),
    )
}
