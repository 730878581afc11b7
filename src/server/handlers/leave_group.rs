//! LeaveGroup (v0–v5): one member (v0–v2) or a batch by member or instance
//! id (v3+), each answered on its own.

use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::leave_group_response::MemberResponse;
use kafka_protocol::messages::{LeaveGroupRequest, LeaveGroupResponse};

use super::groups::{coordinator_for, optional, str_bytes};
use crate::broker::Broker;
use crate::metadata::acls::{AclOperation, ResourceType};
use crate::server::context::RequestContext;

pub async fn handle(
    broker: &Arc<Broker>,
    request: LeaveGroupRequest,
    version: i16,
    context: &RequestContext,
) -> LeaveGroupResponse {
    let group_id = request.group_id.to_string();
    if !context
        .authz(broker)
        .allows(AclOperation::Read, ResourceType::Group, &group_id)
    {
        return LeaveGroupResponse::default()
            .with_error_code(ResponseError::GroupAuthorizationFailed.code());
    }
    let coordinator = match coordinator_for(broker, &group_id).await {
        Ok(coordinator) => coordinator,
        Err(error) => return LeaveGroupResponse::default().with_error_code(error.code()),
    };
    let members: Vec<(String, Option<String>)> = if version >= 3 {
        request
            .members
            .iter()
            .map(|m| (m.member_id.to_string(), optional(&m.group_instance_id)))
            .collect()
    } else {
        vec![(request.member_id.to_string(), None)]
    };
    let results = match coordinator.leave(&group_id, members.clone()).await {
        Ok(results) => results,
        Err(error) => return LeaveGroupResponse::default().with_error_code(error.code()),
    };
    if version < 3 {
        let error = results.first().and_then(|r| r.as_ref().err().copied());
        return LeaveGroupResponse::default().with_error_code(error.map_or(0, |e| e.code()));
    }
    let responses = members
        .into_iter()
        .zip(results)
        .map(|((member_id, instance_id), result)| {
            let response = MemberResponse::default()
                .with_member_id(str_bytes(member_id))
                .with_group_instance_id(instance_id.map(str_bytes));
            match result {
                // Members left by instance id are answered with their member id.
                Ok(resolved) => response.with_member_id(str_bytes(resolved)),
                Err(error) => response.with_error_code(error.code()),
            }
        })
        .collect();
    LeaveGroupResponse::default().with_members(responses)
}

/// The answer to `request` failing with `code`.
pub fn error_response(
    _request: &LeaveGroupRequest,
    _version: i16,
    code: i16,
) -> LeaveGroupResponse {
    LeaveGroupResponse::default().with_error_code(code)
}
