//! The group coordinator: Kafka's classic consumer-group protocol (join,
//! sync, heartbeat, leave, static membership), KIP-848 consumer groups
//! (`consumer/`) and committed offsets, all kept durably as records in the
//! compacted internal topic `__consumer_offsets`.
//!
//! The coordinator of a group is the leader of the `__consumer_offsets`
//! partition the group id hashes to, so when partitions move between
//! brokers, coordinators move with them.

mod actor;
pub mod consumer;
pub mod consumer_protocol;
pub mod coordinator;
pub mod error;
mod flexible;
pub mod log_format;
mod migration;
pub mod state;
pub mod streams;

use std::time::Duration;

pub use actor::TxnProducer;
pub use coordinator::GroupCoordinator;
pub use error::GroupError;

/// The internal topic holding group metadata and committed offsets.
pub const OFFSETS_TOPIC: &str = "__consumer_offsets";

/// Group settings, by Kafka's names and defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupConfig {
    /// `group.min.session.timeout.ms`
    pub min_session_timeout: Duration,
    /// `group.max.session.timeout.ms`
    pub max_session_timeout: Duration,
    /// `group.initial.rebalance.delay.ms`
    pub initial_rebalance_delay: Duration,
    /// `group.max.size`
    pub max_size: usize,
    /// `offsets.retention.minutes`
    pub offsets_retention: Duration,
    /// `offsets.retention.check.interval.ms`
    pub offsets_retention_check_interval: Duration,
    /// `offset.metadata.max.bytes`
    pub offset_metadata_max_bytes: usize,
    /// `offsets.topic.num.partitions`
    pub offsets_topic_num_partitions: i32,
    /// `offsets.topic.segment.bytes`
    pub offsets_topic_segment_bytes: i32,
    /// `group.consumer.session.timeout.ms` (KIP-848 groups)
    pub consumer_session_timeout: Duration,
    /// `group.consumer.heartbeat.interval.ms`
    pub consumer_heartbeat_interval: Duration,
    /// `group.consumer.min.session.timeout.ms` and `…max…`: the bounds
    /// of the session timeout.
    pub consumer_session_timeout_bounds: (Duration, Duration),
    /// `group.consumer.min.heartbeat.interval.ms` and `…max…`.
    pub consumer_heartbeat_interval_bounds: (Duration, Duration),
    /// `group.consumer.assignors`: the server-side assignors members may
    /// choose; the first is the default.
    pub consumer_assignors: Vec<String>,
    /// `group.consumer.max.size`
    pub consumer_max_size: usize,
    /// `group.consumer.migration.policy`
    pub migration_policy: MigrationPolicy,
    /// KIP-1071 streams groups' settings.
    pub streams: StreamsGroupConfig,
}

/// Streams groups' settings (`group.streams.*`), by Kafka's names and
/// defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamsGroupConfig {
    /// `group.streams.session.timeout.ms`
    pub session_timeout: Duration,
    /// `group.streams.heartbeat.interval.ms`
    pub heartbeat_interval: Duration,
    /// `group.streams.min.session.timeout.ms` and `…max…`.
    pub session_timeout_bounds: (Duration, Duration),
    /// `group.streams.min.heartbeat.interval.ms` and `…max…`.
    pub heartbeat_interval_bounds: (Duration, Duration),
    /// `group.streams.max.size`
    pub max_size: usize,
    /// `group.streams.num.standby.replicas`
    pub num_standby_replicas: usize,
    /// `group.streams.initial.rebalance.delay.ms`: how long a group that
    /// was empty waits for more members before it assigns tasks.
    pub initial_rebalance_delay: Duration,
    /// `group.streams.assignment.interval.ms`: the least time between two
    /// assignments of one group.
    pub assignment_interval: Duration,
    /// `group.streams.task.offset.interval.ms`
    pub task_offset_interval: Duration,
    /// `group.streams.acceptable.recovery.lag`
    pub acceptable_recovery_lag: i64,
}

