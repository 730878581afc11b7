//! CreateTopics (v2–v7): validates each topic (name, partitions,
//! replication factor, configs), honours validate-only, and reports each
//! topic's outcome with Kafka's error codes.

use std::collections::BTreeMap;
use std::sync::Arc;

use kafka_protocol::messages::create_topics_response::CreatableTopicResult;
use kafka_protocol::messages::{CreateTopicsRequest, CreateTopicsResponse};
use kafka_protocol::protocol::StrBytes;

use crate::broker::Broker;
use crate::controller::NewTopic;
use crate::error::KafkaError;

pub async fn handle(
    broker: &Arc<Broker>,
    request: CreateTopicsRequest,
    version: i16,
) -> CreateTopicsResponse {
    let mut results = Vec::with_capacity(request.topics.len());
    for topic in request.topics {
        let name = topic.name.to_string();
        let mut result = CreatableTopicResult::default().with_name(topic.name.clone());
        let configs: BTreeMap<String, String> = topic
            .configs
            .iter()
            .filter_map(|c| {
                c.value
                    .as_ref()
                    .map(|v| (c.name.to_string(), v.to_string()))
            })
            .collect();
        // Explicit assignments fix the partition count; on one broker every
        // replica must be this broker, which the controller checks by count.
        let num_partitions = match (topic.num_partitions, topic.assignments.len()) {
            (-1, 0) => broker.config().num_partitions,
            (-1, assigned) => assigned as i32,
            (count, _) => count,
        };
        let replication_factor = match (topic.replication_factor, topic.assignments.first()) {
            (-1, Some(assignment)) => assignment.broker_ids.len() as i16,
            (-1, None) => broker.config().default_replication_factor,
            (factor, _) => factor,
        };
        let new_topic = NewTopic {
            name,
            num_partitions,
            replication_factor,
            configs,
        };
        match broker.create_topic(new_topic, request.validate_only).await {
            Ok(created) => {
                result = result
                    .with_num_partitions(created.partitions.len() as i32)
                    .with_replication_factor(replication_factor);
                if version >= 7 {
                    result = result.with_topic_id(created.id);
                }
            }
            Err(error) => {
                result = result
                    .with_error_code(error.code())
                    .with_error_message(Some(StrBytes::from_string(error.to_string())));
            }
        }
        results.push(result);
    }
    CreateTopicsResponse::default().with_topics(results)
}
