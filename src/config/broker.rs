//! Broker settings, by Kafka's names and with Kafka's defaults.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use super::quorum::{parse_bootstrap_servers, parse_roles, parse_voters, QuorumVoter};
use super::security::{is_security_setting, SecurityConfig};
use super::topic::{at_least, LogConfig};
use super::{listener::Listener, ConfigError};
use crate::group::GroupConfig;
use crate::txn::TxnConfig;

#[derive(Debug, Clone)]
pub struct BrokerConfig {
    pub node_id: i32,
    /// `process.roles`: always `broker,controller` (combined mode).
    pub process_roles: Vec<String>,
    /// `controller.quorum.voters`: empty means this node is the only voter,
    /// unless bootstrap servers are given.
    pub controller_quorum_voters: Vec<QuorumVoter>,
    /// `controller.quorum.bootstrap.servers` (KIP-853): where a node finds
    /// a quorum whose voters are not configured; used only without
    /// `controller.quorum.voters`, as in Kafka.
    pub controller_quorum_bootstrap_servers: Vec<String>,
    /// `controller.listener.names`: the listeners that carry the quorum's
    /// traffic, not clients'.
    pub controller_listener_names: Vec<String>,
    pub listeners: Vec<Listener>,
    pub advertised_listeners: Vec<Listener>,
    /// Each listener's security protocol and TLS settings, and the
    /// inter-broker listener.
    pub security: SecurityConfig,
    pub log_dirs: Vec<PathBuf>,
    /// `num.recovery.threads.per.data.dir`: threads per log dir that flush
    /// and checkpoint the logs at a clean shutdown, as Kafka's close them.
    pub num_recovery_threads_per_data_dir: usize,
    pub num_partitions: i32,
    pub default_replication_factor: i16,
    pub auto_create_topics_enable: bool,
    pub delete_topic_enable: bool,
    pub socket_request_max_bytes: usize,
    /// What one client may make the broker hold on its connections.
    pub socket: SocketServerConfig,
    /// The windows client quotas are measured over.
    pub quota: QuotaConfig,
    /// `fetch.max.bytes`: the most one Fetch response carries, whatever the
    /// request asks (KIP-74).
    pub fetch_max_bytes: i32,
    /// `max.incremental.fetch.session.cache.slots`: how many fetch sessions
    /// (KIP-227) the broker keeps; 0 keeps none.
    pub max_incremental_fetch_session_cache_slots: usize,
    pub log_retention_check_interval_ms: u64,
    /// How often the high watermarks are written to each log dir's
    /// `replication-offset-checkpoint`.
    pub replica_high_watermark_checkpoint_interval_ms: u64,
    pub log_flush_scheduler_interval_ms: u64,
    /// Defaults for every topic's log (the `log.*` settings).
    pub log: LogConfig,
    /// The group coordinator's settings (`group.*`, `offsets.*`).
    pub group: GroupConfig,
    /// The transaction coordinator's settings (`transaction*`).
    pub txn: TxnConfig,
    /// Delegation tokens (`delegation.token.*`).
    pub delegation_token: super::delegation_token::DelegationTokenConfig,
    /// `admin.listener` (gregor's own): `host:port` of the HTTP endpoint for
    /// `/metrics` and `/health`; off when unset.
    pub admin_listener: Option<String>,
    /// `admin.fault.plane.enable` (gregor's own): whether the admin
    /// listener serves the fault plane. Off unless asked for (on in
    /// `--dev`): it can fail requests and disks on purpose.
    pub admin_fault_plane_enable: bool,
    /// `admin.listener.token` (gregor's own): when set, every admin
    /// endpoint but `/metrics` and `/health` needs it as a bearer token.
    pub admin_listener_token: Option<Secret>,
    /// `log.cleaner.enable`
    pub log_cleaner_enable: bool,
    /// `log.cleaner.backoff.ms`: pause between compaction passes.
    pub log_cleaner_backoff_ms: u64,
    /// `log.cleaner.dedupe.buffer.size`: memory of the compaction pass's
    /// key → offset map.
    pub log_cleaner_dedupe_buffer_size: i64,
    /// `producer.id.expiration.ms`: idle producers' dedup state is dropped.
    pub producer_id_expiration_ms: i64,
    /// `producer.id.expiration.check.interval.ms`
    pub producer_id_expiration_check_interval_ms: u64,
    /// Replication and broker liveness (`replica.*`, `broker.*`).
    pub replication: ReplicationConfig,
    /// `offsets.topic.replication.factor`. This and the next are capped
    /// at the number of live brokers when the internal topic is created,
    /// so that a single broker still works with Kafka's default of 3.
    pub offsets_topic_replication_factor: i16,
    /// `transaction.state.log.replication.factor`
    pub transaction_state_log_replication_factor: i16,
    /// Every setting as given (file, environment, overrides), to report
    /// which values are static rather than defaults.
    pub given: BTreeMap<String, String>,
}

/// A value that is never printed: `Debug` shows only that it is set.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[hidden]")
    }
}

/// Kafka's `QuotaConfig` windows: a client's rate is measured over
/// `window_num` samples of `window_size_seconds` each (the last one
/// current), and throttle times follow from that span.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotaConfig {
    /// `quota.window.num`
    pub window_num: u32,
    /// `quota.window.size.seconds`
    pub window_size_seconds: u32,
    /// `controller.quota.window.num`: with the size below, how many
    /// seconds of `controller_mutation_rate` a client may spend at once.
    pub controller_window_num: u32,
    /// `controller.quota.window.size.seconds`
    pub controller_window_size_seconds: u32,
    /// `replication.quota.window.num`: the replication throttles' span.
    pub replication_window_num: u32,
    /// `replication.quota.window.size.seconds`
    pub replication_window_size_seconds: u32,
}

