//! CreateTopics (v2–v7): validates each topic (name, partitions,
//! replication factor, configs), honours validate-only, and reports each
//! topic's outcome with Kafka's error codes.
//!
//! A request that would create more than [`MAX_PARTITIONS_PER_REQUEST`]
//! partitions in all is refused whole, validate-only too, as Kafka 4's
//! controller refuses it (KAFKA-17870).

use std::collections::BTreeMap;
use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::create_topics_response::{
    CreatableTopicConfigs, CreatableTopicResult,
};
use kafka_protocol::messages::{ApiKey, CreateTopicsRequest, CreateTopicsResponse};
use kafka_protocol::protocol::StrBytes;

use crate::broker::Broker;
use crate::controller::NewTopic;
use crate::error::KafkaError;
use crate::metadata::acls::{AclOperation, ResourceType, CLUSTER_NAME};
use crate::server::context::RequestContext;
use crate::server::quotas;

pub async fn handle(
    broker: &Arc<Broker>,
    request: CreateTopicsRequest,
    version: i16,
    client_id: &str,
    context: &RequestContext,
) -> CreateTopicsResponse {
    // CREATE on the cluster, else on each topic — checked before the
    // topic is validated or looked up, as Kafka's controller does.
    let authz = context.authz(broker);
    let cluster_create = authz.allows(AclOperation::Create, ResourceType::Cluster, CLUSTER_NAME);
    let default_partitions = broker.config().num_partitions;
    if requested_partitions(&request.topics, default_partitions) > MAX_PARTITIONS_PER_REQUEST {
        let refused = request
            .topics
            .into_iter()
            .map(|topic| {
                CreatableTopicResult::default()
                    .with_name(topic.name)
                    .with_error_code(ResponseError::PolicyViolation.code())
                    .with_error_message(Some(StrBytes::from_static_str(TOO_MANY_PARTITIONS)))
            })
            .collect();
        return CreateTopicsResponse::default().with_topics(refused);
    }
    let client = quotas::Client::new(&context.principal, client_id);
    let strict = quotas::strict_mutation_quota(ApiKey::CreateTopics, version);
    let quota = broker
        .quotas()
        .mutation_quota(&broker.metadata().client_quotas, &client, strict);
    let mut results = Vec::with_capacity(request.topics.len());
    for topic in request.topics {
        let name = topic.name.to_string();
        // Kafka's message is null unless there is something to say.
        let mut result = CreatableTopicResult::default()
            .with_name(topic.name.clone())
            .with_error_message(None);
        if !cluster_create && !authz.allows(AclOperation::Create, ResourceType::Topic, &name) {
            results.push(
                result
                    .with_error_code(ResponseError::TopicAuthorizationFailed.code())
                    .with_error_message(Some(StrBytes::from_static_str("Authorization failed."))),
            );
            continue;
        }
        // What was created is described only to whoever may DESCRIBE_CONFIGS.
        let describable = authz.allows(AclOperation::DescribeConfigs, ResourceType::Topic, &name);
        let configs: BTreeMap<String, String> = topic
            .configs
            .iter()
            .filter_map(|c| {
                c.value
                    .as_ref()
                    .map(|v| (c.name.to_string(), v.to_string()))
            })
            .collect();
        // Explicit assignments fix the partitions and their replicas: then
        // the count and factor must be left to them (-1), as Kafka checks,
        // and the partitions numbered 0, 1, … in any order.
        let assignments = match manual_assignments(&topic) {
            Ok(assignments) => assignments,
            Err((error, message)) => {
                results.push(
                    result
                        .with_error_code(error.code())
                        .with_error_message(Some(StrBytes::from_string(message))),
                );
                continue;
            }
        };
        let num_partitions = match (topic.num_partitions, &assignments) {
            (_, Some(assigned)) => assigned.len() as i32,
            (-1, None) => broker.config().num_partitions,
            (count, None) => count,
        };
        let replication_factor = match (topic.replication_factor, &assignments) {
            (_, Some(assigned)) => assigned.first().map_or(0, Vec::len) as i16,
            (-1, None) => broker.config().default_replication_factor,
            (factor, None) => factor,
        };
        if quota.as_ref().is_some_and(|quota| !quota.admits()) {
            results.push(result.with_error_code(ResponseError::ThrottlingQuotaExceeded.code()));
            continue;
        }
        let new_topic = NewTopic {
            name,
            num_partitions,
            replication_factor,
            configs,
            assignments,
        };
        match broker.create_topic(new_topic, request.validate_only).await {
            Ok(created) => {
                // Validate-only spends too, as on Kafka's controller.
                if let Some(quota) = &quota {
                    quota.record(created.partitions.len());
                }
                result = result
                    .with_num_partitions(created.partitions.len() as i32)
                    .with_replication_factor(replication_factor);
                if version >= 7 {
                    result = result.with_topic_id(created.id);
                }
                if version >= 5 && describable {
                    // Every config of the new topic, as DescribeConfigs
                    // would say it (Kafka's controller answers them so).
                    if let Ok(layers) = broker.config_layers() {
                        result = result.with_configs(Some(created_configs(&created, &layers)));
                    }
                }
                if version >= 5 && !describable {
                    result = result
                        .with_num_partitions(-1)
                        .with_replication_factor(-1)
                        .with_topic_config_error_code(
                            ResponseError::TopicAuthorizationFailed.code(),
                        );
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
    let throttle = quota.map_or(0, |quota| quota.throttle_ms());
    CreateTopicsResponse::default()
        .with_topics(results)
        .with_throttle_time_ms(i32::try_from(throttle).unwrap_or(i32::MAX))
}

/// A created topic's configs, sorted by name, with their sources.
fn created_configs(
    topic: &crate::metadata::TopicImage,
    layers: &crate::config::dynamic::BrokerConfigLayers,
) -> Vec<CreatableTopicConfigs> {
    let detail = super::configs::Detail {
        version: 0,
        include_synonyms: false,
        include_documentation: false,
    };
    let mut configs: Vec<CreatableTopicConfigs> = crate::config::catalog::TOPIC_CONFIGS
        .iter()
        .map(|def| {
            let described = super::configs::describe_topic_config(def, topic, layers, detail);
            CreatableTopicConfigs::default()
                .with_name(described.name)
                .with_value(described.value)
                .with_read_only(described.read_only)
                .with_config_source(described.config_source)
                .with_is_sensitive(described.is_sensitive)
        })
        .collect();
    configs.sort_by(|a, b| a.name.cmp(&b.name));
    configs
}

/// The most partitions one CreateTopics or CreatePartitions may create:
/// Kafka's controller writes a request's records in one batch of at most
/// this many (`MAX_PARTITIONS_PER_BATCH`), and refuses a larger request
/// with POLICY_VIOLATION.
pub(super) const MAX_PARTITIONS_PER_REQUEST: i64 = 10_000;

/// Kafka's message for it.
pub(super) const TOO_MANY_PARTITIONS: &str = "Excessively large number of partitions per request.";

/// The partitions a request asks for, counted as Kafka counts them: the
/// assignments if given, else the partition count (-1: the broker's
/// default).
fn requested_partitions(topics: &[CreatableTopic], default_partitions: i32) -> i64 {
    topics
        .iter()
        .map(
            |topic| match (topic.assignments.len(), topic.num_partitions) {
                (0, -1) => i64::from(default_partitions),
                (0, count) => i64::from(count.max(0)),
                (assigned, _) => assigned as i64,
            },
        )
        .sum()
}

/// The answer to `request` failing with `code` for every topic.
pub fn error_response(
    request: &CreateTopicsRequest,
    _version: i16,
    code: i16,
) -> CreateTopicsResponse {
    CreateTopicsResponse::default().with_topics(
        request
            .topics
            .iter()
            .map(|t| {
                CreatableTopicResult::default()
                    .with_name(t.name.clone())
                    .with_error_code(code)
            })
            .collect(),
    )
}

/// The replicas a CreateTopics topic names for its partitions, in
/// partition order; `None` when it names none.
fn manual_assignments(
    topic: &kafka_protocol::messages::create_topics_request::CreatableTopic,
) -> Result<Option<Vec<Vec<i32>>>, (ResponseError, String)> {
    if topic.assignments.is_empty() {
        return Ok(None);
    }
    if topic.replication_factor != -1 {
        return Err((
            ResponseError::InvalidRequest,
            "A manual partition assignment was specified, but replication factor was not set to -1."
                .to_string(),
        ));
    }
    if topic.num_partitions != -1 {
        return Err((
            ResponseError::InvalidRequest,
            "A manual partition assignment was specified, but numPartitions was not set to -1."
                .to_string(),
        ));
    }
    let mut sorted: Vec<_> = topic.assignments.iter().collect();
    sorted.sort_by_key(|a| a.partition_index);
    let mut replicas = Vec::with_capacity(sorted.len());
    for (expected, assignment) in sorted.into_iter().enumerate() {
        if assignment.partition_index != expected as i32 {
            return Err((
                ResponseError::InvalidReplicaAssignment,
                "partitions should be a consecutive 0-based integer sequence".to_string(),
            ));
        }
        replicas.push(assignment.broker_ids.iter().map(|id| id.0).collect());
    }
    Ok(Some(replicas))
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::create_topics_request::CreatableReplicaAssignment;

    #[test]
    fn partitions_are_counted_as_kafka_counts_them() {
        let topic = |count: i32, assigned: usize| {
            CreatableTopic::default()
                .with_num_partitions(count)
                .with_assignments(vec![CreatableReplicaAssignment::default(); assigned])
        };
        assert_eq!(
            requested_partitions(&[topic(5000, 0), topic(5000, 0)], 3),
            10_000
        );
        assert_eq!(
            requested_partitions(&[topic(-1, 0), topic(-1, 2)], 9_999),
            10_001
        );
        assert_eq!(requested_partitions(&[topic(0, 0), topic(-7, 0)], 1), 0);
        assert_eq!(
            requested_partitions(&[topic(i32::MAX, 0), topic(i32::MAX, 0)], 1),
            2 * i64::from(i32::MAX)
        );
    }
}
