//! IncrementalAlterConfigs (v0–v1): SET, DELETE, APPEND and SUBTRACT on a
//! topic's config overrides, or on the dynamic configs of a broker
//! (resource name = its node id) or of the cluster-wide default (resource
//! name ""); APPEND/SUBTRACT on list configs only, starting from the
//! current value; validated, validate-only honoured.

use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::incremental_alter_configs_request::AlterableConfig;
use kafka_protocol::messages::incremental_alter_configs_response::AlterConfigsResourceResponse;
use kafka_protocol::messages::{IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse};

use super::configs::{unalterable, BROKER, TOPIC};
use super::groups::str_bytes;
use crate::broker::Broker;
use crate::config::catalog::{default_value, topic_config, ConfigType};
use crate::config::dynamic::{apply_operations, Operation, Scope};
use crate::config::LogConfig;
use crate::error::KafkaError;
use crate::server::context::RequestContext;

const SET: i8 = 0;
const DELETE: i8 = 1;
const APPEND: i8 = 2;
const SUBTRACT: i8 = 3;

type Failure = (ResponseError, String);

/// Applies the operations to a topic's current overrides.
fn apply(
    mut overrides: std::collections::BTreeMap<String, String>,
    operations: &[AlterableConfig],
) -> Result<std::collections::BTreeMap<String, String>, Failure> {
    let mut seen = std::collections::HashSet::new();
    for operation in operations {
        let name = operation.name.to_string();
        if !seen.insert(name.clone()) {
            return Err((
                ResponseError::InvalidRequest,
                format!("config {name} appears twice"),
            ));
        }
        let def = topic_config(&name).ok_or_else(|| {
            (
                ResponseError::InvalidConfig,
                format!("unknown topic config {name}"),
            )
        })?;
        let value = operation
            .value
            .as_ref()
            .map(|v| v.to_string())
            .unwrap_or_default();
        match operation.config_operation {
            SET => {
                overrides.insert(name, value);
            }
            DELETE => {
                overrides.remove(&name);
            }
            op @ (APPEND | SUBTRACT) if def.kind != ConfigType::List => {
                let verb = if op == APPEND {
                    "APPEND to"
                } else {
                    "SUBTRACT from"
                };
                return Err((
                    ResponseError::InvalidConfig,
                    format!("Can't {verb} key {name} because its type is not LIST."),
                ));
            }
            op @ (APPEND | SUBTRACT) => {
                let current = overrides
                    .get(&name)
                    .cloned()
                    .unwrap_or_else(|| default_value(&name, &LogConfig::default()));
                let mut items: Vec<String> = current
                    .split(',')
                    .map(str::trim)
                    .filter(|i| !i.is_empty())
                    .map(str::to_string)
                    .collect();
                for item in value.split(',').map(str::trim).filter(|i| !i.is_empty()) {
                    if op == APPEND && !items.iter().any(|i| i == item) {
                        items.push(item.to_string());
                    } else if op == SUBTRACT {
                        items.retain(|i| i != item);
                    }
                }
                overrides.insert(name, items.join(","));
            }
            other => {
                return Err((
                    ResponseError::InvalidRequest,
                    format!("unknown config operation {other}"),
                ))
            }
        }
    }
    Ok(overrides)
}

pub async fn handle(
    broker: &Arc<Broker>,
    request: IncrementalAlterConfigsRequest,
    _version: i16,
    context: &RequestContext,
) -> IncrementalAlterConfigsResponse {
    let authz = context.authz(broker);
    let mut responses = Vec::with_capacity(request.resources.len());
    for resource in request.resources {
        let name = resource.resource_name.to_string();
        let response = AlterConfigsResourceResponse::default()
            .with_resource_type(resource.resource_type)
            .with_resource_name(resource.resource_name.clone());
        let allowed = super::configs::authorized(&authz, resource.resource_type, &name, true);
        let outcome: Result<(), Failure> = match resource.resource_type {
            _ if allowed.is_err() => allowed,
            TOPIC => match broker.metadata().topic(&name) {
                None => Err((
                    ResponseError::UnknownTopicOrPartition,
                    format!("topic '{name}' does not exist"),
                )),
                Some(topic) => match apply(topic.configs.clone(), &resource.configs) {
                    Err(failure) => Err(failure),
                    Ok(configs) => broker
                        .alter_topic_configs(name.clone(), configs, request.validate_only)
                        .await
                        .map(|_| ())
                        .map_err(|error| (error.kafka_error(), error.to_string())),
                },
            },
            BROKER => match Scope::parse(&name, broker.config().node_id) {
                Err(error) => Err((error.kafka_error(), error.to_string())),
                Ok(scope) => {
                    let operations: Vec<Operation> = resource
                        .configs
                        .iter()
                        .map(|c| Operation {
                            name: c.name.to_string(),
                            operation: c.config_operation,
                            value: c.value.as_ref().map(|v| v.to_string()),
                        })
                        .collect();
                    broker
                        .alter_broker_configs(
                            scope,
                            move |current| apply_operations(current, &operations),
                            request.validate_only,
                        )
                        .await
                        .map_err(|error| (error.kafka_error(), error.to_string()))
                }
            },
            other => Err(unalterable(other)),
        };
        responses.push(match outcome {
            Ok(()) => response.with_error_message(None),
            Err((error, message)) => response
                .with_error_code(error.code())
                .with_error_message(Some(str_bytes(message))),
        });
    }
    IncrementalAlterConfigsResponse::default().with_responses(responses)
}

/// The answer to `request` failing with `code` for every resource.
pub fn error_response(
    request: &IncrementalAlterConfigsRequest,
    _version: i16,
    code: i16,
) -> IncrementalAlterConfigsResponse {
    IncrementalAlterConfigsResponse::default().with_responses(
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

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::protocol::StrBytes;

    fn op(name: &'static str, operation: i8, value: &'static str) -> AlterableConfig {
        AlterableConfig::default()
            .with_name(StrBytes::from_static_str(name))
            .with_config_operation(operation)
            .with_value(Some(StrBytes::from_static_str(value)))
    }

    #[test]
    fn operations_set_delete_append_and_subtract() {
        let start =
            std::collections::BTreeMap::from([("retention.ms".to_string(), "5".to_string())]);
        let result = apply(
            start,
            &[
                op("retention.ms", DELETE, ""),
                op("cleanup.policy", APPEND, "compact"),
                op("segment.ms", SET, "100"),
            ],
        )
        .unwrap();
        assert_eq!(result.get("retention.ms"), None);
        assert_eq!(result["cleanup.policy"], "delete,compact");
        assert_eq!(result["segment.ms"], "100");
        let result = apply(result, &[op("cleanup.policy", SUBTRACT, "delete")]).unwrap();
        assert_eq!(result["cleanup.policy"], "compact");
        assert_eq!(
            apply(result.clone(), &[op("segment.ms", APPEND, "1")])
                .unwrap_err()
                .0,
            ResponseError::InvalidConfig
        );
        assert_eq!(
            apply(result.clone(), &[op("nope", SET, "1")])
                .unwrap_err()
                .0,
            ResponseError::InvalidConfig
        );
        assert_eq!(
            apply(
                result,
                &[op("segment.ms", SET, "1"), op("segment.ms", SET, "2")]
            )
            .unwrap_err()
            .0,
            ResponseError::InvalidRequest
        );
    }
}