impl Default for QuotaConfig {
    fn default() -> Self {
        QuotaConfig {
            window_num: 11,
            window_size_seconds: 1,
            controller_window_num: 11,
            controller_window_size_seconds: 1,
            replication_window_num: 11,
            replication_window_size_seconds: 1,
        }
    }
}

/// Kafka's `SocketServerConfigs` limits on connections.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocketServerConfig {
    /// `max.connections`: past it, the broker stops accepting until one
    /// closes.
    pub max_connections: i32,
    /// `max.connections.per.ip`: past it, a new connection from that
    /// address is closed at once.
    pub max_connections_per_ip: i32,
    /// `max.connections.per.ip.overrides`: `host:count` pairs, by host
    /// name or address.
    pub max_connections_per_ip_overrides: BTreeMap<String, i32>,
    /// `connections.max.idle.ms`: a connection that neither sends nor
    /// receives for this long is closed; negative never closes one.
    pub connections_max_idle_ms: i64,
    /// `connections.max.reauth.ms`: the lifetime of a SASL session
    /// (KIP-368); 0, Kafka's default, lets sessions live as long as their
    /// connection.
    pub connections_max_reauth_ms: i64,
    /// `connection.failed.authentication.delay.ms`: how long the answer
    /// to a failed authentication, and the close after it, wait (it slows
    /// password guessing down).
    pub failed_authentication_delay_ms: i64,
    /// `queued.max.request.bytes`: request bytes all connections may hold
    /// at once before no more are read; zero or less is unbounded.
    pub queued_max_request_bytes: i64,
}

impl Default for SocketServerConfig {
    fn default() -> Self {
        SocketServerConfig {
            max_connections: i32::MAX,
            max_connections_per_ip: i32::MAX,
            max_connections_per_ip_overrides: BTreeMap::new(),
            connections_max_idle_ms: 600_000,
            connections_max_reauth_ms: 0,
            failed_authentication_delay_ms: 100,
            queued_max_request_bytes: -1,
        }
    }
}

impl SocketServerConfig {
    /// How long a connection may stay silent, if it is bounded.
    pub fn idle_timeout(&self) -> Option<Duration> {
        u64::try_from(self.connections_max_idle_ms)
            .ok()
            .map(Duration::from_millis)
    }

    /// How long a SASL session lasts before it must re-authenticate.
    pub fn reauth_after(&self) -> Option<Duration> {
        u64::try_from(self.connections_max_reauth_ms)
            .ok()
            .filter(|ms| *ms > 0)
            .map(Duration::from_millis)
    }

    /// The byte budget of queued requests, if it is bounded.
    pub fn queued_request_bytes(&self) -> Option<usize> {
        usize::try_from(self.queued_max_request_bytes)
            .ok()
            .filter(|bytes| *bytes > 0)
    }

