//! UnregisterBroker (v0, `kafka-cluster.sh unregister`): a broker's
//! registration goes from the cluster metadata, its leaderships and ISR
//! memberships first (`controller/cluster.rs`). ALTER on the cluster, else
//! CLUSTER_AUTHORIZATION_FAILED; an unknown broker id
//! BROKER_ID_NOT_REGISTERED.

use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::{ApiKey, UnregisterBrokerRequest, UnregisterBrokerResponse};

use super::groups::str_bytes;
use crate::broker::Broker;
use crate::metadata::acls::AclOperation;
use crate::server::context::RequestContext;

pub async fn handle(
    broker: &Arc<Broker>,
    request: UnregisterBrokerRequest,
    context: &RequestContext,
) -> UnregisterBrokerResponse {
    if !context.may_on_cluster(broker, AclOperation::Alter) {
        return error_response(ResponseError::ClusterAuthorizationFailed.code())
            .with_error_message(Some(str_bytes(super::acls::not_authorized(
                ApiKey::UnregisterBroker,
            ))));
    }
    let unclean_default = broker.config().replication.unclean_leader_election;
    match broker
        .controller()
        .unregister_broker(request.broker_id.0, unclean_default)
        .await
    {
        Ok(()) => UnregisterBrokerResponse::default(),
        Err((error, message)) => {
            error_response(error.code()).with_error_message(Some(str_bytes(message)))
        }
    }
}

pub fn error_response(code: i16) -> UnregisterBrokerResponse {
    UnregisterBrokerResponse::default().with_error_code(code)
}
