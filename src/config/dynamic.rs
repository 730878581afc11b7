//! Dynamic broker configs (Kafka's KIP-226): values set at run time through
//! AlterConfigs / IncrementalAlterConfigs on a BROKER resource, either for
//! one broker (resource name = its node id) or as the cluster-wide default
//! (resource name "").
//!
//! A broker setting resolves, most specific first: the per-broker dynamic
//! value, the cluster-wide dynamic default, the static value from
//! `server.properties` (or `--override`), then Kafka's default. A topic's
//! override wins over all of them. This module owns that precedence, the
//! checks a dynamic change must pass, and the synonym lists DescribeConfigs
//! reports; the controller persists the values.

use std::collections::{BTreeMap, HashSet};

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::broker_catalog::{self, UpdateMode, LISTENER_ONLY};
use super::catalog::ConfigType;
use super::{BrokerConfig, ConfigError};

/// The dynamic broker configs the controller keeps.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DynamicBrokerConfigs {
    /// Resource name "": every broker's default.
    #[serde(default)]
    pub cluster_default: BTreeMap<String, String>,
    /// Resource name = node id: that broker's own values.
    #[serde(default)]
    pub per_broker: BTreeMap<i32, BTreeMap<String, String>>,
}

impl DynamicBrokerConfigs {
    pub fn of(&self, scope: Scope) -> &BTreeMap<String, String> {
        static EMPTY: BTreeMap<String, String> = BTreeMap::new();
        match scope {
            Scope::ClusterDefault => &self.cluster_default,
            Scope::Broker(node_id) => self.per_broker.get(&node_id).unwrap_or(&EMPTY),
        }
    }

    /// These configs with one scope's values replaced.
    pub fn with(&self, scope: Scope, configs: BTreeMap<String, String>) -> DynamicBrokerConfigs {
        let mut next = self.clone();
        match scope {
            Scope::ClusterDefault => next.cluster_default = configs,
            Scope::Broker(node_id) if configs.is_empty() => {
                next.per_broker.remove(&node_id);
            }
            Scope::Broker(node_id) => {
                next.per_broker.insert(node_id, configs);
            }
        }
        next
    }
}

/// Which dynamic configs a BROKER resource names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    ClusterDefault,
    Broker(i32),
}

impl Scope {
    /// The scope a resource name addresses on broker `node_id`: "" or this
    /// broker's id, as Kafka accepts.
    pub fn parse(resource_name: &str, node_id: i32) -> Result<Scope, BrokerConfigError> {
        if resource_name.is_empty() {
            return Ok(Scope::ClusterDefault);
        }
        let id: i32 = resource_name
            .parse()
            .map_err(|_| BrokerConfigError::NotANodeId(resource_name.to_string()))?;
        if id != node_id {
            return Err(BrokerConfigError::OtherBroker {
                expected: node_id,
                received: resource_name.to_string(),
            });
        }
        Ok(Scope::Broker(id))
    }
}

/// Why a dynamic broker config change is refused. The messages are Kafka's.
#[derive(Debug, Error, PartialEq)]
pub enum BrokerConfigError {
    #[error("Node id must be an integer, but it is: {0}")]
    NotANodeId(String),
    #[error("Unexpected broker id, expected {expected}, but received {received}")]
    OtherBroker { expected: i32, received: String },
    #[error("Error due to duplicate config keys")]
    DuplicateKeys,
    #[error("Null value not supported for : {}", .0.join(", "))]
    NullValue(Vec<String>),
    #[error("Unknown operations type {0}")]
    UnknownOperation(i8),
    #[error("Unknown config name: {0}")]
    UnknownName(String),
    #[error("Config value {verb} is not allowed for config key: {name}")]
    NotAList { verb: &'static str, name: String },
    #[error("Cannot update these configs dynamically: {}", scala_set(.0))]
    NotDynamic(Vec<String>),
    #[error(
        "These security configs can be dynamically updated only per-listener using the listener prefix: {}",
        scala_set(.0)
    )]
    ListenerPrefixRequired(Vec<String>),
    #[error("Invalid value {value} for configuration {name}: {reason}")]
    InvalidValue {
        name: String,
        value: String,
        reason: String,
    },
    #[error(
        "Cannot update these configs at default cluster level, broker id must be specified: {}",
        scala_set(.0)
    )]
    PerBrokerOnly(Vec<String>),
    /// The broker cannot run with the resulting settings.
    #[error("{0}")]
    Unusable(String),
    /// A listener's new TLS stores cannot be loaded, or name another
    /// identity.
    #[error("Validation of dynamic config update of SSLFactory failed: {0}")]
    SslReconfiguration(String),
}

