//! OffsetDelete (v0): removes committed offsets of a group, refusing
//! topics the group's live members are subscribed to.

use std::sync::Arc;

use kafka_protocol::messages::offset_delete_response::{
    OffsetDeleteResponsePartition, OffsetDeleteResponseTopic,
};
use kafka_protocol::messages::{OffsetDeleteRequest, OffsetDeleteResponse};

use super::groups::coordinator_for;
use crate::broker::Broker;
use crate::types::TopicPartition;

pub async fn handle(
    broker: &Arc<Broker>,
    request: OffsetDeleteRequest,
    _version: i16,
) -> OffsetDeleteResponse {
    let group_id = request.group_id.to_string();
    let coordinator = match coordinator_for(broker, &group_id).await {
        Ok(coordinator) => coordinator,
        Err(error) => return OffsetDeleteResponse::default().with_error_code(error.code()),
    };
    let partitions: Vec<TopicPartition> = request
        .topics
        .iter()
        .flat_map(|t| {
            t.partitions
                .iter()
                .map(move |p| TopicPartition::new(t.name.to_string(), p.partition_index))
        })
        .collect();
    let results = match coordinator.delete_offsets(&group_id, partitions).await {
        Ok(results) => results,
        Err(error) => return OffsetDeleteResponse::default().with_error_code(error.code()),
    };
    let topics = request
        .topics
        .into_iter()
        .map(|topic| {
            let partitions = results
                .iter()
                .filter(|(p, _)| p.topic == topic.name.as_str())
                .map(|(p, error)| {
                    OffsetDeleteResponsePartition::default()
                        .with_partition_index(p.partition)
                        .with_error_code(error.map_or(0, |e| e.code()))
                })
                .collect();
            OffsetDeleteResponseTopic::default()
                .with_name(topic.name)
                .with_partitions(partitions)
        })
        .collect();
    OffsetDeleteResponse::default().with_topics(topics)
}
