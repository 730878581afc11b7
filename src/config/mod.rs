//! Configuration with Kafka's names and defaults: broker settings from
//! `server.properties` and `--override`, dynamic broker settings changed at
//! run time, and per-topic log configs.

pub mod broker;
pub mod broker_catalog;
pub mod catalog;
pub mod client_security;
pub mod delegation_token;
pub mod dynamic;
pub mod listener;
pub mod oauthbearer;
pub mod properties;
pub mod quorum;
pub mod security;
pub mod topic;

use std::collections::BTreeMap;
use std::path::Path;

use thiserror::Error;

pub use broker::BrokerConfig;
pub use topic::LogConfig;

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{0}")]
    Syntax(String),
    #[error("invalid value {value:?} for {name}: {reason}")]
    InvalidValue {
        name: String,
        value: String,
        reason: String,
    },
    #[error("unknown topic config {0}")]
    UnknownTopicConfig(String),
    #[error("missing required config {0}")]
    Missing(&'static str),
}

/// The settings of a `server.properties` file.
pub fn read_properties(path: &Path) -> Result<BTreeMap<String, String>, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.display().to_string(),
        source,
    })?;
    properties::parse(&text).map_err(ConfigError::Syntax)
}

/// Loads a broker config: the properties file (if any), then `GREGOR_*`
/// environment variables (`GREGOR_LOG_DIRS` → `log.dirs`), then `--override`
/// pairs, each layer winning over the one before.
pub fn load(
    file: Option<&Path>,
    overrides: &[(String, String)],
) -> Result<(BrokerConfig, Vec<String>), ConfigError> {
    let file = match file {
        Some(path) => read_properties(path)?,
        None => BTreeMap::new(),
    };
    load_layers(file, overrides)
}

/// [`load`] with the file's settings already read.
pub fn load_layers(
    file: BTreeMap<String, String>,
    overrides: &[(String, String)],
) -> Result<(BrokerConfig, Vec<String>), ConfigError> {
    let mut properties = file;
    for (key, value) in std::env::vars() {
        if let Some(name) = key.strip_prefix("GREGOR_") {
            if name != "BIN" {
                properties.insert(name.to_lowercase().replace('_', "."), value);
            }
        }
    }
    for (key, value) in overrides {
        properties.insert(key.clone(), value.clone());
    }
    BrokerConfig::from_properties(&properties)
}
