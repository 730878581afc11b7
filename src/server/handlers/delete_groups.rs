//! DeleteGroups (v0–v3): removes empty groups and their offsets
//! (NON_EMPTY_GROUP while members remain, GROUP_ID_NOT_FOUND if unknown).
//! v3's ErrorMessage stays null: Kafka fills it only for streams groups'
//! GROUP_DELETION_FAILED, which gregor has no cause for.

use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::delete_groups_response::DeletableGroupResult;
use kafka_protocol::messages::{DeleteGroupsRequest, DeleteGroupsResponse};

use super::groups::coordinator_for;
use crate::broker::Broker;
use crate::metadata::acls::{AclOperation, ResourceType};
use crate::server::context::RequestContext;

pub async fn handle(
    broker: &Arc<Broker>,
    request: DeleteGroupsRequest,
    _version: i16,
    context: &RequestContext,
) -> DeleteGroupsResponse {
    let authz = context.authz(broker);
    let mut results = Vec::with_capacity(request.groups_names.len());
    for group_id in request.groups_names {
        let allowed = authz.allows(AclOperation::Delete, ResourceType::Group, &group_id);
        let outcome = match coordinator_for(broker, &group_id).await {
            _ if !allowed => Err(ResponseError::GroupAuthorizationFailed),
            Ok(coordinator) => coordinator.delete(&group_id).await,
            Err(error) => Err(error),
        };
        results.push(
            DeletableGroupResult::default()
                .with_group_id(group_id)
                .with_error_code(outcome.err().map_or(0, |e| e.code())),
        );
    }
    DeleteGroupsResponse::default().with_results(results)
}

/// The answer to `request` failing with `code` for every group.
pub fn error_response(
    request: &DeleteGroupsRequest,
    _version: i16,
    code: i16,
) -> DeleteGroupsResponse {
    DeleteGroupsResponse::default().with_results(
        request
            .groups_names
            .iter()
            .map(|g| {
                DeletableGroupResult::default()
                    .with_group_id(g.clone())
                    .with_error_code(code)
            })
            .collect(),
    )
}
