//! OffsetCommit (v2–v9): stores offsets with their metadata string, after
//! the coordinator checked membership and generation, or for KIP-848
//! consumer groups the member epoch (v9, whose request is v8's), or that
//! the group is not managed, for "simple" consumers.

use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::offset_commit_response::{
    OffsetCommitResponsePartition, OffsetCommitResponseTopic,
};
use kafka_protocol::messages::{OffsetCommitRequest, OffsetCommitResponse};

use super::groups::{by_topic, committed_offset, coordinator_for, optional, split_unknown};
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
    let requested: Vec<(TopicPartition, CommittedOffset)> = request
        .topics
        .iter()
        .flat_map(|topic| {
            topic.partitions.iter().map(move |p| {
                (
                    TopicPartition::new(topic.name.to_string(), p.partition_index),
                    committed_offset(
                        p.committed_offset,
                        p.committed_leader_epoch,
                        p.committed_metadata.as_ref(),
                    ),
                )
            })
        })
        .collect();
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
    let topics = by_topic(results)
        .into_iter()
        .map(|(name, partitions)| {
            OffsetCommitResponseTopic::default()
                .with_name(topic_name(&name))
                .with_partitions(
                    partitions
                        .into_iter()
                        .map(|(index, error)| {
                            OffsetCommitResponsePartition::default()
                                .with_partition_index(index)
                                .with_error_code(error.map_or(0, |e| e.code()))
                        })
                        .collect(),
                )
        })
        .collect();
    OffsetCommitResponse::default().with_topics(topics)
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
