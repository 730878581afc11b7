//! OffsetFetch (v1–v10): committed offsets of one group (v1–v7) or several
//! (v8+), for the partitions asked or (v2+, null topics) all of them. In v9
//! a KIP-848 member names itself and its epoch, checked like a commit's
//! (UNKNOWN_MEMBER_ID, STALE_MEMBER_EPOCH). v10 names topics by id: an id
//! the metadata does not know answers UNKNOWN_TOPIC_ID, and a listing of
//! all leaves out offsets of topics that no longer exist.
//! Partitions without a commit answer offset -1 and empty metadata; with
//! require_stable (v7+, KIP-447), partitions whose offsets wait on an open
//! transaction answer UNSTABLE_OFFSET_COMMIT so that the consumer retries.

use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::offset_fetch_response::{
    OffsetFetchResponseGroup, OffsetFetchResponsePartition, OffsetFetchResponsePartitions,
    OffsetFetchResponseTopic, OffsetFetchResponseTopics,
};
use kafka_protocol::messages::{GroupId, OffsetFetchRequest, OffsetFetchResponse};

use super::groups::{by_topic, coordinator_for, str_bytes};
use super::topic_name;
use crate::broker::Broker;
use crate::group::state::CommittedOffset;
use crate::metadata::acls::{AclOperation, ResourceType};
use crate::server::context::RequestContext;
use crate::types::TopicPartition;

/// A partition's committed offset, or the partition-level error.
type PartitionOffset = Result<Option<CommittedOffset>, ResponseError>;

type Fetched = Result<Vec<(TopicPartition, PartitionOffset)>, ResponseError>;

/// One group's offsets, as its principal may see them: DESCRIBE on the
/// group, else the group's error; partitions asked for in topics it may
/// not DESCRIBE are refused each, and a listing of all leaves them out.
async fn fetch(
    broker: &Arc<Broker>,
    context: &RequestContext,
    group_id: &str,
    partitions: Option<Vec<TopicPartition>>,
    require_stable: bool,
    member: Option<(Option<String>, i32)>,
) -> Fetched {
    let authz = context.authz(broker);
    let describable =
        |topic: &str| authz.allows(AclOperation::Describe, ResourceType::Topic, topic);
    if !authz.allows(AclOperation::Describe, ResourceType::Group, group_id) {
        return Err(ResponseError::GroupAuthorizationFailed);
    }
    let (partitions, mut refused) = match partitions {
        None => (None, Vec::new()),
        Some(partitions) => {
            let (allowed, refused): (Vec<_>, Vec<_>) =
                partitions.into_iter().partition(|p| describable(&p.topic));
            let refused = refused
                .into_iter()
                .map(|p| (p, Err(ResponseError::TopicAuthorizationFailed)))
                .collect();
            (Some(allowed), refused)
        }
    };
    let listing_all = partitions.is_none();
    if partitions.as_ref().is_some_and(Vec::is_empty) {
        return Ok(refused);
    }
    let coordinator = coordinator_for(broker, group_id).await?;
    if let Some((member_id, member_epoch)) = member {
        coordinator
            .validate_offset_fetch(group_id, member_id, member_epoch)
            .await?;
    }
    let unstable = match require_stable {
        true => coordinator.unstable_partitions(group_id).await,
        false => Vec::new(),
    };
    let offsets = coordinator.fetch_offsets(group_id, partitions).await;
    let mut fetched: Vec<(TopicPartition, PartitionOffset)> = offsets
        .into_iter()
        .filter(|(partition, _)| !listing_all || describable(&partition.topic))
        .map(|(partition, offset)| {
            let answer = match unstable.contains(&partition) {
                true => Err(ResponseError::UnstableOffsetCommit),
                false => Ok(offset),
            };
            (partition, answer)
        })
        .collect();
    fetched.append(&mut refused);
    Ok(fetched)
}

fn wanted<'a>(topics: impl Iterator<Item = (&'a str, &'a [i32])>) -> Vec<TopicPartition> {
    topics
        .flat_map(|(name, partitions)| {
            partitions
                .iter()
                .map(move |p| TopicPartition::new(name, *p))
        })
        .collect()
}

/// A partition's answer in a v8+ response.
fn partition(index: i32, offset: &PartitionOffset) -> OffsetFetchResponsePartitions {
    let (committed, epoch, metadata, code) = fields(offset);
    OffsetFetchResponsePartitions::default()
        .with_partition_index(index)
        .with_error_code(code)
        .with_committed_offset(committed)
        .with_committed_leader_epoch(epoch)
        .with_metadata(Some(str_bytes(metadata)))
}

/// A v10 topic whose id the metadata does not know.
fn unknown_topic_id(id: uuid::Uuid, partitions: &[i32]) -> OffsetFetchResponseTopics {
    let unknown: PartitionOffset = Err(ResponseError::UnknownTopicId);
    OffsetFetchResponseTopics::default()
        .with_topic_id(id)
        .with_partitions(partitions.iter().map(|p| partition(*p, &unknown)).collect())
}

/// Offset, leader epoch, metadata and error code of a partition's answer.
fn fields(offset: &PartitionOffset) -> (i64, i32, String, i16) {
    match offset {
        Ok(Some(o)) => (o.offset, o.leader_epoch, o.metadata.clone(), 0),
        Ok(None) => (-1, -1, String::new(), 0),
        Err(error) => (-1, -1, String::new(), error.code()),
    }
}