/// Names as Kafka prints a set of them: `Set(a, b)`.
fn scala_set(names: &[String]) -> String {
    format!("Set({})", names.join(", "))
}

/// IncrementalAlterConfigs' operation codes.
pub const SET: i8 = 0;
pub const DELETE: i8 = 1;
pub const APPEND: i8 = 2;
pub const SUBTRACT: i8 = 3;

/// One operation of an IncrementalAlterConfigs resource.
#[derive(Debug, Clone)]
pub struct Operation {
    pub name: String,
    pub operation: i8,
    pub value: Option<String>,
}

/// The configs of a scope after IncrementalAlterConfigs' operations.
/// APPEND and SUBTRACT start from the scope's current value, else Kafka's
/// default (not the static value), as Kafka does.
pub fn apply_operations(
    current: &BTreeMap<String, String>,
    operations: &[Operation],
) -> Result<BTreeMap<String, String>, BrokerConfigError> {
    let mut seen = HashSet::new();
    if !operations.iter().all(|op| seen.insert(op.name.as_str())) {
        return Err(BrokerConfigError::DuplicateKeys);
    }
    let nulls: Vec<String> = operations
        .iter()
        .filter(|op| op.operation != DELETE && op.value.is_none())
        .map(|op| op.name.clone())
        .collect();
    if !nulls.is_empty() {
        return Err(BrokerConfigError::NullValue(nulls));
    }
    let mut configs = current.clone();
    for op in operations {
        let value = op.value.clone().unwrap_or_default();
        match op.operation {
            SET => {
                configs.insert(op.name.clone(), value);
            }
            DELETE => {
                configs.remove(&op.name);
            }
            APPEND | SUBTRACT => {
                let verb = if op.operation == APPEND {
                    "append"
                } else {
                    "subtract"
                };
                let def = broker_catalog::broker_config(&op.name)
                    .ok_or_else(|| BrokerConfigError::UnknownName(op.name.clone()))?;
                if def.kind != ConfigType::List {
                    return Err(BrokerConfigError::NotAList {
                        verb,
                        name: op.name.clone(),
                    });
                }
                let start = configs
                    .get(&op.name)
                    .map(String::as_str)
                    .or(def.default)
                    .unwrap_or("");
                let mut items: Vec<&str> = start.split(',').filter(|i| !i.is_empty()).collect();
                for item in value.split(',') {
                    if op.operation == SUBTRACT {
                        items.retain(|i| *i != item);
                    } else if !items.contains(&item) {
                        items.push(item);
                    }
                }
                configs.insert(op.name.clone(), items.join(","));
            }
            other => return Err(BrokerConfigError::UnknownOperation(other)),
        }
    }
    Ok(configs)
}

/// The configs of a scope as legacy AlterConfigs gives them (it replaces
/// all of them).
pub fn replacement(
    configs: &[(String, Option<String>)],
) -> Result<BTreeMap<String, String>, BrokerConfigError> {
    let mut seen = HashSet::new();
    if !configs.iter().all(|(name, _)| seen.insert(name.as_str())) {
        return Err(BrokerConfigError::DuplicateKeys);
    }
    let nulls: Vec<String> = configs
        .iter()
        .filter(|(_, value)| value.is_none())
        .map(|(name, _)| name.clone())
        .collect();
    if !nulls.is_empty() {
        return Err(BrokerConfigError::NullValue(nulls));
    }
    Ok(configs
        .iter()
        .filter_map(|(name, value)| value.clone().map(|value| (name.clone(), value)))
        .collect())
}

