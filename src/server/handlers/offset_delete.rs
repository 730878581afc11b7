//! OffsetDelete (v0): removes committed offsets of a group, refusing
//! topics the group's live members are subscribed to.

use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::offset_delete_response::{
    OffsetDeleteResponsePartition, OffsetDeleteResponseTopic,
};
use kafka_protocol::messages::{OffsetDeleteRequest, OffsetDeleteResponse};

use super::groups::coordinator_for;
use crate::broker::Broker;
use crate::metadata::acls::{AclOperation, ResourceType};
use crate::server::context::RequestContext;
use crate::types::TopicPartition;

pub async fn handle(
    broker: &Arc<Broker>,
    request: OffsetDeleteRequest,
    _version: i16,
    context: &RequestContext,
) -> OffsetDeleteResponse {
    let group_id = request.group_id.to_string();
    let authz = context.authz(broker);
    if !authz.allows(AclOperation::Delete, ResourceType::Group, &group_id) {
        return OffsetDeleteResponse::default()
            .with_error_code(ResponseError::GroupAuthorizationFailed.code());
    }
    // Topics one may not READ are answered per partition, not deleted.
    let readable: std::collections::BTreeSet<String> = request
        .topics
        .iter()
        .map(|t| t.name.to_string())
        .filter(|name| authz.allows(AclOperation::Read, ResourceType::Topic, name))
        .collect();
    drop(authz);
    let coordinator = match coordinator_for(broker, &group_id).await {
        Ok(coordinator) => coordinator,
        Err(error) => return OffsetDeleteResponse::default().with_error_code(error.code()),
    };
    let partitions: Vec<TopicPartition> = request
        .topics
        .iter()
        .filter(|t| readable.contains(t.name.as_str()))
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
            if !readable.contains(topic.name.as_str()) {
                let partitions = topic
                    .partitions
                    .iter()
                    .map(|p| {
                        OffsetDeleteResponsePartition::default()
                            .with_partition_index(p.partition_index)
                            .with_error_code(ResponseError::TopicAuthorizationFailed.code())
                    })
                    .collect();
                return OffsetDeleteResponseTopic::default()
                    .with_name(topic.name)
                    .with_partitions(partitions);
            }
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

/// The answer to `request` failing with `code`.
pub fn error_response(
    _request: &OffsetDeleteRequest,
    _version: i16,
    code: i16,
) -> OffsetDeleteResponse {
    OffsetDeleteResponse::default().with_error_code(code)
}
