//! DescribeCluster (v0–v2, KIP-700): the cluster id, the active controller
//! and the registered brokers, as admin clients' `describe_cluster` asks.
//! Brokers answer for the broker endpoints (endpoint type 1); controller
//! endpoints (type 2, KIP-919) are answered on the controller listener,
//! to clients bootstrapping from the controllers, as Kafka's
//! `ControllerApis` answers them: the voters at their controller
//! listener, to a principal that may ALTER the cluster.

use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::describe_cluster_response::DescribeClusterBroker;
use kafka_protocol::messages::{BrokerId, DescribeClusterRequest, DescribeClusterResponse};

use super::groups::str_bytes;
use crate::broker::Broker;
use crate::metadata::acls::{AclOperation, ResourceType, CLUSTER_NAME};
use crate::server::api_versions::ListenerType;
use crate::server::context::RequestContext;

const BROKER_ENDPOINTS: i8 = 1;
const CONTROLLER_ENDPOINTS: i8 = 2;

pub async fn handle(
    broker: &Arc<Broker>,
    request: DescribeClusterRequest,
    version: i16,
    context: &RequestContext,
) -> DescribeClusterResponse {
    if context.listener.listener_type == ListenerType::Controller {
        return controllers(broker, request, version, context);
    }
    if let Some(refused) = refusal(BROKER_ENDPOINTS, request.endpoint_type, version) {
        return refused;
    }
    let image = broker.metadata();
    let operations = cluster_operations(broker, &request, context);
    let response = DescribeClusterResponse::default()
        .with_endpoint_type(BROKER_ENDPOINTS)
        .with_cluster_id(str_bytes(image.cluster_id.clone()))
        .with_controller_id(BrokerId(image.controller_id))
        .with_cluster_authorized_operations(operations);
    let brokers = image
        .brokers
        .iter()
        .filter_map(|b| {
            let (host, port) = b.endpoint(context.listener_name())?;
            Some(
                DescribeClusterBroker::default()
                    .with_broker_id(BrokerId(b.node_id))
                    .with_host(str_bytes(host.to_string()))
                    .with_port(i32::from(port))
                    .with_rack(b.rack.clone().map(str_bytes))
                    .with_is_fenced(false),
            )
        })
        .collect();
    response.with_brokers(brokers)
}

/// The controller listener's answer: the voters, each at its controller
/// address, and the active controller among them (-1 if it is not, as
/// Kafka's `AuthHelper.computeDescribeClusterResponse` answers).
fn controllers(
    broker: &Broker,
    request: DescribeClusterRequest,
    version: i16,
    context: &RequestContext,
) -> DescribeClusterResponse {
    // Unlike on a broker, DescribeCluster on a controller needs ALTER.
    if !context.may_on_cluster(broker, AclOperation::Alter) {
        return DescribeClusterResponse::default()
            .with_error_code(ResponseError::ClusterAuthorizationFailed.code());
    }
    if let Some(refused) = refusal(CONTROLLER_ENDPOINTS, request.endpoint_type, version) {
        return refused;
    }
    let operations = cluster_operations(broker, &request, context);
    let (voters, leader) = broker.controller().controllers();
    let nodes: Vec<DescribeClusterBroker> = voters
        .iter()
        .filter_map(|(id, address)| {
            let (host, port) = address.rsplit_once(':')?;
            let host = host.trim_start_matches('[').trim_end_matches(']');
            Some(
                DescribeClusterBroker::default()
                    .with_broker_id(BrokerId(i32::try_from(*id).ok()?))
                    .with_host(str_bytes(host.to_string()))
                    .with_port(port.parse().ok()?)
                    .with_is_fenced(false),
            )
        })
        .collect();
    let controller_id = leader
        .and_then(|leader| i32::try_from(leader).ok())
        .filter(|leader| nodes.iter().any(|node| node.broker_id.0 == *leader))
        .unwrap_or(-1);
    DescribeClusterResponse::default()
        .with_endpoint_type(CONTROLLER_ENDPOINTS)
        .with_cluster_id(str_bytes(broker.metadata().cluster_id.clone()))
        .with_controller_id(BrokerId(controller_id))
        .with_cluster_authorized_operations(operations)
        .with_brokers(nodes)
}

