//! DescribeProducers (v0): the idempotent and transactional producers each
//! partition's leader knows, with their epoch, last sequence and the start
//! of their open transaction.

use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::describe_producers_response::{
    PartitionResponse, ProducerState, TopicResponse,
};
use kafka_protocol::messages::{DescribeProducersRequest, DescribeProducersResponse, ProducerId};

use crate::broker::Broker;
use crate::error::KafkaError;
use crate::metadata::acls::{AclOperation, ResourceType};
use crate::server::context::RequestContext;
use crate::types::TopicPartition;

pub async fn handle(
    broker: &Arc<Broker>,
    request: DescribeProducersRequest,
    _version: i16,
    context: &RequestContext,
) -> DescribeProducersResponse {
    let authz = context.authz(broker);
    let mut topics = Vec::with_capacity(request.topics.len());
    for topic in request.topics {
        // READ on the topic (not DESCRIBE), as Kafka checks it.
        let allowed = authz.allows(AclOperation::Read, ResourceType::Topic, &topic.name);
        let mut partitions = Vec::with_capacity(topic.partition_indexes.len());
        for index in topic.partition_indexes {
            let response = PartitionResponse::default().with_partition_index(index);
            if !allowed {
                partitions
                    .push(response.with_error_code(ResponseError::TopicAuthorizationFailed.code()));
                continue;
            }
            let topic_partition = TopicPartition::new(topic.name.to_string(), index);
            let Some(partition) = broker.partition(&topic_partition) else {
                partitions
                    .push(response.with_error_code(ResponseError::UnknownTopicOrPartition.code()));
                continue;
            };
            partitions.push(match partition.producer_summaries().await {
                Ok(producers) => response.with_active_producers(
                    producers
                        .into_iter()
                        .map(|p| {
                            ProducerState::default()
                                .with_producer_id(ProducerId(p.producer_id))
                                .with_producer_epoch(i32::from(p.epoch))
                                .with_last_sequence(p.last_sequence)
                                .with_last_timestamp(p.last_timestamp)
                                .with_coordinator_epoch(p.coordinator_epoch)
                                .with_current_txn_start_offset(
                                    p.current_txn_start_offset.map_or(-1, |o| o.value()),
                                )
                        })
                        .collect(),
                ),
                Err(error) => response.with_error_code(error.code()),
            });
        }
        topics.push(
            TopicResponse::default()
                .with_name(topic.name)
                .with_partitions(partitions),
        );
    }
    DescribeProducersResponse::default().with_topics(topics)
}

/// The answer to `request` failing with `code` in every partition.
pub fn error_response(
    request: &DescribeProducersRequest,
    _version: i16,
    code: i16,
) -> DescribeProducersResponse {
    DescribeProducersResponse::default().with_topics(
        request
            .topics
            .iter()
            .map(|t| {
                TopicResponse::default()
                    .with_name(t.name.clone())
                    .with_partitions(
                        t.partition_indexes
                            .iter()
                            .map(|p| {
                                PartitionResponse::default()
                                    .with_partition_index(*p)
                                    .with_error_code(code)
                            })
                            .collect(),
                    )
            })
            .collect(),
    )
}
