//! ElectLeaders (v0–v2): preferred (0) or unclean (1) leader election. A
//! partition whose preferred replica already leads answers
//! ELECTION_NOT_NEEDED; asked for every partition (null list), only the
//! partitions where an election happened are listed, as Kafka answers.
//! Elections go through the controller, which refuses a preferred replica
//! out of the ISR and an unclean election of a partition that has a leader.

use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::elect_leaders_response::{PartitionResult, ReplicaElectionResult};
use kafka_protocol::messages::{ElectLeadersRequest, ElectLeadersResponse};

use super::groups::str_bytes;
use super::topic_name;
use crate::broker::Broker;
use crate::metadata::acls::AclOperation;
use crate::server::context::RequestContext;

const PREFERRED: i8 = 0;
const UNCLEAN: i8 = 1;

pub async fn handle(
    broker: &Arc<Broker>,
    request: ElectLeadersRequest,
    version: i16,
    context: &RequestContext,
) -> ElectLeadersResponse {
    // ALTER on the cluster, else the request and every partition in it
    // are refused.
    if !context.may_on_cluster(broker, AclOperation::Alter) {
        let code = ResponseError::ClusterAuthorizationFailed.code();
        let message = super::acls::not_authorized(kafka_protocol::messages::ApiKey::ElectLeaders);
        let mut response = error_response(&request, version, code);
        for partition in response
            .replica_election_results
            .iter_mut()
            .flat_map(|topic| &mut topic.partition_result)
        {
            partition.error_message = Some(str_bytes(message.clone()));
        }
        return response;
    }
    let election_type = if version == 0 {
        PREFERRED
    } else {
        request.election_type
    };
    if !matches!(election_type, PREFERRED | UNCLEAN) {
        return ElectLeadersResponse::default()
            .with_error_code(ResponseError::InvalidRequest.code());
    }
    let unclean = election_type == UNCLEAN;
    let image = broker.metadata();
    // Asked for every partition (null): only those whose leader moved
    // are listed.
    let every = request.topic_partitions.is_none();
    let wanted: Vec<(String, Vec<i32>)> = match request.topic_partitions {
        Some(wanted) => wanted
            .into_iter()
            .map(|t| (t.topic.to_string(), t.partitions))
            .collect(),
        None => image
            .topics
            .values()
            .map(|t| {
                (
                    t.name.clone(),
                    t.partitions.iter().map(|p| p.partition).collect(),
                )
            })
            .collect(),
    };
    let mut results = Vec::with_capacity(wanted.len());
    for (topic, partitions) in wanted {
        let mut partition_result = Vec::with_capacity(partitions.len());
        for index in partitions {
            let outcome = broker
                .controller()
                .elect_leader(&topic, index, unclean)
                .await;
            // Kafka's controller words only an unknown topic or partition;
            // its other refusals carry no message.
            let (error, message) = match outcome {
                Ok(true) => (None, None),
                Ok(false) if every => continue,
                Ok(false) => (Some(ResponseError::ElectionNotNeeded), None),
                Err(ResponseError::UnknownTopicOrPartition) => (
                    Some(ResponseError::UnknownTopicOrPartition),
                    Some(match image.topic(&topic) {
                        None => format!("No such topic as {topic}"),
                        Some(_) => format!("No such partition as {topic}-{index}"),
                    }),
                ),
                Err(error) => (Some(error), None),
            };
            partition_result.push(
                PartitionResult::default()
                    .with_partition_id(index)
                    .with_error_code(error.map_or(0, |e| e.code()))
                    .with_error_message(message.map(str_bytes)),
            );
        }
        if !partition_result.is_empty() {
            results.push(
                ReplicaElectionResult::default()
                    .with_topic(topic_name(&topic))
                    .with_partition_result(partition_result),
            );
        }
    }
    ElectLeadersResponse::default().with_replica_election_results(results)
}

/// The answer to `request` failing with `code` in every partition asked
/// for, and from v1 at the top level (v0 has no top-level error).
pub fn error_response(
    request: &ElectLeadersRequest,
    version: i16,
    code: i16,
) -> ElectLeadersResponse {
    ElectLeadersResponse::default()
        .with_error_code(if version >= 1 { code } else { 0 })
        .with_replica_election_results(
            request
                .topic_partitions
                .iter()
                .flatten()
                .map(|t| {
                    ReplicaElectionResult::default()
                        .with_topic(t.topic.clone())
                        .with_partition_result(
                            t.partitions
                                .iter()
                                .map(|p| {
                                    PartitionResult::default()
                                        .with_partition_id(*p)
                                        .with_error_code(code)
                                })
                                .collect(),
                        )
                })
                .collect(),
        )
}
