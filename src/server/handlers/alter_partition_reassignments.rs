//! AlterPartitionReassignments (v0–v1, KIP-455 and KIP-860): starts,
//! replaces or (null replicas) cancels partition reassignments, each
//! answered on its own with Kafka's errors (`controller/reassignment.rs`
//! does the work). ALTER on the cluster, else every partition is refused
//! with the top-level CLUSTER_AUTHORIZATION_FAILED.

use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::alter_partition_reassignments_response::{
    ReassignablePartitionResponse, ReassignableTopicResponse,
};
use kafka_protocol::messages::{
    AlterPartitionReassignmentsRequest, AlterPartitionReassignmentsResponse, ApiKey,
};

use super::groups::str_bytes;
use crate::broker::Broker;
use crate::metadata::acls::AclOperation;
use crate::server::context::RequestContext;

pub async fn handle(
    broker: &Arc<Broker>,
    request: AlterPartitionReassignmentsRequest,
    version: i16,
    context: &RequestContext,
) -> AlterPartitionReassignmentsResponse {
    if !context.may_on_cluster(broker, AclOperation::Alter) {
        return error_response(
            &request,
            version,
            ResponseError::ClusterAuthorizationFailed.code(),
        )
        .with_error_message(Some(str_bytes(super::acls::not_authorized(
            ApiKey::AlterPartitionReassignments,
        ))));
    }
    // v0 has no such field: it may always change the replication factor.
    let allow_replication_factor_change = version == 0 || request.allow_replication_factor_change;
    let unclean_default = broker.config().replication.unclean_leader_election;
    let mut responses = Vec::with_capacity(request.topics.len());
    for topic in &request.topics {
        let mut partitions = Vec::with_capacity(topic.partitions.len());
        for partition in &topic.partitions {
            let target: Option<Vec<i32>> = partition
                .replicas
                .as_ref()
                .map(|replicas| replicas.iter().map(|id| id.0).collect());
            let outcome = broker
                .controller()
                .alter_partition_reassignment(
                    topic.name.as_str(),
                    partition.partition_index,
                    target.as_deref(),
                    allow_replication_factor_change,
                    unclean_default,
                )
                .await;
            let (code, message) = match outcome {
                Ok(()) => (0, None),
                Err(refused) => (refused.error.code(), Some(str_bytes(refused.message))),
            };
            partitions.push(
                ReassignablePartitionResponse::default()
                    .with_partition_index(partition.partition_index)
                    .with_error_code(code)
                    .with_error_message(message),
            );
        }
        responses.push(
            ReassignableTopicResponse::default()
                .with_name(topic.name.clone())
                .with_partitions(partitions),
        );
    }
    AlterPartitionReassignmentsResponse::default()
        .with_allow_replication_factor_change(allow_replication_factor_change)
        .with_responses(responses)
}

/// The answer to `request` failing with `code` at the top level and in
/// every partition.
pub fn error_response(
    request: &AlterPartitionReassignmentsRequest,
    version: i16,
    code: i16,
) -> AlterPartitionReassignmentsResponse {
    AlterPartitionReassignmentsResponse::default()
        .with_allow_replication_factor_change(
            version == 0 || request.allow_replication_factor_change,
        )
        .with_error_code(code)
        .with_responses(
            request
                .topics
                .iter()
                .map(|topic| {
                    ReassignableTopicResponse::default()
                        .with_name(topic.name.clone())
                        .with_partitions(
                            topic
                                .partitions
                                .iter()
                                .map(|p| {
                                    ReassignablePartitionResponse::default()
                                        .with_partition_index(p.partition_index)
                                        .with_error_code(code)
                                })
                                .collect(),
                        )
                })
                .collect(),
        )
}
