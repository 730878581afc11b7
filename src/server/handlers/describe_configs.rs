//! DescribeConfigs (v1–v4): every topic config Kafka documents (or only the
//! keys asked for) with value, source, synonyms, type and documentation;
//! and the broker's own settings.

use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::describe_configs_response::DescribeConfigsResult;
use kafka_protocol::messages::{DescribeConfigsRequest, DescribeConfigsResponse};

use super::configs::{describe_broker, describe_topic, BROKER, BROKER_LOGGER, TOPIC};
use super::groups::str_bytes;
use crate::broker::Broker;

pub async fn handle(
    broker: &Arc<Broker>,
    request: DescribeConfigsRequest,
    version: i16,
) -> DescribeConfigsResponse {
    let image = broker.metadata();
    let config = broker.config();
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
            let name = resource.resource_name.as_str();
            match resource.resource_type {
                TOPIC => match image.topic(name) {
                    Some(topic) => result.with_configs(describe_topic(
                        topic,
                        config,
                        &resource.configuration_keys,
                        version,
                        request.include_synonyms,
                        request.include_documentation,
                    )),
                    None => failed(
                        ResponseError::UnknownTopicOrPartition,
                        format!("topic '{name}' does not exist"),
                    ),
                },
                BROKER if name.is_empty() || name == config.node_id.to_string() => result
                    .with_configs(describe_broker(
                        config,
                        &resource.configuration_keys,
                        request.include_synonyms,
                    )),
                BROKER => failed(
                    ResponseError::InvalidRequest,
                    format!("this is broker {}, not {name}", config.node_id),
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
