//! OffsetCommit (v2–v8): stores offsets with their metadata string, after
//! the coordinator checked membership and generation (or that the group is
//! not managed, for "simple" consumers).

use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::offset_commit_response::{
    OffsetCommitResponsePartition, OffsetCommitResponseTopic,
};
use kafka_protocol::messages::{OffsetCommitRequest, OffsetCommitResponse};

use super::groups::{coordinator_for, optional};
use super::topic_name;
use crate::broker::Broker;
use crate::group::state::CommittedOffset;
use crate::types::{now_ms, TopicPartition};

pub async fn handle(
    broker: &Arc<Broker>,
    request: OffsetCommitRequest,
    _version: i16,
) -> OffsetCommitResponse {
    let group_id = request.group_id.to_string();
    let requested: Vec<(TopicPartition, CommittedOffset)> = request
        .topics
        .iter()
        .flat_map(|topic| {
            topic.partitions.iter().map(move |p| {
                (
                    TopicPartition::new(topic.name.to_string(), p.partition_index),
                    CommittedOffset {
                        offset: p.committed_offset,
                        leader_epoch: p.committed_leader_epoch,
                        metadata: p
                            .committed_metadata
                            .as_ref()
                            .map(|m| m.to_string())
                            .unwrap_or_default(),
                        commit_timestamp: now_ms(),
                    },
                )
            })
        })
        .collect();
    let partitions: Vec<TopicPartition> = requested.iter().map(|(p, _)| p.clone()).collect();
    let results = match coordinator_for(broker, &group_id).await {
        Err(error) => partitions.into_iter().map(|p| (p, Some(error))).collect(),
        Ok(coordinator) => {
            // Offsets for topics that do not exist are refused, as in Kafka.
            let image = broker.metadata();
            let (known, unknown): (Vec<_>, Vec<_>) = requested.into_iter().partition(|(p, _)| {
                image.topic(&p.topic).is_some_and(|t| {
                    (p.partition as usize) < t.partitions.len() && p.partition >= 0
                })
            });
            let mut results: Vec<(TopicPartition, Option<ResponseError>)> = unknown
                .into_iter()
                .map(|(p, _)| (p, Some(ResponseError::UnknownTopicOrPartition)))
                .collect();
            match coordinator
                .commit_offsets(
                    &group_id,
                    request.member_id.to_string(),
                    request.generation_id_or_member_epoch,
                    optional(&request.group_instance_id),
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
    let mut topics: Vec<OffsetCommitResponseTopic> = Vec::new();
    for (partition, error) in results {
        let entry = OffsetCommitResponsePartition::default()
            .with_partition_index(partition.partition)
            .with_error_code(error.map_or(0, |e| e.code()));
        match topics
            .iter_mut()
            .find(|t| t.name.as_str() == partition.topic)
        {
            Some(topic) => topic.partitions.push(entry),
            None => topics.push(
                OffsetCommitResponseTopic::default()
                    .with_name(topic_name(&partition.topic))
                    .with_partitions(vec![entry]),
            ),
        }
    }
    OffsetCommitResponse::default().with_topics(topics)
}
