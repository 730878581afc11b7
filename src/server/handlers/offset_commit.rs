//! OffsetCommit (v2–v10): stores offsets with their metadata string, after
//! the coordinator checked membership and generation, or for KIP-848
//! consumer groups the member epoch (v9, whose request is v8's), or that
//! the group is not managed, for "simple" consumers. v10 names topics by id
//! only; an id the metadata does not know answers UNKNOWN_TOPIC_ID.

use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::offset_commit_response::{
    OffsetCommitResponsePartition, OffsetCommitResponseTopic,
};
use kafka_protocol::messages::{OffsetCommitRequest, OffsetCommitResponse};

use super::groups::{
    by_topic, committed_offset, coordinator_for, optional, split_unknown, TopicIds,
};
use super::topic_name;
use crate::broker::Broker;
use crate::group::state::CommittedOffset;
use crate::metadata::acls::{AclOperation, ResourceType};
use crate::server::context::RequestContext;
use crate::types::TopicPartition;

pub async fn handle(
    broker: &Arc<Broker>,
    request: OffsetCommitRequest,
    version: i16,
    context: &RequestContext,
) -> OffsetCommitResponse {
    let group_id = request.group_id.to_string();
    // READ on the group, else every partition is refused; then READ on
    // each topic, whose refused partitions are not committed.
    let authz = context.authz(broker);
    let group_allowed = authz.allows(AclOperation::Read, ResourceType::Group, &group_id);
    let mut refused: Vec<(TopicPartition, Option<ResponseError>)> = Vec::new();
    // v10: each topic by id, resolved to its name here.
    let mut ids = TopicIds::new(broker, version >= 10);
    let mut unknown_ids: Vec<OffsetCommitResponseTopic> = Vec::new();
    let mut requested: Vec<(TopicPartition, CommittedOffset)> = Vec::new();
    for topic in &request.topics {
        let Some(name) = ids.name(&topic.name, topic.topic_id) else {
            let partitions = topic.partitions.iter().map(|p| p.partition_index);
            unknown_ids.push(answer_topic(
                OffsetCommitResponseTopic::default().with_topic_id(topic.topic_id),
                partitions.map(|index| (index, Some(ResponseError::UnknownTopicId))),
            ));
            continue;
        };
        for p in &topic.partitions {
            requested.push((
                TopicPartition::new(name.clone(), p.partition_index),
                committed_offset(
                    p.committed_offset,
                    p.committed_leader_epoch,
                    p.committed_metadata.as_ref(),
                ),
            ));
        }
    }
    let requested: Vec<(TopicPartition, CommittedOffset)> = requested
        .into_iter()
        .filter_map(|(partition, offset)| {
            let error = match group_allowed {
                false => ResponseError::GroupAuthorizationFailed,
                true if !authz.allows(
                    AclOperation::Read,
                    ResourceType::Topic,
                    &partition.topic,
                ) =>
                {
                    ResponseError::TopicAuthorizationFailed
                }
                true => return Some((partition, offset)),
            };
            refused.push((partition, Some(error)));
            None
        })
        .collect();
    drop(authz);
    let mut results = match coordinator_for(broker, &group_id).await {
        _ if requested.is_empty() => Vec::new(),
        Err(error) => requested
            .into_iter()
            .map(|(p, _)| (p, Some(error)))
            .collect(),
        Ok(coordinator) => {
            let (known, mut results) = split_unknown(broker, requested);
            match coordinator
                .commit_offsets(
                    &group_id,
                    request.member_id.to_string(),
                    request.generation_id_or_member_epoch,
                    optional(&request.group_instance_id),
                    version,
                    known.clone(),
                )
                .await
            {
                Ok(committed) => results.extend(committed),
                Err(error) => results.extend(known.into_iter().map(|(p, _)| (p, Some(error)))),
            }
            results
        }
    };
    results.extend(refused);
    let mut topics: Vec<OffsetCommitResponseTopic> = by_topic(results)
        .into_iter()
        .map(|(name, partitions)| {
            let topic = match ids.id_of(&name) {
                Some(id) => OffsetCommitResponseTopic::default().with_topic_id(id),
                None => OffsetCommitResponseTopic::default().with_name(topic_name(&name)),
            };
            answer_topic(topic, partitions)
        })
        .collect();
    topics.append(&mut unknown_ids);
    OffsetCommitResponse::default().with_topics(topics)
}

fn answer_topic(
    topic: OffsetCommitResponseTopic,
    partitions: impl IntoIterator<Item = (i32, Option<ResponseError>)>,
) -> OffsetCommitResponseTopic {
    topic.with_partitions(
        partitions
            .into_iter()
            .map(|(index, error)| {
                OffsetCommitResponsePartition::default()
                    .with_partition_index(index)
                    .with_error_code(error.map_or(0, |e| e.code()))
            })
            .collect(),
    )
}

/// The answer to `request` failing with `code` in every partition.
pub fn error_response(
    request: &OffsetCommitRequest,
    _version: i16,
    code: i16,
) -> OffsetCommitResponse {
    OffsetCommitResponse::default().with_topics(
        request
            .topics
            .iter()
            .map(|t| {
                OffsetCommitResponseTopic::default()
                    .with_name(t.name.clone())
                    .with_topic_id(t.topic_id)
                    .with_partitions(
                        t.partitions
                            .iter()
                            .map(|p| {
                                OffsetCommitResponsePartition::default()
                                    .with_partition_index(p.partition_index)
                                    .with_error_code(code)
                            })
                            .collect(),
                    )
            })
            .collect(),
    )
}