impl Default for StreamsGroupConfig {
    fn default() -> Self {
        StreamsGroupConfig {
            session_timeout: Duration::from_millis(45_000),
            heartbeat_interval: Duration::from_millis(5_000),
            session_timeout_bounds: (Duration::from_millis(45_000), Duration::from_millis(60_000)),
            heartbeat_interval_bounds: (
                Duration::from_millis(5_000),
                Duration::from_millis(15_000),
            ),
            max_size: i32::MAX as usize,
            num_standby_replicas: 0,
            initial_rebalance_delay: Duration::from_millis(3_000),
            assignment_interval: Duration::from_millis(1_000),
            task_offset_interval: Duration::from_millis(60_000),
            acceptable_recovery_lag: 10_000,
        }
    }
}

/// `group.consumer.migration.policy`: whether a group with members moves
/// online between the classic protocol and KIP-848's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MigrationPolicy {
    Disabled,
    /// Classic groups become consumer groups when a consumer joins.
    Upgrade,
    /// Consumer groups whose last consumer-protocol member leaves become
    /// classic groups again.
    Downgrade,
    #[default]
    Bidirectional,
}

impl MigrationPolicy {
    /// Kafka's values, in any case.
    pub fn parse(value: &str) -> Option<MigrationPolicy> {
        match value.trim().to_ascii_lowercase().as_str() {
            "disabled" => Some(MigrationPolicy::Disabled),
            "upgrade" => Some(MigrationPolicy::Upgrade),
            "downgrade" => Some(MigrationPolicy::Downgrade),
            "bidirectional" => Some(MigrationPolicy::Bidirectional),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            MigrationPolicy::Disabled => "disabled",
            MigrationPolicy::Upgrade => "upgrade",
            MigrationPolicy::Downgrade => "downgrade",
            MigrationPolicy::Bidirectional => "bidirectional",
        }
    }

    pub fn upgrades(self) -> bool {
        matches!(
            self,
            MigrationPolicy::Upgrade | MigrationPolicy::Bidirectional
        )
    }

    pub fn downgrades(self) -> bool {
        matches!(
            self,
            MigrationPolicy::Downgrade | MigrationPolicy::Bidirectional
        )
    }
}

impl Default for GroupConfig {
    fn default() -> Self {
        GroupConfig {
            min_session_timeout: Duration::from_millis(6_000),
            max_session_timeout: Duration::from_millis(1_800_000),
            initial_rebalance_delay: Duration::from_millis(3_000),
            max_size: i32::MAX as usize,
            offsets_retention: Duration::from_secs(7 * 24 * 60 * 60),
            offsets_retention_check_interval: Duration::from_millis(600_000),
            offset_metadata_max_bytes: 4096,
            offsets_topic_num_partitions: 50,
            offsets_topic_segment_bytes: 104_857_600,
            consumer_session_timeout: Duration::from_millis(45_000),
            consumer_heartbeat_interval: Duration::from_millis(5_000),
            consumer_session_timeout_bounds: (
                Duration::from_millis(45_000),
                Duration::from_millis(60_000),
            ),
            consumer_heartbeat_interval_bounds: (
                Duration::from_millis(5_000),
                Duration::from_millis(15_000),
            ),
            consumer_assignors: vec!["uniform".to_string(), "range".to_string()],
            consumer_max_size: i32::MAX as usize,
            migration_policy: MigrationPolicy::Bidirectional,
            streams: StreamsGroupConfig::default(),
        }
    }
}

