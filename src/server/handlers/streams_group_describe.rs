//! StreamsGroupDescribe (v0–v1, KIP-1071): state, epochs, topology (with
//! the partition counts decided for its internal topics) and members
//! (process, endpoint, tasks now and targeted) of streams groups, as
//! `kafka-streams-groups.sh --describe` shows them; unknown groups and
//! groups of another kind answer GROUP_ID_NOT_FOUND, as Kafka's do.
//! v1's topology descriptions (KIP-1331) are not stored: NOT_STORED when
//! asked for.

use std::collections::BTreeMap;
use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::streams_group_describe_response::{
    Assignment, DescribedGroup, Endpoint, KeyValue, Member, Subtopology, TaskIds, TaskOffset,
    TopicInfo, Topology,
};
use kafka_protocol::messages::{
    StreamsGroupDescribeRequest, StreamsGroupDescribeResponse, TopicName,
};

use super::groups::{coordinator_for, str_bytes};
use crate::broker::Broker;
use crate::group::streams::member::TaskOffset as MemberTaskOffset;
use crate::group::streams::{topology, Tasks, TasksTuple};
use crate::metadata::acls::{AclOperation, ResourceType};
use crate::metadata::features::STREAMS_VERSION;
use crate::server::context::RequestContext;

/// `TopologyDescriptionStatus`: not asked for, or asked for and not kept.
const DESCRIPTION_NOT_REQUESTED: i8 = 0;
const DESCRIPTION_NOT_STORED: i8 = 1;

/// The one task assignor gregor has, as Kafka names it.
const ASSIGNOR: &str = "sticky";

