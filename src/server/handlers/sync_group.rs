//! SyncGroup (v0–v5): the leader delivers the assignment; every member gets
//! its own share once the leader's arrives.

use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::{SyncGroupRequest, SyncGroupResponse};

use super::groups::{coordinator_for, optional, str_bytes};
use crate::broker::Broker;
use crate::group::state::SyncRequest;
use crate::metadata::acls::{AclOperation, ResourceType};
use crate::server::context::RequestContext;

pub async fn handle(
    broker: &Arc<Broker>,
    request: SyncGroupRequest,
    version: i16,
    context: &RequestContext,
) -> SyncGroupResponse {
    let group_id = request.group_id.to_string();
    // v5 names the protocol; without it, Kafka refuses before it
    // authorizes anything.
    if version >= 5 && (request.protocol_type.is_none() || request.protocol_name.is_none()) {
        return SyncGroupResponse::default()
            .with_error_code(ResponseError::InconsistentGroupProtocol.code());
    }
    if !context
        .authz(broker)
        .allows(AclOperation::Read, ResourceType::Group, &group_id)
    {
        return SyncGroupResponse::default()
            .with_error_code(ResponseError::GroupAuthorizationFailed.code());
    }
    let coordinator = match coordinator_for(broker, &group_id).await {
        Ok(coordinator) => coordinator,
        Err(error) => return SyncGroupResponse::default().with_error_code(error.code()),
    };
    let sync = SyncRequest {
        member_id: request.member_id.to_string(),
        generation_id: request.generation_id,
        group_instance_id: optional(&request.group_instance_id),
        protocol_type: optional(&request.protocol_type),
        protocol_name: optional(&request.protocol_name),
        assignments: request
            .assignments
            .into_iter()
            .map(|a| (a.member_id.to_string(), a.assignment))
            .collect(),
    };
    let result = coordinator.sync(&group_id, sync, broker.metadata()).await;
    let mut response = SyncGroupResponse::default()
        .with_error_code(result.error.map_or(0, |e| e.code()))
        .with_assignment(result.assignment);
    if version >= 5 {
        response = response
            .with_protocol_type(result.protocol_type.map(str_bytes))
            .with_protocol_name(result.protocol_name.map(str_bytes));
    }
    response
}

/// The answer to `request` failing with `code`.
pub fn error_response(_request: &SyncGroupRequest, _version: i16, code: i16) -> SyncGroupResponse {
    SyncGroupResponse::default().with_error_code(code)
}