    /// `max.connections.per.ip.overrides` as Kafka writes it.
    pub fn overrides_value(&self) -> String {
        self.max_connections_per_ip_overrides
            .iter()
            .map(|(host, count)| format!("{host}:{count}"))
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// Parses `max.connections.per.ip.overrides`: comma-separated `host:count`,
/// split at the last colon (so IPv6 addresses work), as Kafka's
/// `Csv.parseCsvMap` does.
fn connection_overrides(name: &str, value: &str) -> Result<BTreeMap<String, i32>, ConfigError> {
    let invalid = |reason: &str| ConfigError::InvalidValue {
        name: name.to_string(),
        value: value.to_string(),
        reason: reason.to_string(),
    };
    let mut overrides = BTreeMap::new();
    for entry in value.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let (host, count) = entry
            .rsplit_once(':')
            .ok_or_else(|| invalid("expected host:count pairs"))?;
        let count: i32 = count
            .trim()
            .parse()
            .map_err(|_| invalid("a count is not a number"))?;
        if count < 0 || host.trim().is_empty() {
            return Err(invalid("expected a host and a count of at least 0"));
        }
        overrides.insert(host.trim().to_string(), count);
    }
    Ok(overrides)
}

/// How replicas follow their leaders and how the controller decides a
/// broker is gone.
#[derive(Debug, Clone)]
pub struct ReplicationConfig {
    /// `replica.lag.time.max.ms`: a follower that has not caught up for
    /// this long leaves the ISR.
    pub replica_lag_time_max: Duration,
    /// `replica.fetch.wait.max.ms`: how long a follower's fetch may park.
    pub fetch_wait_max: Duration,
    /// `replica.fetch.max.bytes`: per partition, per fetch.
    pub fetch_max_bytes: i32,
    /// `replica.fetch.response.max.bytes`
    pub fetch_response_max_bytes: i32,
    /// `replica.fetch.backoff.ms`: pause after a failed fetch.
    pub fetch_backoff: Duration,
    /// `broker.heartbeat.interval.ms`
    pub heartbeat_interval: Duration,
    /// `broker.session.timeout.ms`: a broker silent this long is fenced
    /// and its leaderships move.
    pub session_timeout: Duration,
    /// `unclean.leader.election.enable` (the broker default; topics may
    /// override it).
    pub unclean_leader_election: bool,
    /// `broker.rack`
    pub rack: Option<String>,
    /// How followers connect to leaders: the inter-broker listener's
    /// TLS and SASL, as `SecurityConfig` resolved them.
    pub inter_broker_security: crate::config::client_security::ClientSecurityConfig,
}

impl Default for ReplicationConfig {
    fn default() -> Self {
        ReplicationConfig {
            replica_lag_time_max: Duration::from_millis(30_000),
            fetch_wait_max: Duration::from_millis(500),
            fetch_max_bytes: 1_048_576,
            fetch_response_max_bytes: 10_485_760,
            fetch_backoff: Duration::from_millis(1_000),
            heartbeat_interval: Duration::from_millis(2_000),
            session_timeout: Duration::from_millis(9_000),
            unclean_leader_election: false,
            rack: None,
            inter_broker_security: Default::default(),
        }
    }
}

impl Default for BrokerConfig {
    fn default() -> Self {
        BrokerConfig {
            node_id: 1,
            process_roles: vec!["broker".to_string(), "controller".to_string()],
            controller_quorum_voters: Vec::new(),
            controller_quorum_bootstrap_servers: Vec::new(),
            controller_listener_names: vec!["CONTROLLER".to_string()],
            listeners: vec![Listener::plaintext("localhost", 9092)],
            advertised_listeners: Vec::new(),
            security: SecurityConfig {
                inter_broker_listener_name: "PLAINTEXT".to_string(),
                ..SecurityConfig::default()
            },
            log_dirs: vec![PathBuf::from("./gregor-data")],
            num_recovery_threads_per_data_dir: 2,
            num_partitions: 1,
            default_replication_factor: 1,
            auto_create_topics_enable: true,
            delete_topic_enable: true,
            socket_request_max_bytes: 104_857_600,
            socket: SocketServerConfig::default(),
            quota: QuotaConfig::default(),
            fetch_max_bytes: 57_671_680,
            max_incremental_fetch_session_cache_slots: 1_000,
            log_retention_check_interval_ms: 300_000,
            replica_high_watermark_checkpoint_interval_ms: 5_000,
            // Kafka's default: the flusher never looks, unless asked to.
            log_flush_scheduler_interval_ms: i64::MAX as u64,
            log: LogConfig::default(),
            group: GroupConfig::default(),
            txn: TxnConfig::default(),
            delegation_token: Default::default(),
            admin_listener: None,
            admin_fault_plane_enable: false,
            admin_listener_token: None,
            log_cleaner_enable: true,
            log_cleaner_backoff_ms: 15_000,
            log_cleaner_dedupe_buffer_size: 134_217_728,
            producer_id_expiration_ms: 86_400_000,
            producer_id_expiration_check_interval_ms: 600_000,
            replication: ReplicationConfig::default(),
            offsets_topic_replication_factor: 3,
            transaction_state_log_replication_factor: 3,
            given: BTreeMap::new(),
        }
    }
}

fn number<T: std::str::FromStr>(name: &str, value: &str) -> Result<T, ConfigError> {
    value.trim().parse().map_err(|_| ConfigError::InvalidValue {
        name: name.to_string(),
        value: value.to_string(),
        reason: "not a number in range".to_string(),
    })
}

fn millis(name: &str, value: &str) -> Result<Duration, ConfigError> {
    Ok(Duration::from_millis(number(name, value)?))
}

fn at_least_one(name: &str, value: i32) -> Result<i32, ConfigError> {
    if value < 1 {
        return Err(ConfigError::InvalidValue {
            name: name.to_string(),
            value: value.to_string(),
            reason: "must be at least 1".to_string(),
        });
    }
    Ok(value)
}

fn boolean(name: &str, value: &str) -> Result<bool, ConfigError> {
    match value.trim() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(ConfigError::InvalidValue {
            name: name.to_string(),
            value: value.to_string(),
            reason: "expected true or false".to_string(),
        }),
    }
}

/// Broker `log.*` names and the topic-level names they default.
const LOG_DEFAULTS: &[(&str, &str)] = &[
    ("log.segment.bytes", "segment.bytes"),
    ("log.roll.ms", "segment.ms"),
    ("log.retention.ms", "retention.ms"),
    ("log.retention.bytes", "retention.bytes"),
    ("log.index.interval.bytes", "index.interval.bytes"),
    ("message.max.bytes", "max.message.bytes"),
    ("log.message.timestamp.type", "message.timestamp.type"),
    ("log.flush.interval.messages", "flush.messages"),
    ("log.flush.interval.ms", "flush.ms"),
    ("log.cleanup.policy", "cleanup.policy"),
    ("min.insync.replicas", "min.insync.replicas"),
    (
        "log.cleaner.min.cleanable.ratio",
        "min.cleanable.dirty.ratio",
    ),
    ("log.cleaner.min.compaction.lag.ms", "min.compaction.lag.ms"),
    ("log.cleaner.max.compaction.lag.ms", "max.compaction.lag.ms"),
    ("log.cleaner.delete.retention.ms", "delete.retention.ms"),
    (
        "log.message.timestamp.before.max.ms",
        "message.timestamp.before.max.ms",
    ),
    (
        "log.message.timestamp.after.max.ms",
        "message.timestamp.after.max.ms",
    ),
    ("log.segment.delete.delay.ms", "file.delete.delay.ms"),
];