/// Checks the complete set of dynamic configs a scope would hold, in
/// Kafka's order (`DynamicBrokerConfig.validateConfigs`): read-only names,
/// SSL settings that need a listener prefix, values, then per-broker-only
/// names on the cluster default. Names Kafka does not know are accepted
/// (plugins define their own), as Kafka accepts them.
pub fn validate(configs: &BTreeMap<String, String>, scope: Scope) -> Result<(), BrokerConfigError> {
    let names_where = |test: &dyn Fn(&str) -> bool| -> Vec<String> {
        configs.keys().filter(|name| test(name)).cloned().collect()
    };
    let mode = |name: &str| broker_catalog::broker_config(name).map(|def| def.mode);
    let read_only = names_where(&|name| mode(name) == Some(UpdateMode::ReadOnly));
    if !read_only.is_empty() {
        return Err(BrokerConfigError::NotDynamic(read_only));
    }
    let listener_only = names_where(&|name| LISTENER_ONLY.contains(&name));
    if !listener_only.is_empty() {
        return Err(BrokerConfigError::ListenerPrefixRequired(listener_only));
    }
    for (name, value) in configs {
        if let Some(def) = broker_catalog::broker_config(name) {
            broker_catalog::check_value(def, value).map_err(|reason| {
                BrokerConfigError::InvalidValue {
                    name: name.clone(),
                    value: value.clone(),
                    reason,
                }
            })?;
        }
    }
    if scope == Scope::ClusterDefault {
        let per_broker = names_where(&|name| {
            mode(name) == Some(UpdateMode::PerBroker) || per_broker_listener_config(name)
        });
        if !per_broker.is_empty() {
            return Err(BrokerConfigError::PerBrokerOnly(per_broker));
        }
    }
    Ok(())
}

/// A `listener.name.<listener>.<name>` setting is one broker's: its
/// listeners, stores and JAAS logins are its own (Kafka's
/// `perBrokerListenerConfig`); only the connection limits of a listener
/// may be set for the whole cluster.
fn per_broker_listener_config(name: &str) -> bool {
    const CLUSTER_LEVEL: [&str; 3] = [
        "max.connections",
        "max.connection.creation.rate",
        "num.network.threads",
    ];
    name.strip_prefix("listener.name.")
        .and_then(|rest| rest.split_once('.'))
        .is_some_and(|(_, base)| !CLUSTER_LEVEL.contains(&base))
}

/// Kafka's `ConfigSource` codes.
pub const DYNAMIC_TOPIC_CONFIG: i8 = 1;
pub const DYNAMIC_BROKER_CONFIG: i8 = 2;
pub const DYNAMIC_DEFAULT_BROKER_CONFIG: i8 = 3;
pub const STATIC_BROKER_CONFIG: i8 = 4;
pub const DEFAULT_CONFIG: i8 = 5;

/// One place a setting's value comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Synonym {
    pub name: String,
    pub value: Option<String>,
    pub source: i8,
}

/// One broker's settings in layers: what DescribeConfigs reports and
/// what the broker runs with.
#[derive(Debug, Clone)]
pub struct BrokerConfigLayers {
    pub node_id: i32,
    pub per_broker: BTreeMap<String, String>,
    pub cluster_default: BTreeMap<String, String>,
    /// What `server.properties`, the environment and `--override` gave.
    pub static_given: BTreeMap<String, String>,
    /// The settings gregor runs with: all layers resolved.
    pub effective: BrokerConfig,
    /// gregor's defaults for the settings it honours.
    defaults: BTreeMap<&'static str, String>,
}

impl BrokerConfigLayers {
    /// Resolves `static_config` (as started) under the dynamic configs.
    pub fn resolve(
        static_config: &BrokerConfig,
        dynamic: &DynamicBrokerConfigs,
    ) -> Result<BrokerConfigLayers, ConfigError> {
        let node_id = static_config.node_id;
        let per_broker = dynamic.of(Scope::Broker(node_id)).clone();
        let cluster_default = dynamic.cluster_default.clone();
        let mut properties = static_config.given.clone();
        properties.extend(cluster_default.clone());
        properties.extend(per_broker.clone());
        let (mut effective, _unused) = BrokerConfig::from_properties(&properties)?;
        effective.given = static_config.given.clone();
        Ok(BrokerConfigLayers {
            node_id,
            per_broker,
            cluster_default,
            static_given: static_config.given.clone(),
            effective,
            defaults: BrokerConfig::default().settings().into_iter().collect(),
        })
    }

    /// The default DescribeConfigs reports for a setting: none where
    /// Kafka's is null, gregor's own for what it honours, else Kafka's.
    pub fn default_of(&self, name: &str) -> Option<String> {
        let def = broker_catalog::broker_config(name)?;
        let kafka_default = def.default?;
        Some(
            self.defaults
                .get(name)
                .cloned()
                .unwrap_or_else(|| kafka_default.to_string()),
        )
    }

