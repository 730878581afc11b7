//! ListOffsets (v1–v7): earliest (-2), latest (-1), max timestamp (-3), or
//! the first offset whose timestamp is at or after a given time. Latest is
//! the high watermark, or the last stable offset for read_committed.

use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::list_offsets_response::{
    ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
};
use kafka_protocol::messages::{ListOffsetsRequest, ListOffsetsResponse};

use super::{leader_epoch_error, topic_name};
use crate::broker::Broker;
use crate::error::KafkaError;
use crate::metadata::acls::{AclOperation, ResourceType};
use crate::partition::Isolation;
use crate::server::context::RequestContext;
use crate::types::TopicPartition;

const LATEST: i64 = -1;
const EARLIEST: i64 = -2;
const MAX_TIMESTAMP: i64 = -3;
/// v8+ (KIP-405): the earliest offset in local storage — the log start,
/// as gregor keeps no remote tier.
const EARLIEST_LOCAL: i64 = -4;
/// v9+ (KIP-1005): the last offset in the remote tier; none without one,
/// as Kafka answers when tiered storage is off.
const LATEST_TIERED: i64 = -5;

pub async fn handle(
    broker: &Arc<Broker>,
    request: ListOffsetsRequest,
    version: i16,
    context: &RequestContext,
) -> ListOffsetsResponse {
    let isolation = Isolation::from_wire(request.isolation_level);
    let authz = context.authz(broker);
    let mut topics = Vec::with_capacity(request.topics.len());
    for topic in request.topics {
        let name = topic.name.to_string();
        let mut partitions = Vec::with_capacity(topic.partitions.len());
        // DESCRIBE on the topic, checked before it is looked up.
        let allowed = authz.allows(AclOperation::Describe, ResourceType::Topic, &name);
        for wanted in topic.partitions {
            let topic_partition = TopicPartition::new(name.clone(), wanted.partition_index);
            let mut response = ListOffsetsPartitionResponse::default()
                .with_partition_index(wanted.partition_index)
                .with_timestamp(-1)
                .with_offset(-1);
            if !allowed {
                partitions
                    .push(response.with_error_code(ResponseError::TopicAuthorizationFailed.code()));
                continue;
            }
            let Some(partition) = broker.partition(&topic_partition) else {
                partitions
                    .push(response.with_error_code(ResponseError::UnknownTopicOrPartition.code()));
                continue;
            };
            if let Some(error) =
                leader_epoch_error(wanted.current_leader_epoch, partition.leader_epoch())
            {
                partitions.push(response.with_error_code(error.code()));
                continue;
            }
            let found = match wanted.timestamp {
                EARLIEST | EARLIEST_LOCAL => Ok(Some((-1, partition.log_start_offset().value()))),
                LATEST_TIERED => Ok(None),
                LATEST => Ok(Some((-1, partition.visible_end(isolation).value()))),
                MAX_TIMESTAMP => partition
                    .max_timestamp()
                    .await
                    .map(|found| found.map(|f| (f.timestamp, f.offset.value()))),
                timestamp => partition
                    .offset_for_timestamp(timestamp)
                    .await
                    .map(|found| found.map(|f| (f.timestamp, f.offset.value()))),
            };
            response = match found {
                Ok(Some((timestamp, offset))) => {
                    response.with_timestamp(timestamp).with_offset(offset)
                }
                Ok(None) => response,
                Err(error) => response.with_error_code(error.code()),
            };
            if version >= 4 {
                response = response.with_leader_epoch(partition.leader_epoch().value());
            }
            partitions.push(response);
        }
        topics.push(
            ListOffsetsTopicResponse::default()
                .with_name(topic_name(&name))
                .with_partitions(partitions),
        );
    }
    ListOffsetsResponse::default().with_topics(topics)
}

/// The answer to `request` failing with `code` in every partition.
pub fn error_response(
    request: &ListOffsetsRequest,
    _version: i16,
    code: i16,
) -> ListOffsetsResponse {
    ListOffsetsResponse::default().with_topics(
        request
            .topics
            .iter()
            .map(|t| {
                ListOffsetsTopicResponse::default()
                    .with_name(t.name.clone())
                    .with_partitions(
                        t.partitions
                            .iter()
                            .map(|p| {
                                ListOffsetsPartitionResponse::default()
                                    .with_partition_index(p.partition_index)
                                    .with_error_code(code)
                                    .with_timestamp(-1)
                                    .with_offset(-1)
                            })
                            .collect(),
                    )
            })
            .collect(),
    )
}