impl GroupConfig {
    /// Kafka's checks of the KIP-848 timeouts: each within its bounds, and
    /// the heartbeat interval below the session timeout.
    pub fn check_consumer_timeouts(&self) -> Result<(), String> {
        let (min_session, max_session) = self.consumer_session_timeout_bounds;
        let (min_heartbeat, max_heartbeat) = self.consumer_heartbeat_interval_bounds;
        let session = self.consumer_session_timeout;
        let heartbeat = self.consumer_heartbeat_interval;
        if !(min_session..=max_session).contains(&session) {
            return Err(format!(
                "group.consumer.session.timeout.ms must be between group.consumer.min.session.timeout.ms ({}) and group.consumer.max.session.timeout.ms ({})",
                min_session.as_millis(),
                max_session.as_millis()
            ));
        }
        if !(min_heartbeat..=max_heartbeat).contains(&heartbeat) {
            return Err(format!(
                "group.consumer.heartbeat.interval.ms must be between group.consumer.min.heartbeat.interval.ms ({}) and group.consumer.max.heartbeat.interval.ms ({})",
                min_heartbeat.as_millis(),
                max_heartbeat.as_millis()
            ));
        }
        if heartbeat >= session {
            return Err(
                "group.consumer.heartbeat.interval.ms must be less than group.consumer.session.timeout.ms"
                    .to_string(),
            );
        }
        if self.consumer_assignors.is_empty() {
            return Err("group.consumer.assignors must name at least one assignor".to_string());
        }
        Ok(())
    }
}

impl StreamsGroupConfig {
    /// Kafka's checks of the streams groups' settings: each timeout within
    /// its bounds, the heartbeat interval below the session timeout, at
    /// most 2 standby replicas (`group.streams.max.standby.replicas`).
    pub fn check(&self) -> Result<(), (&'static str, String)> {
        let (min_session, max_session) = self.session_timeout_bounds;
        let (min_heartbeat, max_heartbeat) = self.heartbeat_interval_bounds;
        if !(min_session..=max_session).contains(&self.session_timeout) {
            return Err((
                "group.streams.session.timeout.ms",
                format!(
                    "must be between group.streams.min.session.timeout.ms ({}) and group.streams.max.session.timeout.ms ({})",
                    min_session.as_millis(),
                    max_session.as_millis()
                ),
            ));
        }
        if !(min_heartbeat..=max_heartbeat).contains(&self.heartbeat_interval) {
            return Err((
                "group.streams.heartbeat.interval.ms",
                format!(
                    "must be between group.streams.min.heartbeat.interval.ms ({}) and group.streams.max.heartbeat.interval.ms ({})",
                    min_heartbeat.as_millis(),
                    max_heartbeat.as_millis()
                ),
            ));
        }
        if self.heartbeat_interval >= self.session_timeout {
            return Err((
                "group.streams.heartbeat.interval.ms",
                "must be less than group.streams.session.timeout.ms".into(),
            ));
        }
        if self.num_standby_replicas > 2 {
            return Err((
                "group.streams.num.standby.replicas",
                "must be at most group.streams.max.standby.replicas (2)".into(),
            ));
        }
        Ok(())
    }
}

/// Java's `String.hashCode`, which Kafka uses to place a group on a
/// `__consumer_offsets` partition (`abs(hash) % partitions`).
pub fn java_string_hash(value: &str) -> i32 {
    value.encode_utf16().fold(0i32, |hash, unit| {
        hash.wrapping_mul(31).wrapping_add(i32::from(unit))
    })
}

/// The `__consumer_offsets` partition that holds a group.
pub fn partition_for(group_id: &str, partitions: i32) -> i32 {
    (java_string_hash(group_id) & 0x7fff_ffff) % partitions.max(1)
}

#[cfg(test)]
mod tests {
    #[test]
    fn group_placement_matches_kafka() {
        // Values computed with Java's "...".hashCode().
        assert_eq!(super::java_string_hash(""), 0);
        assert_eq!(super::java_string_hash("hello"), 99_162_322);
        assert_eq!(
            super::java_string_hash("my-group-with-a-long-name"),
            1_977_297_176
        );
        assert_eq!(super::java_string_hash("polygenelubricants"), i32::MIN);
        assert_eq!(super::partition_for("hello", 50), 99_162_322 % 50);
    }
}
