//! Topic-level configs (`segment.bytes`, `retention.ms`, …): the broker's
//! `log.*` defaults, overridden per topic by the configs given at creation.

use std::collections::BTreeMap;

use super::ConfigError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimestampType {
    CreateTime,
    LogAppendTime,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CleanupPolicy {
    Delete,
    Compact,
    CompactAndDelete,
}

/// The effective configuration of one topic's logs.
#[derive(Debug, Clone, PartialEq)]
pub struct LogConfig {
    pub segment_bytes: u64,
    pub segment_ms: i64,
    pub retention_ms: i64,
    pub retention_bytes: i64,
    pub index_interval_bytes: u64,
    pub max_message_bytes: usize,
    pub message_timestamp_type: TimestampType,
    pub flush_messages: i64,
    pub flush_ms: i64,
    pub cleanup_policy: CleanupPolicy,
    pub min_insync_replicas: i32,
    /// Compaction: share of dirty bytes that makes a log worth cleaning.
    pub min_cleanable_dirty_ratio: f64,
    /// Compaction: records younger than this are not compacted.
    pub min_compaction_lag_ms: i64,
    /// Compaction: a dirty log older than this is cleaned whatever its ratio.
    pub max_compaction_lag_ms: i64,
    /// Compaction: how long tombstones survive.
    pub delete_retention_ms: i64,
    /// How far in the past a CreateTime record's timestamp may be.
    pub message_timestamp_before_max_ms: i64,
    /// How far in the future a CreateTime record's timestamp may be.
    pub message_timestamp_after_max_ms: i64,
    /// How long deleted segments and partitions stay on disk, renamed,
    /// before their files are removed (readers may still hold them).
    pub file_delete_delay_ms: i64,
}

impl Default for LogConfig {
    /// Kafka's documented defaults.
    fn default() -> Self {
        LogConfig {
            segment_bytes: 1024 * 1024 * 1024,
            segment_ms: 7 * 24 * 60 * 60 * 1000,
            retention_ms: 7 * 24 * 60 * 60 * 1000,
            retention_bytes: -1,
            index_interval_bytes: 4096,
            max_message_bytes: 1_048_588,
            message_timestamp_type: TimestampType::CreateTime,
            flush_messages: i64::MAX,
            flush_ms: i64::MAX,
            cleanup_policy: CleanupPolicy::Delete,
            min_insync_replicas: 1,
            min_cleanable_dirty_ratio: 0.5,
            min_compaction_lag_ms: 0,
            max_compaction_lag_ms: i64::MAX,
            delete_retention_ms: 86_400_000,
            message_timestamp_before_max_ms: i64::MAX,
            // Kafka 4.0 lowered it from Long.MAX_VALUE to one hour.
            message_timestamp_after_max_ms: 3_600_000,
            file_delete_delay_ms: 60_000,
        }
    }
}

/// The topic config names the log models (see `catalog` for the rest).
pub const TOPIC_CONFIG_NAMES: &[&str] = &[
    "segment.bytes",
    "segment.ms",
    "retention.ms",
    "retention.bytes",
    "index.interval.bytes",
    "max.message.bytes",
    "message.timestamp.type",
    "flush.messages",
    "flush.ms",
    "cleanup.policy",
    "min.insync.replicas",
    "min.cleanable.dirty.ratio",
    "min.compaction.lag.ms",
    "max.compaction.lag.ms",
    "delete.retention.ms",
    "message.timestamp.before.max.ms",
    "message.timestamp.after.max.ms",
    "file.delete.delay.ms",
];

fn parse_number<T: std::str::FromStr>(name: &str, value: &str) -> Result<T, ConfigError> {
    value.trim().parse().map_err(|_| ConfigError::InvalidValue {
        name: name.to_string(),
        value: value.to_string(),
        reason: "not a number in range".to_string(),
    })
}

fn at_least<T: PartialOrd + std::fmt::Display>(
    name: &str,
    value: T,
    minimum: T,
) -> Result<T, ConfigError> {
    if value < minimum {
        return Err(ConfigError::InvalidValue {
            name: name.to_string(),
            value: value.to_string(),
            reason: format!("must be at least {minimum}"),
        });
    }
    Ok(value)
}

impl LogConfig {
    /// Whether the cleaner compacts these logs (and records need keys).
    pub fn is_compacted(&self) -> bool {
        matches!(
            self.cleanup_policy,
            CleanupPolicy::Compact | CleanupPolicy::CompactAndDelete
        )
    }

    /// Records of one batch never exceed the largest allowed message by
    /// more than the compression ratio; decompression is capped well above.
    pub fn decompression_limit(&self) -> usize {
        (self.max_message_bytes * 64).max(64 * 1024 * 1024)
    }

    /// Applies one topic-level setting by its Kafka name.
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), ConfigError> {
        match name {
            // An int in Kafka: segment positions are 32-bit in the offset index.
            "segment.bytes" => {
                let bytes: i32 = parse_number(name, value)?;
                self.segment_bytes = at_least(name, bytes, 14)? as u64
            }
            "segment.ms" => self.segment_ms = at_least(name, parse_number(name, value)?, 1)?,
            "retention.ms" => self.retention_ms = at_least(name, parse_number(name, value)?, -1)?,
            "retention.bytes" => self.retention_bytes = parse_number(name, value)?,
            "index.interval.bytes" => self.index_interval_bytes = parse_number(name, value)?,
            "max.message.bytes" => self.max_message_bytes = parse_number(name, value)?,
            "message.timestamp.type" => {
                self.message_timestamp_type = match value.trim() {
                    "CreateTime" => TimestampType::CreateTime,
                    "LogAppendTime" => TimestampType::LogAppendTime,
                    _ => return Err(invalid(name, value, "CreateTime or LogAppendTime")),
                }
            }
            "flush.messages" => {
                self.flush_messages = at_least(name, parse_number(name, value)?, 1)?
            }
            "flush.ms" => self.flush_ms = at_least(name, parse_number(name, value)?, 0)?,
            "cleanup.policy" => {
                let mut policies: Vec<&str> = value.split(',').map(str::trim).collect();
                policies.sort_unstable();
                self.cleanup_policy = match policies.as_slice() {
                    ["delete"] => CleanupPolicy::Delete,
                    ["compact"] => CleanupPolicy::Compact,
                    ["compact", "delete"] => CleanupPolicy::CompactAndDelete,
                    _ => return Err(invalid(name, value, "delete, compact or compact,delete")),
                }
            }
            "min.insync.replicas" => {
                self.min_insync_replicas = at_least(name, parse_number(name, value)?, 1)?
            }
            "min.cleanable.dirty.ratio" => {
                let ratio: f64 = parse_number(name, value)?;
                if !(0.0..=1.0).contains(&ratio) {
                    return Err(invalid(name, value, "a ratio between 0 and 1"));
                }
                self.min_cleanable_dirty_ratio = ratio
            }
            "min.compaction.lag.ms" => {
                self.min_compaction_lag_ms = at_least(name, parse_number(name, value)?, 0)?
            }
            "max.compaction.lag.ms" => {
                self.max_compaction_lag_ms = at_least(name, parse_number(name, value)?, 1)?
            }
            "delete.retention.ms" => {
                self.delete_retention_ms = at_least(name, parse_number(name, value)?, 0)?
            }
            "message.timestamp.before.max.ms" => {
                self.message_timestamp_before_max_ms =
                    at_least(name, parse_number(name, value)?, 0)?
            }
            "message.timestamp.after.max.ms" => {
                self.message_timestamp_after_max_ms = at_least(name, parse_number(name, value)?, 0)?
            }
            "file.delete.delay.ms" => {
                self.file_delete_delay_ms = at_least(name, parse_number(name, value)?, 0)?
            }
            _ => return Err(ConfigError::UnknownTopicConfig(name.to_string())),
        }
        Ok(())
    }

    /// These defaults with a topic's overrides applied. Every override is
    /// validated against the catalog; those the log does not act on are
    /// kept by the caller and only reported.
    pub fn with_overrides(
        &self,
        overrides: &BTreeMap<String, String>,
    ) -> Result<Self, ConfigError> {
        let mut config = self.clone();
        for (name, value) in overrides {
            super::catalog::validate(name, value)?;
            if TOPIC_CONFIG_NAMES.contains(&name.as_str()) {
                config.set(name, value)?;
            }
        }
        Ok(config)
    }

    /// The current value of a modelled setting, as Kafka prints it.
    pub fn value_of(&self, name: &str) -> Option<String> {
        Some(match name {
            "segment.bytes" => self.segment_bytes.to_string(),
            "segment.ms" => self.segment_ms.to_string(),
            "retention.ms" => self.retention_ms.to_string(),
            "retention.bytes" => self.retention_bytes.to_string(),
            "index.interval.bytes" => self.index_interval_bytes.to_string(),
            "max.message.bytes" => self.max_message_bytes.to_string(),
            "message.timestamp.type" => match self.message_timestamp_type {
                TimestampType::CreateTime => "CreateTime".to_string(),
                TimestampType::LogAppendTime => "LogAppendTime".to_string(),
            },
            "flush.messages" => self.flush_messages.to_string(),
            "flush.ms" => self.flush_ms.to_string(),
            "cleanup.policy" => match self.cleanup_policy {
                CleanupPolicy::Delete => "delete".to_string(),
                CleanupPolicy::Compact => "compact".to_string(),
                CleanupPolicy::CompactAndDelete => "compact,delete".to_string(),
            },
            "min.insync.replicas" => self.min_insync_replicas.to_string(),
            "min.cleanable.dirty.ratio" => self.min_cleanable_dirty_ratio.to_string(),
            "min.compaction.lag.ms" => self.min_compaction_lag_ms.to_string(),
            "max.compaction.lag.ms" => self.max_compaction_lag_ms.to_string(),
            "delete.retention.ms" => self.delete_retention_ms.to_string(),
            "message.timestamp.before.max.ms" => self.message_timestamp_before_max_ms.to_string(),
            "message.timestamp.after.max.ms" => self.message_timestamp_after_max_ms.to_string(),
            "file.delete.delay.ms" => self.file_delete_delay_ms.to_string(),
            _ => return None,
        })
    }
}

fn invalid(name: &str, value: &str, expected: &str) -> ConfigError {
    ConfigError::InvalidValue {
        name: name.to_string(),
        value: value.to_string(),
        reason: format!("expected {expected}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_apply_by_kafka_name_and_are_validated() {
        let overrides = BTreeMap::from([
            ("retention.ms".to_string(), "1000".to_string()),
            ("cleanup.policy".to_string(), "delete,compact".to_string()),
        ]);
        let config = LogConfig::default().with_overrides(&overrides).unwrap();
        assert_eq!(config.retention_ms, 1000);
        assert_eq!(config.cleanup_policy, CleanupPolicy::CompactAndDelete);
        assert!(LogConfig::default().set("segment.bytes", "1").is_err());
        assert!(LogConfig::default().set("no.such.config", "1").is_err());
        assert!(LogConfig::default().set("retention.ms", "soon").is_err());
        let stored_only = BTreeMap::from([("preallocate".to_string(), "true".to_string())]);
        assert_eq!(
            LogConfig::default().with_overrides(&stored_only).unwrap(),
            LogConfig::default()
        );
        for name in TOPIC_CONFIG_NAMES {
            assert!(LogConfig::default().value_of(name).is_some(), "{name}");
        }
    }
}
