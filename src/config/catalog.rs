//! Every topic-level config Kafka documents: its type, default, the broker
//! setting that supplies the default, and whether gregor acts on it.
//!
//! DescribeConfigs answers from this table, and AlterConfigs and
//! CreateTopics validate against it. Configs gregor does not act on yet are
//! still accepted, stored and reported (tools such as Kafka Connect set
//! them), and `docs/compatibility.md` lists them.

use super::topic::LogConfig;
use super::ConfigError;

/// Kafka's `ConfigType` codes, as DescribeConfigs v3+ reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigType {
    Boolean = 1,
    String = 2,
    Int = 3,
    Short = 4,
    Long = 5,
    Double = 6,
    List = 7,
    Class = 8,
    Password = 9,
}

/// One topic config.
#[derive(Debug)]
pub struct TopicConfigDef {
    pub name: &'static str,
    pub kind: ConfigType,
    /// The broker setting whose value is the topic default, if any.
    pub broker_synonym: Option<&'static str>,
    /// Allowed values for enumerated settings (list entries for lists).
    pub allowed: &'static [&'static str],
    /// Whether gregor enforces it (otherwise it is stored and reported only).
    pub enforced: bool,
    pub doc: &'static str,
}

const fn def(
    name: &'static str,
    kind: ConfigType,
    broker_synonym: Option<&'static str>,
    enforced: bool,
    doc: &'static str,
) -> TopicConfigDef {
    TopicConfigDef {
        name,
        kind,
        broker_synonym,
        allowed: &[],
        enforced,
        doc,
    }
}

use ConfigType::{Boolean, Double, Int, List, Long, String as Str};

pub const TOPIC_CONFIGS: &[TopicConfigDef] = &[
    TopicConfigDef {
        allowed: &["delete", "compact"],
        ..def("cleanup.policy", List, Some("log.cleanup.policy"), true, "How old segments are cleaned: delete them by retention, compact them by key, or both.")
    },
    TopicConfigDef {
        allowed: &["uncompressed", "zstd", "lz4", "snappy", "gzip", "producer"],
        ..def("compression.type", Str, Some("compression.type"), false, "The codec the topic stores batches with; producer keeps the producer's codec (what gregor always does).")
    },
    def("compression.gzip.level", Int, Some("compression.gzip.level"), false, "Compression level when the topic recompresses with gzip."),
    def("compression.lz4.level", Int, Some("compression.lz4.level"), false, "Compression level when the topic recompresses with lz4."),
    def("compression.zstd.level", Int, Some("compression.zstd.level"), false, "Compression level when the topic recompresses with zstd."),
    def("delete.retention.ms", Long, Some("log.cleaner.delete.retention.ms"), true, "How long tombstones are kept on compacted topics."),
    def("file.delete.delay.ms", Long, Some("log.segment.delete.delay.ms"), false, "Delay before a deleted segment's files are removed."),
    def("flush.messages", Long, Some("log.flush.interval.messages"), true, "Messages appended between forced flushes to disk."),
    def("flush.ms", Long, Some("log.flush.interval.ms"), true, "Milliseconds between forced flushes to disk."),
    def("follower.replication.throttled.replicas", List, None, false, "Replicas whose follower replication is throttled."),
    def("index.interval.bytes", Int, Some("log.index.interval.bytes"), true, "Bytes appended between entries of the sparse offset index."),
    def("leader.replication.throttled.replicas", List, None, false, "Replicas whose leader-side replication is throttled."),
    def("local.retention.bytes", Long, Some("log.local.retention.bytes"), false, "Local retention by size with tiered storage."),
    def("local.retention.ms", Long, Some("log.local.retention.ms"), false, "Local retention by time with tiered storage."),
    def("max.compaction.lag.ms", Long, Some("log.cleaner.max.compaction.lag.ms"), true, "Longest time a record may stay uncompacted."),
    def("max.message.bytes", Int, Some("message.max.bytes"), true, "Largest record batch the topic accepts."),
    def("message.timestamp.after.max.ms", Long, Some("log.message.timestamp.after.max.ms"), false, "How far in the future a record's timestamp may be."),
    def("message.timestamp.before.max.ms", Long, Some("log.message.timestamp.before.max.ms"), false, "How far in the past a record's timestamp may be."),
    TopicConfigDef {
        allowed: &["CreateTime", "LogAppendTime"],
        ..def("message.timestamp.type", Str, Some("log.message.timestamp.type"), true, "Whether records keep the producer's timestamp or get the broker's.")
    },
    def("min.cleanable.dirty.ratio", Double, Some("log.cleaner.min.cleanable.ratio"), true, "Share of uncompacted log that triggers compaction."),
    def("min.compaction.lag.ms", Long, Some("log.cleaner.min.compaction.lag.ms"), true, "Shortest time a record stays uncompacted."),
    def("min.insync.replicas", Int, Some("min.insync.replicas"), true, "Replicas that must acknowledge an acks=all write."),
    def("preallocate", Boolean, Some("log.preallocate"), false, "Whether segment files are preallocated."),
    def("remote.storage.enable", Boolean, None, false, "Whether the topic uses tiered storage."),
    def("retention.bytes", Long, Some("log.retention.bytes"), true, "Largest size a partition keeps before deleting old segments (-1: no limit)."),
    def("retention.ms", Long, Some("log.retention.ms"), true, "How long segments are kept before deletion (-1: forever)."),
    def("segment.bytes", Int, Some("log.segment.bytes"), true, "Size at which a new segment is rolled."),
    def("segment.index.bytes", Int, Some("log.index.size.max.bytes"), false, "Largest size of a segment's offset index."),
    def("segment.jitter.ms", Long, Some("log.roll.jitter.ms"), false, "Random jitter subtracted from segment.ms."),
    def("segment.ms", Long, Some("log.roll.ms"), true, "Age at which a new segment is rolled."),
    def("unclean.leader.election.enable", Boolean, Some("unclean.leader.election.enable"), false, "Whether an out-of-sync replica may become leader."),
];

