//! Metadata (v0–v12): brokers, cluster id, controller, and topics with their
//! ids and partitions, auto-creating requested topics when allowed.
//!
//! Authorization as Kafka's `handleTopicMetadataRequest`: a listing of all
//! topics leaves out those the principal may not DESCRIBE; a topic asked
//! for by name or id is answered TOPIC_AUTHORIZATION_FAILED, before its
//! existence is looked at (an unknown id is UNKNOWN_TOPIC_ID first: ids
//! are not secret). Auto-creation needs CREATE on the cluster or on the
//! topic.

use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_protocol::messages::{BrokerId, MetadataRequest, MetadataResponse};
use kafka_protocol::protocol::StrBytes;
use tracing::warn;
use uuid::Uuid;

use super::topic_name;
use crate::broker::Broker;
use crate::controller::validate_topic_name;
use crate::error::KafkaError;
use crate::metadata::acls::{AclOperation, ResourceType, CLUSTER_NAME};
use crate::metadata::{MetadataImage, TopicImage, NO_LEADER};
use crate::server::context::RequestContext;

/// A requested topic, by name or (v10+) by id.
enum Wanted {
    Name(String),
    Id(Uuid),
}

pub async fn handle(
    broker: &Arc<Broker>,
    request: MetadataRequest,
    version: i16,
    context: &RequestContext,
) -> MetadataResponse {
    let listener = context.listener_name();
    let wanted: Option<Vec<Wanted>> = match request.topics {
        None => None,
        // v0 has no null: an empty list means every topic.
        Some(topics) if topics.is_empty() && version == 0 => None,
        Some(topics) => Some(
            topics
                .into_iter()
                // A topic with an id is looked up by it, whatever its name
                // says: Kafka 4's Admin sends ids with an empty name.
                .map(|topic| match topic.name {
                    Some(name) if topic.topic_id.is_nil() => Wanted::Name(name.to_string()),
                    _ => Wanted::Id(topic.topic_id),
                })
                .collect(),
        ),
    };
    // Before v4 auto-creation was implied.
    let may_create = (version < 4 || request.allow_auto_topic_creation)
        && broker.config().auto_create_topics_enable;
    let authz = context.authz(broker);
    let describable = |name: &str| authz.allows(AclOperation::Describe, ResourceType::Topic, name);
    let with_operations = |topic: MetadataResponseTopic| match (
        version >= 8 && request.include_topic_authorized_operations,
        &topic.name,
    ) {
        (true, Some(name))
            if topic.error_code != ResponseError::TopicAuthorizationFailed.code() =>
        {
            let operations = authz.authorized_operations(ResourceType::Topic, name.as_str());
            topic.with_topic_authorized_operations(operations)
        }
        _ => topic,
    };

    let mut topics = Vec::new();
    match wanted {
        None => {
            let image = broker.metadata();
            topics.extend(
                image
                    .topics
                    .values()
                    .filter(|topic| describable(&topic.name))
                    .map(|topic| with_operations(describe(&image, topic, version, listener))),
            );
        }
        Some(wanted) => {
            let denied = ResponseError::TopicAuthorizationFailed;
            for topic in wanted {
                topics.push(match topic {
                    Wanted::Name(name) if !describable(&name) => {
                        error_topic(Some(&name), Uuid::nil(), denied)
                    }
                    Wanted::Name(name) => {
                        let creatable = || {
                            authz.allows(AclOperation::Create, ResourceType::Cluster, CLUSTER_NAME)
                                || authz.allows(AclOperation::Create, ResourceType::Topic, &name)
                        };
                        with_operations(
                            by_name(broker, &name, may_create, creatable, version, listener).await,
                        )
                    }
                    Wanted::Id(id) => match broker.metadata().topic_by_id(id) {
                        Some(topic) if !describable(&topic.name) => error_topic(None, id, denied),
                        Some(topic) => {
                            with_operations(describe(&broker.metadata(), topic, version, listener))
                        }
                        None => error_topic(None, id, ResponseError::UnknownTopicId),
                    },
                });
            }
        }
    }
    // Cluster operations (v8–v10): 0 to whoever may not DESCRIBE it.
    let cluster_operations = match version >= 8 && request.include_cluster_authorized_operations {
        false => i32::MIN,
        true if !authz.allows(AclOperation::Describe, ResourceType::Cluster, CLUSTER_NAME) => 0,
        true => authz.authorized_operations(ResourceType::Cluster, CLUSTER_NAME),
    };
    drop(authz);

    let image = broker.metadata();
    // Each broker's address on the listener this request came in on;
    // brokers without that listener are left out, as in Kafka.
    let brokers = image
        .brokers
        .iter()
        .filter_map(|b| {
            let (host, port) = b.endpoint(listener)?;
            Some(
                MetadataResponseBroker::default()
                    .with_node_id(BrokerId(b.node_id))
                    .with_host(StrBytes::from_string(host.to_string()))
                    .with_port(i32::from(port))
                    .with_rack(b.rack.clone().map(StrBytes::from_string)),
            )
        })
        .collect();
    MetadataResponse::default()
        .with_brokers(brokers)
        .with_cluster_id(Some(StrBytes::from_string(image.cluster_id.clone())))
        .with_controller_id(BrokerId(image.controller_id))
        .with_cluster_authorized_operations(cluster_operations)
        .with_topics(topics)
}