    /// Kafka's synonym list for the setting `name` given by any of
    /// `names` (most specific first): every per-broker value, then every
    /// cluster default, then every static value, then every default, and
    /// nothing before the first entry named `name` (so a coarser synonym
    /// alone, like `log.retention.hours`, is not reported for
    /// `log.retention.ms`). The cluster-default resource leaves out
    /// per-broker values.
    pub fn synonyms(
        &self,
        name: &str,
        names: &[&str],
        with_per_broker: bool,
        sensitive: bool,
    ) -> Vec<Synonym> {
        let layers: [(Option<&BTreeMap<String, String>>, i8); 3] = [
            (
                with_per_broker.then_some(&self.per_broker),
                DYNAMIC_BROKER_CONFIG,
            ),
            (Some(&self.cluster_default), DYNAMIC_DEFAULT_BROKER_CONFIG),
            (Some(&self.static_given), STATIC_BROKER_CONFIG),
        ];
        let mut synonyms = Vec::new();
        for (layer, source) in layers {
            let Some(layer) = layer else { continue };
            for synonym in names {
                if let Some(value) = layer.get(*synonym) {
                    synonyms.push(Synonym {
                        name: synonym.to_string(),
                        value: (!sensitive).then(|| value.clone()),
                        source,
                    });
                }
            }
        }
        for synonym in names {
            if let Some(value) = self.default_of(synonym) {
                synonyms.push(Synonym {
                    name: synonym.to_string(),
                    value: (!sensitive).then_some(value),
                    source: DEFAULT_CONFIG,
                });
            }
        }
        match synonyms.iter().position(|s| s.name == name) {
            Some(first) => synonyms.split_off(first),
            None => Vec::new(),
        }
    }

    /// The value set for exactly this name, most specific layer first.
    pub fn set_value(&self, name: &str) -> Option<&String> {
        self.per_broker
            .get(name)
            .or_else(|| self.cluster_default.get(name))
            .or_else(|| self.static_given.get(name))
    }
}

/// Layers built from literal settings, for tests here and in the config
/// handlers.
#[cfg(test)]
pub(crate) mod testing {
    use super::*;

    pub(crate) fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// Static settings, the cluster-wide default and broker 1's own values.
    pub(crate) fn layers(
        static_pairs: &[(&str, &str)],
        default_pairs: &[(&str, &str)],
        broker_pairs: &[(&str, &str)],
    ) -> BrokerConfigLayers {
        let (static_config, _) = BrokerConfig::from_properties(&map(static_pairs)).unwrap();
        let dynamic = DynamicBrokerConfigs::default()
            .with(Scope::ClusterDefault, map(default_pairs))
            .with(Scope::Broker(1), map(broker_pairs));
        BrokerConfigLayers::resolve(&static_config, &dynamic).unwrap()
    }
}

#[cfg(test)]
mod tests {
    use super::testing::{layers, map};
    use super::*;

    #[test]
    fn per_broker_beats_cluster_default_beats_static_beats_default() {
        let none = layers(&[], &[], &[]);
        assert_eq!(none.effective.log.max_message_bytes, 1_048_588);
        let static_only = layers(&[("message.max.bytes", "3000")], &[], &[]);
        assert_eq!(static_only.effective.log.max_message_bytes, 3000);
        let cluster = layers(
            &[("message.max.bytes", "3000")],
            &[("message.max.bytes", "2000")],
            &[],
        );
        assert_eq!(cluster.effective.log.max_message_bytes, 2000);
        let broker = layers(
            &[("message.max.bytes", "3000")],
            &[("message.max.bytes", "2000")],
            &[("message.max.bytes", "1000")],
        );
        assert_eq!(broker.effective.log.max_message_bytes, 1000);
        // the static layer is kept as given, for reporting
        assert_eq!(
            broker.effective.given,
            map(&[("message.max.bytes", "3000")])
        );
        // a dynamic log.retention.ms wins over a static log.retention.hours
        let retention = layers(
            &[("log.retention.hours", "1")],
            &[("log.retention.ms", "5000")],
            &[],
        );
        assert_eq!(retention.effective.log.retention_ms, 5000);
    }

