//! DescribeTopicPartitions (v0, KIP-966): topics and their partitions in
//! name order, paged by `response_partition_limit` with a cursor, as newer
//! admin clients describe topics.

use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::describe_topic_partitions_response::{
    Cursor, DescribeTopicPartitionsResponsePartition, DescribeTopicPartitionsResponseTopic,
};
use kafka_protocol::messages::{
    BrokerId, DescribeTopicPartitionsRequest, DescribeTopicPartitionsResponse,
};

use super::topic_name;
use crate::broker::Broker;
use crate::metadata::acls::{AclOperation, ResourceType};
use crate::server::context::RequestContext;

/// Kafka's cap when the client asks for no limit.
const DEFAULT_PARTITION_LIMIT: i32 = 2000;

pub async fn handle(
    broker: &Arc<Broker>,
    request: DescribeTopicPartitionsRequest,
    _version: i16,
    context: &RequestContext,
) -> DescribeTopicPartitionsResponse {
    let image = broker.metadata();
    let authz = context.authz(broker);
    let listing_all = request.topics.is_empty();
    // Topics asked for by name that one may not DESCRIBE are answered
    // at the end; a listing of all leaves them out.
    let mut refused = Vec::new();
    let mut names: Vec<String> = if request.topics.is_empty() {
        image.topics.keys().cloned().collect()
    } else {
        request.topics.iter().map(|t| t.name.to_string()).collect()
    };
    names.sort();
    names.dedup();
    let (cursor_topic, cursor_partition) =
        request.cursor.as_ref().map_or((String::new(), 0), |c| {
            (c.topic_name.to_string(), c.partition_index.max(0))
        });
    let mut remaining = match request.response_partition_limit {
        limit if limit > 0 => limit.min(DEFAULT_PARTITION_LIMIT),
        _ => DEFAULT_PARTITION_LIMIT,
    } as usize;
    let mut topics = Vec::new();
    let mut next_cursor = None;
    for name in names.into_iter().filter(|n| *n >= cursor_topic) {
        if !authz.allows(AclOperation::Describe, ResourceType::Topic, &name) {
            if !listing_all {
                refused.push(
                    DescribeTopicPartitionsResponseTopic::default()
                        .with_name(Some(topic_name(&name)))
                        .with_error_code(ResponseError::TopicAuthorizationFailed.code()),
                );
            }
            continue;
        }
        let Some(topic) = image.topic(&name) else {
            topics.push(
                DescribeTopicPartitionsResponseTopic::default()
                    .with_name(Some(topic_name(&name)))
                    .with_error_code(ResponseError::UnknownTopicOrPartition.code()),
            );
            continue;
        };
        let first = if name == cursor_topic {
            cursor_partition
        } else {
            0
        };
        let mut partitions = Vec::new();
        for partition in topic.partitions.iter().filter(|p| p.partition >= first) {
            if remaining == 0 {
                next_cursor = Some(
                    Cursor::default()
                        .with_topic_name(topic_name(&name))
                        .with_partition_index(partition.partition),
                );
                break;
            }
            remaining -= 1;
            let nodes = |ids: &[i32]| ids.iter().copied().map(BrokerId).collect::<Vec<_>>();
            partitions.push(
                DescribeTopicPartitionsResponsePartition::default()
                    .with_partition_index(partition.partition)
                    .with_leader_id(BrokerId(image.live_leader(partition)))
                    .with_leader_epoch(partition.leader_epoch)
                    .with_replica_nodes(nodes(&partition.replicas))
                    .with_isr_nodes(nodes(&partition.isr))
                    .with_eligible_leader_replicas(Some(Vec::new()))
                    .with_last_known_elr(Some(Vec::new())),
            );
        }
        if !partitions.is_empty() || next_cursor.is_none() {
            topics.push(
                DescribeTopicPartitionsResponseTopic::default()
                    .with_name(Some(topic_name(&name)))
                    .with_topic_id(topic.id)
                    .with_is_internal(topic.is_internal())
                    .with_topic_authorized_operations(
                        authz.authorized_operations(ResourceType::Topic, &name),
                    )
                    .with_partitions(partitions),
            );
        }
        if next_cursor.is_some() {
            break;
        }
    }
    topics.append(&mut refused);
    DescribeTopicPartitionsResponse::default()
        .with_topics(topics)
        .with_next_cursor(next_cursor)
}

/// The answer to `request` failing with `code` for every topic.
pub fn error_response(
    request: &DescribeTopicPartitionsRequest,
    _version: i16,
    code: i16,
) -> DescribeTopicPartitionsResponse {
    DescribeTopicPartitionsResponse::default().with_topics(
        request
            .topics
            .iter()
            .map(|t| {
                DescribeTopicPartitionsResponseTopic::default()
                    .with_name(Some(t.name.clone()))
                    .with_error_code(code)
            })
            .collect(),
    )
}
