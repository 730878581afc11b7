//! CreatePartitions (v0–v3): grows topics, with validate-only and explicit
//! replica assignments (the controller checks them as Kafka does).
//!
//! A request that would add more than Kafka's per-request limit of new
//! partitions in all is refused whole, validate-only too, with CreateTopics'
//! POLICY_VIOLATION and message (Kafka applies its controller's record
//! batch limit to both; KAFKA-19673 gives CreatePartitions the same answer).

use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::create_partitions_response::CreatePartitionsTopicResult;
use kafka_protocol::messages::{ApiKey, CreatePartitionsRequest, CreatePartitionsResponse};

use super::create_topics::{MAX_PARTITIONS_PER_REQUEST, TOO_MANY_PARTITIONS};
use super::groups::str_bytes;
use crate::broker::Broker;
use crate::error::KafkaError;
use crate::metadata::acls::{AclOperation, ResourceType};
use crate::server::context::RequestContext;
use crate::server::quotas;

pub async fn handle(
    broker: &Arc<Broker>,
    request: CreatePartitionsRequest,
    version: i16,
    client_id: &str,
    context: &RequestContext,
) -> CreatePartitionsResponse {
    let metadata = broker.metadata();
    let new_partitions: i64 = request
        .topics
        .iter()
        .filter_map(|topic| {
            let current = metadata.topic(&topic.name)?.partitions.len() as i64;
            Some((i64::from(topic.count) - current).max(0))
        })
        .sum();
    if new_partitions > MAX_PARTITIONS_PER_REQUEST {
        let refused = request
            .topics
            .into_iter()
            .map(|topic| {
                CreatePartitionsTopicResult::default()
                    .with_name(topic.name)
                    .with_error_code(ResponseError::PolicyViolation.code())
                    .with_error_message(Some(str_bytes(TOO_MANY_PARTITIONS)))
            })
            .collect();
        return CreatePartitionsResponse::default().with_results(refused);
    }
    let authz = context.authz(broker);
    let client = quotas::Client::new(&context.principal, client_id);
    let strict = quotas::strict_mutation_quota(ApiKey::CreatePartitions, version);
    let quota = broker
        .quotas()
        .mutation_quota(&metadata.client_quotas, &client, strict);
    let mut results = Vec::with_capacity(request.topics.len());
    let mut seen = std::collections::HashSet::new();
    for topic in request.topics {
        let name = topic.name.to_string();
        let result = CreatePartitionsTopicResult::default().with_name(topic.name.clone());
        let check = if !seen.insert(name.clone()) {
            Err((
                ResponseError::InvalidRequest,
                format!("topic '{name}' appears twice"),
            ))
        } else if !authz.allows(AclOperation::Alter, ResourceType::Topic, &name) {
            // Before existence: a hidden topic and an absent one look alike.
            Err((
                ResponseError::TopicAuthorizationFailed,
                "Authorization failed.".to_string(),
            ))
        } else if quota.as_ref().is_some_and(|quota| !quota.admits()) {
            Err((ResponseError::ThrottlingQuotaExceeded, String::new()))
        } else {
            Ok(())
        };
        // Replicas the client named for each new partition (validated by
        // the controller against the registered brokers).
        let assignments: Option<Vec<Vec<i32>>> = topic.assignments.as_ref().map(|assignments| {
            assignments
                .iter()
                .map(|a| a.broker_ids.iter().map(|id| id.0).collect())
                .collect()
        });
        let current = metadata.topic(&name).map_or(0, |t| t.partitions.len());
        let added = usize::try_from(topic.count)
            .unwrap_or(0)
            .saturating_sub(current);
        let outcome = match check {
            Err(failure) => Err(failure),
            Ok(()) => broker
                .create_partitions(name, topic.count, assignments, request.validate_only)
                .await
                .map(|_| ())
                .map_err(|error| (error.kafka_error(), error.to_string())),
        };
        results.push(match outcome {
            Ok(()) => {
                if let Some(quota) = &quota {
                    quota.record(added);
                }
                result
            }
            // Kafka leaves out a message that only repeats the error's own.
            Err((ResponseError::ThrottlingQuotaExceeded, _)) => {
                result.with_error_code(ResponseError::ThrottlingQuotaExceeded.code())
            }
            Err((error, message)) => result
                .with_error_code(error.code())
                .with_error_message(Some(str_bytes(message))),
        });
    }
    let throttle = quota.map_or(0, |quota| quota.throttle_ms());
    CreatePartitionsResponse::default()
        .with_results(results)
        .with_throttle_time_ms(i32::try_from(throttle).unwrap_or(i32::MAX))
}

/// The answer to `request` failing with `code` for every topic.
pub fn error_response(
    request: &CreatePartitionsRequest,
    _version: i16,
    code: i16,
) -> CreatePartitionsResponse {
    CreatePartitionsResponse::default().with_results(
        request
            .topics
            .iter()
            .map(|t| {
                CreatePartitionsTopicResult::default()
                    .with_name(t.name.clone())
                    .with_error_code(code)
            })
            .collect(),
    )
}
