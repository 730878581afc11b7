//! OffsetFetch (v1–v8): committed offsets of one group (v1–v7) or several
//! (v8), for the partitions asked or (v2+, null topics) all of them.
//! Partitions without a commit answer offset -1 and empty metadata.

use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::offset_fetch_response::{
    OffsetFetchResponseGroup, OffsetFetchResponsePartition, OffsetFetchResponsePartitions,
    OffsetFetchResponseTopic, OffsetFetchResponseTopics,
};
use kafka_protocol::messages::{GroupId, OffsetFetchRequest, OffsetFetchResponse};

use super::groups::{coordinator_for, str_bytes};
use super::topic_name;
use crate::broker::Broker;
use crate::group::state::CommittedOffset;
use crate::types::TopicPartition;

/// A topic's partitions and their committed offsets, if any.
type TopicOffsets = (String, Vec<(i32, Option<CommittedOffset>)>);

type Fetched = Result<Vec<(TopicPartition, Option<CommittedOffset>)>, ResponseError>;

async fn fetch(
    broker: &Arc<Broker>,
    group_id: &str,
    partitions: Option<Vec<TopicPartition>>,
) -> Fetched {
    let coordinator = coordinator_for(broker, group_id).await?;
    Ok(coordinator.fetch_offsets(group_id, partitions).await)
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

/// Offsets grouped by topic, in the order first seen.
fn by_topic(offsets: Vec<(TopicPartition, Option<CommittedOffset>)>) -> Vec<TopicOffsets> {
    let mut topics: Vec<TopicOffsets> = Vec::new();
    for (partition, offset) in offsets {
        match topics.iter_mut().find(|(name, _)| *name == partition.topic) {
            Some((_, entries)) => entries.push((partition.partition, offset)),
            None => topics.push((partition.topic, vec![(partition.partition, offset)])),
        }
    }
    topics
}

fn fields(offset: &Option<CommittedOffset>) -> (i64, i32, String) {
    match offset {
        Some(o) => (o.offset, o.leader_epoch, o.metadata.clone()),
        None => (-1, -1, String::new()),
    }
}

pub async fn handle(
    broker: &Arc<Broker>,
    request: OffsetFetchRequest,
    version: i16,
) -> OffsetFetchResponse {
    if version >= 8 {
        let mut groups = Vec::with_capacity(request.groups.len());
        for group in request.groups {
            let partitions = group.topics.as_ref().map(|topics| {
                wanted(
                    topics
                        .iter()
                        .map(|t| (t.name.as_str(), t.partition_indexes.as_slice())),
                )
            });
            let group_id = group.group_id.to_string();
            let response = OffsetFetchResponseGroup::default()
                .with_group_id(GroupId(str_bytes(group_id.clone())));
            groups.push(match fetch(broker, &group_id, partitions).await {
                Err(error) => response.with_error_code(error.code()),
                Ok(offsets) => response.with_topics(
                    by_topic(offsets)
                        .into_iter()
                        .map(|(name, entries)| {
                            OffsetFetchResponseTopics::default()
                                .with_name(topic_name(&name))
                                .with_partitions(
                                    entries
                                        .into_iter()
                                        .map(|(index, offset)| {
                                            let (committed, epoch, metadata) = fields(&offset);
                                            OffsetFetchResponsePartitions::default()
                                                .with_partition_index(index)
                                                .with_committed_offset(committed)
                                                .with_committed_leader_epoch(epoch)
                                                .with_metadata(Some(str_bytes(metadata)))
                                        })
                                        .collect(),
                                )
                        })
                        .collect(),
                ),
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
    match fetch(broker, &group_id, partitions).await {
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
                                    let (committed, epoch, metadata) = fields(&offset);
                                    let partition = OffsetFetchResponsePartition::default()
                                        .with_partition_index(index)
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