/// The cluster's authorized operations, when asked for: 0 to whoever may
/// not DESCRIBE the cluster; else `i32::MIN` (the schema's default).
fn cluster_operations(
    broker: &Broker,
    request: &DescribeClusterRequest,
    context: &RequestContext,
) -> i32 {
    if !request.include_cluster_authorized_operations {
        return i32::MIN;
    }
    let authz = context.authz(broker);
    match authz.allows(AclOperation::Describe, ResourceType::Cluster, CLUSTER_NAME) {
        false => 0,
        true => authz.authorized_operations(ResourceType::Cluster, CLUSTER_NAME),
    }
}

/// Kafka's refusal (`AuthHelper.computeDescribeClusterResponse`) of a
/// request for `endpoint_type` on a listener that serves `served`: an
/// unknown type is unsupported, the other type mismatched; v0 has no code
/// of its own for either.
fn refusal(served: i8, endpoint_type: i8, version: i16) -> Option<DescribeClusterResponse> {
    let name = |endpoint_type| match endpoint_type {
        BROKER_ENDPOINTS => Some("BROKER"),
        CONTROLLER_ENDPOINTS => Some("CONTROLLER"),
        _ => None,
    };
    if endpoint_type == served {
        return None;
    }
    let (error, message) = match (name(served), name(endpoint_type)) {
        (Some(served), Some(wanted)) => (
            ResponseError::MismatchedEndpointType,
            format!(
                "The request was sent to an endpoint of type {served}, but we wanted an endpoint of type {wanted}"
            ),
        ),
        _ => (
            ResponseError::UnsupportedEndpointType,
            format!("Unsupported endpoint type {endpoint_type}"),
        ),
    };
    let error = match version {
        0 => ResponseError::InvalidRequest,
        _ => error,
    };
    Some(
        DescribeClusterResponse::default()
            .with_error_code(error.code())
            .with_error_message(Some(str_bytes(message))),
    )
}

/// The answer to `request` failing with `code`.
pub fn error_response(
    _request: &DescribeClusterRequest,
    _version: i16,
    code: i16,
) -> DescribeClusterResponse {
    DescribeClusterResponse::default().with_error_code(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_listener_answers_its_own_endpoint_type_and_refuses_others_as_kafka_does() {
        let code = |served, endpoint_type, version| {
            refusal(served, endpoint_type, version).map(|response| response.error_code)
        };
        for served in [BROKER_ENDPOINTS, CONTROLLER_ENDPOINTS] {
            assert_eq!(code(served, served, 2), None);
            assert_eq!(code(served, served, 0), None);
            assert_eq!(
                code(served, 7, 2),
                Some(ResponseError::UnsupportedEndpointType.code())
            );
        }
        let mismatched = refusal(CONTROLLER_ENDPOINTS, BROKER_ENDPOINTS, 1).unwrap();
        assert_eq!(
            mismatched.error_code,
            ResponseError::MismatchedEndpointType.code()
        );
        assert_eq!(
            mismatched.error_message.as_deref(),
            Some("The request was sent to an endpoint of type CONTROLLER, but we wanted an endpoint of type BROKER")
        );
        assert_eq!(
            code(BROKER_ENDPOINTS, CONTROLLER_ENDPOINTS, 1),
            Some(ResponseError::MismatchedEndpointType.code())
        );
        assert_eq!(
            code(CONTROLLER_ENDPOINTS, BROKER_ENDPOINTS, 0),
            Some(ResponseError::InvalidRequest.code())
        );
    }
}
