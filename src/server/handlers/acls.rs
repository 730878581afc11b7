//! What CreateAcls, DescribeAcls and DeleteAcls share: reading bindings and
//! filters off the wire with Kafka's validation, and their refusals.

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::create_acls_request::AclCreation;
use kafka_protocol::messages::ApiKey;
use kafka_protocol::protocol::StrBytes;

use crate::metadata::acls::{
    AclBinding, AclFilter, AclOperation, PatternType, PermissionType, ResourceType, CLUSTER_NAME,
};

pub enum AclError {
    /// A code Kafka's parser refuses: the connection ends.
    Malformed(String),
    /// Answered INVALID_REQUEST with this message.
    Invalid(String),
}

fn code<T>(value: i8, parse: fn(i8) -> Option<T>, what: &str) -> Result<T, AclError> {
    parse(value).ok_or_else(|| {
        AclError::Malformed(format!("unknown {what} code {value} in an ACL request"))
    })
}

/// A CreateAcls entry as a binding, validated as Kafka's `AclApis` and
/// `AclControlManager` do.
pub fn binding(creation: &AclCreation) -> Result<AclBinding, AclError> {
    let resource_type = code(
        creation.resource_type,
        ResourceType::from_code,
        "resource type",
    )?;
    let pattern_type = code(
        creation.resource_pattern_type,
        PatternType::from_code,
        "pattern type",
    )?;
    let operation = code(creation.operation, AclOperation::from_code, "operation")?;
    let permission = code(
        creation.permission_type,
        PermissionType::from_code,
        "permission type",
    )?;
    let invalid = |message: String| Err(AclError::Invalid(message));
    if resource_type == ResourceType::Any {
        return invalid(format!("Invalid resourceType {}", resource_type.name()));
    }
    if !matches!(pattern_type, PatternType::Literal | PatternType::Prefixed) {
        return invalid(format!("Invalid patternType {}", pattern_type.name()));
    }
    if operation == AclOperation::Any {
        return invalid(format!("Invalid operation {}", operation.name()));
    }
    if permission == PermissionType::Any {
        return invalid(format!("Invalid permissionType {}", permission.name()));
    }
    let name = creation.resource_name.to_string();
    if name.is_empty() {
        return invalid("Invalid empty resource name".to_string());
    }
    if resource_type == ResourceType::Cluster && name != CLUSTER_NAME {
        return invalid(format!(
            "The only valid name for the CLUSTER resource is {CLUSTER_NAME}"
        ));
    }
    let principal = creation.principal.to_string();
    if !principal.contains(':') {
        return invalid(format!(
            "Could not parse principal from `{principal}` (no colon is present separating the principal type from the principal name)"
        ));
    }
    if !resource_type.supports(operation) {
        return invalid(format!(
            "Invalid operation {} for resource type {}",
            operation.name(),
            resource_type.name()
        ));
    }
    Ok(AclBinding {
        resource_type,
        resource_name: name,
        pattern_type,
        principal,
        host: creation.host.to_string(),
        operation,
        permission,
    })
}

/// A DescribeAcls or DeleteAcls filter; unknown codes end the connection.
pub fn filter(
    resource_type: i8,
    resource_name: Option<&StrBytes>,
    pattern_type: i8,
    principal: Option<&StrBytes>,
    host: Option<&StrBytes>,
    operation: i8,
    permission: i8,
) -> Result<AclFilter, String> {
    let malformed = |error: AclError| match error {
        AclError::Malformed(reason) | AclError::Invalid(reason) => reason,
    };
    Ok(AclFilter {
        resource_type: code(resource_type, ResourceType::from_code, "resource type")
            .map_err(malformed)?,
        resource_name: resource_name.map(|n| n.to_string()),
        pattern_type: code(pattern_type, PatternType::from_code, "pattern type")
            .map_err(malformed)?,
        principal: principal.map(|p| p.to_string()),
        host: host.map(|h| h.to_string()),
        operation: code(operation, AclOperation::from_code, "operation").map_err(malformed)?,
        permission: code(permission, PermissionType::from_code, "permission type")
            .map_err(malformed)?,
    })
}

/// Kafka's answer to an ACL request on a broker without an authorizer.
pub fn security_disabled() -> (ResponseError, String) {
    (
        ResponseError::SecurityDisabled,
        "No Authorizer is configured on the broker".to_string(),
    )
}

/// The message of a refused cluster-level request.
pub fn not_authorized(api: ApiKey) -> String {
    format!("Request {api:?} is not authorized.")
}
