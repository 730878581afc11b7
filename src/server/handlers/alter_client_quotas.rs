//! AlterClientQuotas (v0–1, KIP-546): needs ALTER_CONFIGS on the cluster.
//! Each entity's changes are validated and applied whole by the
//! controller; one result per distinct entity.

use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::alter_client_quotas_response::{EntityData, EntryData};
use kafka_protocol::messages::{AlterClientQuotasRequest, AlterClientQuotasResponse};

use super::groups::str_bytes;
use crate::broker::Broker;
use crate::controller::client_quotas::{QuotaAlteration, QuotaOp};
use crate::metadata::acls::AclOperation;
use crate::server::context::RequestContext;

pub async fn handle(
    broker: &Arc<Broker>,
    request: AlterClientQuotasRequest,
    context: &RequestContext,
) -> AlterClientQuotasResponse {
    if !context.may_on_cluster(broker, AclOperation::AlterConfigs) {
        let code = ResponseError::ClusterAuthorizationFailed;
        return every_entry(&request, code.code(), Some("Cluster authorization failed."));
    }
    if request.entries.is_empty() {
        return AlterClientQuotasResponse::default();
    }
    let validate_only = request.validate_only;
    let alterations: Vec<QuotaAlteration> = request
        .entries
        .iter()
        .map(|entry| QuotaAlteration {
            entity: entry
                .entity
                .iter()
                .map(|e| {
                    let name = e.entity_name.as_ref().map(|name| name.to_string());
                    (e.entity_type.to_string(), name)
                })
                .collect(),
            ops: entry
                .ops
                .iter()
                .map(|op| QuotaOp {
                    key: op.key.to_string(),
                    value: op.value,
                    remove: op.remove,
                })
                .collect(),
        })
        .collect();
    let outcome = broker
        .on_controller(move |broker| {
            Ok(broker
                .controller()
                .alter_client_quotas(alterations, validate_only)?)
        })
        .await;
    match outcome {
        Ok(outcomes) => AlterClientQuotasResponse::default().with_entries(
            outcomes
                .into_iter()
                .map(|(entity, refusal)| {
                    let entry = EntryData::default()
                        .with_error_message(None)
                        .with_entity(entity_data(&entity));
                    match refusal {
                        None => entry,
                        Some(message) => entry
                            .with_error_code(ResponseError::InvalidRequest.code())
                            .with_error_message(Some(str_bytes(message))),
                    }
                })
                .collect(),
        ),
        Err(error) => every_entry(
            &request,
            ResponseError::UnknownServerError.code(),
            Some(&error.to_string()),
        ),
    }
}

fn entity_data(entity: &[(String, Option<String>)]) -> Vec<EntityData> {
    entity
        .iter()
        .map(|(kind, name)| {
            EntityData::default()
                .with_entity_type(str_bytes(kind.as_str()))
                .with_entity_name(name.as_deref().map(str_bytes))
        })
        .collect()
}

/// Every entity of the request answered with `code`, echoed as sent.
fn every_entry(
    request: &AlterClientQuotasRequest,
    code: i16,
    message: Option<&str>,
) -> AlterClientQuotasResponse {
    AlterClientQuotasResponse::default().with_entries(
        request
            .entries
            .iter()
            .map(|entry| {
                EntryData::default()
                    .with_error_code(code)
                    .with_error_message(message.map(str_bytes))
                    .with_entity(
                        entry
                            .entity
                            .iter()
                            .map(|e| {
                                EntityData::default()
                                    .with_entity_type(e.entity_type.clone())
                                    .with_entity_name(e.entity_name.clone())
                            })
                            .collect(),
                    )
            })
            .collect(),
    )
}

pub fn error_response(
    request: &AlterClientQuotasRequest,
    _version: i16,
    code: i16,
) -> AlterClientQuotasResponse {
    every_entry(request, code, None)
}
