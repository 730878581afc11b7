//! Metadata (v0–v12): brokers, cluster id, controller, and topics with their
//! ids and partitions, auto-creating requested topics when allowed.

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
                .map(|topic| match topic.name {
                    Some(name) => Wanted::Name(name.to_string()),
                    None => Wanted::Id(topic.topic_id),
                })
                .collect(),
        ),
    };
    // Before v4 auto-creation was implied.
    let may_create = (version < 4 || request.allow_auto_topic_creation)
        && broker.config().auto_create_topics_enable;

    let mut topics = Vec::new();
    match wanted {
        None => {
            let image = broker.metadata();
            topics.extend(
                image
                    .topics
                    .values()
                    .map(|topic| describe(&image, topic, version, listener)),
            );
        }
        Some(wanted) => {
            for topic in wanted {
                topics.push(match topic {
                    Wanted::Name(name) => {
                        by_name(broker, &name, may_create, version, listener).await
                    }
                    Wanted::Id(id) => match broker.metadata().topic_by_id(id) {
                        Some(topic) => describe(&broker.metadata(), topic, version, listener),
                        None => error_topic(None, id, ResponseError::UnknownTopicId),
                    },
                });
            }
        }
    }

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
        .with_topics(topics)
}

async fn by_name(
    broker: &Arc<Broker>,
    name: &str,
    may_create: bool,
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