impl BrokerConfig {
    /// Builds the config from `server.properties` entries (overrides already
    /// merged in). Unknown keys are ignored with a warning by the caller, as
    /// Kafka logs them as unused.
    pub fn from_properties(
        properties: &BTreeMap<String, String>,
    ) -> Result<(BrokerConfig, Vec<String>), ConfigError> {
        let mut config = BrokerConfig {
            given: properties.clone(),
            ..BrokerConfig::default()
        };
        let mut unused = Vec::new();
        // Coarser units first, so that the finer-grained names win as in Kafka.
        let mut ordered: Vec<(&String, &String)> = properties.iter().collect();
        ordered.sort_by_key(|(name, _)| match name.as_str() {
            "log.retention.hours" | "log.roll.hours" => 0,
            "log.retention.minutes" => 1,
            _ => 2,
        });
        for (name, value) in ordered {
            let name = name.as_str();
            match name {
                "node.id" | "broker.id" => config.node_id = number(name, value)?,
                "listeners" => config.listeners = Listener::parse_list(value)?,
                "process.roles" => config.process_roles = parse_roles(value)?,
                "controller.quorum.voters" => {
                    config.controller_quorum_voters = parse_voters(value)?
                }
                "controller.quorum.bootstrap.servers" => {
                    config.controller_quorum_bootstrap_servers = parse_bootstrap_servers(value)?
                }
                "controller.listener.names" => {
                    config.controller_listener_names = value
                        .split(',')
                        .map(|n| n.trim().to_string())
                        .filter(|n| !n.is_empty())
                        .collect()
                }
                "advertised.listeners" => {
                    config.advertised_listeners = Listener::parse_list(value)?
                }
                "log.dirs" | "log.dir" => {
                    config.log_dirs = value.split(',').map(|d| PathBuf::from(d.trim())).collect()
                }
                "num.partitions" => config.num_partitions = number(name, value)?,
                "num.recovery.threads.per.data.dir" => {
                    config.num_recovery_threads_per_data_dir = number(name, value)?
                }
                "default.replication.factor" => {
                    config.default_replication_factor = number(name, value)?
                }
                "auto.create.topics.enable" => {
                    config.auto_create_topics_enable = boolean(name, value)?
                }
                "delete.topic.enable" => config.delete_topic_enable = boolean(name, value)?,
                "socket.request.max.bytes" => {
                    config.socket_request_max_bytes = number(name, value)?
                }
                "quota.window.num" => {
                    config.quota.window_num = at_least_one(name, number(name, value)?)? as u32
                }
                "quota.window.size.seconds" => {
                    config.quota.window_size_seconds =
                        at_least_one(name, number(name, value)?)? as u32
                }
                "controller.quota.window.num" => {
                    config.quota.controller_window_num =
                        at_least_one(name, number(name, value)?)? as u32
                }
                "controller.quota.window.size.seconds" => {
                    config.quota.controller_window_size_seconds =
                        at_least_one(name, number(name, value)?)? as u32
                }
                "replication.quota.window.num" => {
                    config.quota.replication_window_num =
                        at_least_one(name, number(name, value)?)? as u32
                }
                "replication.quota.window.size.seconds" => {
                    config.quota.replication_window_size_seconds =
                        at_least_one(name, number(name, value)?)? as u32
                }
                "max.connections" => {
                    config.socket.max_connections = at_least(name, number(name, value)?, 0)?
                }
                "max.connections.per.ip" => {
                    config.socket.max_connections_per_ip = at_least(name, number(name, value)?, 0)?
                }
                "max.connections.per.ip.overrides" => {
                    config.socket.max_connections_per_ip_overrides =
                        connection_overrides(name, value)?
                }
                "connections.max.idle.ms" => {
                    config.socket.connections_max_idle_ms = number(name, value)?
                }
                "connections.max.reauth.ms" => {
                    config.socket.connections_max_reauth_ms = number(name, value)?
                }
                "connection.failed.authentication.delay.ms" => {
                    config.socket.failed_authentication_delay_ms =
                        at_least(name, number(name, value)?, 0)?
                }
                "queued.max.request.bytes" => {
                    config.socket.queued_max_request_bytes = number(name, value)?
                }
                "fetch.max.bytes" => {
                    config.fetch_max_bytes = at_least(name, number(name, value)?, 1024)?
                }
                "max.incremental.fetch.session.cache.slots" => {
                    config.max_incremental_fetch_session_cache_slots = number(name, value)?
                }
                "log.retention.check.interval.ms" => {
                    config.log_retention_check_interval_ms = number(name, value)?
                }
                "replica.high.watermark.checkpoint.interval.ms" => {
                    config.replica_high_watermark_checkpoint_interval_ms = number(name, value)?
                }
                "log.flush.scheduler.interval.ms" => {
                    config.log_flush_scheduler_interval_ms = number(name, value)?
                }
                "log.retention.hours" => {
                    config.log.retention_ms = number::<i64>(name, value)? * 3_600_000
                }
                "log.retention.minutes" => {
                    config.log.retention_ms = number::<i64>(name, value)? * 60_000
                }
                "log.roll.hours" => config.log.segment_ms = number::<i64>(name, value)? * 3_600_000,
                "admin.listener" => config.admin_listener = Some(value.trim().to_string()),
                "admin.fault.plane.enable" => {
                    config.admin_fault_plane_enable = boolean(name, value)?
                }
                "delegation.token.secret.key" | "delegation.token.master.key" => {
                    config.delegation_token.secret_key =
                        Some(Secret(value.trim().to_string())).filter(|t| !t.0.is_empty())
                }
                "delegation.token.max.lifetime.ms" => {
                    config.delegation_token.max_lifetime_ms =
                        at_least(name, number(name, value)?, 1)?
                }
                "delegation.token.expiry.time.ms" => {
                    config.delegation_token.expiry_time_ms =
                        at_least(name, number(name, value)?, 1)?
                }
                "delegation.token.expiry.check.interval.ms" => {
                    config.delegation_token.expiry_check_interval_ms =
                        at_least(name, number(name, value)?, 1)?
                }
                "admin.listener.token" => {
                    config.admin_listener_token =
                        Some(Secret(value.trim().to_string())).filter(|t| !t.0.is_empty())
                }
                "log.cleaner.enable" => config.log_cleaner_enable = boolean(name, value)?,
                "log.cleaner.backoff.ms" => config.log_cleaner_backoff_ms = number(name, value)?,
                "log.cleaner.dedupe.buffer.size" => {
                    config.log_cleaner_dedupe_buffer_size = number(name, value)?
                }
                "producer.id.expiration.ms" => {
                    config.producer_id_expiration_ms = number(name, value)?
                }
                "producer.id.expiration.check.interval.ms" => {
                    config.producer_id_expiration_check_interval_ms = number(name, value)?
                }
                "group.min.session.timeout.ms" => {
                    config.group.min_session_timeout = millis(name, value)?
                }
                "group.max.session.timeout.ms" => {
                    config.group.max_session_timeout = millis(name, value)?
                }
                "group.initial.rebalance.delay.ms" => {
                    config.group.initial_rebalance_delay = millis(name, value)?
                }
                "group.max.size" => config.group.max_size = number(name, value)?,
                "group.consumer.session.timeout.ms" => {
                    config.group.consumer_session_timeout = millis(name, value)?
                }
                "group.consumer.min.session.timeout.ms" => {
                    config.group.consumer_session_timeout_bounds.0 = millis(name, value)?
                }
                "group.consumer.max.session.timeout.ms" => {
                    config.group.consumer_session_timeout_bounds.1 = millis(name, value)?
                }
                "group.consumer.heartbeat.interval.ms" => {
                    config.group.consumer_heartbeat_interval = millis(name, value)?
                }
                "group.consumer.min.heartbeat.interval.ms" => {
                    config.group.consumer_heartbeat_interval_bounds.0 = millis(name, value)?
                }
                "group.consumer.max.heartbeat.interval.ms" => {
                    config.group.consumer_heartbeat_interval_bounds.1 = millis(name, value)?
                }
                "group.consumer.assignors" => {
                    config.group.consumer_assignors = value
                        .split(',')
                        .map(|a| a.trim().to_string())
                        .filter(|a| !a.is_empty())
                        .collect();
                    if let Some(unknown) =
                        config.group.consumer_assignors.iter().find(|a| {
                            crate::group::consumer::assignor::Assignor::by_name(a).is_none()
                        })
                    {
                        return Err(ConfigError::InvalidValue {
                            name: name.to_string(),
                            value: value.to_string(),
                            reason: format!(
                                "unknown assignor {unknown}: gregor has uniform and range"
                            ),
                        });
                    }
                }
                "group.consumer.max.size" => config.group.consumer_max_size = number(name, value)?,
                "group.consumer.migration.policy" => {
                    config.group.migration_policy = crate::group::MigrationPolicy::parse(value)
                        .ok_or_else(|| ConfigError::InvalidValue {
                            name: name.to_string(),
                            value: value.to_string(),
                            reason: "one of disabled, upgrade, downgrade, bidirectional"
                                .to_string(),
                        })?;
                }
                "group.streams.session.timeout.ms" => {
                    config.group.streams.session_timeout = millis(name, value)?
                }
                "group.streams.heartbeat.interval.ms" => {
                    config.group.streams.heartbeat_interval = millis(name, value)?
                }
                "group.streams.min.session.timeout.ms" => {
                    config.group.streams.session_timeout_bounds.0 = millis(name, value)?
                }
                "group.streams.max.session.timeout.ms" => {
                    config.group.streams.session_timeout_bounds.1 = millis(name, value)?
                }
                "group.streams.min.heartbeat.interval.ms" => {
                    config.group.streams.heartbeat_interval_bounds.0 = millis(name, value)?
                }
                "group.streams.max.heartbeat.interval.ms" => {
                    config.group.streams.heartbeat_interval_bounds.1 = millis(name, value)?
                }
                "group.streams.max.size" => config.group.streams.max_size = number(name, value)?,
                "group.streams.num.standby.replicas" => {
                    config.group.streams.num_standby_replicas = number(name, value)?
                }
                "group.streams.initial.rebalance.delay.ms" => {
                    config.group.streams.initial_rebalance_delay = millis(name, value)?
                }
                "group.streams.assignment.interval.ms" => {
                    config.group.streams.assignment_interval = millis(name, value)?
                }
                "replica.lag.time.max.ms" => {
                    config.replication.replica_lag_time_max = millis(name, value)?
                }
                "replica.fetch.wait.max.ms" => {
                    config.replication.fetch_wait_max = millis(name, value)?
                }
                "replica.fetch.max.bytes" => {
                    config.replication.fetch_max_bytes = at_least_one(name, number(name, value)?)?
                }
                "replica.fetch.response.max.bytes" => {
                    config.replication.fetch_response_max_bytes =
                        at_least_one(name, number(name, value)?)?
                }
                "replica.fetch.backoff.ms" => {
                    config.replication.fetch_backoff = millis(name, value)?
                }
                "broker.heartbeat.interval.ms" => {
                    config.replication.heartbeat_interval = millis(name, value)?
                }
                "broker.session.timeout.ms" => {
                    config.replication.session_timeout = millis(name, value)?
                }
                "unclean.leader.election.enable" => {
                    config.replication.unclean_leader_election = boolean(name, value)?
                }
                "broker.rack" => config.replication.rack = Some(value.trim().to_string()),
                "offsets.topic.replication.factor" => {
                    config.offsets_topic_replication_factor = number(name, value)?
                }
                "transaction.state.log.replication.factor" => {
                    config.transaction_state_log_replication_factor = number(name, value)?
                }
                "transaction.partition.verification.enable" => {
                    config.txn.partition_verification = boolean(name, value)?
                }
                "transaction.state.log.num.partitions" => {
                    config.txn.state_log_num_partitions = at_least_one(name, number(name, value)?)?
                }
                "transaction.state.log.segment.bytes" => {
                    config.txn.state_log_segment_bytes = at_least_one(name, number(name, value)?)?
                }
                "transaction.max.timeout.ms" => config.txn.max_timeout_ms = number(name, value)?,
                "transactional.id.expiration.ms" => {
                    config.txn.id_expiration_ms = number(name, value)?
                }
                "transaction.abort.timed.out.transaction.cleanup.interval.ms" => {
                    config.txn.abort_timed_out_interval = millis(name, value)?
                }
                "transaction.remove.expired.transaction.cleanup.interval.ms" => {
                    config.txn.remove_expired_interval = millis(name, value)?
                }
                "offsets.retention.minutes" => {
                    config.group.offsets_retention =
                        Duration::from_secs(number::<u64>(name, value)? * 60)
                }
                "offsets.retention.check.interval.ms" => {
                    config.group.offsets_retention_check_interval = millis(name, value)?
                }
                "offset.metadata.max.bytes" => {
                    config.group.offset_metadata_max_bytes = number(name, value)?
                }
                "offsets.topic.num.partitions" => {
                    config.group.offsets_topic_num_partitions =
                        at_least_one(name, number(name, value)?)?
                }
                "offsets.topic.segment.bytes" => {
                    config.group.offsets_topic_segment_bytes =
                        at_least_one(name, number(name, value)?)?
                }
                // Read together below, once the listeners are known.
                _ if is_security_setting(name) => {}
                _ => match LOG_DEFAULTS
                    .iter()
                    .find(|(broker_name, _)| *broker_name == name)
                {
                    Some((_, topic_name)) => config.log.set(topic_name, value)?,
                    None => unused.push(name.to_string()),
                },
            }
        }
        if config.log_dirs.is_empty() {
            return Err(ConfigError::Missing("log.dirs"));
        }
        if config.socket.max_connections_per_ip == 0
            && config.socket.max_connections_per_ip_overrides.is_empty()
        {
            return Err(ConfigError::InvalidValue {
                name: "max.connections.per.ip".to_string(),
                value: "0".to_string(),
                reason: "can be set to zero only if max.connections.per.ip.overrides is set"
                    .to_string(),
            });
        }
        config.check_quorum()?;
        config
            .group
            .check_consumer_timeouts()
            .map_err(|reason| ConfigError::InvalidValue {
                name: "group.consumer.session.timeout.ms".to_string(),
                value: config
                    .group
                    .consumer_session_timeout
                    .as_millis()
                    .to_string(),
                reason,
            })?;
        if let Err((name, reason)) = config.group.streams.check() {
            return Err(ConfigError::InvalidValue {
                name: name.to_string(),
                value: properties.get(name).cloned().unwrap_or_default(),
                reason,
            });
        }
        config.security = SecurityConfig::from_properties(
            properties,
            &config.listeners,
            &config.advertised_listeners,
            &config.controller_listener_names,
        )?;
        // Followers and the transaction coordinator's marker writes
        // connect to other brokers as the inter-broker listener says.
        if let Ok(client) = &config.security.inter_broker_client {
            config.replication.inter_broker_security = client.clone();
            config.txn.inter_broker_security = client.clone();
        }
        Ok((config, unused))
    }