    #[test]
    fn synonyms_list_every_layer_in_kafkas_order() {
        let all = layers(
            &[("message.max.bytes", "3000")],
            &[("message.max.bytes", "2000")],
            &[("message.max.bytes", "1000")],
        );
        let names = broker_catalog::synonyms("message.max.bytes");
        let got: Vec<(String, Option<String>, i8)> = all
            .synonyms("message.max.bytes", names, true, false)
            .into_iter()
            .map(|s| (s.name, s.value, s.source))
            .collect();
        let entry =
            |v: &str, source| ("message.max.bytes".to_string(), Some(v.to_string()), source);
        assert_eq!(
            got,
            vec![
                entry("1000", DYNAMIC_BROKER_CONFIG),
                entry("2000", DYNAMIC_DEFAULT_BROKER_CONFIG),
                entry("3000", STATIC_BROKER_CONFIG),
                entry("1048588", DEFAULT_CONFIG),
            ]
        );
        // the cluster-default resource does not show per-broker values
        assert_eq!(
            all.synonyms("message.max.bytes", names, false, false)[0].source,
            DYNAMIC_DEFAULT_BROKER_CONFIG
        );
        // passwords keep their sources but never their values
        let secret = layers(&[("ssl.keystore.password", "hunter2")], &[], &[]);
        let names = broker_catalog::synonyms("ssl.keystore.password");
        let synonyms = secret.synonyms("ssl.keystore.password", names, true, true);
        assert_eq!(synonyms.len(), 1);
        assert_eq!(
            (synonyms[0].source, &synonyms[0].value),
            (STATIC_BROKER_CONFIG, &None)
        );
    }

    #[test]
    fn retention_synonyms_start_at_the_name_described() {
        let names = broker_catalog::synonyms("log.retention.ms");
        // only hours given: Kafka reports no synonyms for log.retention.ms
        let hours = layers(&[("log.retention.hours", "24")], &[], &[]);
        assert!(hours
            .synonyms("log.retention.ms", names, true, false)
            .is_empty());
        // log.retention.hours itself lists its static value and the default
        let got: Vec<i8> = hours
            .synonyms("log.retention.hours", names, true, false)
            .iter()
            .map(|s| s.source)
            .collect();
        assert_eq!(got, vec![STATIC_BROKER_CONFIG, DEFAULT_CONFIG]);
        // a dynamic log.retention.ms comes first, the static hours stay listed
        let dynamic = layers(
            &[("log.retention.hours", "24")],
            &[("log.retention.ms", "60000")],
            &[],
        );
        let synonyms = dynamic.synonyms("log.retention.ms", names, true, false);
        let got: Vec<(&str, i8)> = synonyms
            .iter()
            .map(|s| (s.name.as_str(), s.source))
            .collect();
        assert_eq!(
            got,
            vec![
                ("log.retention.ms", DYNAMIC_DEFAULT_BROKER_CONFIG),
                ("log.retention.hours", STATIC_BROKER_CONFIG),
                ("log.retention.hours", DEFAULT_CONFIG),
            ]
        );
    }

    #[test]
    fn only_dynamic_configs_with_valid_values_pass_in_kafkas_order() {
        let broker = Scope::Broker(1);
        assert_eq!(
            validate(&map(&[("log.retention.ms", "1000")]), broker),
            Ok(())
        );
        assert_eq!(
            validate(
                &map(&[("log.dirs", "/x"), ("log.retention.ms", "soon")]),
                broker
            ),
            Err(BrokerConfigError::NotDynamic(vec!["log.dirs".into()]))
        );
        assert_eq!(
            validate(&map(&[("log.dirs", "/x")]), broker)
                .unwrap_err()
                .to_string(),
            "Cannot update these configs dynamically: Set(log.dirs)"
        );
        assert!(matches!(
            validate(&map(&[("ssl.keystore.password", "x")]), broker),
            Err(BrokerConfigError::ListenerPrefixRequired(_))
        ));
        assert_eq!(
            validate(&map(&[("log.retention.ms", "soon")]), broker)
                .unwrap_err()
                .to_string(),
            "Invalid value soon for configuration log.retention.ms: Not a number of type LONG"
        );
        // per-broker-only configs cannot be cluster defaults
        assert_eq!(
            validate(&map(&[("ssl.client.auth", "required")]), broker),
            Ok(())
        );
        assert_eq!(
            validate(
                &map(&[("ssl.client.auth", "required")]),
                Scope::ClusterDefault
            ),
            Err(BrokerConfigError::PerBrokerOnly(vec![
                "ssl.client.auth".into()
            ]))
        );
        // a listener's own settings are one broker's; its connection
        // limits may be the cluster's
        let keystore = "listener.name.external.ssl.keystore.location";
        assert_eq!(
            validate(&map(&[(keystore, "/k.p12")]), Scope::ClusterDefault),
            Err(BrokerConfigError::PerBrokerOnly(vec![keystore.into()]))
        );
        assert_eq!(validate(&map(&[(keystore, "/k.p12")]), broker), Ok(()));
        assert_eq!(
            validate(
                &map(&[("listener.name.external.max.connections", "10")]),
                Scope::ClusterDefault
            ),
            Ok(())
        );
        // names Kafka does not define are accepted, as Kafka accepts them
        assert_eq!(
            validate(&map(&[("custom.plugin.setting", "x")]), broker),
            Ok(())
        );
    }

