//! ElectLeaders (v0–v2): preferred (0) or unclean (1) leader election. A
//! partition whose preferred replica already leads answers
//! ELECTION_NOT_NEEDED; asked for every partition (null list), only the
//! partitions where an election happened are listed, as Kafka answers.
//! Leaders only move between brokers of a cluster; on a single broker the
//! one replica always leads.

use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::elect_leaders_response::{PartitionResult, ReplicaElectionResult};
use kafka_protocol::messages::{ElectLeadersRequest, ElectLeadersResponse};

use super::groups::str_bytes;
use super::topic_name;
use crate::broker::Broker;

const PREFERRED: i8 = 0;
const UNCLEAN: i8 = 1;

pub async fn handle(
    broker: &Arc<Broker>,
    request: ElectLeadersRequest,
    version: i16,
) -> ElectLeadersResponse {
    let election_type = if version == 0 {
        PREFERRED
    } else {
        request.election_type
    };
    if !matches!(election_type, PREFERRED | UNCLEAN) {
        return ElectLeadersResponse::default()
            .with_error_code(ResponseError::InvalidRequest.code());
    }
    let image = broker.metadata();
    let Some(wanted) = request.topic_partitions else {
        // Every partition: list only those whose leader changed — none,
        // as each one's preferred replica leads.
        return ElectLeadersResponse::default();
    };
    let mut results = Vec::with_capacity(wanted.len());
    for topic in wanted {
        let known = image.topic(topic.topic.as_str());
        let partition_result = topic
            .partitions
            .iter()
            .map(|&index| {
                let partition = known.and_then(|t| t.partitions.get(index as usize));
                let (error, message) = match partition {
                    None => (
                        ResponseError::UnknownTopicOrPartition,
                        format!("{}-{index} does not exist", topic.topic.as_str()),
                    ),
                    Some(p)
                        if election_type == PREFERRED && p.replicas.first() == Some(&p.leader) =>
                    {
                        (
                            ResponseError::ElectionNotNeeded,
                            format!("the preferred replica {} already leads", p.leader),
                        )
                    }
                    Some(p) if election_type == UNCLEAN && p.leader >= 0 => (
                        ResponseError::ElectionNotNeeded,
                        format!("broker {} leads", p.leader),
                    ),
                    Some(p) if election_type == PREFERRED => (
                        ResponseError::PreferredLeaderNotAvailable,
                        format!("the preferred replica of {:?} cannot take over", p.replicas),
                    ),
                    Some(_) => (
                        ResponseError::EligibleLeadersNotAvailable,
                        "no replica left to lead".to_string(),
                    ),
                };
                PartitionResult::default()
                    .with_partition_id(index)
                    .with_error_code(error.code())
                    .with_error_message(Some(str_bytes(message)))
            })
            .collect();
        results.push(
            ReplicaElectionResult::default()
                .with_topic(topic_name(topic.topic.as_str()))
                .with_partition_result(partition_result),
        );
    }
    ElectLeadersResponse::default().with_replica_election_results(results)
}
