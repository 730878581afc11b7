//! OffsetForLeaderEpoch (v2–v4): where a leader epoch ends in the leader's
//! log, from its leader-epoch checkpoint (KIP-101/KIP-279). Consumers use
//! it to detect a log truncated under them after a leader change
//! (KIP-320); followers here learn the same from Fetch's diverging epoch.

use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::offset_for_leader_epoch_response::{
    EpochEndOffset, OffsetForLeaderTopicResult,
};
use kafka_protocol::messages::{OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse};

use super::{leader_epoch_error, topic_name};
use crate::broker::Broker;
use crate::error::KafkaError;
use crate::metadata::acls::{AclOperation, ResourceType, CLUSTER_NAME};
use crate::server::context::RequestContext;
use crate::types::TopicPartition;

pub async fn handle(
    broker: &Arc<Broker>,
    request: OffsetForLeaderEpochRequest,
    _version: i16,
    context: &RequestContext,
) -> OffsetForLeaderEpochResponse {
    // CLUSTER_ACTION (followers) allows every topic; otherwise DESCRIBE
    // on each (consumers validating their position, KIP-320).
    let authz = context.authz(broker);
    let cluster = authz.allows(
        AclOperation::ClusterAction,
        ResourceType::Cluster,
        CLUSTER_NAME,
    );
    let allowed: Vec<bool> = request
        .topics
        .iter()
        .map(|t| cluster || authz.allows(AclOperation::Describe, ResourceType::Topic, &t.topic))
        .collect();
    drop(authz);
    let mut topics = Vec::with_capacity(request.topics.len());
    for (topic, allowed) in request.topics.into_iter().zip(allowed) {
        let mut partitions = Vec::with_capacity(topic.partitions.len());
        for wanted in topic.partitions {
            let topic_partition = TopicPartition::new(topic.topic.to_string(), wanted.partition);
            let answer = EpochEndOffset::default()
                .with_partition(wanted.partition)
                .with_leader_epoch(-1)
                .with_end_offset(-1);
            let error = |e: ResponseError| answer.clone().with_error_code(e.code());
            if !allowed {
                partitions.push(error(ResponseError::TopicAuthorizationFailed));
                continue;
            }
            let Some(partition) = broker.partition(&topic_partition) else {
                partitions.push(error(ResponseError::UnknownTopicOrPartition));
                continue;
            };
            if !partition.is_leader() {
                partitions.push(error(ResponseError::NotLeaderOrFollower));
                continue;
            }
            if let Some(fenced) =
                leader_epoch_error(wanted.current_leader_epoch, partition.leader_epoch())
            {
                partitions.push(error(fenced));
                continue;
            }
            partitions.push(
                match partition.end_offset_for_epoch(wanted.leader_epoch).await {
                    Ok((epoch, end)) => {
                        answer.with_leader_epoch(epoch).with_end_offset(end.value())
                    }
                    Err(failure) => error(failure.kafka_error()),
                },
            );
        }
        topics.push(
            OffsetForLeaderTopicResult::default()
                .with_topic(topic_name(topic.topic.as_str()))
                .with_partitions(partitions),
        );
    }
    OffsetForLeaderEpochResponse::default().with_topics(topics)
}

/// The answer to `request` failing with `code` in every partition.
pub fn error_response(
    request: &OffsetForLeaderEpochRequest,
    _version: i16,
    code: i16,
) -> OffsetForLeaderEpochResponse {
    OffsetForLeaderEpochResponse::default().with_topics(
        request
            .topics
            .iter()
            .map(|t| {
                OffsetForLeaderTopicResult::default()
                    .with_topic(t.topic.clone())
                    .with_partitions(
                        t.partitions
                            .iter()
                            .map(|p| {
                                EpochEndOffset::default()
                                    .with_partition(p.partition)
                                    .with_error_code(code)
                                    .with_leader_epoch(-1)
                                    .with_end_offset(-1)
                            })
                            .collect(),
                    )
            })
            .collect(),
    )
}
