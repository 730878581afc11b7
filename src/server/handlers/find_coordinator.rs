//! FindCoordinator (v0–v6): group keys are coordinated by the leader of the
//! group's `__consumer_offsets` partition, transactional ids by the leader
//! of their `__transaction_state` partition — this broker, for now. The
//! internal topic is created on first use. v4+ batch keys.

use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::find_coordinator_response::Coordinator;
use kafka_protocol::messages::{BrokerId, FindCoordinatorRequest, FindCoordinatorResponse};
use tracing::warn;

use super::groups::str_bytes;
use crate::broker::Broker;
use crate::metadata::acls::{AclOperation, ResourceType};
use crate::server::context::RequestContext;

const GROUP_KEY: i8 = 0;
const TRANSACTION_KEY: i8 = 1;

pub async fn handle(
    broker: &Arc<Broker>,
    request: FindCoordinatorRequest,
    version: i16,
    context: &RequestContext,
) -> FindCoordinatorResponse {
    let keys: Vec<String> = if version >= 4 {
        request
            .coordinator_keys
            .iter()
            .map(|k| k.to_string())
            .collect()
    } else {
        vec![request.key.to_string()]
    };
    let authz = context.authz(broker);
    let mut coordinators = Vec::with_capacity(keys.len());
    for key in keys {
        // DESCRIBE on the group or transactional id, before anything is
        // looked up or created.
        let (resource_type, refused) = match request.key_type {
            TRANSACTION_KEY => (
                ResourceType::TransactionalId,
                ResponseError::TransactionalIdAuthorizationFailed,
            ),
            _ => (ResourceType::Group, ResponseError::GroupAuthorizationFailed),
        };
        if matches!(request.key_type, GROUP_KEY | TRANSACTION_KEY)
            && !authz.allows(AclOperation::Describe, resource_type, &key)
        {
            coordinators.push(
                Coordinator::default()
                    .with_key(str_bytes(key))
                    .with_node_id(BrokerId(-1))
                    .with_port(-1)
                    .with_error_code(refused.code()),
            );
            continue;
        }
        coordinators.push(find(broker, request.key_type, key, context.listener_name()).await);
    }
    if version >= 4 {
        return FindCoordinatorResponse::default().with_coordinators(coordinators);
    }
    let single = coordinators.pop().unwrap_or_default();
    let mut response = FindCoordinatorResponse::default()
        .with_error_code(single.error_code)
        .with_node_id(single.node_id)
        .with_host(single.host)
        .with_port(single.port);
    if version >= 1 {
        response = response.with_error_message(single.error_message);
    }
    response
}

async fn find(broker: &Arc<Broker>, key_type: i8, key: String, listener: &str) -> Coordinator {
    let failed = |error: ResponseError, message: &str| {
        Coordinator::default()
            .with_key(str_bytes(key.clone()))
            .with_node_id(BrokerId(-1))
            .with_port(-1)
            .with_error_code(error.code())
            .with_error_message(Some(str_bytes(message)))
    };
    let ready = match key_type {
        GROUP_KEY if key.is_empty() => {
            return failed(ResponseError::InvalidRequest, "empty group id")
        }
        GROUP_KEY => broker.ensure_offsets_topic().await,
        TRANSACTION_KEY if key.is_empty() => {
            return failed(ResponseError::InvalidRequest, "empty transactional id")
        }
        TRANSACTION_KEY => broker.ensure_transaction_state_topic().await,
        _ => {
            return failed(
                ResponseError::InvalidRequest,
                "unknown coordinator key type",
            )
        }
    };
    if let Err(error) = ready {
        warn!(%error, "cannot create the coordinator's internal topic");
        return failed(
            ResponseError::CoordinatorNotAvailable,
            "coordinator topic unavailable",
        );
    }
    // The coordinator is the leader of the internal partition the key
    // hashes to, as in Kafka.
    let image = broker.metadata();
    let topic = match key_type {
        GROUP_KEY => crate::group::OFFSETS_TOPIC,
        _ => crate::txn::TRANSACTION_STATE_TOPIC,
    };
    let leader = image.topic(topic).and_then(|topic| {
        let index = crate::group::partition_for(&key, topic.partitions.len() as i32);
        topic.partitions.get(index as usize)
    });
    let Some(coordinator) = leader.and_then(|p| image.broker(p.leader)) else {
        return failed(
            ResponseError::CoordinatorNotAvailable,
            "the coordinator's partition has no leader",
        );
    };
    let Some((host, port)) = coordinator.endpoint(listener) else {
        return failed(
            ResponseError::CoordinatorNotAvailable,
            "the coordinator has no endpoint on this listener",
        );
    };
    Coordinator::default()
        .with_key(str_bytes(key.clone()))
        .with_node_id(BrokerId(coordinator.node_id))
        .with_host(str_bytes(host.to_string()))
        .with_port(i32::from(port))
}

/// The answer to `request` failing with `code`: before v4 one coordinator,
/// from v4 (KIP-699) one per key asked for.
pub fn error_response(
    request: &FindCoordinatorRequest,
    version: i16,
    code: i16,
) -> FindCoordinatorResponse {
    if version < 4 {
        return FindCoordinatorResponse::default()
            .with_error_code(code)
            .with_node_id(BrokerId(-1))
            .with_port(-1);
    }
    FindCoordinatorResponse::default().with_coordinators(
        request
            .coordinator_keys
            .iter()
            .map(|key| {
                Coordinator::default()
                    .with_key(key.clone())
                    .with_node_id(BrokerId(-1))
                    .with_port(-1)
                    .with_error_code(code)
            })
            .collect(),
    )
}
