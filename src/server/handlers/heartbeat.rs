//! Heartbeat (v0–v4): keeps a member's session alive and tells it when a
//! rebalance is under way.

use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::{HeartbeatRequest, HeartbeatResponse};

use super::groups::{coordinator_for, optional};
use crate::broker::Broker;
use crate::metadata::acls::{AclOperation, ResourceType};
use crate::server::context::RequestContext;

pub async fn handle(
    broker: &Arc<Broker>,
    request: HeartbeatRequest,
    _version: i16,
    context: &RequestContext,
) -> HeartbeatResponse {
    let group_id = request.group_id.to_string();
    let allowed = context
        .authz(broker)
        .allows(AclOperation::Read, ResourceType::Group, &group_id);
    let error = match coordinator_for(broker, &group_id).await {
        _ if !allowed => Some(ResponseError::GroupAuthorizationFailed),
        Ok(coordinator) => {
            coordinator
                .heartbeat(
                    &group_id,
                    request.member_id.to_string(),
                    request.generation_id,
                    optional(&request.group_instance_id),
                    broker.metadata(),
                )
                .await
        }
        Err(error) => Some(error),
    };
    HeartbeatResponse::default().with_error_code(error.map_or(0, |e| e.code()))
}

/// The answer to `request` failing with `code`.
pub fn error_response(_request: &HeartbeatRequest, _version: i16, code: i16) -> HeartbeatResponse {
    HeartbeatResponse::default().with_error_code(code)
}
