//! DescribeQuorum (v0–2, KIP-595; what `kafka-metadata-quorum.sh describe`
//! sends): the metadata log's leader, epoch and high watermark, the voters
//! with their log end offsets and the observers (brokers that are not
//! voters) with when they were last heard, from the quorum's leader
//! wherever the request arrives; v2 adds each voter's controller endpoint.
//! Needs DESCRIBE on the cluster; only `__cluster_metadata` partition 0 is
//! described (others: UNKNOWN_TOPIC_OR_PARTITION, as Kafka's Raft client
//! answers).

use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::describe_quorum_response::{
    Listener, Node, PartitionData, ReplicaState, TopicData,
};
use kafka_protocol::messages::{
    ApiKey, BrokerId, DescribeQuorumRequest, DescribeQuorumResponse, TopicName,
};

use super::acls::not_authorized;
use super::groups::str_bytes;
use crate::broker::Broker;
use crate::controller::quorum::describe;
use crate::metadata::acls::AclOperation;
use crate::server::context::RequestContext;

/// The metadata log's name in Kafka (KRaft).
const METADATA_TOPIC: &str = "__cluster_metadata";

pub async fn handle(
    broker: &Arc<Broker>,
    request: DescribeQuorumRequest,
    version: i16,
    context: &RequestContext,
) -> DescribeQuorumResponse {
    if !context.may_on_cluster(broker, AclOperation::Describe) {
        let code = ResponseError::ClusterAuthorizationFailed.code();
        let response = DescribeQuorumResponse::default().with_error_code(code);
        return match version >= 2 {
            true => {
                response.with_error_message(Some(str_bytes(not_authorized(ApiKey::DescribeQuorum))))
            }
            false => response,
        };
    }
    let asks_metadata_log = request.topics.len() == 1
        && request.topics[0].topic_name.as_str() == METADATA_TOPIC
        && request.topics[0].partitions.len() == 1
        && request.topics[0].partitions[0].partition_index == 0;
    if !asks_metadata_log {
        return error_response(
            &request,
            version,
            ResponseError::UnknownTopicOrPartition.code(),
        );
    }
    let description = match broker.controller().describe_quorum().await {
        Ok(description) => description,
        Err(error) => {
            tracing::debug!(%error, "DescribeQuorum: no leader's view");
            return error_response(&request, version, ResponseError::NotLeaderOrFollower.code());
        }
    };
    let replica = |r: &describe::ReplicaState| {
        let state = ReplicaState::default()
            .with_replica_id(BrokerId(r.replica_id))
            .with_log_end_offset(r.log_end_offset);
        let state = match version >= 1 {
            true => state
                .with_last_fetch_timestamp(r.last_fetch_timestamp)
                .with_last_caught_up_timestamp(r.last_caught_up_timestamp),
            false => state,
        };
        match version >= 2 {
            true => state.with_replica_directory_id(r.directory_id.unwrap_or_default()),
            false => state,
        }
    };
    let partition = PartitionData::default()
        .with_partition_index(0)
        .with_leader_id(BrokerId(description.leader_id))
        .with_leader_epoch(description.leader_epoch)
        .with_high_watermark(description.high_watermark)
        .with_current_voters(description.voters.iter().map(replica).collect())
        .with_observers(description.observers.iter().map(replica).collect());
    let response = DescribeQuorumResponse::default().with_topics(vec![TopicData::default()
        .with_topic_name(TopicName(str_bytes(METADATA_TOPIC)))
        .with_partitions(vec![partition])]);
    match version >= 2 {
        true => response.with_nodes(voter_endpoints(broker, &description)),
        false => response,
    }
}

/// Each voter's controller listener, as the quorum's membership records
/// it (seeded from `controller.quorum.voters`, or given by AddRaftVoter).
fn voter_endpoints(broker: &Broker, description: &describe::QuorumDescription) -> Vec<Node> {
    let listener = broker
        .config()
        .controller_listener_names
        .first()
        .cloned()
        .unwrap_or_else(|| "CONTROLLER".to_string());
    description
        .voter_addresses
        .iter()
        .filter_map(|(id, address)| {
            let (host, port) = address.rsplit_once(':')?;
            let host = host.trim_start_matches('[').trim_end_matches(']');
            Some(Node::default().with_node_id(BrokerId(*id)).with_listeners(
                vec![Listener::default()
                        .with_name(str_bytes(listener.clone()))
                        .with_host(str_bytes(host.to_string()))
                        .with_port(port.parse().ok()?)],
            ))
        })
        .collect()
}

/// Every partition asked for refused with `code`.
pub fn error_response(
    request: &DescribeQuorumRequest,
    _version: i16,
    code: i16,
) -> DescribeQuorumResponse {
    DescribeQuorumResponse::default().with_topics(
        request
            .topics
            .iter()
            .map(|topic| {
                TopicData::default()
                    .with_topic_name(topic.topic_name.clone())
                    .with_partitions(
                        topic
                            .partitions
                            .iter()
                            .map(|p| {
                                PartitionData::default()
                                    .with_partition_index(p.partition_index)
                                    .with_error_code(code)
                            })
                            .collect(),
                    )
            })
            .collect(),
    )
}