pub fn topic_config(name: &str) -> Option<&'static TopicConfigDef> {
    TOPIC_CONFIGS.iter().find(|def| def.name == name)
}

/// Kafka's default for configs [`LogConfig`] does not model.
fn unmodelled_default(name: &str) -> &'static str {
    match name {
        "compression.type" => "producer",
        "compression.gzip.level" => "-1",
        "compression.lz4.level" => "9",
        "compression.zstd.level" => "3",
        "delete.retention.ms" => "86400000",
        "local.retention.bytes" | "local.retention.ms" => "-2",
        "max.compaction.lag.ms" => "9223372036854775807",
        "min.cleanable.dirty.ratio" => "0.5",
        "min.compaction.lag.ms" | "segment.jitter.ms" => "0",
        "preallocate" | "remote.storage.enable" | "unclean.leader.election.enable" => "false",
        "segment.index.bytes" => "10485760",
        _ => "",
    }
}

/// The default of a topic config given the broker's log defaults.
pub fn default_value(name: &str, broker_defaults: &LogConfig) -> String {
    broker_defaults
        .value_of(name)
        .unwrap_or_else(|| unmodelled_default(name).to_string())
}

/// Checks a value against the config's type and allowed values.
pub fn validate(name: &str, value: &str) -> Result<(), ConfigError> {
    let def =
        topic_config(name).ok_or_else(|| ConfigError::UnknownTopicConfig(name.to_string()))?;
    let invalid = |reason: String| ConfigError::InvalidValue {
        name: name.to_string(),
        value: value.to_string(),
        reason,
    };
    let trimmed = value.trim();
    match def.kind {
        Boolean => {
            if !matches!(trimmed, "true" | "false") {
                return Err(invalid("expected true or false".into()));
            }
        }
        Int => {
            trimmed
                .parse::<i32>()
                .map_err(|_| invalid("expected an int".into()))?;
        }
        Long => {
            trimmed
                .parse::<i64>()
                .map_err(|_| invalid("expected a long".into()))?;
        }
        Double => {
            trimmed
                .parse::<f64>()
                .map_err(|_| invalid("expected a number".into()))?;
        }
        Str | List | ConfigType::Short | ConfigType::Class | ConfigType::Password => {}
    }
    if !def.allowed.is_empty() {
        let entries: Vec<&str> = match def.kind {
            List => trimmed.split(',').map(str::trim).collect(),
            _ => vec![trimmed],
        };
        if let Some(bad) = entries.iter().find(|entry| !def.allowed.contains(entry)) {
            return Err(invalid(format!(
                "'{bad}' is not one of {}",
                def.allowed.join(", ")
            )));
        }
    }
    // The enforced ones also go through LogConfig's range checks.
    if def.enforced {
        LogConfig::default().set(name, value)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validates_types_and_allowed_values() {
        assert!(validate("retention.ms", "1000").is_ok());
        assert!(validate("retention.ms", "soon").is_err());
        assert!(validate("cleanup.policy", "compact,delete").is_ok());
        assert!(validate("cleanup.policy", "compact,shred").is_err());
        assert!(validate("min.cleanable.dirty.ratio", "0.2").is_ok());
        assert!(validate("preallocate", "yes").is_err());
        assert!(validate("compression.type", "zstd").is_ok());
        assert!(
            validate("segment.bytes", "3").is_err(),
            "LogConfig's minimum applies"
        );
        assert!(matches!(
            validate("no.such.thing", "1"),
            Err(ConfigError::UnknownTopicConfig(_))
        ));
    }

    #[test]
    fn defaults_come_from_the_broker_or_kafka() {
        let broker = LogConfig {
            retention_ms: 1234,
            ..LogConfig::default()
        };
        assert_eq!(default_value("retention.ms", &broker), "1234");
        assert_eq!(default_value("cleanup.policy", &broker), "delete");
        assert_eq!(default_value("min.cleanable.dirty.ratio", &broker), "0.5");
        for def in TOPIC_CONFIGS {
            assert!(
                !default_value(def.name, &broker).is_empty() || def.kind == List,
                "{}",
                def.name
            );
        }
    }
}