    /// A quorum of several voters needs this node among them and a
    /// controller listener to serve the others on.
    fn check_quorum(&self) -> Result<(), ConfigError> {
        if self.controller_quorum_voters.is_empty() {
            let bootstrap = !self.controller_quorum_bootstrap_servers.is_empty();
            if !self.is_controller() && !bootstrap {
                return Err(ConfigError::InvalidValue {
                    name: "controller.quorum.voters".to_string(),
                    value: String::new(),
                    reason: "a broker without the controller role needs the voters (or controller.quorum.bootstrap.servers) to follow"
                        .to_string(),
                });
            }
            if self.is_controller() && bootstrap && self.controller_listener().is_none() {
                return Err(ConfigError::InvalidValue {
                    name: "controller.listener.names".to_string(),
                    value: self.controller_listener_names.join(","),
                    reason: "a controller found through controller.quorum.bootstrap.servers needs a controller listener".to_string(),
                });
            }
            return Ok(());
        }
        let invalid = |reason: String| ConfigError::InvalidValue {
            name: "controller.quorum.voters".to_string(),
            value: self
                .controller_quorum_voters
                .iter()
                .map(|v| format!("{}@{}", v.node_id, v.address()))
                .collect::<Vec<_>>()
                .join(","),
            reason,
        };
        let voter = self
            .controller_quorum_voters
            .iter()
            .any(|v| v.node_id == self.node_id);
        if !self.is_controller() {
            if voter {
                return Err(invalid(format!(
                    "node.id {} is a voter, but process.roles has no controller",
                    self.node_id
                )));
            }
            return Ok(());
        }
        // A controller that is not a voter joins the quorum as an
        // observer, to be added with AddRaftVoter (KIP-853).
        if self.controller_listener().is_none() {
            return Err(invalid(format!(
                "no listener named in controller.listener.names {:?}",
                self.controller_listener_names
            )));
        }
        Ok(())
    }

