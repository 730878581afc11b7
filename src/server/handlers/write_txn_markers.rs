//! WriteTxnMarkers (v1): a transaction coordinator asks this broker, as
//! leader, to write markers. gregor's own coordinator writes markers to
//! local partitions directly; this is the same path for other callers (and
//! for a coordinator on another broker once there is a cluster).

use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::write_txn_markers_response::{
    WritableTxnMarkerPartitionResult, WritableTxnMarkerResult, WritableTxnMarkerTopicResult,
};
use kafka_protocol::messages::{WriteTxnMarkersRequest, WriteTxnMarkersResponse};

use crate::broker::Broker;
use crate::error::KafkaError;
use crate::group::OFFSETS_TOPIC;
use crate::metadata::acls::{AclOperation, ResourceType, CLUSTER_NAME};
use crate::records::control::TxnMarker;
use crate::server::context::RequestContext;
use crate::types::TopicPartition;

pub async fn handle(
    broker: &Arc<Broker>,
    request: WriteTxnMarkersRequest,
    version: i16,
    context: &RequestContext,
) -> WriteTxnMarkersResponse {
    // Broker-to-broker: ALTER or CLUSTER_ACTION on the cluster, else
    // every partition is refused and no marker written.
    let authz = context.authz(broker);
    let allowed = authz.allows(AclOperation::Alter, ResourceType::Cluster, CLUSTER_NAME)
        || authz.allows(
            AclOperation::ClusterAction,
            ResourceType::Cluster,
            CLUSTER_NAME,
        );
    drop(authz);
    if !allowed {
        let code = ResponseError::ClusterAuthorizationFailed.code();
        return error_response(&request, version, code);
    }
    let mut results = Vec::with_capacity(request.markers.len());
    for wanted in request.markers {
        let marker = TxnMarker {
            producer_id: wanted.producer_id.0,
            producer_epoch: wanted.producer_epoch,
            commit: wanted.transaction_result,
            coordinator_epoch: wanted.coordinator_epoch,
        };
        let mut topics = Vec::with_capacity(wanted.topics.len());
        let mut offsets_touched = false;
        for topic in wanted.topics {
            let mut partitions = Vec::with_capacity(topic.partition_indexes.len());
            for index in topic.partition_indexes {
                let topic_partition = TopicPartition::new(topic.name.to_string(), index);
                let code = match broker.partition(&topic_partition) {
                    None => ResponseError::UnknownTopicOrPartition.code(),
                    Some(partition) => match partition.append_marker(marker).await {
                        Ok(_) => {
                            offsets_touched |= topic_partition.topic == OFFSETS_TOPIC;
                            0
                        }
                        Err(error) => error.code(),
                    },
                };
                partitions.push(
                    WritableTxnMarkerPartitionResult::default()
                        .with_partition_index(index)
                        .with_error_code(code),
                );
            }
            topics.push(
                WritableTxnMarkerTopicResult::default()
                    .with_name(topic.name)
                    .with_partitions(partitions),
            );
        }
        if offsets_touched {
            broker
                .groups()
                .complete_txn(marker.producer_id, marker.commit)
                .await;
        }
        results.push(
            WritableTxnMarkerResult::default()
                .with_producer_id(wanted.producer_id)
                .with_topics(topics),
        );
    }
    WriteTxnMarkersResponse::default().with_markers(results)
}

/// The answer to `request` failing with `code` in every partition of
/// every marker.
pub fn error_response(
    request: &WriteTxnMarkersRequest,
    _version: i16,
    code: i16,
) -> WriteTxnMarkersResponse {
    WriteTxnMarkersResponse::default().with_markers(
        request
            .markers
            .iter()
            .map(|m| {
                WritableTxnMarkerResult::default()
                    .with_producer_id(m.producer_id)
                    .with_topics(
                        m.topics
                            .iter()
                            .map(|t| {
                                WritableTxnMarkerTopicResult::default()
                                    .with_name(t.name.clone())
                                    .with_partitions(
                                        t.partition_indexes
                                            .iter()
                                            .map(|p| {
                                                WritableTxnMarkerPartitionResult::default()
                                                    .with_partition_index(*p)
                                                    .with_error_code(code)
                                            })
                                            .collect(),
                                    )
                            })
                            .collect(),
                    )
            })
            .collect(),
    )
}
