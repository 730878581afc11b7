//! DescribeConfigs (v1–v4): every topic config Kafka documents, every
//! broker config Kafka documents (this broker's resource), or the dynamic
//! cluster-wide defaults (the broker resource named ""), or only the keys
//! asked for; with value, source, synonyms, type and documentation.

use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::describe_configs_response::DescribeConfigsResult;
use kafka_protocol::messages::{DescribeConfigsRequest, DescribeConfigsResponse};

use super::configs::{
    describe_broker, describe_broker_defaults, describe_topic, Detail, BROKER, BROKER_LOGGER, TOPIC,
};
use super::groups::str_bytes;
use crate::broker::Broker;
use crate::error::KafkaError;
use crate::server::context::RequestContext;

pub async fn handle(
    broker: &Arc<Broker>,
    request: DescribeConfigsRequest,
    version: i16,
    context: &RequestContext,
) -> DescribeConfigsResponse {
    let authz = context.authz(broker);
    let image = broker.metadata();
    let node_id = broker.config().node_id;
    let layers = broker.config_layers();
    let detail = Detail {
        version,
        include_synonyms: request.include_synonyms,
        include_documentation: request.include_documentation,
    };
    let results = request
        .resources
        .into_iter()
        .map(|resource| {
            let result = DescribeConfigsResult::default()
                .with_resource_type(resource.resource_type)
                .with_resource_name(resource.resource_name.clone());
            let failed = |error: ResponseError, message: String| {
                result
                    .clone()
                    .with_error_code(error.code())
                    .with_error_message(Some(str_bytes(message)))
            };
            let layers = match &layers {
                Ok(layers) => layers,
                Err(error) => return failed(error.kafka_error(), error.to_string()),
            };
            let name = resource.resource_name.as_str();
            if let Err((error, message)) =
                super::configs::authorized(&authz, resource.resource_type, name, false)
            {
                return failed(error, message);
            }
            let keys = &resource.configuration_keys;
            match resource.resource_type {
                TOPIC => match image.topic(name) {
                    Some(topic) => result.with_configs(describe_topic(topic, layers, keys, detail)),
                    None => failed(
                        ResponseError::UnknownTopicOrPartition,
                        format!("topic '{name}' does not exist"),
                    ),
                },
                BROKER if name.is_empty() => {
                    result.with_configs(describe_broker_defaults(layers, keys, detail))
                }
                BROKER if name == node_id.to_string() => {
                    result.with_configs(describe_broker(layers, keys, detail))
                }
                BROKER => failed(
                    ResponseError::InvalidRequest,
                    format!(
                        "Unexpected broker id, expected {node_id} or empty string, but received {name}"
                    ),
                ),
                // Log levels are set with RUST_LOG, not through Kafka's API.
                BROKER_LOGGER => result,
                other => failed(
                    ResponseError::InvalidRequest,
                    format!("unsupported resource type {other}"),
                ),
            }
        })
        .collect();
    DescribeConfigsResponse::default().with_results(results)
}

/// The answer to `request` failing with `code` for every resource.
pub fn error_response(
    request: &DescribeConfigsRequest,
    _version: i16,
    code: i16,
) -> DescribeConfigsResponse {
    DescribeConfigsResponse::default().with_results(
        request
            .resources
            .iter()
            .map(|c| {
                DescribeConfigsResult::default()
                    .with_resource_type(c.resource_type)
                    .with_resource_name(c.resource_name.clone())
                    .with_error_code(code)
            })
            .collect(),
    )
}