pub async fn handle(
    broker: &Arc<Broker>,
    request: StreamsGroupDescribeRequest,
    version: i16,
    context: &RequestContext,
) -> StreamsGroupDescribeResponse {
    let served = broker.metadata().features.level(STREAMS_VERSION) >= 1;
    let description_status = match request.include_topology_description {
        true => DESCRIPTION_NOT_STORED,
        false => DESCRIPTION_NOT_REQUESTED,
    };
    let mut groups = Vec::with_capacity(request.group_ids.len());
    for group_id in request.group_ids {
        let described = DescribedGroup::default()
            .with_group_id(group_id.clone())
            .with_authorized_operations(i32::MIN);
        if !served {
            groups.push(failed(described, ResponseError::UnsupportedVersion, None));
            continue;
        }
        if group_id.is_empty() {
            groups.push(failed(described, ResponseError::InvalidGroupId, None));
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
            false => described,
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
        let other_kind = description
            .as_ref()
            .is_some_and(|d| d.consumer.is_some() || !d.members.is_empty());
        let Some(group) = description.and_then(|d| d.streams) else {
            let message = match other_kind {
                true => format!("Group {} is not a streams group.", group_id.as_str()),
                false => format!("Group {} not found.", group_id.as_str()),
            };
            groups.push(failed(
                described,
                ResponseError::GroupIdNotFound,
                Some(message),
            ));
            continue;
        };
        if let Some((topology, _)) = &group.topology {
            let authz = context.authz(broker);
            let hidden = topology
                .topics()
                .iter()
                .any(|t| !authz.allows(AclOperation::Describe, ResourceType::Topic, t));
            if hidden {
                groups.push(failed(
                    described,
                    ResponseError::TopicAuthorizationFailed,
                    Some(
                        "The described group uses topics that the client is not authorized to describe."
                            .into(),
                    ),
                ));
                continue;
            }
        }
        let mut described = described
            .with_group_state(str_bytes(group.state.name()))
            .with_group_epoch(group.group_epoch)
            .with_assignment_epoch(group.assignment_epoch)
            .with_topology(
                group
                    .topology
                    .map(|(topology, decided)| described_topology(&topology, &decided)),
            )
            .with_members(
                group
                    .members
                    .into_iter()
                    .map(|(member, target)| {
                        Member::default()
                            .with_member_id(str_bytes(member.member_id))
                            .with_member_epoch(member.member_epoch)
                            .with_instance_id(member.instance_id.map(str_bytes))
                            .with_rack_id(member.rack_id.map(str_bytes))
                            .with_client_id(str_bytes(member.client_id))
                            .with_client_host(str_bytes(member.client_host))
                            .with_topology_epoch(member.topology_epoch)
                            .with_process_id(str_bytes(member.process_id))
                            .with_user_endpoint(member.user_endpoint.map(|e| {
                                Endpoint::default()
                                    .with_host(str_bytes(e.host))
                                    .with_port(e.port)
                            }))
                            .with_client_tags(
                                member
                                    .client_tags
                                    .into_iter()
                                    .map(|(k, v)| {
                                        KeyValue::default()
                                            .with_key(str_bytes(k))
                                            .with_value(str_bytes(v))
                                    })
                                    .collect(),
                            )
                            .with_task_offsets(task_offsets(&member.task_offsets))
                            .with_task_end_offsets(task_offsets(&member.task_end_offsets))
                            .with_assignment(assignment(&member.assigned))
                            .with_target_assignment(assignment(&target))
                            .with_is_classic(false)
                    })
                    .collect(),
            );
        if version >= 1 {
            described = described
                .with_topology_description_status(description_status)
                .with_assignor_name(Some(str_bytes(ASSIGNOR)));
        }
        groups.push(described);
    }
    StreamsGroupDescribeResponse::default().with_groups(groups)
}

/// The topology as Kafka describes a configured one: subtopologies by id,
/// topics sorted, internal topics with their decided partition counts.
fn described_topology(topology: &topology::Topology, decided: &BTreeMap<String, i32>) -> Topology {
    let names = |list: &[String]| {
        let mut list = list.to_vec();
        list.sort();
        list.into_iter()
            .map(|t| TopicName(str_bytes(t)))
            .collect::<Vec<_>>()
    };
    let infos = |list: &[topology::TopicInfo]| {
        let mut list = list.to_vec();
        list.sort_by(|a, b| a.name.cmp(&b.name));
        list.into_iter()
            .map(|t| {
                TopicInfo::default()
                    .with_partitions(decided.get(&t.name).copied().unwrap_or(t.partitions))
                    .with_name(TopicName(str_bytes(t.name)))
                    .with_replication_factor(t.replication_factor)
                    .with_topic_configs(
                        t.configs
                            .into_iter()
                            .map(|(k, v)| {
                                KeyValue::default()
                                    .with_key(str_bytes(k))
                                    .with_value(str_bytes(v))
                            })
                            .collect(),
                    )
            })
            .collect::<Vec<_>>()
    };
    let mut subtopologies: Vec<&topology::Subtopology> = topology.subtopologies.iter().collect();
    subtopologies.sort_by(|a, b| a.id.cmp(&b.id));
    Topology::default()
        .with_epoch(topology.epoch)
        .with_subtopologies(Some(
            subtopologies
                .into_iter()
                .map(|s| {
                    Subtopology::default()
                        .with_subtopology_id(str_bytes(s.id.clone()))
                        .with_source_topics(names(&s.source_topics))
                        .with_repartition_sink_topics(names(&s.repartition_sink_topics))
                        .with_state_changelog_topics(infos(&s.state_changelog_topics))
                        .with_repartition_source_topics(infos(&s.repartition_source_topics))
                })
                .collect(),
        ))
}

fn task_ids(tasks: &Tasks) -> Vec<TaskIds> {
    tasks
        .iter()
        .filter(|(_, partitions)| !partitions.is_empty())
        .map(|(subtopology, partitions)| {
            TaskIds::default()
                .with_subtopology_id(str_bytes(subtopology.clone()))
                .with_partitions(partitions.iter().copied().collect())
        })
        .collect()
}

fn assignment(tasks: &TasksTuple) -> Assignment {
    Assignment::default()
        .with_active_tasks(task_ids(&tasks.active))
        .with_standby_tasks(task_ids(&tasks.standby))
        .with_warmup_tasks(task_ids(&tasks.warmup))
}

fn task_offsets(offsets: &[MemberTaskOffset]) -> Vec<TaskOffset> {
    offsets
        .iter()
        .map(|o| {
            TaskOffset::default()
                .with_subtopology_id(str_bytes(o.subtopology.clone()))
                .with_partition(o.partition)
                .with_offset(o.offset)
        })
        .collect()
}

fn failed(group: DescribedGroup, code: ResponseError, message: Option<String>) -> DescribedGroup {
    group
        .with_error_code(code.code())
        .with_error_message(message.map(str_bytes))
}

/// The answer to `request` failing with `code`.
pub fn error_response(
    request: &StreamsGroupDescribeRequest,
    _version: i16,
    code: i16,
) -> StreamsGroupDescribeResponse {
    StreamsGroupDescribeResponse::default().with_groups(
        request
            .group_ids
            .iter()
            .map(|g| {
                DescribedGroup::default()
                    .with_group_id(g.clone())
                    .with_error_code(code)
            })
            .collect(),
    )
}
