//! ListGroups (v0–v5): every group this coordinator knows, filtered by
//! state (v4+) and type (v5+: "classic", or "consumer" for KIP-848 groups,
//! whose protocol type is "consumer" and state their own).

use std::sync::Arc;

use kafka_protocol::messages::list_groups_response::ListedGroup;
use kafka_protocol::messages::{GroupId, ListGroupsRequest, ListGroupsResponse};

use super::groups::str_bytes;
use crate::broker::Broker;
use crate::metadata::acls::{AclOperation, ResourceType, CLUSTER_NAME};
use crate::server::context::RequestContext;

pub async fn handle(
    broker: &Arc<Broker>,
    request: ListGroupsRequest,
    _version: i16,
    context: &RequestContext,
) -> ListGroupsResponse {
    // DESCRIBE on the cluster lists every group; otherwise those one may
    // DESCRIBE, silently.
    let authz = context.authz(broker);
    let all = authz.allows(AclOperation::Describe, ResourceType::Cluster, CLUSTER_NAME);
    let listed =
        |group_id: &str| all || authz.allows(AclOperation::Describe, ResourceType::Group, group_id);
    let states: Vec<String> = request
        .states_filter
        .iter()
        .map(|s| s.to_lowercase())
        .collect();
    let types: Vec<String> = request
        .types_filter
        .iter()
        .map(|s| s.to_lowercase())
        .collect();
    let groups = broker
        .groups()
        .list()
        .await
        .into_iter()
        .map(|g| {
            let (group_type, protocol_type, state) = match (&g.consumer, &g.streams) {
                (Some(consumer), _) => ("consumer", "consumer".to_string(), consumer.state.name()),
                (_, Some(streams)) => ("streams", "streams".to_string(), streams.state.name()),
                _ => ("classic", g.protocol_type, g.state.name()),
            };
            (g.group_id, group_type, protocol_type, state)
        })
        .filter(|(_, _, _, state)| states.is_empty() || states.contains(&state.to_lowercase()))
        .filter(|(_, group_type, _, _)| types.is_empty() || types.iter().any(|t| t == group_type))
        .filter(|(group_id, _, _, _)| listed(group_id))
        .map(|(group_id, group_type, protocol_type, state)| {
            ListedGroup::default()
                .with_group_id(GroupId(str_bytes(group_id)))
                .with_protocol_type(str_bytes(protocol_type))
                .with_group_state(str_bytes(state))
                .with_group_type(str_bytes(group_type))
        })
        .collect();
    ListGroupsResponse::default().with_groups(groups)
}

/// The answer to `request` failing with `code`.
pub fn error_response(
    _request: &ListGroupsRequest,
    _version: i16,
    code: i16,
) -> ListGroupsResponse {
    ListGroupsResponse::default().with_error_code(code)
}
