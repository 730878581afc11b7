//! DescribeCluster (v0–v2, KIP-700): the cluster id, the active controller
//! and the registered brokers, as admin clients' `describe_cluster` asks.
//! Brokers answer for the broker endpoints (endpoint type 1); controller
//! endpoints (type 2) are for clients bootstrapping from controllers.

use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::describe_cluster_response::DescribeClusterBroker;
use kafka_protocol::messages::{BrokerId, DescribeClusterRequest, DescribeClusterResponse};

use super::groups::str_bytes;
use crate::broker::Broker;
use crate::metadata::acls::{AclOperation, ResourceType, CLUSTER_NAME};
use crate::server::context::RequestContext;

const BROKER_ENDPOINTS: i8 = 1;

pub async fn handle(
    broker: &Arc<Broker>,
    request: DescribeClusterRequest,
    version: i16,
    context: &RequestContext,
) -> DescribeClusterResponse {
    let image = broker.metadata();
    // Asked for: 0 to whoever may not DESCRIBE the cluster; else i32::MIN.
    let authz = context.authz(broker);
    let operations = match request.include_cluster_authorized_operations {
        false => i32::MIN,
        true if !authz.allows(AclOperation::Describe, ResourceType::Cluster, CLUSTER_NAME) => 0,
        true => authz.authorized_operations(ResourceType::Cluster, CLUSTER_NAME),
    };
    drop(authz);
    let response = DescribeClusterResponse::default()
        .with_endpoint_type(BROKER_ENDPOINTS)
        .with_cluster_id(str_bytes(image.cluster_id.clone()))
        .with_controller_id(BrokerId(image.controller_id))
        .with_cluster_authorized_operations(operations);
    if version >= 1 && request.endpoint_type != BROKER_ENDPOINTS {
        return response
            .with_error_code(ResponseError::UnsupportedEndpointType.code())
            .with_error_message(Some(str_bytes(format!(
                "endpoint type {} is answered by controllers, not brokers",
                request.endpoint_type
            ))));
    }
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

/// The answer to `request` failing with `code`.
pub fn error_response(
    _request: &DescribeClusterRequest,
    _version: i16,
    code: i16,
) -> DescribeClusterResponse {
    DescribeClusterResponse::default().with_error_code(code)
}
