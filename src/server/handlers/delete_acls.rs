//! DeleteAcls (v1–v3): needs ALTER on the cluster; each filter's result
//! lists what it deleted (an ACL two filters match is listed under both),
//! all deleted in one metadata record.

use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::delete_acls_response::{
    DeleteAclsFilterResult, DeleteAclsMatchingAcl,
};
use kafka_protocol::messages::{ApiKey, DeleteAclsRequest, DeleteAclsResponse};

use super::acls::{filter, not_authorized, security_disabled};
use super::groups::str_bytes;
use crate::broker::Broker;
use crate::metadata::acls::AclOperation;
use crate::server::context::RequestContext;

pub async fn handle(
    broker: &Arc<Broker>,
    request: DeleteAclsRequest,
    version: i16,
    context: &RequestContext,
) -> Result<DeleteAclsResponse, String> {
    let filters = request
        .filters
        .iter()
        .map(|f| {
            filter(
                f.resource_type_filter,
                f.resource_name_filter.as_ref(),
                f.pattern_type_filter,
                f.principal_filter.as_ref(),
                f.host_filter.as_ref(),
                f.operation,
                f.permission_type,
            )
        })
        .collect::<Result<Vec<_>, String>>()?;
    let every = |code: ResponseError, message: String| {
        let mut response = error_response(&request, version, code.code());
        for result in &mut response.filter_results {
            result.error_message = Some(str_bytes(message.clone()));
        }
        response
    };
    if !broker.authorizer().enabled() {
        let (code, message) = security_disabled();
        return Ok(every(code, message));
    }
    if !context.may_on_cluster(broker, AclOperation::Alter) {
        return Ok(every(
            ResponseError::ClusterAuthorizationFailed,
            not_authorized(ApiKey::DeleteAcls),
        ));
    }
    let wanted = filters.clone();
    let deleted = broker
        .on_controller(move |broker| Ok(broker.controller().delete_acls(&wanted)?))
        .await;
    let deleted = match deleted {
        Ok(deleted) => deleted,
        Err(error) => return Ok(every(ResponseError::UnknownServerError, error.to_string())),
    };
    let results = deleted
        .into_iter()
        .map(|acls| {
            DeleteAclsFilterResult::default()
                .with_error_message(None)
                .with_matching_acls(
                    acls.into_iter()
                        .map(|acl| {
                            DeleteAclsMatchingAcl::default()
                                .with_error_message(None)
                                .with_resource_type(acl.resource_type.code())
                                .with_resource_name(str_bytes(acl.resource_name))
                                .with_pattern_type(acl.pattern_type.code())
                                .with_principal(str_bytes(acl.principal))
                                .with_host(str_bytes(acl.host))
                                .with_operation(acl.operation.code())
                                .with_permission_type(acl.permission.code())
                        })
                        .collect(),
                )
        })
        .collect();
    Ok(DeleteAclsResponse::default().with_filter_results(results))
}

/// The answer to `request` failing with `code` for every filter.
pub fn error_response(request: &DeleteAclsRequest, _version: i16, code: i16) -> DeleteAclsResponse {
    DeleteAclsResponse::default().with_filter_results(
        request
            .filters
            .iter()
            .map(|_| DeleteAclsFilterResult::default().with_error_code(code))
            .collect(),
    )
}
