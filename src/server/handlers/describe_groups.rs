//! DescribeGroups (v0–v6): state, protocol and members of each group;
//! member metadata and assignments only while the group is Stable, and
//! state "Dead" for groups that do not exist and for KIP-848 consumer
//! groups (ConsumerGroupDescribe describes those), as Kafka answers — from
//! v6 (KIP-1043) with GROUP_ID_NOT_FOUND and Kafka's message.

use std::sync::Arc;

use kafka_protocol::error::ResponseError;

use kafka_protocol::messages::describe_groups_response::{DescribedGroup, DescribedGroupMember};
use kafka_protocol::messages::{DescribeGroupsRequest, DescribeGroupsResponse};

use super::groups::str_bytes;
use crate::broker::Broker;
use crate::group::state::GroupState;
use crate::metadata::acls::{AclOperation, ResourceType};
use crate::server::context::RequestContext;

pub async fn handle(
    broker: &Arc<Broker>,
    request: DescribeGroupsRequest,
    version: i16,
    context: &RequestContext,
) -> DescribeGroupsResponse {
    let authz = context.authz(broker);
    let include_operations = version >= 3 && request.include_authorized_operations;
    let mut groups = Vec::with_capacity(request.groups.len());
    for group_id in request.groups {
        let described = DescribedGroup::default().with_group_id(group_id.clone());
        if !authz.allows(AclOperation::Describe, ResourceType::Group, &group_id) {
            groups.push(
                described
                    .with_error_code(ResponseError::GroupAuthorizationFailed.code())
                    .with_group_state(Default::default())
                    .with_protocol_type(Default::default())
                    .with_protocol_data(Default::default()),
            );
            continue;
        }
        let described = match include_operations {
            true => described.with_authorized_operations(
                authz.authorized_operations(ResourceType::Group, &group_id),
            ),
            false => described,
        };
        // Once the offsets topic exists, only its partition's leader answers.
        let offsets_topic = broker
            .metadata()
            .topic(crate::group::OFFSETS_TOPIC)
            .is_some();
        if offsets_topic && !group_id.is_empty() && !broker.groups().coordinates(&group_id) {
            groups.push(described.with_error_code(ResponseError::NotCoordinator.code()));
            continue;
        }
        let description = if group_id.is_empty() {
            None
        } else {
            broker.groups().describe(&group_id).await
        };
        let not_found = match &description {
            None => format!("Group {} not found.", group_id.as_str()),
            Some(d) if d.consumer.is_some() || d.streams.is_some() => {
                format!("Group {} is not a classic group.", group_id.as_str())
            }
            Some(_) => String::new(),
        };
        let description = description.filter(|d| d.consumer.is_none() && d.streams.is_none());
        groups.push(match description {
            None if version >= 6 => described
                .with_group_state(str_bytes(GroupState::Dead.name()))
                .with_error_code(ResponseError::GroupIdNotFound.code())
                .with_error_message(Some(str_bytes(not_found))),
            None => described.with_group_state(str_bytes(GroupState::Dead.name())),
            Some(group) => described
                .with_group_state(str_bytes(group.state.name()))
                .with_protocol_type(str_bytes(group.protocol_type))
                .with_protocol_data(str_bytes(group.protocol_name))
                .with_members(
                    group
                        .members
                        .into_iter()
                        .map(|m| {
                            DescribedGroupMember::default()
                                .with_member_id(str_bytes(m.member_id))
                                .with_group_instance_id(m.group_instance_id.map(str_bytes))
                                .with_client_id(str_bytes(m.client_id))
                                .with_client_host(str_bytes(m.client_host))
                                .with_member_metadata(m.metadata)
                                .with_member_assignment(m.assignment)
                        })
                        .collect(),
                ),
        });
    }
    DescribeGroupsResponse::default().with_groups(groups)
}

/// The answer to `request` failing with `code` for every group.
pub fn error_response(
    request: &DescribeGroupsRequest,
    _version: i16,
    code: i16,
) -> DescribeGroupsResponse {
    DescribeGroupsResponse::default().with_groups(
        request
            .groups
            .iter()
            .map(|g| {
                DescribedGroup::default()
                    .with_group_id(g.clone())
                    .with_error_code(code)
            })
            .collect(),
    )
}
