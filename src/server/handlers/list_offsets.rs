//! ListOffsets (v1–v11): earliest (-2), latest (-1), max timestamp (-3,
//! v7+), earliest local (-4, v8+), latest tiered (-5, v9+), earliest
//! pending upload (-6, v11+), or the first offset whose timestamp is at or
//! after a given time. Latest is the high watermark, or the last stable
//! offset for read_committed. Another negative timestamp, or one below its
//! version, is UNSUPPORTED_VERSION for its partition, as Kafka answers it;
//! only the leader answers (NOT_LEADER_OR_FOLLOWER elsewhere) unless the
//! request says it debugs (replica id -2).

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
/// v11+ (KIP-1023): the first offset not yet uploaded to the remote tier;
/// none without one, as Kafka answers when tiered storage is off.
const EARLIEST_PENDING_UPLOAD: i64 = -6;
/// Kafka's `ListOffsetsRequest.DEBUGGING_REPLICA_ID`: may ask a follower.
const DEBUGGING_REPLICA_ID: i32 = -2;

/// Whether `version` may ask for the special `timestamp` (a real time is
/// fine at any version).
fn supported(timestamp: i64, version: i16) -> bool {
    let since = match timestamp {
        0.. => 0,
        LATEST | EARLIEST => 1,
        MAX_TIMESTAMP => 7,
        EARLIEST_LOCAL => 8,
        LATEST_TIERED => 9,
        EARLIEST_PENDING_UPLOAD => 11,
        _ => return false,
    };
    version >= since
}

pub async fn handle(
    broker: &Arc<Broker>,
    request: ListOffsetsRequest,
    version: i16,
    context: &RequestContext,
) -> ListOffsetsResponse {
    let isolation = Isolation::from_wire(request.isolation_level);
    let leader_only = request.replica_id.0 != DEBUGGING_REPLICA_ID;
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
            if leader_only && !partition.is_leader() {
                partitions
                    .push(response.with_error_code(ResponseError::NotLeaderOrFollower.code()));
                continue;
            }
            if !supported(wanted.timestamp, version) {
                partitions.push(response.with_error_code(ResponseError::UnsupportedVersion.code()));
                continue;
            }
            let found = match wanted.timestamp {
                EARLIEST | EARLIEST_LOCAL => Ok(Some((-1, partition.log_start_offset().value()))),
                LATEST_TIERED | EARLIEST_PENDING_UPLOAD => Ok(None),
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
                Ok(Some((timestamp, offset))) if version >= 4 => response
                    .with_timestamp(timestamp)
                    .with_offset(offset)
                    .with_leader_epoch(partition.leader_epoch().value()),
                Ok(Some((timestamp, offset))) => {
                    response.with_timestamp(timestamp).with_offset(offset)
                }
                // Nothing found: offset and epoch -1.
                Ok(None) => response.with_leader_epoch(-1),
                Err(error) => response.with_error_code(error.code()),
            };
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