    /// Whether this node votes in the metadata quorum (`process.roles`
    /// includes `controller`); otherwise it follows the voters.
    pub fn is_controller(&self) -> bool {
        self.process_roles.iter().any(|role| role == "controller")
    }

    fn is_controller_listener(&self, listener: &Listener) -> bool {
        self.controller_listener_names.contains(&listener.name)
    }

    /// The listeners clients (and other brokers) connect to: all but the
    /// controller listeners.
    pub fn client_listeners(&self) -> impl Iterator<Item = &Listener> {
        self.listeners
            .iter()
            .filter(|l| !self.is_controller_listener(l))
    }

    /// The listener the metadata quorum's peers connect to.
    pub fn controller_listener(&self) -> Option<&Listener> {
        self.listeners
            .iter()
            .find(|l| self.is_controller_listener(l))
    }

    /// What clients of `listener` are told to connect to: its entry in
    /// `advertised.listeners`, else the listener itself.
    pub fn advertised(&self, listener: &Listener) -> Listener {
        self.advertised_listeners
            .iter()
            .find(|l| l.name == listener.name)
            .unwrap_or(listener)
            .clone()
    }

    /// The broker settings gregor knows, with their current values, as
    /// DescribeConfigs reports them for the broker resource.
    pub fn settings(&self) -> Vec<(&'static str, String)> {
        let listeners = |list: &[Listener]| {
            list.iter()
                .map(|l| format!("{}://{}:{}", l.name, l.host, l.port))
                .collect::<Vec<_>>()
                .join(",")
        };
        let group = &self.group;
        let mut settings = vec![
            ("node.id", self.node_id.to_string()),
            ("process.roles", self.process_roles.join(",")),
            (
                "controller.quorum.voters",
                self.controller_quorum_voters
                    .iter()
                    .map(|v| format!("{}@{}", v.node_id, v.address()))
                    .collect::<Vec<_>>()
                    .join(","),
            ),
            (
                "controller.quorum.bootstrap.servers",
                self.controller_quorum_bootstrap_servers.join(","),
            ),
            (
                "controller.listener.names",
                self.controller_listener_names.join(","),
            ),
            ("listeners", listeners(&self.listeners)),
            (
                "advertised.listeners",
                listeners(&self.advertised_listeners),
            ),
            (
                "log.dirs",
                self.log_dirs
                    .iter()
                    .map(|d| d.display().to_string())
                    .collect::<Vec<_>>()
                    .join(","),
            ),
            ("num.partitions", self.num_partitions.to_string()),
            (
                "default.replication.factor",
                self.default_replication_factor.to_string(),
            ),
            (
                "auto.create.topics.enable",
                self.auto_create_topics_enable.to_string(),
            ),
            ("delete.topic.enable", self.delete_topic_enable.to_string()),
            (
                "socket.request.max.bytes",
                self.socket_request_max_bytes.to_string(),
            ),
            ("quota.window.num", self.quota.window_num.to_string()),
            (
                "quota.window.size.seconds",
                self.quota.window_size_seconds.to_string(),
            ),
            (
                "controller.quota.window.num",
                self.quota.controller_window_num.to_string(),
            ),
            (
                "controller.quota.window.size.seconds",
                self.quota.controller_window_size_seconds.to_string(),
            ),
            (
                "replication.quota.window.num",
                self.quota.replication_window_num.to_string(),
            ),
            (
                "replication.quota.window.size.seconds",
                self.quota.replication_window_size_seconds.to_string(),
            ),
            ("max.connections", self.socket.max_connections.to_string()),
            (
                "max.connections.per.ip",
                self.socket.max_connections_per_ip.to_string(),
            ),
            (
                "max.connections.per.ip.overrides",
                self.socket.overrides_value(),
            ),
            (
                "connections.max.idle.ms",
                self.socket.connections_max_idle_ms.to_string(),
            ),
            (
                "connections.max.reauth.ms",
                self.socket.connections_max_reauth_ms.to_string(),
            ),
            (
                "connection.failed.authentication.delay.ms",
                self.socket.failed_authentication_delay_ms.to_string(),
            ),
            (
                "queued.max.request.bytes",
                self.socket.queued_max_request_bytes.to_string(),
            ),
            ("fetch.max.bytes", self.fetch_max_bytes.to_string()),
            (
                "max.incremental.fetch.session.cache.slots",
                self.max_incremental_fetch_session_cache_slots.to_string(),
            ),
            (
                "log.cleaner.dedupe.buffer.size",
                self.log_cleaner_dedupe_buffer_size.to_string(),
            ),
            (
                "log.retention.check.interval.ms",
                self.log_retention_check_interval_ms.to_string(),
            ),
            (
                "replica.high.watermark.checkpoint.interval.ms",
                self.replica_high_watermark_checkpoint_interval_ms
                    .to_string(),
            ),
            (
                "log.flush.scheduler.interval.ms",
                self.log_flush_scheduler_interval_ms.to_string(),
            ),
            (
                "group.min.session.timeout.ms",
                group.min_session_timeout.as_millis().to_string(),
            ),
            (
                "group.max.session.timeout.ms",
                group.max_session_timeout.as_millis().to_string(),
            ),
            (
                "group.initial.rebalance.delay.ms",
                group.initial_rebalance_delay.as_millis().to_string(),
            ),
            ("group.max.size", group.max_size.to_string()),
            (
                "group.consumer.session.timeout.ms",
                group.consumer_session_timeout.as_millis().to_string(),
            ),
            (
                "group.consumer.min.session.timeout.ms",
                group
                    .consumer_session_timeout_bounds
                    .0
                    .as_millis()
                    .to_string(),
            ),
            (
                "group.consumer.max.session.timeout.ms",
                group
                    .consumer_session_timeout_bounds
                    .1
                    .as_millis()
                    .to_string(),
            ),
            (
                "group.consumer.heartbeat.interval.ms",
                group.consumer_heartbeat_interval.as_millis().to_string(),
            ),
            (
                "group.consumer.min.heartbeat.interval.ms",
                group
                    .consumer_heartbeat_interval_bounds
                    .0
                    .as_millis()
                    .to_string(),
            ),
            (
                "group.consumer.max.heartbeat.interval.ms",
                group
                    .consumer_heartbeat_interval_bounds
                    .1
                    .as_millis()
                    .to_string(),
            ),
            (
                "group.consumer.assignors",
                group.consumer_assignors.join(","),
            ),
            (
                "group.consumer.max.size",
                group.consumer_max_size.to_string(),
            ),
            (
                "group.consumer.migration.policy",
                group.migration_policy.name().to_string(),
            ),
            (
                "offsets.retention.minutes",
                (group.offsets_retention.as_secs() / 60).to_string(),
            ),
            (
                "offsets.retention.check.interval.ms",
                group
                    .offsets_retention_check_interval
                    .as_millis()
                    .to_string(),
            ),
            (
                "offset.metadata.max.bytes",
                group.offset_metadata_max_bytes.to_string(),
            ),
            (
                "offsets.topic.num.partitions",
                group.offsets_topic_num_partitions.to_string(),
            ),
            (
                "offsets.topic.segment.bytes",
                group.offsets_topic_segment_bytes.to_string(),
            ),
            (
                "producer.id.expiration.ms",
                self.producer_id_expiration_ms.to_string(),
            ),
            (
                "producer.id.expiration.check.interval.ms",
                self.producer_id_expiration_check_interval_ms.to_string(),
            ),
            (
                "transaction.state.log.num.partitions",
                self.txn.state_log_num_partitions.to_string(),
            ),
            (
                "transaction.state.log.segment.bytes",
                self.txn.state_log_segment_bytes.to_string(),
            ),
            (
                "transaction.max.timeout.ms",
                self.txn.max_timeout_ms.to_string(),
            ),
            (
                "transactional.id.expiration.ms",
                self.txn.id_expiration_ms.to_string(),
            ),
            (
                "transaction.abort.timed.out.transaction.cleanup.interval.ms",
                self.txn.abort_timed_out_interval.as_millis().to_string(),
            ),
            (
                "transaction.remove.expired.transaction.cleanup.interval.ms",
                self.txn.remove_expired_interval.as_millis().to_string(),
            ),
        ];
        for (broker_name, topic_name) in LOG_DEFAULTS {
            if let Some(value) = self.log.value_of(topic_name) {
                settings.push((broker_name, value));
            }
        }
        settings
    }

