//! What the config handlers share: resource types, and how topic and
//! broker configs are described (value, source, synonyms, type,
//! documentation) from the broker's config layers.

use std::collections::{BTreeSet, HashMap};

use kafka_protocol::messages::describe_configs_response::{
    DescribeConfigsResourceResult, DescribeConfigsSynonym,
};
use kafka_protocol::protocol::StrBytes;

use super::groups::str_bytes;
use crate::config::broker_catalog::{self, UpdateMode, BROKER_CONFIGS};
use crate::config::catalog::{default_value, ConfigType, TopicConfigDef, TOPIC_CONFIGS};
use crate::config::dynamic::{BrokerConfigLayers, Synonym, DEFAULT_CONFIG, DYNAMIC_TOPIC_CONFIG};
use crate::metadata::TopicImage;

pub(crate) const TOPIC: i8 = 2;
pub(crate) const BROKER: i8 = 4;
pub(crate) const BROKER_LOGGER: i8 = 8;

/// Kafka's config resource type of groups' configs.
const GROUP: i8 = 32;

/// Whether a principal may describe (`alter: false`) or alter a config
/// resource, as Kafka's `ConfigHelper` and `ControllerApis` check it:
/// DESCRIBE_CONFIGS or ALTER_CONFIGS on the topic or group, or on the
/// cluster for broker configs. Checked before the resource is looked up.
pub(crate) fn authorized(
    authz: &crate::auth::authorizer::Session<'_>,
    resource_type: i8,
    name: &str,
    alter: bool,
) -> Result<(), (kafka_protocol::error::ResponseError, String)> {
    use crate::metadata::acls::{AclOperation, ResourceType, CLUSTER_NAME};
    use kafka_protocol::error::ResponseError;
    let operation = match alter {
        true => AclOperation::AlterConfigs,
        false => AclOperation::DescribeConfigs,
    };
    let (resource, name, refused) = match resource_type {
        TOPIC => (
            ResourceType::Topic,
            name,
            ResponseError::TopicAuthorizationFailed,
        ),
        GROUP => (
            ResourceType::Group,
            name,
            ResponseError::GroupAuthorizationFailed,
        ),
        BROKER | BROKER_LOGGER => (
            ResourceType::Cluster,
            CLUSTER_NAME,
            ResponseError::ClusterAuthorizationFailed,
        ),
        _ => return Ok(()),
    };
    match authz.allows(operation, resource, name) {
        true => Ok(()),
        false => Err((refused, refused.to_string())),
    }
}

/// Kafka's `ConfigType` code for a config it cannot type.
const UNKNOWN_TYPE: i8 = 0;

/// The answer for resource types whose configs cannot be altered here
/// (log levels are set with RUST_LOG, not through Kafka's API).
pub(crate) fn unalterable(resource_type: i8) -> (kafka_protocol::error::ResponseError, String) {
    (
        kafka_protocol::error::ResponseError::InvalidRequest,
        format!("Unknown resource type {resource_type}"),
    )
}

/// Whether an entry is one the request asked for (null or empty: all of
/// them, as Kafka reads both).
pub(crate) fn wanted(keys: &Option<Vec<StrBytes>>, name: &str) -> bool {
    keys.as_ref()
        .is_none_or(|keys| keys.is_empty() || keys.iter().any(|k| k.as_str() == name))
}

fn to_wire(synonym: Synonym) -> DescribeConfigsSynonym {
    DescribeConfigsSynonym::default()
        .with_name(str_bytes(synonym.name))
        .with_value(synonym.value.map(str_bytes))
        .with_source(synonym.source)
}

/// What DescribeConfigs asked for besides the values.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Detail {
    pub version: i16,
    pub include_synonyms: bool,
    pub include_documentation: bool,
}

