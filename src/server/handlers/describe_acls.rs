//! DescribeAcls (v1–v3): needs DESCRIBE on the cluster; answers the ACLs
//! the filter matches, grouped by resource pattern (none: an empty list,
//! no error).

use std::collections::BTreeMap;
use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::describe_acls_response::{AclDescription, DescribeAclsResource};
use kafka_protocol::messages::{ApiKey, DescribeAclsRequest, DescribeAclsResponse};

use super::acls::{filter, not_authorized, security_disabled};
use super::groups::str_bytes;
use crate::broker::Broker;
use crate::metadata::acls::{AclOperation, PatternType, ResourceType};
use crate::server::context::RequestContext;

pub async fn handle(
    broker: &Arc<Broker>,
    request: DescribeAclsRequest,
    context: &RequestContext,
) -> Result<DescribeAclsResponse, String> {
    let filter = filter(
        request.resource_type_filter,
        request.resource_name_filter.as_ref(),
        request.pattern_type_filter,
        request.principal_filter.as_ref(),
        request.host_filter.as_ref(),
        request.operation,
        request.permission_type,
    )?;
    let refused = |code: ResponseError, message: String| {
        DescribeAclsResponse::default()
            .with_error_code(code.code())
            .with_error_message(Some(str_bytes(message)))
    };
    if !broker.authorizer().enabled() {
        let (code, message) = security_disabled();
        return Ok(refused(code, message));
    }
    if !context.may_on_cluster(broker, AclOperation::Describe) {
        return Ok(refused(
            ResponseError::ClusterAuthorizationFailed,
            not_authorized(ApiKey::DescribeAcls),
        ));
    }
    let image = broker.metadata();
    let mut resources: BTreeMap<(ResourceType, &str, PatternType), Vec<AclDescription>> =
        BTreeMap::new();
    for acl in image.acls.iter().filter(|acl| filter.matches(acl)) {
        resources
            .entry((acl.resource_type, &acl.resource_name, acl.pattern_type))
            .or_default()
            .push(
                AclDescription::default()
                    .with_principal(str_bytes(acl.principal.clone()))
                    .with_host(str_bytes(acl.host.clone()))
                    .with_operation(acl.operation.code())
                    .with_permission_type(acl.permission.code()),
            );
    }
    let resources = resources
        .into_iter()
        .map(|((resource_type, name, pattern_type), acls)| {
            DescribeAclsResource::default()
                .with_resource_type(resource_type.code())
                .with_resource_name(str_bytes(name))
                .with_pattern_type(pattern_type.code())
                .with_acls(acls)
        })
        .collect();
    Ok(DescribeAclsResponse::default()
        .with_error_message(None)
        .with_resources(resources))
}

/// The answer to `request` failing with `code`.
pub fn error_response(
    _request: &DescribeAclsRequest,
    _version: i16,
    code: i16,
) -> DescribeAclsResponse {
    DescribeAclsResponse::default().with_error_code(code)
}