    /// The one data directory partitions live in (multiple `log.dirs` are
    /// accepted, but only the first is used for now).
    pub fn data_dir(&self) -> &PathBuf {
        &self.log_dirs[0]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kafka_names_set_broker_and_log_defaults() {
        let properties = BTreeMap::from([
            ("node.id".to_string(), "7".to_string()),
            (
                "listeners".to_string(),
                "PLAINTEXT://127.0.0.1:19092".to_string(),
            ),
            ("log.segment.bytes".to_string(), "4096".to_string()),
            ("log.retention.hours".to_string(), "1".to_string()),
            ("something.else".to_string(), "x".to_string()),
        ]);
        let (config, unused) = BrokerConfig::from_properties(&properties).unwrap();
        assert_eq!(config.node_id, 7);
        assert_eq!(config.listeners[0].port, 19092);
        assert_eq!(config.log.segment_bytes, 4096);
        assert_eq!(config.log.retention_ms, 3_600_000);
        assert_eq!(unused, vec!["something.else"]);
    }

    #[test]
    fn retention_ms_wins_over_hours() {
        let properties = BTreeMap::from([
            ("log.retention.ms".to_string(), "5".to_string()),
            ("log.retention.hours".to_string(), "1".to_string()),
        ]);
        assert_eq!(
            BrokerConfig::from_properties(&properties)
                .unwrap()
                .0
                .log
                .retention_ms,
            5
        );
    }

    #[test]
    fn connection_limits_parse_as_kafka_writes_them() {
        let parse = |pairs: &[(&str, &str)]| {
            let properties = pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            BrokerConfig::from_properties(&properties).map(|(config, _)| config)
        };
        let defaults = parse(&[]).unwrap();
        assert_eq!(defaults.socket, SocketServerConfig::default());
        assert_eq!(
            defaults.socket.idle_timeout(),
            Some(Duration::from_secs(600))
        );
        assert_eq!(defaults.socket.queued_request_bytes(), None);
        assert_eq!(defaults.fetch_max_bytes, 57_671_680);
        assert_eq!(defaults.log_cleaner_dedupe_buffer_size, 134_217_728);
        let set = parse(&[
            ("max.connections", "10"),
            ("max.connections.per.ip", "0"),
            (
                "max.connections.per.ip.overrides",
                "hostName:100, 127.0.0.1:200,::1:3",
            ),
            ("connections.max.idle.ms", "-1"),
            ("queued.max.request.bytes", "1048576"),
        ])
        .unwrap();
        assert_eq!(set.socket.max_connections, 10);
        assert_eq!(
            set.socket.max_connections_per_ip_overrides,
            BTreeMap::from([
                ("::1".to_string(), 3),
                ("127.0.0.1".to_string(), 200),
                ("hostName".to_string(), 100),
            ])
        );
        assert_eq!(
            set.socket.overrides_value(),
            "127.0.0.1:200,::1:3,hostName:100"
        );
        assert_eq!(set.socket.idle_timeout(), None);
        assert_eq!(set.socket.queued_request_bytes(), Some(1_048_576));
        // as Kafka: zero per address only with overrides to let some in
        assert!(parse(&[("max.connections.per.ip", "0")]).is_err());
        assert!(parse(&[("max.connections.per.ip.overrides", "nohost")]).is_err());
        assert!(parse(&[("max.connections", "-1")]).is_err());
        assert!(parse(&[("fetch.max.bytes", "1000")]).is_err());
    }
}