pub async fn handle(
    broker: &Arc<Broker>,
    request: OffsetFetchRequest,
    version: i16,
    context: &RequestContext,
) -> OffsetFetchResponse {
    if version >= 8 {
        let by_id = (version >= 10).then(|| broker.metadata());
        let mut groups = Vec::with_capacity(request.groups.len());
        for group in request.groups {
            // v10: topics by id, resolved to names; the unknown answered apart.
            let mut unknown_ids = Vec::new();
            let named: Option<Vec<(String, &[i32])>> = group.topics.as_ref().map(|topics| {
                topics
                    .iter()
                    .filter_map(|t| match &by_id {
                        None => Some((t.name.to_string(), t.partition_indexes.as_slice())),
                        Some(image) => match image.topic_by_id(t.topic_id) {
                            Some(found) => {
                                Some((found.name.clone(), t.partition_indexes.as_slice()))
                            }
                            None => {
                                unknown_ids
                                    .push(unknown_topic_id(t.topic_id, &t.partition_indexes));
                                None
                            }
                        },
                    })
                    .collect()
            });
            let partitions = named
                .as_ref()
                .map(|named| wanted(named.iter().map(|(name, p)| (name.as_str(), *p))));
            let group_id = group.group_id.to_string();
            let response = OffsetFetchResponseGroup::default()
                .with_group_id(GroupId(str_bytes(group_id.clone())));
            let fetched = fetch(
                broker,
                context,
                &group_id,
                partitions,
                request.require_stable,
                (version >= 9).then(|| {
                    (
                        group.member_id.as_ref().map(|m| m.to_string()),
                        group.member_epoch,
                    )
                }),
            )
            .await;
            groups.push(match fetched {
                Err(error) => response.with_error_code(error.code()),
                Ok(offsets) => {
                    let mut topics: Vec<OffsetFetchResponseTopics> = by_topic(offsets)
                        .into_iter()
                        .filter_map(|(name, entries)| {
                            let topic = match &by_id {
                                None => OffsetFetchResponseTopics::default()
                                    .with_name(topic_name(&name)),
                                // A deleted topic has no id to answer with.
                                Some(image) => OffsetFetchResponseTopics::default()
                                    .with_topic_id(image.topic(&name)?.id),
                            };
                            Some(
                                topic.with_partitions(
                                    entries
                                        .iter()
                                        .map(|(index, offset)| partition(*index, offset))
                                        .collect(),
                                ),
                            )
                        })
                        .collect();
                    topics.append(&mut unknown_ids);
                    response.with_topics(topics)
                }
            });
        }
        return OffsetFetchResponse::default().with_groups(groups);
    }

    let group_id = request.group_id.to_string();
    let partitions = request.topics.as_ref().map(|topics| {
        wanted(
            topics
                .iter()
                .map(|t| (t.name.as_str(), t.partition_indexes.as_slice())),
        )
    });
    match fetch(
        broker,
        context,
        &group_id,
        partitions,
        request.require_stable,
        None,
    )
    .await
    {
        Err(error) => {
            let response = OffsetFetchResponse::default();
            if version >= 2 {
                response.with_error_code(error.code())
            } else {
                response
            }
        }
        Ok(offsets) => OffsetFetchResponse::default().with_topics(
            by_topic(offsets)
                .into_iter()
                .map(|(name, entries)| {
                    OffsetFetchResponseTopic::default()
                        .with_name(topic_name(&name))
                        .with_partitions(
                            entries
                                .into_iter()
                                .map(|(index, offset)| {
                                    let (committed, epoch, metadata, code) = fields(&offset);
                                    let partition = OffsetFetchResponsePartition::default()
                                        .with_partition_index(index)
                                        .with_error_code(code)
                                        .with_committed_offset(committed)
                                        .with_metadata(Some(str_bytes(metadata)));
                                    if version >= 5 {
                                        partition.with_committed_leader_epoch(epoch)
                                    } else {
                                        partition
                                    }
                                })
                                .collect(),
                        )
                })
                .collect(),
        ),
    }
}

/// The answer to `request` failing with `code`: from v8 for every group,
/// before it for every partition asked for (and from v2 at the top level).
pub fn error_response(
    request: &OffsetFetchRequest,
    version: i16,
    code: i16,
) -> OffsetFetchResponse {
    if version >= 8 {
        return OffsetFetchResponse::default().with_groups(
            request
                .groups
                .iter()
                .map(|g| {
                    OffsetFetchResponseGroup::default()
                        .with_group_id(g.group_id.clone())
                        .with_error_code(code)
                })
                .collect(),
        );
    }
    OffsetFetchResponse::default()
        .with_topics(
            request
                .topics
                .iter()
                .flatten()
                .map(|t| {
                    OffsetFetchResponseTopic::default()
                        .with_name(t.name.clone())
                        .with_partitions(
                            t.partition_indexes
                                .iter()
                                .map(|p| {
                                    OffsetFetchResponsePartition::default()
                                        .with_partition_index(*p)
                                        .with_committed_offset(-1)
                                        .with_error_code(code)
                                })
                                .collect(),
                        )
                })
                .collect(),
        )
        .with_error_code(if version >= 2 { code } else { 0 })
}
