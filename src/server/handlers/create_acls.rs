//! CreateAcls (v1–v3; Kafka 4 dropped v0): needs ALTER on the cluster.
//! Each creation succeeds or fails on its own; an ACL that exists already
//! is kept once. Unknown enum codes end the connection, as Kafka's request
//! parser does.

use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::create_acls_response::AclCreationResult;
use kafka_protocol::messages::{ApiKey, CreateAclsRequest, CreateAclsResponse};

use super::acls::{binding, not_authorized, security_disabled, AclError};
use super::groups::str_bytes;
use crate::broker::Broker;
use crate::metadata::acls::AclOperation;
use crate::server::context::RequestContext;

pub async fn handle(
    broker: &Arc<Broker>,
    request: CreateAclsRequest,
    version: i16,
    context: &RequestContext,
) -> Result<CreateAclsResponse, String> {
    let count = request.creations.len();
    let every = |code: ResponseError, message: String| {
        let mut response = error_response(&request, version, code.code());
        for result in &mut response.results {
            result.error_message = Some(str_bytes(message.clone()));
        }
        response
    };
    let mut results = Vec::with_capacity(count);
    let mut accepted = Vec::new();
    for creation in &request.creations {
        match binding(creation) {
            Ok(acl) => {
                accepted.push(acl);
                results.push(None);
            }
            Err(AclError::Malformed(reason)) => return Err(reason),
            Err(AclError::Invalid(message)) => results.push(Some(message)),
        }
    }
    if !broker.authorizer().enabled() {
        let (code, message) = security_disabled();
        return Ok(every(code, message));
    }
    if !context.may_on_cluster(broker, AclOperation::Alter) {
        return Ok(every(
            ResponseError::ClusterAuthorizationFailed,
            not_authorized(ApiKey::CreateAcls),
        ));
    }
    let created = broker
        .on_controller(move |broker| Ok(broker.controller().create_acls(accepted)?))
        .await;
    let results = results
        .into_iter()
        .map(|invalid| {
            let result = AclCreationResult::default();
            match (invalid, &created) {
                (Some(message), _) => result
                    .with_error_code(ResponseError::InvalidRequest.code())
                    .with_error_message(Some(str_bytes(message))),
                (None, Ok(())) => result,
                (None, Err(error)) => result
                    .with_error_code(ResponseError::UnknownServerError.code())
                    .with_error_message(Some(str_bytes(error.to_string()))),
            }
        })
        .collect();
    Ok(CreateAclsResponse::default().with_results(results))
}

/// The answer to `request` failing with `code` for every creation.
pub fn error_response(request: &CreateAclsRequest, _version: i16, code: i16) -> CreateAclsResponse {
    CreateAclsResponse::default().with_results(
        request
            .creations
            .iter()
            .map(|_| AclCreationResult::default().with_error_code(code))
            .collect(),
    )
}
