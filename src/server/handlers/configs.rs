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

/// Kafka's `ConfigSource` codes.
const DYNAMIC_TOPIC_CONFIG: i8 = 1;
const STATIC_BROKER_CONFIG: i8 = 4;
const DEFAULT_CONFIG: i8 = 5;

/// Whether an entry is one the request asked for (`None`: all of them).
pub(crate) fn wanted(keys: &Option<Vec<kafka_protocol::protocol::StrBytes>>, name: &str) -> bool {
    keys.as_ref()
        .is_none_or(|keys| keys.iter().any(|k| k.as_str() == name))
}

fn synonym(name: &str, value: String, source: i8) -> DescribeConfigsSynonym {
    DescribeConfigsSynonym::default()
        .with_name(str_bytes(name))
        .with_value(Some(str_bytes(value)))
        .with_source(source)
}

/// One topic config as DescribeConfigs reports it: the override, else the
/// broker's static setting, else Kafka's default; with synonyms in that order.
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
    let broker_names = broker_synonyms(def);
    for name in &broker_names {
        if let Some(value) = broker.given.get(*name) {
            synonyms.push(synonym(name, value.clone(), STATIC_BROKER_CONFIG));
        }
    }
    let kafka_default = default_value(def.name, &crate::config::LogConfig::default());
    let default_name = broker_names.first().copied().unwrap_or(def.name);
    synonyms.push(synonym(default_name, kafka_default, DEFAULT_CONFIG));
    // The effective value: the override, else the broker's (in the topic
    // config's own unit), else Kafka's default.
    let source = synonyms.first().map_or(DEFAULT_CONFIG, |s| s.source);
    let value = match source {
        DYNAMIC_TOPIC_CONFIG => synonyms[0].value.clone(),
        _ => Some(str_bytes(default_value(def.name, &broker.log))),
    };
    let value = match (source, broker.log.value_of(def.name)) {
        (STATIC_BROKER_CONFIG, None) => synonyms[0].value.clone(),
        _ => value,
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
        entry = entry.with_config_type(def.kind as i8);
        if include_documentation {
            entry = entry.with_documentation(Some(str_bytes(def.doc)));
        }
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

/// The broker's settings: static if given at start-up, else defaults; none
/// can be changed at run time yet, so all are read-only.
pub(crate) fn describe_broker(
    broker: &BrokerConfig,
    keys: &Option<Vec<kafka_protocol::protocol::StrBytes>>,
    include_synonyms: bool,
) -> Vec<DescribeConfigsResourceResult> {
    broker
        .settings()
        .into_iter()
        .filter(|(name, _)| wanted(keys, name))
        .map(|(name, value)| {
            let coarser: &[&str] = match name {
                "log.retention.ms" => &["log.retention.minutes", "log.retention.hours"],
                "log.roll.ms" => &["log.roll.hours"],
                _ => &[],
            };
            let given = broker.given.contains_key(name)
                || coarser.iter().any(|n| broker.given.contains_key(*n));
            let source = if given {
                STATIC_BROKER_CONFIG
            } else {
                DEFAULT_CONFIG
            };
            let mut entry = DescribeConfigsResourceResult::default()
                .with_name(str_bytes(name))
                .with_value(Some(str_bytes(value.clone())))
                .with_config_source(source)
                .with_read_only(true);
            if include_synonyms {
                entry = entry.with_synonyms(vec![synonym(name, value, source)]);
            }
            entry
        })
        .collect()
}
