//! DescribeClientQuotas (v0–1, KIP-546): needs DESCRIBE_CONFIGS on the
//! cluster; answered from this broker's metadata image, each matching
//! entity with every key it sets.

use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::describe_client_quotas_response::{EntityData, EntryData, ValueData};
use kafka_protocol::messages::{DescribeClientQuotasRequest, DescribeClientQuotasResponse};

use super::groups::str_bytes;
use crate::broker::Broker;
use crate::metadata::acls::AclOperation;
use crate::metadata::client_quotas::{FilterComponent, FilterError};
use crate::server::context::RequestContext;

pub fn handle(
    broker: &Arc<Broker>,
    request: DescribeClientQuotasRequest,
    context: &RequestContext,
) -> DescribeClientQuotasResponse {
    if !context.may_on_cluster(broker, AclOperation::DescribeConfigs) {
        // Kafka drops a message that only repeats the error's own.
        return error_response(
            &request,
            0,
            ResponseError::ClusterAuthorizationFailed.code(),
        );
    }
    let components: Vec<FilterComponent> = request
        .components
        .iter()
        .map(|c| FilterComponent {
            entity_type: c.entity_type.to_string(),
            match_type: c.match_type,
            name: c._match.as_ref().map(|name| name.to_string()),
        })
        .collect();
    let image = broker.metadata();
    match image.client_quotas.describe(&components, request.strict) {
        Ok(found) => DescribeClientQuotasResponse::default()
            .with_error_message(None)
            .with_entries(Some(
                found
                    .into_iter()
                    .map(|(entity, values)| {
                        EntryData::default()
                            .with_entity(
                                entity
                                    .parts()
                                    .into_iter()
                                    .map(|(kind, name)| {
                                        EntityData::default()
                                            .with_entity_type(str_bytes(kind))
                                            .with_entity_name(name.map(str_bytes))
                                    })
                                    .collect(),
                            )
                            .with_values(
                                values
                                    .iter()
                                    .map(|(key, value)| {
                                        ValueData::default()
                                            .with_key(str_bytes(key.as_str()))
                                            .with_value(value.0)
                                    })
                                    .collect(),
                            )
                    })
                    .collect(),
            )),
        Err(error) => {
            let code = match error {
                FilterError::Invalid(_) => ResponseError::InvalidRequest,
                FilterError::UnsupportedEntityType(_) => ResponseError::UnsupportedVersion,
            };
            DescribeClientQuotasResponse::default()
                .with_error_code(code.code())
                .with_error_message(Some(str_bytes(error.to_string())))
                .with_entries(None)
        }
    }
}

/// The whole request refused with `code`: no entries (null), as Kafka.
pub fn error_response(
    _request: &DescribeClientQuotasRequest,
    _version: i16,
    code: i16,
) -> DescribeClientQuotasResponse {
    DescribeClientQuotasResponse::default()
        .with_error_code(code)
        .with_error_message(None)
        .with_entries(None)
}