fn entry(
    name: &str,
    value: Option<String>,
    synonyms: Vec<Synonym>,
    read_only: bool,
    sensitive: bool,
    (config_type, documentation): (i8, String),
    detail: Detail,
) -> DescribeConfigsResourceResult {
    let source = synonyms.first().map_or(DEFAULT_CONFIG, |s| s.source);
    let mut entry = DescribeConfigsResourceResult::default()
        .with_name(str_bytes(name))
        .with_value(value.map(str_bytes))
        .with_config_source(source)
        .with_read_only(read_only)
        .with_is_sensitive(sensitive);
    if detail.include_synonyms {
        entry = entry.with_synonyms(synonyms.into_iter().map(to_wire).collect());
    }
    if detail.version >= 3 {
        entry = entry.with_config_type(config_type).with_documentation(
            detail
                .include_documentation
                .then(|| str_bytes(documentation)),
        );
    }
    entry
}

/// One topic config as DescribeConfigs reports it: the topic's override,
/// else the broker setting behind it (per-broker, cluster default, static,
/// default, in Kafka's synonym order), else Kafka's default.
pub(crate) fn describe_topic_config(
    def: &TopicConfigDef,
    topic: &TopicImage,
    layers: &BrokerConfigLayers,
    detail: Detail,
) -> DescribeConfigsResourceResult {
    let mut synonyms = Vec::new();
    if let Some(value) = topic.configs.get(def.name) {
        synonyms.push(Synonym {
            name: def.name.to_string(),
            value: Some(value.clone()),
            source: DYNAMIC_TOPIC_CONFIG,
        });
    }
    if let Some(broker_name) = def.broker_synonym {
        let names = broker_catalog::synonyms(broker_name);
        synonyms.extend(layers.synonyms(broker_name, names, true, false));
    }
    let log = &layers.effective.log;
    // Topic configs share their broker setting's unit, so an unmodelled
    // config can take the broker setting's value as it is.
    let value = match (topic.configs.get(def.name), log.value_of(def.name)) {
        (Some(value), _) => value.clone(),
        (None, Some(effective)) => effective,
        (None, None) => synonyms
            .first()
            .and_then(|s| s.value.clone())
            .unwrap_or_else(|| default_value(def.name, log)),
    };
    entry(
        def.name,
        Some(value),
        synonyms,
        false,
        false,
        (def.kind as i8, def.doc.to_string()),
        detail,
    )
}

/// Every topic config entry asked for.
pub(crate) fn describe_topic(
    topic: &TopicImage,
    layers: &BrokerConfigLayers,
    keys: &Option<Vec<StrBytes>>,
    detail: Detail,
) -> Vec<DescribeConfigsResourceResult> {
    TOPIC_CONFIGS
        .iter()
        .filter(|def| wanted(keys, def.name))
        .map(|def| describe_topic_config(def, topic, layers, detail))
        .collect()
}

/// One broker setting as DescribeConfigs reports it on this broker's
/// resource. The value is the one set for exactly this name (per-broker,
/// cluster default, static), else what gregor runs with for settings it
/// honours, else Kafka's default; null where Kafka's default is null and
/// a coarser synonym carries the value (`log.retention.ms` under
/// `log.retention.hours`), and for passwords. Names Kafka does not define
/// are typeless, hence treated as sensitive, as Kafka treats them.
fn describe_broker_config(
    name: &str,
    layers: &BrokerConfigLayers,
    running: &HashMap<&'static str, String>,
    with_per_broker: bool,
    detail: Detail,
) -> DescribeConfigsResourceResult {
    let def = broker_catalog::broker_config(name);
    let dynamic_only = def
        .is_none()
        .then(|| broker_catalog::dynamic_only(name))
        .flatten();
    let sensitive = def.map_or(dynamic_only.is_none(), |def| def.is_sensitive());
    let own_name = [name];
    let names = match def {
        Some(_) => broker_catalog::synonyms(name),
        None => &own_name[..],
    };
    let synonyms = layers.synonyms(name, names, with_per_broker, sensitive);
    let set = if with_per_broker {
        layers.set_value(name)
    } else {
        layers.cluster_default.get(name)
    };
    let value = match (set, def) {
        _ if sensitive => None,
        (Some(value), _) => Some(value.clone()),
        (None, None) => None,
        (None, Some(def)) if def.default.is_none() && names.len() > 1 => None,
        (None, Some(def)) => match running.get(def.name) {
            Some(value) if def.default.is_some() || !value.is_empty() => Some(value.clone()),
            _ => def.default.map(str::to_string),
        },
    };
    let (read_only, typed) = match (def, dynamic_only) {
        (Some(def), _) => (
            def.mode == UpdateMode::ReadOnly,
            (def.kind as i8, def.documentation()),
        ),
        (None, Some(doc)) => (false, (ConfigType::Long as i8, doc.to_string())),
        (None, None) => (
            true,
            (
                UNKNOWN_TYPE,
                "Not a Kafka broker config; kept and reported as set.".to_string(),
            ),
        ),
    };
    entry(name, value, synonyms, read_only, sensitive, typed, detail)
}

