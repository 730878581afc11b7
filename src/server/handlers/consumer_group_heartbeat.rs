//! ConsumerGroupHeartbeat (v0–v1, KIP-848): a member of a consumer group
//! joins (epoch 0), heartbeats with its epoch and owned partitions, and
//! leaves (-1, or -2 for a static member leaving for a while); the answer
//! carries its epoch and, when it changed, its assignment. In v0 the
//! coordinator names joining members, from v1 (KIP-1082) they name
//! themselves.

use std::collections::BTreeSet;
use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::consumer_group_heartbeat_response::{Assignment, TopicPartitions};
use kafka_protocol::messages::{ConsumerGroupHeartbeatRequest, ConsumerGroupHeartbeatResponse};

use super::groups::{coordinator_for, optional, str_bytes};
use crate::broker::Broker;
use crate::group::consumer::{self, Heartbeat};
use crate::metadata::acls::{AclOperation, ResourceType};
use crate::metadata::features::GROUP_VERSION;
use crate::server::context::RequestContext;

pub async fn handle(
    broker: &Arc<Broker>,
    request: ConsumerGroupHeartbeatRequest,
    version: i16,
    client_id: &str,
    context: &RequestContext,
) -> ConsumerGroupHeartbeatResponse {
    // A cluster finalized below group.version 1 does not serve KIP-848
    // (`kafka-features.sh downgrade`), as Kafka's KafkaApis refuses it.
    if broker.metadata().features.level(GROUP_VERSION) < 1 {
        return error(ResponseError::UnsupportedVersion, None);
    }
    let group_id = request.group_id.to_string();
    let heartbeat = Heartbeat {
        version,
        member_id: request.member_id.to_string(),
        member_epoch: request.member_epoch,
        instance_id: optional(&request.instance_id),
        rack_id: optional(&request.rack_id),
        rebalance_timeout_ms: request.rebalance_timeout_ms,
        subscribed_topic_names: request
            .subscribed_topic_names
            .as_ref()
            .map(|names| names.iter().map(|n| n.to_string()).collect()),
        subscribed_topic_regex: optional(&request.subscribed_topic_regex),
        server_assignor: optional(&request.server_assignor),
        owned: request.topic_partitions.as_ref().map(|topics| {
            topics
                .iter()
                .map(|t| {
                    (
                        t.topic_id,
                        t.partitions.iter().copied().collect::<BTreeSet<i32>>(),
                    )
                })
                .collect()
        }),
        client_id: client_id.to_string(),
        client_host: format!("/{}", context.peer.ip()),
    };
    // READ on the group, then DESCRIBE on every topic it names, as Kafka's
    // KafkaApis checks before the coordinator sees the request.
    let authz = context.authz(broker);
    if !authz.allows(AclOperation::Read, ResourceType::Group, &group_id) {
        return error(ResponseError::GroupAuthorizationFailed, None);
    }
    let unauthorized = heartbeat
        .subscribed_topic_names
        .iter()
        .flatten()
        .any(|topic| !authz.allows(AclOperation::Describe, ResourceType::Topic, topic));
    drop(authz);
    if unauthorized {
        return error(ResponseError::TopicAuthorizationFailed, None);
    }
    if group_id.is_empty() {
        return error(
            ResponseError::InvalidRequest,
            Some("GroupId can't be empty.".to_string()),
        );
    }
    let coordinator = match coordinator_for(broker, &group_id).await {
        Ok(coordinator) => coordinator,
        Err(code) => return error(code, None),
    };
    if let Err(refused) = heartbeat.validate(coordinator.config()) {
        tracing::debug!(group = %group_id, %refused, "ConsumerGroupHeartbeat refused");
        return error(refused.code(), Some(refused.to_string()));
    }
    match coordinator
        .consumer_heartbeat(&group_id, heartbeat, broker.metadata())
        .await
    {
        Ok(answer) => ConsumerGroupHeartbeatResponse::default()
            .with_member_id(Some(str_bytes(answer.member_id)))
            .with_member_epoch(answer.member_epoch)
            .with_heartbeat_interval_ms(answer.heartbeat_interval_ms)
            .with_assignment(answer.assignment.map(assignment)),
        Err(refused) => error(refused.code(), Some(refused.to_string())),
    }
}

fn assignment(partitions: consumer::Assignment) -> Assignment {
    Assignment::default().with_topic_partitions(
        partitions
            .into_iter()
            .map(|(topic_id, partitions)| {
                TopicPartitions::default()
                    .with_topic_id(topic_id)
                    .with_partitions(partitions.into_iter().collect())
            })
            .collect(),
    )
}

fn error(code: ResponseError, message: Option<String>) -> ConsumerGroupHeartbeatResponse {
    ConsumerGroupHeartbeatResponse::default()
        .with_error_code(code.code())
        .with_error_message(message.map(str_bytes))
}

/// The answer to `request` failing with `code`.
pub fn error_response(
    _request: &ConsumerGroupHeartbeatRequest,
    _version: i16,
    code: i16,
) -> ConsumerGroupHeartbeatResponse {
    ConsumerGroupHeartbeatResponse::default().with_error_code(code)
}
