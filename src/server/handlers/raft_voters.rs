//! AddRaftVoter (v0–1) and RemoveRaftVoter (v0), KIP-853: what
//! `Admin.addRaftVoter/removeRaftVoter` and `kafka-metadata-quorum.sh
//! add-controller/remove-controller` send. Any broker takes them (Kafka's
//! brokers forward them to the active controller, its controllers answer
//! on the controller listener); the quorum's leader changes the voter set
//! (`controller/quorum/membership.rs`). ALTER on the cluster, else
//! CLUSTER_AUTHORIZATION_FAILED, as Kafka's `ControllerApis` requires; a
//! cluster id that is not this cluster's, INCONSISTENT_CLUSTER_ID; no
//! directory id, or no endpoint on the controller listener,
//! INVALID_REQUEST.

use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::{
    AddRaftVoterRequest, AddRaftVoterResponse, ApiKey, RemoveRaftVoterRequest,
    RemoveRaftVoterResponse,
};
use kafka_protocol::protocol::StrBytes;

use super::acls::not_authorized;
use super::groups::str_bytes;
use crate::broker::Broker;
use crate::controller::quorum::membership::VoterChange;
use crate::error::KafkaError;
use crate::metadata::acls::AclOperation;
use crate::server::context::RequestContext;

pub async fn handle_add(
    broker: &Arc<Broker>,
    request: AddRaftVoterRequest,
    context: &RequestContext,
) -> AddRaftVoterResponse {
    let refused = |error: ResponseError, message: String| {
        add_error_response(error.code()).with_error_message(Some(str_bytes(message)))
    };
    if let Err((error, message)) = admit(broker, context, ApiKey::AddRaftVoter, &request.cluster_id)
    {
        return refused(error, message);
    }
    let Some(voter) = voter_id(request.voter_id, request.voter_directory_id) else {
        return refused(
            ResponseError::InvalidRequest,
            "Add voter request didn't include a valid voter".to_string(),
        );
    };
    let listener = broker
        .config()
        .controller_listener_names
        .first()
        .cloned()
        .unwrap_or_default();
    let Some(endpoint) = request
        .listeners
        .iter()
        .find(|l| l.name.as_str() == listener)
    else {
        return refused(
            ResponseError::InvalidRequest,
            format!(
                "Add voter request didn't include the endpoint for the default listener {listener}"
            ),
        );
    };
    let host = endpoint.host.as_str();
    let address = match host.contains(':') {
        true => format!("[{host}]:{}", endpoint.port),
        false => format!("{host}:{}", endpoint.port),
    };
    let change = VoterChange::Add {
        id: voter,
        directory_id: request.voter_directory_id,
        address,
        timeout: Duration::from_millis(u64::try_from(request.timeout_ms).unwrap_or(0)),
        ack_when_committed: request.ack_when_committed,
    };
    match broker.controller().change_voters(change).await {
        Ok(()) => AddRaftVoterResponse::default().with_error_message(None),
        Err(error) => refused(error.kafka_error(), error.to_string()),
    }
}

pub async fn handle_remove(
    broker: &Arc<Broker>,
    request: RemoveRaftVoterRequest,
    context: &RequestContext,
) -> RemoveRaftVoterResponse {
    let refused = |error: ResponseError, message: String| {
        remove_error_response(error.code()).with_error_message(Some(str_bytes(message)))
    };
    if let Err((error, message)) = admit(
        broker,
        context,
        ApiKey::RemoveRaftVoter,
        &request.cluster_id,
    ) {
        return refused(error, message);
    }
    let Some(voter) = voter_id(request.voter_id, request.voter_directory_id) else {
        return refused(
            ResponseError::InvalidRequest,
            "Remove voter request didn't include a valid voter".to_string(),
        );
    };
    let change = VoterChange::Remove {
        id: voter,
        directory_id: request.voter_directory_id,
    };
    match broker.controller().change_voters(change).await {
        Ok(()) => RemoveRaftVoterResponse::default().with_error_message(None),
        Err(error) => refused(error.kafka_error(), error.to_string()),
    }
}

/// ALTER on the cluster, and this cluster's id if the request names one.
fn admit(
    broker: &Broker,
    context: &RequestContext,
    api: ApiKey,
    cluster_id: &Option<StrBytes>,
) -> Result<(), (ResponseError, String)> {
    if !context.may_on_cluster(broker, AclOperation::Alter) {
        return Err((
            ResponseError::ClusterAuthorizationFailed,
            not_authorized(api).to_string(),
        ));
    }
    let ours = broker.metadata().cluster_id.clone();
    match cluster_id {
        Some(given) if given.as_str() != ours => Err((
            ResponseError::InconsistentClusterId,
            format!("The given id \"{given}\" doesn't match the cluster id \"{ours}\""),
        )),
        _ => Ok(()),
    }
}

/// A voter names a replica id and its log dir's (non-zero) directory id.
fn voter_id(id: i32, directory_id: uuid::Uuid) -> Option<u64> {
    match directory_id.is_nil() {
        true => None,
        false => u64::try_from(id).ok(),
    }
}

pub fn add_error_response(code: i16) -> AddRaftVoterResponse {
    AddRaftVoterResponse::default().with_error_code(code)
}

pub fn remove_error_response(code: i16) -> RemoveRaftVoterResponse {
    RemoveRaftVoterResponse::default().with_error_code(code)
}
