//! DeleteRecords (v0–v2): moves each partition's log start offset up to the
//! given offset (-1: the high watermark), deleting whole segments below it.

use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::delete_records_response::{
    DeleteRecordsPartitionResult, DeleteRecordsTopicResult,
};
use kafka_protocol::messages::{DeleteRecordsRequest, DeleteRecordsResponse};

use super::topic_name;
use crate::broker::Broker;
use crate::error::KafkaError;
use crate::metadata::acls::{AclOperation, ResourceType};
use crate::server::context::RequestContext;
use crate::types::{Offset, TopicPartition};

pub async fn handle(
    broker: &Arc<Broker>,
    request: DeleteRecordsRequest,
    _version: i16,
    context: &RequestContext,
) -> DeleteRecordsResponse {
    let authz = context.authz(broker);
    let mut topics = Vec::with_capacity(request.topics.len());
    for topic in request.topics {
        let name = topic.name.to_string();
        let allowed = authz.allows(AclOperation::Delete, ResourceType::Topic, &name);
        let mut partitions = Vec::with_capacity(topic.partitions.len());
        for wanted in topic.partitions {
            let result = DeleteRecordsPartitionResult::default()
                .with_partition_index(wanted.partition_index)
                .with_low_watermark(-1);
            let topic_partition = TopicPartition::new(name.clone(), wanted.partition_index);
            partitions.push(match broker.partition(&topic_partition) {
                _ if !allowed => {
                    result.with_error_code(ResponseError::TopicAuthorizationFailed.code())
                }
                None => result.with_error_code(ResponseError::UnknownTopicOrPartition.code()),
                Some(partition) => {
                    match partition.delete_records_before(Offset(wanted.offset)).await {
                        Ok(start) => result.with_low_watermark(start.value()),
                        Err(error) => result.with_error_code(error.code()),
                    }
                }
            });
        }
        topics.push(
            DeleteRecordsTopicResult::default()
                .with_name(topic_name(&name))
                .with_partitions(partitions),
        );
    }
    DeleteRecordsResponse::default().with_topics(topics)
}

/// The answer to `request` failing with `code` in every partition.
pub fn error_response(
    request: &DeleteRecordsRequest,
    _version: i16,
    code: i16,
) -> DeleteRecordsResponse {
    DeleteRecordsResponse::default().with_topics(
        request
            .topics
            .iter()
            .map(|t| {
                DeleteRecordsTopicResult::default()
                    .with_name(t.name.clone())
                    .with_partitions(
                        t.partitions
                            .iter()
                            .map(|p| {
                                DeleteRecordsPartitionResult::default()
                                    .with_partition_index(p.partition_index)
                                    .with_low_watermark(-1)
                                    .with_error_code(code)
                            })
                            .collect(),
                    )
            })
            .collect(),
    )
}
