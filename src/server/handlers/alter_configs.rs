//! AlterConfigs (v0–v2): replaces a topic's config overrides with the
//! given set (validated; validate-only honoured). Broker configs cannot be
//! changed at run time yet.

use std::collections::BTreeMap;
use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::alter_configs_response::AlterConfigsResourceResponse;
use kafka_protocol::messages::{AlterConfigsRequest, AlterConfigsResponse};

use super::configs::{unalterable, TOPIC};
use super::groups::str_bytes;
use crate::broker::Broker;
use crate::error::KafkaError;

pub async fn handle(
    broker: &Arc<Broker>,
    request: AlterConfigsRequest,
    _version: i16,
) -> AlterConfigsResponse {
    let mut responses = Vec::with_capacity(request.resources.len());
    for resource in request.resources {
        let response = AlterConfigsResourceResponse::default()
            .with_resource_type(resource.resource_type)
            .with_resource_name(resource.resource_name.clone());
        let outcome: Result<(), (ResponseError, String)> = match resource.resource_type {
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
            other => Err(unalterable(other)),
        };
        responses.push(match outcome {
            Ok(()) => response,
            Err((error, message)) => response
                .with_error_code(error.code())
                .with_error_message(Some(str_bytes(message))),
        });
    }
    AlterConfigsResponse::default().with_responses(responses)
}
