//! AlterConfigs (v0–v2): replaces a topic's config overrides, or the
//! dynamic configs of a broker (resource name = its node id) or of the
//! cluster-wide default (resource name ""), with the given set; validated,
//! validate-only honoured.

use std::collections::BTreeMap;
use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::alter_configs_response::AlterConfigsResourceResponse;
use kafka_protocol::messages::{AlterConfigsRequest, AlterConfigsResponse};

use super::configs::{unalterable, BROKER, TOPIC};
use super::groups::str_bytes;
use crate::broker::Broker;
use crate::config::dynamic::{replacement, Scope};
use crate::error::KafkaError;
use crate::server::context::RequestContext;

pub async fn handle(
    broker: &Arc<Broker>,
    request: AlterConfigsRequest,
    _version: i16,
    context: &RequestContext,
) -> AlterConfigsResponse {
    let authz = context.authz(broker);
    let mut responses = Vec::with_capacity(request.resources.len());
    for resource in request.resources {
        let response = AlterConfigsResourceResponse::default()
            .with_resource_type(resource.resource_type)
            .with_resource_name(resource.resource_name.clone());
        let allowed = super::configs::authorized(
            &authz,
            resource.resource_type,
            &resource.resource_name,
            true,
        );
        let outcome: Result<(), (ResponseError, String)> = match resource.resource_type {
            _ if allowed.is_err() => allowed,
            TOPIC => {
                let configs: BTreeMap<String, String> = resource
                    .configs
                    .iter()
                    .filter_map(|c| {
                        c.value
                            .as_ref()
                            .map(|v| (c.name.to_string(), v.to_string()))
                    })
                    .collect();
                broker
                    .alter_topic_configs(
                        resource.resource_name.to_string(),
                        configs,
                        request.validate_only,
                    )
                    .await
                    .map(|_| ())
                    .map_err(|error| (error.kafka_error(), error.to_string()))
            }
            BROKER => {
                let configs: Vec<(String, Option<String>)> = resource
                    .configs
                    .iter()
                    .map(|c| (c.name.to_string(), c.value.as_ref().map(|v| v.to_string())))
                    .collect();
                let node_id = broker.config().node_id;
                match replacement(&configs).and_then(|configs| {
                    Ok((configs, Scope::parse(&resource.resource_name, node_id)?))
                }) {
                    Err(error) => Err((error.kafka_error(), error.to_string())),
                    Ok((configs, scope)) => broker
                        .alter_broker_configs(scope, move |_| Ok(configs), request.validate_only)
                        .await
                        .map_err(|error| (error.kafka_error(), error.to_string())),
                }
            }
            other => Err(unalterable(other)),
        };
        responses.push(match outcome {
            Ok(()) => response.with_error_message(None),
            Err((error, message)) => response
                .with_error_code(error.code())
                .with_error_message(Some(str_bytes(message))),
        });
    }
    AlterConfigsResponse::default().with_responses(responses)
}

/// The answer to `request` failing with `code` for every resource.
pub fn error_response(
    request: &AlterConfigsRequest,
    _version: i16,
    code: i16,
) -> AlterConfigsResponse {
    AlterConfigsResponse::default().with_responses(
        request
            .resources
            .iter()
            .map(|c| {
                AlterConfigsResourceResponse::default()
                    .with_resource_type(c.resource_type)
                    .with_resource_name(c.resource_name.clone())
                    .with_error_code(code)
            })
            .collect(),
    )
}
