//! JoinGroup (v0–v9): hands the request to the group's coordinator, which
//! answers at once (errors, MEMBER_ID_REQUIRED, a static rejoin) or when the
//! rebalance completes.

use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::join_group_response::JoinGroupResponseMember;
use kafka_protocol::messages::{JoinGroupRequest, JoinGroupResponse};

use super::groups::{coordinator_for, optional, str_bytes};
use crate::broker::Broker;
use crate::group::state::JoinRequest;
use crate::metadata::acls::{AclOperation, ResourceType};
use crate::records::primitives::check_string;
use crate::server::context::RequestContext;

pub async fn handle(
    broker: &Arc<Broker>,
    request: JoinGroupRequest,
    version: i16,
    client_id: &str,
    context: &RequestContext,
) -> JoinGroupResponse {
    let peer = context.peer;
    let group_id = request.group_id.to_string();
    let refused = |error: ResponseError, member_id| {
        JoinGroupResponse::default()
            .with_error_code(error.code())
            .with_generation_id(-1)
            .with_member_id(member_id)
    };
    if !context
        .authz(broker)
        .allows(AclOperation::Read, ResourceType::Group, &group_id)
    {
        let response = refused(ResponseError::GroupAuthorizationFailed, Default::default());
        // Kafka's refusal names no protocol: null where the field may be.
        return match version >= 7 {
            true => response.with_protocol_name(None),
            false => response,
        };
    }
    let coordinator = match coordinator_for(broker, &group_id).await {
        Ok(coordinator) => coordinator,
        Err(error) => return refused(error, request.member_id),
    };
    // What the group's metadata record keeps must fit its i16-length strings.
    let stored = request
        .protocols
        .iter()
        .map(|p| p.name.as_str())
        .chain(request.group_instance_id.as_deref())
        .chain([request.protocol_type.as_str()]);
    if stored.map(check_string).any(|fits| fits.is_err()) {
        return refused(ResponseError::InvalidRequest, request.member_id);
    }
    // v0 had no rebalance timeout: it was the session timeout.
    let rebalance_timeout = if version >= 1 {
        request.rebalance_timeout_ms
    } else {
        request.session_timeout_ms
    };
    let join = JoinRequest {
        member_id: request.member_id.to_string(),
        group_instance_id: optional(&request.group_instance_id),
        client_id: client_id.to_string(),
        client_host: format!("/{}", peer.ip()),
        session_timeout: Duration::from_millis(request.session_timeout_ms.max(0) as u64),
        rebalance_timeout: Duration::from_millis(rebalance_timeout.max(0) as u64),
        protocol_type: request.protocol_type.to_string(),
        protocols: request
            .protocols
            .into_iter()
            .map(|p| (p.name.to_string(), p.metadata))
            .collect(),
        require_known_member_id: version >= 4,
        supports_skip_assignment: version >= 9,
    };
    let result = coordinator.join(&group_id, join, broker.metadata()).await;
    let mut response = JoinGroupResponse::default()
        .with_error_code(result.error.map_or(0, |e| e.code()))
        .with_generation_id(result.generation_id)
        .with_protocol_name(Some(str_bytes(result.protocol_name.unwrap_or_default())))
        .with_leader(str_bytes(result.leader))
        .with_member_id(str_bytes(result.member_id))
        .with_members(
            result
                .members
                .into_iter()
                .map(|m| {
                    JoinGroupResponseMember::default()
                        .with_member_id(str_bytes(m.member_id))
                        .with_group_instance_id(m.group_instance_id.map(str_bytes))
                        .with_metadata(m.metadata)
                })
                .collect(),
        );
    if version >= 7 {
        response = response.with_protocol_type(result.protocol_type.map(str_bytes));
    }
    if version >= 9 {
        response = response.with_skip_assignment(result.skip_assignment);
    }
    response
}

/// The answer to `request` failing with `code`; the member keeps its id.
pub fn error_response(request: &JoinGroupRequest, _version: i16, code: i16) -> JoinGroupResponse {
    JoinGroupResponse::default()
        .with_error_code(code)
        .with_generation_id(-1)
        .with_member_id(request.member_id.clone())
}