/// This broker's resource: every broker config Kafka documents, and any
/// other name set statically or dynamically.
pub(crate) fn describe_broker(
    layers: &BrokerConfigLayers,
    keys: &Option<Vec<StrBytes>>,
    detail: Detail,
) -> Vec<DescribeConfigsResourceResult> {
    let running: HashMap<&'static str, String> = layers.effective.settings().into_iter().collect();
    let others: BTreeSet<&str> = layers
        .static_given
        .keys()
        .chain(layers.cluster_default.keys())
        .chain(layers.per_broker.keys())
        .map(String::as_str)
        .filter(|name| broker_catalog::broker_config(name).is_none())
        .collect();
    BROKER_CONFIGS
        .iter()
        .map(|def| def.name)
        .chain(others)
        .filter(|name| wanted(keys, name))
        .map(|name| describe_broker_config(name, layers, &running, true, detail))
        .collect()
}

/// The cluster-wide default resource (name ""): only the dynamic defaults
/// set, as Kafka answers it.
pub(crate) fn describe_broker_defaults(
    layers: &BrokerConfigLayers,
    keys: &Option<Vec<StrBytes>>,
    detail: Detail,
) -> Vec<DescribeConfigsResourceResult> {
    let running = HashMap::new();
    layers
        .cluster_default
        .keys()
        .filter(|name| wanted(keys, name))
        .map(|name| describe_broker_config(name, layers, &running, false, detail))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::catalog::topic_config;
    use crate::config::dynamic::testing::{layers, map};
    use crate::config::dynamic::{
        DYNAMIC_BROKER_CONFIG, DYNAMIC_DEFAULT_BROKER_CONFIG, STATIC_BROKER_CONFIG,
    };

    const DETAIL: Detail = Detail {
        version: 4,
        include_synonyms: true,
        include_documentation: true,
    };

    fn topic(configs: &[(&str, &str)]) -> TopicImage {
        TopicImage {
            name: "t".into(),
            id: uuid::Uuid::nil(),
            partitions: Vec::new(),
            configs: map(configs),
        }
    }

    fn sources(entry: &DescribeConfigsResourceResult) -> Vec<i8> {
        entry.synonyms.iter().map(|s| s.source).collect()
    }

    #[test]
    fn topic_configs_inherit_dynamic_broker_values_in_kafkas_order() {
        let layers = layers(
            &[("message.max.bytes", "3000")],
            &[("message.max.bytes", "2000"), ("log.retention.ms", "60000")],
            &[("message.max.bytes", "1000")],
        );
        let describe = |name: &str, overrides: &[(&str, &str)]| {
            describe_topic_config(
                topic_config(name).unwrap(),
                &topic(overrides),
                &layers,
                DETAIL,
            )
        };
        let max = describe("max.message.bytes", &[]);
        assert_eq!(max.value.as_deref(), Some("1000"));
        assert_eq!(max.config_source, DYNAMIC_BROKER_CONFIG);
        assert_eq!(
            sources(&max),
            [
                DYNAMIC_BROKER_CONFIG,
                DYNAMIC_DEFAULT_BROKER_CONFIG,
                STATIC_BROKER_CONFIG,
                DEFAULT_CONFIG
            ]
        );
        let overridden = describe("max.message.bytes", &[("max.message.bytes", "50")]);
        assert_eq!(overridden.value.as_deref(), Some("50"));
        assert_eq!(overridden.config_source, DYNAMIC_TOPIC_CONFIG);
        assert_eq!(overridden.synonyms.len(), 5);
        let retention = describe("retention.ms", &[]);
        assert_eq!(retention.value.as_deref(), Some("60000"));
        assert_eq!(retention.config_source, DYNAMIC_DEFAULT_BROKER_CONFIG);
        // Kafka's "delete.retention.ms" default synonym, untouched
        let tombstones = describe("delete.retention.ms", &[]);
        assert_eq!(tombstones.config_source, DEFAULT_CONFIG);
        assert_eq!(
            tombstones.synonyms[0].name.as_str(),
            "log.cleaner.delete.retention.ms"
        );
    }

    #[test]
    fn every_topic_configs_broker_setting_is_a_broker_config() {
        for def in TOPIC_CONFIGS {
            if let Some(name) = def.broker_synonym {
                assert!(broker_catalog::broker_config(name).is_some(), "{name}");
            }
        }
    }

    #[test]
    fn broker_resource_reports_every_config_with_sources_and_secrets_hidden() {
        let layers = layers(
            &[
                ("log.retention.hours", "24"),
                ("ssl.keystore.password", "hunter2"),
                ("custom.x", "1"),
            ],
            &[("num.io.threads", "4")],
            &[
                ("message.max.bytes", "1000"),
                ("leader.replication.throttled.rate", "1000000"),
            ],
        );
        let entries = describe_broker(&layers, &None, DETAIL);
        assert!(entries.len() > 300);
        let by_name: HashMap<&str, &DescribeConfigsResourceResult> =
            entries.iter().map(|e| (e.name.as_str(), e)).collect();
        let get = |name: &str| by_name[name];
        assert_eq!(
            (
                get("message.max.bytes").value.as_deref(),
                get("message.max.bytes").config_source
            ),
            (Some("1000"), DYNAMIC_BROKER_CONFIG)
        );
        assert_eq!(
            get("num.io.threads").config_source,
            DYNAMIC_DEFAULT_BROKER_CONFIG
        );
        assert_eq!(get("num.network.threads").value.as_deref(), Some("3"));
        assert!(
            get("num.network.threads").synonyms.len() == 1 && !get("num.network.threads").read_only
        );
        assert!(get("log.dirs").read_only);
        // null where a coarser synonym carries the value, as Kafka
        assert_eq!(get("log.retention.ms").value, None);
        assert_eq!(get("log.retention.hours").value.as_deref(), Some("24"));
        let secret = get("ssl.keystore.password");
        assert!(secret.is_sensitive && secret.value.is_none());
        assert_eq!(secret.config_source, STATIC_BROKER_CONFIG);
        assert!(secret.synonyms.iter().all(|s| s.value.is_none()));
        let custom = get("custom.x");
        assert!(custom.is_sensitive && custom.value.is_none());
        assert_eq!(custom.config_type, UNKNOWN_TYPE);
        // Kafka's dynamic-only replication quotas are longs, not secrets.
        let rate = get("leader.replication.throttled.rate");
        assert!(!rate.is_sensitive && !rate.read_only);
        assert_eq!(rate.value.as_deref(), Some("1000000"));
        assert_eq!(rate.config_type, ConfigType::Long as i8);
        // keys filter; the default resource shows only the dynamic defaults
        let keys = Some(vec![StrBytes::from_static_str("num.partitions")]);
        assert_eq!(describe_broker(&layers, &keys, DETAIL).len(), 1);
        let defaults = describe_broker_defaults(&layers, &None, DETAIL);
        assert_eq!(defaults.len(), 1);
        assert_eq!(defaults[0].value.as_deref(), Some("4"));
        assert_eq!(
            sources(&defaults[0]),
            [DYNAMIC_DEFAULT_BROKER_CONFIG, DEFAULT_CONFIG]
        );
    }
}
