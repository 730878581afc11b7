//! ConsumerGroupDescribe (v0–v1, KIP-848): state, epochs, assignor and
//! members (subscriptions, current and target assignments) of consumer
//! groups; unknown and classic groups answer GROUP_ID_NOT_FOUND, as
//! Kafka's do.

use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::consumer_group_describe_response::{
    Assignment, DescribedGroup, Member, TopicPartitions,
};
use kafka_protocol::messages::{
    ConsumerGroupDescribeRequest, ConsumerGroupDescribeResponse, GroupId, TopicName,
};

use super::groups::{coordinator_for, str_bytes};
use crate::broker::Broker;
use crate::group::consumer;
use crate::metadata::acls::{AclOperation, ResourceType};
use crate::metadata::features::GROUP_VERSION;
use crate::metadata::MetadataImage;
use crate::server::context::RequestContext;

/// `member_type` (v1, KIP-1099) of a member using the classic protocol in
/// a migrated group, and of one using the consumer protocol.
const CLASSIC_MEMBER_TYPE: i8 = 0;
const CONSUMER_MEMBER_TYPE: i8 = 1;

pub async fn handle(
    broker: &Arc<Broker>,
    request: ConsumerGroupDescribeRequest,
    _version: i16,
    context: &RequestContext,
) -> ConsumerGroupDescribeResponse {
    let mut groups = Vec::with_capacity(request.group_ids.len());
    // Below group.version 1 KIP-848 is off: every group is refused.
    let served = broker.metadata().features.level(GROUP_VERSION) >= 1;
    for group_id in request.group_ids {
        let described = DescribedGroup::default().with_group_id(group_id.clone());
        if !served {
            groups.push(failed(described, ResponseError::UnsupportedVersion, None));
            continue;
        }
        let authz = context.authz(broker);
        if !authz.allows(AclOperation::Describe, ResourceType::Group, &group_id) {
            groups.push(failed(
                described,
                ResponseError::GroupAuthorizationFailed,
                None,
            ));
            continue;
        }
        let described = match request.include_authorized_operations {
            true => described.with_authorized_operations(
                authz.authorized_operations(ResourceType::Group, &group_id),
            ),
            false => described.with_authorized_operations(i32::MIN),
        };
        drop(authz);
        let coordinator = match coordinator_for(broker, &group_id).await {
            Ok(coordinator) => coordinator,
            Err(code) => {
                groups.push(failed(described, code, None));
                continue;
            }
        };
        let description = coordinator.describe(&group_id).await;
        let other_kind = description.as_ref().is_some_and(|d| d.streams.is_some());
        let Some(group) = description.and_then(|d| d.consumer) else {
            let message = match other_kind {
                true => format!("Group {} is not a consumer group.", group_id.as_str()),
                false => format!("Group {} not found.", group_id.as_str()),
            };
            groups.push(failed(
                described,
                ResponseError::GroupIdNotFound,
                Some(message),
            ));
            continue;
        };
        let image = broker.metadata();
        groups.push(
            described
                .with_group_state(str_bytes(group.state.name()))
                .with_group_epoch(group.group_epoch)
                .with_assignment_epoch(group.assignment_epoch)
                .with_assignor_name(str_bytes(group.assignor_name))
                .with_members(
                    group
                        .members
                        .into_iter()
                        .map(|(member, target)| {
                            let member_type = match member.uses_classic_protocol() {
                                true => CLASSIC_MEMBER_TYPE,
                                false => CONSUMER_MEMBER_TYPE,
                            };
                            Member::default()
                                .with_member_id(str_bytes(member.member_id))
                                .with_instance_id(member.instance_id.map(str_bytes))
                                .with_rack_id(member.rack_id.map(str_bytes))
                                .with_member_epoch(member.member_epoch)
                                .with_client_id(str_bytes(member.client_id))
                                .with_client_host(str_bytes(member.client_host))
                                .with_subscribed_topic_names(
                                    member
                                        .subscribed_topic_names
                                        .into_iter()
                                        .map(|t| TopicName(str_bytes(t)))
                                        .collect(),
                                )
                                .with_subscribed_topic_regex(
                                    member.subscribed_topic_regex.map(str_bytes),
                                )
                                .with_assignment(assignment(&image, member.assigned_partitions))
                                .with_target_assignment(assignment(&image, target))
                                .with_member_type(member_type)
                        })
                        .collect(),
                ),
        );
    }
    ConsumerGroupDescribeResponse::default().with_groups(groups)
}

/// An assignment with topic names; topics deleted since are left out.
fn assignment(image: &MetadataImage, partitions: consumer::Assignment) -> Assignment {
    Assignment::default().with_topic_partitions(
        partitions
            .into_iter()
            .filter_map(|(topic_id, partitions)| {
                let topic = image.topic_by_id(topic_id)?;
                Some(
                    TopicPartitions::default()
                        .with_topic_id(topic_id)
                        .with_topic_name(TopicName(str_bytes(topic.name.clone())))
                        .with_partitions(partitions.into_iter().collect()),
                )
            })
            .collect(),
    )
}

fn failed(group: DescribedGroup, code: ResponseError, message: Option<String>) -> DescribedGroup {
    group
        .with_error_code(code.code())
        .with_error_message(message.map(str_bytes))
}

/// The answer to `request` failing with `code` for every group.
pub fn error_response(
    request: &ConsumerGroupDescribeRequest,
    _version: i16,
    code: i16,
) -> ConsumerGroupDescribeResponse {
    ConsumerGroupDescribeResponse::default().with_groups(
        request
            .group_ids
            .iter()
            .map(|g: &GroupId| {
                DescribedGroup::default()
                    .with_group_id(g.clone())
                    .with_error_code(code)
            })
            .collect(),
    )
}