    #[test]
    fn scopes_are_the_empty_name_or_this_broker() {
        assert_eq!(Scope::parse("", 1), Ok(Scope::ClusterDefault));
        assert_eq!(Scope::parse("1", 1), Ok(Scope::Broker(1)));
        assert!(matches!(
            Scope::parse("2", 1),
            Err(BrokerConfigError::OtherBroker { .. })
        ));
        assert!(matches!(
            Scope::parse("x", 1),
            Err(BrokerConfigError::NotANodeId(_))
        ));
    }

    #[test]
    fn incremental_operations_and_replacement() {
        let op = |name: &str, operation: i8, value: Option<&str>| Operation {
            name: name.into(),
            operation,
            value: value.map(str::to_string),
        };
        let current = map(&[("log.retention.ms", "5"), ("log.cleanup.policy", "compact")]);
        let next = apply_operations(
            &current,
            &[
                op("log.retention.ms", DELETE, None),
                op("log.cleanup.policy", APPEND, Some("delete")),
                op("message.max.bytes", SET, Some("100")),
            ],
        )
        .unwrap();
        assert_eq!(
            next,
            map(&[
                ("log.cleanup.policy", "compact,delete"),
                ("message.max.bytes", "100")
            ])
        );
        // APPEND starts from Kafka's default when the scope has no value
        let appended = apply_operations(
            &BTreeMap::new(),
            &[op("log.cleanup.policy", APPEND, Some("compact"))],
        );
        assert_eq!(
            appended.unwrap(),
            map(&[("log.cleanup.policy", "delete,compact")])
        );
        let subtracted = apply_operations(
            &next,
            &[op("log.cleanup.policy", SUBTRACT, Some("compact"))],
        );
        assert_eq!(subtracted.unwrap()["log.cleanup.policy"], "delete");
        assert!(matches!(
            apply_operations(&current, &[op("log.retention.ms", APPEND, Some("1"))]),
            Err(BrokerConfigError::NotAList { .. })
        ));
        assert_eq!(
            apply_operations(&current, &[op("x", SET, Some("1")), op("x", DELETE, None)]),
            Err(BrokerConfigError::DuplicateKeys)
        );
        assert_eq!(
            apply_operations(&current, &[op("x", SET, None)]),
            Err(BrokerConfigError::NullValue(vec!["x".into()]))
        );
        assert_eq!(
            apply_operations(&current, &[op("x", 9, Some("1"))]),
            Err(BrokerConfigError::UnknownOperation(9))
        );
        assert_eq!(
            replacement(&[("a".into(), Some("1".into()))]).unwrap(),
            map(&[("a", "1")])
        );
        assert!(replacement(&[("a".into(), None)]).is_err());
    }

    #[test]
    fn old_snapshots_without_broker_configs_still_load() {
        let parsed: DynamicBrokerConfigs = serde_json::from_str("{}").unwrap();
        assert_eq!(parsed, DynamicBrokerConfigs::default());
        let configs = DynamicBrokerConfigs::default()
            .with(Scope::Broker(3), map(&[("message.max.bytes", "10")]));
        let json = serde_json::to_string(&configs).unwrap();
        assert_eq!(
            serde_json::from_str::<DynamicBrokerConfigs>(&json).unwrap(),
            configs
        );
    }
}
