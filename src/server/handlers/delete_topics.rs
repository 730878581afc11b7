//! DeleteTopics (v1–v6): by name, or (v6) by name or topic id; removes the
//! topic from the metadata and its partition folders from disk.

use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::delete_topics_response::DeletableTopicResult;
use kafka_protocol::messages::{ApiKey, DeleteTopicsRequest, DeleteTopicsResponse};
use kafka_protocol::protocol::StrBytes;
use uuid::Uuid;

use super::topic_name;
use crate::broker::Broker;
use crate::error::KafkaError;
use crate::metadata::acls::{AclOperation, ResourceType, CLUSTER_NAME};
use crate::server::context::RequestContext;
use crate::server::quotas;

pub async fn handle(
    broker: &Arc<Broker>,
    request: DeleteTopicsRequest,
    version: i16,
    client_id: &str,
    context: &RequestContext,
) -> DeleteTopicsResponse {
    // DELETE on the cluster allows every topic; otherwise DESCRIBE and
    // DELETE on each, checked before existence so that a hidden topic
    // and an absent one look alike (an unknown id is told: ids are not
    // secret).
    let authz = context.authz(broker);
    let cluster_delete = authz.allows(AclOperation::Delete, ResourceType::Cluster, CLUSTER_NAME);
    let may = |operation, name: &str| {
        cluster_delete || authz.allows(operation, ResourceType::Topic, name)
    };
    let targets: Vec<(Option<String>, Uuid)> = if version >= 6 {
        request
            .topics
            .into_iter()
            .map(|topic| (topic.name.map(|name| name.to_string()), topic.topic_id))
            .collect()
    } else {
        request
            .topic_names
            .into_iter()
            .map(|name| (Some(name.to_string()), Uuid::nil()))
            .collect()
    };
    let client = quotas::Client::new(&context.principal, client_id);
    let strict = quotas::strict_mutation_quota(ApiKey::DeleteTopics, version);
    let quota = broker
        .quotas()
        .mutation_quota(&broker.metadata().client_quotas, &client, strict);
    let mut responses = Vec::with_capacity(targets.len());
    for (name, id) in targets {
        let resolved = match &name {
            Some(name) => Some(name.clone()),
            None => broker
                .metadata()
                .topic_by_id(id)
                .map(|topic| topic.name.clone()),
        };
        let mut result = DeletableTopicResult::default()
            .with_name(name.as_deref().map(topic_name))
            .with_topic_id(if version >= 6 { id } else { Uuid::nil() });
        let denied = || {
            Err((
                ResponseError::TopicAuthorizationFailed,
                "Authorization failed.".to_string(),
            ))
        };
        let outcome = match resolved {
            None => Err((
                ResponseError::UnknownTopicId,
                "unknown topic id".to_string(),
            )),
            Some(resolved) if !may(AclOperation::Describe, &resolved) => {
                if name.is_none() {
                    result = std::mem::take(&mut result).with_name(None);
                }
                denied()
            }
            Some(resolved)
                if broker.metadata().topic(&resolved).is_some()
                    && !may(AclOperation::Delete, &resolved) =>
            {
                if version >= 6 {
                    result = std::mem::take(&mut result).with_name(Some(topic_name(&resolved)));
                }
                denied()
            }
            Some(_) if quota.as_ref().is_some_and(|quota| !quota.admits()) => {
                Err((ResponseError::ThrottlingQuotaExceeded, String::new()))
            }
            Some(resolved) => broker
                .delete_topic(&resolved)
                .await
                .map(|deleted| {
                    if let Some(quota) = &quota {
                        quota.record(deleted.partitions.len());
                    }
                    if version >= 6 {
                        result = std::mem::take(&mut result)
                            .with_name(Some(topic_name(&deleted.name)))
                            .with_topic_id(deleted.id);
                    }
                })
                .map_err(|error| (error.kafka_error(), error.to_string())),
        };
        if let Err((error, message)) = outcome {
            result = result.with_error_code(error.code());
            // Kafka leaves out a message that only repeats the error's own.
            if version >= 5 && error != ResponseError::ThrottlingQuotaExceeded {
                result = result.with_error_message(Some(StrBytes::from_string(message)));
            }
        }
        responses.push(result);
    }
    let throttle = quota.map_or(0, |quota| quota.throttle_ms());
    DeleteTopicsResponse::default()
        .with_responses(responses)
        .with_throttle_time_ms(i32::try_from(throttle).unwrap_or(i32::MAX))
}

/// The answer to `request` failing with `code` for every topic, named as
/// asked for (by name before v6, by name or id from v6).
pub fn error_response(
    request: &DeleteTopicsRequest,
    _version: i16,
    code: i16,
) -> DeleteTopicsResponse {
    DeleteTopicsResponse::default().with_responses(
        request
            .topic_names
            .iter()
            .map(|name| Some(name.clone()))
            .chain(request.topics.iter().map(|t| t.name.clone()))
            .map(|name| {
                DeletableTopicResult::default()
                    .with_name(name)
                    .with_error_code(code)
            })
            .collect(),
    )
}
