//! What the config handlers share: resource types and how a topic's
//! effective configs are described.

use kafka_protocol::messages::describe_configs_response::{
    DescribeConfigsResourceResult, DescribeConfigsSynonym,
};

use super::groups::str_bytes;
use crate::config::catalog::{broker_synonyms, default_value, TopicConfigDef, TOPIC_CONFIGS};
use crate::config::BrokerConfig;
use crate::metadata::TopicImage;

pub(crate) const TOPIC: i8 = 2;
pub(crate) const BROKER: i8 = 4;
pub(crate) const BROKER_LOGGER: i8 = 8;

/// The answer for resources whose configs cannot be altered here.
pub(crate) fn unalterable(resource_type: i8) -> (kafka_protocol::error::ResponseError, String) {
    use kafka_protocol::error::ResponseError;
    match resource_type {
        BROKER => (
            ResponseError::InvalidRequest,
            "dynamic broker configs are not supported; set them in server.properties".to_string(),
        ),
        other => (
            ResponseError::InvalidRequest,
            format!("unsupported resource type {other}"),
        ),
    }
}

/// Kafka's `ConfigSource` codes.
const DYNAMIC_TOPIC_CONFIG: i8 = 1;
const STATIC_BROKER_CONFIG: i8 = 4;
const DEFAULT_CONFIG: i8 = 5;

/// Whether an entry is one the request asked for (null or empty: all of
/// them, as Kafka reads both).
pub(crate) fn wanted(keys: &Option<Vec<kafka_protocol::protocol::StrBytes>>, name: &str) -> bool {
    keys.as_ref()
        .is_none_or(|keys| keys.is_empty() || keys.iter().any(|k| k.as_str() == name))
}

fn synonym(name: &str, value: String, source: i8) -> DescribeConfigsSynonym {
    DescribeConfigsSynonym::default()
        .with_name(str_bytes(name))
        .with_value(Some(str_bytes(value)))
        .with_source(source)
}

/// The default-level synonym of a topic config: the broker setting that
/// has a default in Kafka (for `retention.ms` that is
/// `log.retention.hours=168`, since `log.retention.ms` defaults to null).
fn default_synonym(def: &TopicConfigDef) -> Option<(&'static str, String)> {
    match def.name {
        "retention.ms" => Some(("log.retention.hours", "168".to_string())),
        "segment.ms" => Some(("log.roll.hours", "168".to_string())),
        "segment.jitter.ms" => Some(("log.roll.jitter.hours", "0".to_string())),
        _ => def.broker_synonym.map(|name| {
            (
                name,
                default_value(def.name, &crate::config::LogConfig::default()),
            )
        }),
    }
}

/// One topic config as DescribeConfigs reports it: the override, else the
/// broker's static setting, else Kafka's default; synonyms in that order,
/// as Kafka builds them (none for configs without a broker setting).
pub(crate) fn describe_topic_config(
    def: &TopicConfigDef,
    topic: &TopicImage,
    broker: &BrokerConfig,
    version: i16,
    include_synonyms: bool,
    include_documentation: bool,
) -> DescribeConfigsResourceResult {
    let mut synonyms = Vec::new();
    if let Some(value) = topic.configs.get(def.name) {
        synonyms.push(synonym(def.name, value.clone(), DYNAMIC_TOPIC_CONFIG));
    }
    for name in broker_synonyms(def) {
        if let Some(value) = broker.given.get(name) {
            synonyms.push(synonym(name, value.clone(), STATIC_BROKER_CONFIG));
        }
    }
    if let Some((name, value)) = default_synonym(def) {
        synonyms.push(synonym(name, value, DEFAULT_CONFIG));
    }
    let source = synonyms.first().map_or(DEFAULT_CONFIG, |s| s.source);
    // The effective value, in the topic config's own unit.
    let value = match (source, broker.log.value_of(def.name)) {
        (DYNAMIC_TOPIC_CONFIG, _) | (STATIC_BROKER_CONFIG, None) => synonyms[0].value.clone(),
        _ => Some(str_bytes(default_value(def.name, &broker.log))),
    };
    let mut entry = DescribeConfigsResourceResult::default()
        .with_name(str_bytes(def.name))
        .with_value(value)
        .with_config_source(source)
        .with_read_only(false);
    if include_synonyms {
        entry = entry.with_synonyms(synonyms);
    }
    if version >= 3 {
        entry = entry
            .with_config_type(def.kind as i8)
            .with_documentation(include_documentation.then(|| str_bytes(def.doc)));
    }
    entry
}

/// Every topic config entry asked for.
pub(crate) fn describe_topic(
    topic: &TopicImage,
    broker: &BrokerConfig,
    keys: &Option<Vec<kafka_protocol::protocol::StrBytes>>,
    version: i16,
    include_synonyms: bool,
    include_documentation: bool,
) -> Vec<DescribeConfigsResourceResult> {
    TOPIC_CONFIGS
        .iter()
        .filter(|def| wanted(keys, def.name))
        .map(|def| {
            describe_topic_config(
                def,
                topic,
                broker,
                version,
                include_synonyms,
                include_documentation,
            )
        })
        .collect()
}

/// Broker settings Kafka leaves null unless given: their coarser-unit
/// siblings carry the default.
const NULL_BY_DEFAULT: &[&str] = &["log.retention.ms", "log.retention.minutes", "log.roll.ms"];

/// The broker's settings: static if given at start-up, else defaults, with
/// synonyms [static, default]; none can be changed at run time yet, so all
/// are read-only.
pub(crate) fn describe_broker(
    broker: &BrokerConfig,
    keys: &Option<Vec<kafka_protocol::protocol::StrBytes>>,
    include_synonyms: bool,
) -> Vec<DescribeConfigsResourceResult> {
    let defaults: std::collections::HashMap<&str, String> =
        BrokerConfig::default().settings().into_iter().collect();
    let mut settings = broker.settings();
    settings.extend([
        ("log.retention.minutes", String::new()),
        ("log.retention.hours", "168".to_string()),
        ("log.roll.hours", "168".to_string()),
    ]);
    settings
        .into_iter()
        .filter(|(name, _)| wanted(keys, name))
        .map(|(name, effective)| {
            let given = broker.given.get(name);
            let default = match name {
                "log.retention.hours" | "log.roll.hours" => Some("168".to_string()),
                _ if NULL_BY_DEFAULT.contains(&name) => None,
                _ => defaults.get(name).cloned(),
            };
            let value = match (given, NULL_BY_DEFAULT.contains(&name)) {
                (Some(given), _) => Some(given.clone()),
                (None, true) => None,
                (None, false) => Some(effective),
            };
            let source = if given.is_some() {
                STATIC_BROKER_CONFIG
            } else {
                DEFAULT_CONFIG
            };
            let mut entry = DescribeConfigsResourceResult::default()
                .with_name(str_bytes(name))
                .with_value(value.map(str_bytes))
                .with_config_source(source)
                .with_read_only(true);
            if include_synonyms {
                let mut synonyms = Vec::new();
                if let Some(given) = given {
                    synonyms.push(synonym(name, given.clone(), STATIC_BROKER_CONFIG));
                }
                if let Some(default) = default {
                    synonyms.push(synonym(name, default, DEFAULT_CONFIG));
                }
                entry = entry.with_synonyms(synonyms);
            }
            entry
        })
        .collect()
}