async fn by_name(
    broker: &Arc<Broker>,
    name: &str,
    may_create: bool,
    creatable: impl FnOnce() -> bool,
    version: i16,
    listener: &str,
) -> MetadataResponseTopic {
    let image = broker.metadata();
    if let Some(topic) = image.topic(name) {
        return describe(&image, topic, version, listener);
    }
    if validate_topic_name(name).is_err() {
        return error_topic(
            Some(name),
            Uuid::nil(),
            ResponseError::InvalidTopicException,
        );
    }
    if !may_create {
        return error_topic(
            Some(name),
            Uuid::nil(),
            ResponseError::UnknownTopicOrPartition,
        );
    }
    if !creatable() {
        return error_topic(
            Some(name),
            Uuid::nil(),
            ResponseError::TopicAuthorizationFailed,
        );
    }
    match broker.auto_create_topic(name).await {
        Ok(Some(topic)) => describe(&broker.metadata(), &topic, version, listener),
        Ok(None) => error_topic(
            Some(name),
            Uuid::nil(),
            ResponseError::UnknownTopicOrPartition,
        ),
        Err(error) => {
            warn!(topic = name, %error, "auto-creation failed");
            error_topic(Some(name), Uuid::nil(), error.kafka_error())
        }
    }
}

fn error_topic(name: Option<&str>, id: Uuid, error: ResponseError) -> MetadataResponseTopic {
    MetadataResponseTopic::default()
        .with_error_code(error.code())
        .with_name(name.map(topic_name))
        .with_topic_id(id)
}

fn describe(
    image: &MetadataImage,
    topic: &TopicImage,
    version: i16,
    listener: &str,
) -> MetadataResponseTopic {
    let partitions = topic
        .partitions
        .iter()
        .map(|partition| {
            // Replicas on fenced brokers are offline; a partition whose
            // in-sync replicas are all gone has no leader, nor has one
            // whose fenced leader's leadership has not moved yet.
            let offline = partition
                .replicas
                .iter()
                .copied()
                .filter(|id| image.broker(*id).is_none())
                .map(BrokerId)
                .collect();
            let mut leader = image.live_leader(partition);
            let mut error = match leader {
                NO_LEADER => ResponseError::LeaderNotAvailable.code(),
                _ => 0,
            };
            // A leader this listener cannot reach is no leader to this
            // client: Kafka answers LISTENER_NOT_FOUND.
            if image
                .broker(leader)
                .is_some_and(|b| b.endpoint(listener).is_none())
            {
                leader = NO_LEADER;
                error = ResponseError::ListenerNotFound.code();
            }
            MetadataResponsePartition::default()
                .with_partition_index(partition.partition)
                .with_error_code(error)
                .with_offline_replicas(offline)
                .with_leader_id(BrokerId(leader))
                .with_leader_epoch(if version >= 7 {
                    partition.leader_epoch
                } else {
                    -1
                })
                .with_replica_nodes(partition.replicas.iter().copied().map(BrokerId).collect())
                .with_isr_nodes(partition.isr.iter().copied().map(BrokerId).collect())
        })
        .collect();
    MetadataResponseTopic::default()
        .with_name(Some(topic_name(&topic.name)))
        .with_topic_id(topic.id)
        .with_is_internal(topic.is_internal())
        .with_partitions(partitions)
}

/// The answer to `request` failing with `code` for every topic asked for
/// (none when all topics were asked for).
pub fn error_response(request: &MetadataRequest, _version: i16, code: i16) -> MetadataResponse {
    MetadataResponse::default().with_topics(
        request
            .topics
            .iter()
            .flatten()
            .map(|t| {
                MetadataResponseTopic::default()
                    .with_error_code(code)
                    .with_name(t.name.clone())
                    .with_topic_id(t.topic_id)
            })
            .collect(),
    )
}
