//! Every broker config Kafka 4.x documents: its type, default, allowed
//! values and dynamic update mode, and which of them gregor acts on.
//!
//! DescribeConfigs on a broker answers from this table, and AlterConfigs
//! and IncrementalAlterConfigs check dynamic changes against it: only
//! per-broker and cluster-wide configs may change at run time, and only
//! with values of the right type and range. Configs gregor does not act on
//! report Kafka's default (or what was set), so that tools reading a
//! broker's configuration see what they expect; `docs/compatibility.md`
//! lists the ones gregor honours.

use super::catalog::ConfigType;

/// Kafka's "Dynamic Update Mode" of a broker config.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateMode {
    /// Only in `server.properties`: takes a restart.
    ReadOnly,
    /// May be set for one broker (resource name = its node id).
    PerBroker,
    /// May be set for one broker or as the cluster-wide default
    /// (resource name "").
    ClusterWide,
}

/// The values a config accepts beyond its type, as Kafka's validators say.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Validator {
    Any,
    AtLeast(f64),
    Between(f64, f64),
    /// A range, or -1 for "the codec's default" (`compression.gzip.level`).
    BetweenOrMinusOne(f64, f64),
    OneOf(&'static [&'static str]),
    OneOfIgnoreCase(&'static [&'static str]),
    /// Every entry of the list must be one of these.
    ListOf(&'static [&'static str]),
    NonEmpty,
}

/// One broker config.
#[derive(Debug)]
pub struct BrokerConfigDef {
    pub name: &'static str,
    pub kind: ConfigType,
    /// Kafka's default; `None` where Kafka's default is null (the value
    /// then comes from a coarser synonym, or the setting is optional).
    pub default: Option<&'static str>,
    pub validator: Validator,
    pub mode: UpdateMode,
}

impl BrokerConfigDef {
    /// Passwords: their values are never reported.
    pub fn is_sensitive(&self) -> bool {
        self.kind == ConfigType::Password
    }

    /// Whether gregor acts on this config.
    pub fn is_honoured(&self) -> bool {
        honoured_doc(self.name).is_some()
    }

    /// What DescribeConfigs reports as documentation.
    pub fn documentation(&self) -> String {
        match honoured_doc(self.name) {
            Some(doc) => doc.to_string(),
            None => format!(
                "Kafka's {} (default {}); gregor accepts and reports it but does not act on it.",
                self.name,
                self.default.unwrap_or("null")
            ),
        }
    }
}

const fn def(
    name: &'static str,
    kind: ConfigType,
    default: Option<&'static str>,
    validator: Validator,
    mode: UpdateMode,
) -> BrokerConfigDef {
    BrokerConfigDef {
        name,
        kind,
        default,
        validator,
        mode,
    }
}

use ConfigType::{Boolean, Class, Double, Int, List, Long, Password, Short, String as Str};
use UpdateMode::{ClusterWide, PerBroker, ReadOnly};
use Validator::{
    Any, AtLeast, Between, BetweenOrMinusOne, ListOf, NonEmpty, OneOf, OneOfIgnoreCase,
};

/// Kafka 4.1's documented broker configs, by name, plus gregor's own
/// `admin.*` settings and Kafka's internal
/// `producer.id.expiration.check.interval.ms`, which gregor honours.
#[rustfmt::skip]
pub const BROKER_CONFIGS: &[BrokerConfigDef] = &[
    def("add.partitions.to.txn.retry.backoff.max.ms", Int, Some("100"), AtLeast(0.0), ReadOnly),
    def("add.partitions.to.txn.retry.backoff.ms", Int, Some("20"), AtLeast(1.0), ReadOnly),
    def("admin.fault.plane.enable", Boolean, Some("false"), Any, ReadOnly),
    def("admin.listener", Str, None, Any, ReadOnly),
    def("admin.listener.token", Password, None, Any, ReadOnly),
    def("advertised.listeners", Str, None, Any, ReadOnly),
    def("alter.config.policy.class.name", Class, None, Any, ReadOnly),
    def("alter.log.dirs.replication.quota.window.num", Int, Some("11"), AtLeast(1.0), ReadOnly),
    def("alter.log.dirs.replication.quota.window.size.seconds", Int, Some("1"), AtLeast(1.0), ReadOnly),
    def("authorizer.class.name", Str, Some(""), Any, ReadOnly),
    def("auto.create.topics.enable", Boolean, Some("true"), Any, ReadOnly),
    def("auto.leader.rebalance.enable", Boolean, Some("true"), Any, ReadOnly),
    def("background.threads", Int, Some("10"), AtLeast(1.0), ClusterWide),
    def("broker.heartbeat.interval.ms", Int, Some("2000"), Any, ReadOnly),
    def("broker.id", Int, Some("-1"), Any, ReadOnly),
    def("broker.rack", Str, None, Any, ReadOnly),
    def("broker.session.timeout.ms", Int, Some("9000"), Any, ReadOnly),
    def("client.quota.callback.class", Class, None, Any, ReadOnly),
    def("compression.gzip.level", Int, Some("-1"), BetweenOrMinusOne(1.0, 9.0), ClusterWide),
    def("compression.lz4.level", Int, Some("9"), Between(1.0, 17.0), ClusterWide),
    def("compression.type", Str, Some("producer"), OneOf(&["uncompressed", "zstd", "lz4", "snappy", "gzip", "producer"]), ClusterWide),
    def("compression.zstd.level", Int, Some("3"), Between(-131072.0, 22.0), ClusterWide),
    def("connection.failed.authentication.delay.ms", Int, Some("100"), AtLeast(0.0), ReadOnly),
    def("connections.max.idle.ms", Long, Some("600000"), Any, ReadOnly),
    def("connections.max.reauth.ms", Long, Some("0"), Any, ReadOnly),
    def("controlled.shutdown.enable", Boolean, Some("true"), Any, ReadOnly),
    def("controller.listener.names", Str, None, Any, ReadOnly),
    def("controller.quorum.append.linger.ms", Int, Some("25"), AtLeast(0.0), ReadOnly),
    def("controller.quorum.bootstrap.servers", List, Some(""), Any, ReadOnly),
    def("controller.quorum.election.backoff.max.ms", Int, Some("1000"), AtLeast(0.0), ReadOnly),
    def("controller.quorum.election.timeout.ms", Int, Some("1000"), AtLeast(0.0), ReadOnly),
    def("controller.quorum.fetch.timeout.ms", Int, Some("2000"), AtLeast(0.0), ReadOnly),
    def("controller.quorum.request.timeout.ms", Int, Some("2000"), AtLeast(0.0), ReadOnly),
    def("controller.quorum.retry.backoff.ms", Int, Some("20"), AtLeast(0.0), ReadOnly),
    def("controller.quorum.voters", List, Some(""), Any, ReadOnly),
    def("controller.quota.window.num", Int, Some("11"), AtLeast(1.0), ReadOnly),
    def("controller.quota.window.size.seconds", Int, Some("1"), AtLeast(1.0), ReadOnly),
    def("controller.socket.timeout.ms", Int, Some("30000"), Any, ReadOnly),
    def("create.topic.policy.class.name", Class, None, Any, ReadOnly),
    def("default.replication.factor", Int, Some("1"), Any, ReadOnly),
    def("delegation.token.expiry.check.interval.ms", Long, Some("3600000"), AtLeast(1.0), ReadOnly),
    def("delegation.token.expiry.time.ms", Long, Some("86400000"), AtLeast(1.0), ReadOnly),
    def("delegation.token.max.lifetime.ms", Long, Some("604800000"), AtLeast(1.0), ReadOnly),
    def("delegation.token.secret.key", Password, None, Any, ReadOnly),
    def("delete.records.purgatory.purge.interval.requests", Int, Some("1"), Any, ReadOnly),
    def("delete.topic.enable", Boolean, Some("true"), Any, ReadOnly),
    def("early.start.listeners", Str, None, Any, ReadOnly),
    def("fetch.max.bytes", Int, Some("57671680"), AtLeast(1024.0), ReadOnly),
    def("fetch.purgatory.purge.interval.requests", Int, Some("1000"), Any, ReadOnly),
    def("group.consumer.assignors", List, Some("uniform,range"), Any, ReadOnly),
    def("group.consumer.heartbeat.interval.ms", Int, Some("5000"), AtLeast(1.0), ReadOnly),
    def("group.consumer.max.heartbeat.interval.ms", Int, Some("15000"), AtLeast(1.0), ReadOnly),
    def("group.consumer.max.session.timeout.ms", Int, Some("60000"), AtLeast(1.0), ReadOnly),
    def("group.consumer.max.size", Int, Some("2147483647"), AtLeast(1.0), ReadOnly),
    def("group.consumer.migration.policy", Str, Some("bidirectional"), OneOfIgnoreCase(&["DISABLED", "DOWNGRADE", "UPGRADE", "BIDIRECTIONAL"]), ReadOnly),
    def("group.consumer.min.heartbeat.interval.ms", Int, Some("5000"), AtLeast(1.0), ReadOnly),
    def("group.consumer.min.session.timeout.ms", Int, Some("45000"), AtLeast(1.0), ReadOnly),
    def("group.consumer.session.timeout.ms", Int, Some("45000"), AtLeast(1.0), ReadOnly),
    def("group.coordinator.append.linger.ms", Int, Some("5"), AtLeast(0.0), ReadOnly),
    def("group.coordinator.rebalance.protocols", List, Some("classic,consumer,streams"), ListOf(&["consumer", "classic", "share", "streams"]), ReadOnly),
    def("group.coordinator.threads", Int, Some("4"), AtLeast(1.0), ReadOnly),
    def("group.initial.rebalance.delay.ms", Int, Some("3000"), Any, ReadOnly),
    def("group.max.session.timeout.ms", Int, Some("1800000"), Any, ReadOnly),
    def("group.max.size", Int, Some("2147483647"), AtLeast(1.0), ReadOnly),
    def("group.min.session.timeout.ms", Int, Some("6000"), Any, ReadOnly),
    def("group.share.assignors", List, Some("simple"), Any, ReadOnly),
    def("group.share.delivery.count.limit", Int, Some("5"), Between(2.0, 10.0), ReadOnly),
    def("group.share.heartbeat.interval.ms", Int, Some("5000"), AtLeast(1.0), ReadOnly),
    def("group.share.max.heartbeat.interval.ms", Int, Some("15000"), AtLeast(1.0), ReadOnly),
    def("group.share.max.record.lock.duration.ms", Int, Some("60000"), Between(30000.0, 3600000.0), ReadOnly),
    def("group.share.max.session.timeout.ms", Int, Some("60000"), AtLeast(1.0), ReadOnly),
    def("group.share.max.share.sessions", Int, Some("2000"), AtLeast(1.0), ReadOnly),
    def("group.share.max.size", Int, Some("200"), Between(1.0, 1000.0), ReadOnly),
    def("group.share.min.heartbeat.interval.ms", Int, Some("5000"), AtLeast(1.0), ReadOnly),
    def("group.share.min.record.lock.duration.ms", Int, Some("15000"), Between(1000.0, 30000.0), ReadOnly),
    def("group.share.min.session.timeout.ms", Int, Some("45000"), AtLeast(1.0), ReadOnly),
    def("group.share.partition.max.record.locks", Int, Some("2000"), Between(100.0, 10000.0), ReadOnly),
    def("group.share.record.lock.duration.ms", Int, Some("30000"), Between(1000.0, 3600000.0), ReadOnly),
    def("group.share.session.timeout.ms", Int, Some("45000"), AtLeast(1.0), ReadOnly),
    def("group.streams.assignment.interval.ms", Int, Some("1000"), Between(0.0, 15000.0), ReadOnly),
    def("group.streams.heartbeat.interval.ms", Int, Some("5000"), AtLeast(1.0), ReadOnly),
    def("group.streams.initial.rebalance.delay.ms", Int, Some("3000"), AtLeast(0.0), ReadOnly),
    def("group.streams.max.heartbeat.interval.ms", Int, Some("15000"), AtLeast(1.0), ReadOnly),
    def("group.streams.max.session.timeout.ms", Int, Some("60000"), AtLeast(1.0), ReadOnly),
    def("group.streams.max.size", Int, Some("2147483647"), AtLeast(1.0), ReadOnly),
    def("group.streams.max.standby.replicas", Int, Some("2"), AtLeast(0.0), ReadOnly),
    def("group.streams.min.heartbeat.interval.ms", Int, Some("5000"), AtLeast(1.0), ReadOnly),
    def("group.streams.min.session.timeout.ms", Int, Some("45000"), AtLeast(1.0), ReadOnly),
    def("group.streams.num.standby.replicas", Int, Some("0"), AtLeast(0.0), ReadOnly),
    def("group.streams.session.timeout.ms", Int, Some("45000"), AtLeast(1.0), ReadOnly),
    def("initial.broker.registration.timeout.ms", Int, Some("60000"), Any, ReadOnly),
    def("inter.broker.listener.name", Str, None, Any, ReadOnly),
    def("kafka.metrics.polling.interval.secs", Int, Some("10"), AtLeast(1.0), ReadOnly),
    def("kafka.metrics.reporters", List, Some(""), Any, ReadOnly),
    def("leader.imbalance.check.interval.seconds", Long, Some("300"), AtLeast(1.0), ReadOnly),
    def("listener.security.protocol.map", Str, Some("SASL_SSL:SASL_SSL,PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT"), Any, PerBroker),
    def("listeners", Str, Some("PLAINTEXT://:9092"), Any, PerBroker),
    def("log.cleaner.backoff.ms", Long, Some("15000"), AtLeast(0.0), ClusterWide),
    def("log.cleaner.dedupe.buffer.size", Long, Some("134217728"), Any, ClusterWide),
    def("log.cleaner.delete.retention.ms", Long, Some("86400000"), AtLeast(0.0), ClusterWide),
    def("log.cleaner.enable", Boolean, Some("true"), Any, ReadOnly),
    def("log.cleaner.io.buffer.load.factor", Double, Some("0.9"), Any, ClusterWide),
    def("log.cleaner.io.buffer.size", Int, Some("524288"), AtLeast(0.0), ClusterWide),
    def("log.cleaner.io.max.bytes.per.second", Double, Some("1.7976931348623157E308"), Any, ClusterWide),
    def("log.cleaner.max.compaction.lag.ms", Long, Some("9223372036854775807"), AtLeast(1.0), ClusterWide),
    def("log.cleaner.min.cleanable.ratio", Double, Some("0.5"), Between(0.0, 1.0), ClusterWide),
    def("log.cleaner.min.compaction.lag.ms", Long, Some("0"), AtLeast(0.0), ClusterWide),
    def("log.cleaner.threads", Int, Some("1"), AtLeast(0.0), ClusterWide),
    def("log.cleanup.policy", List, Some("delete"), ListOf(&["compact", "delete"]), ClusterWide),
    def("log.dir", Str, Some("/tmp/kafka-logs"), Any, ReadOnly),
    def("log.dir.failure.timeout.ms", Long, Some("30000"), AtLeast(1.0), ReadOnly),
    def("log.dirs", Str, None, Any, ReadOnly),
    def("log.flush.interval.messages", Long, Some("9223372036854775807"), AtLeast(1.0), ClusterWide),
    def("log.flush.interval.ms", Long, None, Any, ClusterWide),
    def("log.flush.offset.checkpoint.interval.ms", Int, Some("60000"), AtLeast(0.0), ReadOnly),
    def("log.flush.scheduler.interval.ms", Long, Some("9223372036854775807"), Any, ReadOnly),
    def("log.flush.start.offset.checkpoint.interval.ms", Int, Some("60000"), AtLeast(0.0), ReadOnly),
    def("log.index.interval.bytes", Int, Some("4096"), AtLeast(0.0), ClusterWide),
    def("log.index.size.max.bytes", Int, Some("10485760"), AtLeast(4.0), ClusterWide),
    def("log.local.retention.bytes", Long, Some("-2"), AtLeast(-2.0), ClusterWide),
    def("log.local.retention.ms", Long, Some("-2"), AtLeast(-2.0), ClusterWide),
    def("log.message.timestamp.after.max.ms", Long, Some("3600000"), AtLeast(0.0), ClusterWide),
    def("log.message.timestamp.before.max.ms", Long, Some("9223372036854775807"), AtLeast(0.0), ClusterWide),
    def("log.message.timestamp.type", Str, Some("CreateTime"), OneOf(&["CreateTime", "LogAppendTime"]), ClusterWide),
    def("log.preallocate", Boolean, Some("false"), Any, ClusterWide),
    def("log.retention.bytes", Long, Some("-1"), Any, ClusterWide),
    def("log.retention.check.interval.ms", Long, Some("300000"), AtLeast(1.0), ReadOnly),
    def("log.retention.hours", Int, Some("168"), Any, ReadOnly),
    def("log.retention.minutes", Int, None, Any, ReadOnly),
    def("log.retention.ms", Long, None, Any, ClusterWide),
    def("log.roll.hours", Int, Some("168"), AtLeast(1.0), ReadOnly),
    def("log.roll.jitter.hours", Int, Some("0"), AtLeast(0.0), ReadOnly),
    def("log.roll.jitter.ms", Long, None, Any, ClusterWide),
    def("log.roll.ms", Long, None, Any, ClusterWide),
    def("log.segment.bytes", Int, Some("1073741824"), AtLeast(1048576.0), ClusterWide),
    def("log.segment.delete.delay.ms", Long, Some("60000"), AtLeast(0.0), ClusterWide),
    def("max.connection.creation.rate", Int, Some("2147483647"), AtLeast(0.0), ClusterWide),
    def("max.connections", Int, Some("2147483647"), AtLeast(0.0), ClusterWide),
    def("max.connections.per.ip", Int, Some("2147483647"), AtLeast(0.0), ClusterWide),
    def("max.connections.per.ip.overrides", Str, Some(""), Any, ClusterWide),
    def("max.incremental.fetch.session.cache.slots", Int, Some("1000"), AtLeast(0.0), ReadOnly),
    def("max.request.partition.size.limit", Int, Some("2000"), AtLeast(1.0), ReadOnly),
    def("message.max.bytes", Int, Some("1048588"), AtLeast(0.0), ClusterWide),
    def("metadata.log.dir", Str, None, Any, ReadOnly),
    def("metadata.log.max.record.bytes.between.snapshots", Long, Some("20971520"), AtLeast(1.0), ReadOnly),
    def("metadata.log.max.snapshot.interval.ms", Long, Some("3600000"), AtLeast(0.0), ReadOnly),
    def("metadata.log.segment.bytes", Int, Some("1073741824"), AtLeast(8388608.0), ReadOnly),
    def("metadata.log.segment.ms", Long, Some("604800000"), Any, ReadOnly),
    def("metadata.max.idle.interval.ms", Int, Some("500"), AtLeast(0.0), ReadOnly),
    def("metadata.max.retention.bytes", Long, Some("104857600"), Any, ReadOnly),
    def("metadata.max.retention.ms", Long, Some("604800000"), Any, ReadOnly),
    def("metric.reporters", List, Some("org.apache.kafka.common.metrics.JmxReporter"), Any, ClusterWide),
    def("metrics.num.samples", Int, Some("2"), AtLeast(1.0), ReadOnly),
    def("metrics.recording.level", Str, Some("INFO"), Any, ReadOnly),
    def("metrics.sample.window.ms", Long, Some("30000"), AtLeast(1.0), ReadOnly),
    def("min.insync.replicas", Int, Some("1"), AtLeast(1.0), ClusterWide),
    def("node.id", Int, None, AtLeast(0.0), ReadOnly),
    def("num.io.threads", Int, Some("8"), AtLeast(1.0), ClusterWide),
    def("num.network.threads", Int, Some("3"), AtLeast(1.0), ClusterWide),
    def("num.partitions", Int, Some("1"), AtLeast(1.0), ReadOnly),
    def("num.recovery.threads.per.data.dir", Int, Some("2"), AtLeast(1.0), ClusterWide),
    def("num.replica.alter.log.dirs.threads", Int, None, Any, ReadOnly),
    def("num.replica.fetchers", Int, Some("1"), Any, ClusterWide),
    def("offset.metadata.max.bytes", Int, Some("4096"), Any, ReadOnly),
    def("offsets.commit.timeout.ms", Int, Some("5000"), AtLeast(1.0), ReadOnly),
    def("offsets.load.buffer.size", Int, Some("5242880"), AtLeast(1.0), ReadOnly),
    def("offsets.retention.check.interval.ms", Long, Some("600000"), AtLeast(1.0), ReadOnly),
    def("offsets.retention.minutes", Int, Some("10080"), AtLeast(1.0), ReadOnly),
    def("offsets.topic.compression.codec", Int, Some("0"), Any, ReadOnly),
    def("offsets.topic.num.partitions", Int, Some("50"), AtLeast(1.0), ReadOnly),
    def("offsets.topic.replication.factor", Short, Some("3"), AtLeast(1.0), ReadOnly),
    def("offsets.topic.segment.bytes", Int, Some("104857600"), AtLeast(1.0), ReadOnly),
    def("principal.builder.class", Class, Some("org.apache.kafka.common.security.authenticator.DefaultKafkaPrincipalBuilder"), Any, PerBroker),
    def("process.roles", List, None, ListOf(&["broker", "controller"]), ReadOnly),
    def("producer.id.expiration.check.interval.ms", Int, Some("600000"), AtLeast(1.0), ReadOnly),
    def("producer.id.expiration.ms", Int, Some("86400000"), AtLeast(1.0), ClusterWide),
    def("producer.purgatory.purge.interval.requests", Int, Some("1000"), Any, ReadOnly),
    def("queued.max.request.bytes", Long, Some("-1"), Any, ReadOnly),
    def("queued.max.requests", Int, Some("500"), AtLeast(1.0), ReadOnly),
    def("quota.window.num", Int, Some("11"), AtLeast(1.0), ReadOnly),
    def("quota.window.size.seconds", Int, Some("1"), AtLeast(1.0), ReadOnly),
    def("remote.fetch.max.wait.ms", Int, Some("500"), AtLeast(1.0), ClusterWide),
    def("remote.list.offsets.request.timeout.ms", Long, Some("30000"), AtLeast(1.0), ClusterWide),
    def("remote.log.index.file.cache.total.size.bytes", Long, Some("1073741824"), AtLeast(1.0), ClusterWide),
    def("remote.log.manager.copier.thread.pool.size", Int, Some("10"), AtLeast(1.0), ClusterWide),
    def("remote.log.manager.copy.max.bytes.per.second", Long, Some("9223372036854775807"), AtLeast(1.0), ClusterWide),
    def("remote.log.manager.copy.quota.window.num", Int, Some("11"), AtLeast(1.0), ReadOnly),
    def("remote.log.manager.copy.quota.window.size.seconds", Int, Some("1"), AtLeast(1.0), ReadOnly),
    def("remote.log.manager.expiration.thread.pool.size", Int, Some("10"), AtLeast(1.0), ClusterWide),
    def("remote.log.manager.fetch.max.bytes.per.second", Long, Some("9223372036854775807"), AtLeast(1.0), ClusterWide),
    def("remote.log.manager.fetch.quota.window.num", Int, Some("11"), AtLeast(1.0), ReadOnly),
    def("remote.log.manager.fetch.quota.window.size.seconds", Int, Some("1"), AtLeast(1.0), ReadOnly),
    def("remote.log.manager.task.interval.ms", Long, Some("30000"), AtLeast(1.0), ReadOnly),
    def("remote.log.manager.thread.pool.size", Int, Some("2"), AtLeast(1.0), ReadOnly),
    def("remote.log.metadata.custom.metadata.max.bytes", Int, Some("128"), AtLeast(0.0), ReadOnly),
    def("remote.log.metadata.manager.class.name", Str, Some("org.apache.kafka.server.log.remote.metadata.storage.TopicBasedRemoteLogMetadataManager"), NonEmpty, ReadOnly),
    def("remote.log.metadata.manager.class.path", Str, None, Any, ReadOnly),
    def("remote.log.metadata.manager.impl.prefix", Str, Some("rlmm.config."), NonEmpty, ReadOnly),
    def("remote.log.metadata.manager.listener.name", Str, None, NonEmpty, ReadOnly),
    def("remote.log.reader.max.pending.tasks", Int, Some("100"), AtLeast(1.0), ReadOnly),
    def("remote.log.reader.threads", Int, Some("10"), AtLeast(1.0), ClusterWide),
    def("remote.log.storage.manager.class.name", Str, None, NonEmpty, ReadOnly),
    def("remote.log.storage.manager.class.path", Str, None, Any, ReadOnly),
    def("remote.log.storage.manager.impl.prefix", Str, Some("rsm.config."), NonEmpty, ReadOnly),
    def("remote.log.storage.system.enable", Boolean, Some("false"), Any, ReadOnly),
    def("replica.fetch.backoff.ms", Int, Some("1000"), AtLeast(0.0), ReadOnly),
    def("replica.fetch.max.bytes", Int, Some("1048576"), AtLeast(0.0), ReadOnly),
    def("replica.fetch.min.bytes", Int, Some("1"), Any, ReadOnly),
    def("replica.fetch.response.max.bytes", Int, Some("10485760"), AtLeast(0.0), ReadOnly),
    def("replica.fetch.wait.max.ms", Int, Some("500"), Any, ReadOnly),
    def("replica.high.watermark.checkpoint.interval.ms", Long, Some("5000"), Any, ReadOnly),
    def("replica.lag.time.max.ms", Long, Some("30000"), Any, ReadOnly),
    def("replica.selector.class", Str, None, Any, ReadOnly),
    def("replica.socket.receive.buffer.bytes", Int, Some("65536"), Any, ReadOnly),
    def("replica.socket.timeout.ms", Int, Some("30000"), Any, ReadOnly),
    def("replication.quota.window.num", Int, Some("11"), AtLeast(1.0), ReadOnly),
    def("replication.quota.window.size.seconds", Int, Some("1"), AtLeast(1.0), ReadOnly),
    def("request.timeout.ms", Int, Some("30000"), Any, ReadOnly),
    def("sasl.client.callback.handler.class", Class, None, Any, ReadOnly),
    def("sasl.enabled.mechanisms", List, Some("GSSAPI"), Any, PerBroker),
    def("sasl.jaas.config", Password, None, Any, PerBroker),
    def("sasl.kerberos.kinit.cmd", Str, Some("/usr/bin/kinit"), Any, PerBroker),
    def("sasl.kerberos.min.time.before.relogin", Long, Some("60000"), Any, PerBroker),
    def("sasl.kerberos.principal.to.local.rules", List, Some("DEFAULT"), Any, PerBroker),
    def("sasl.kerberos.service.name", Str, None, Any, PerBroker),
    def("sasl.kerberos.ticket.renew.jitter", Double, Some("0.05"), Any, PerBroker),
    def("sasl.kerberos.ticket.renew.window.factor", Double, Some("0.8"), Any, PerBroker),
    def("sasl.login.callback.handler.class", Class, None, Any, ReadOnly),
    def("sasl.login.class", Class, None, Any, ReadOnly),
    def("sasl.login.connect.timeout.ms", Int, None, Any, ReadOnly),
    def("sasl.login.read.timeout.ms", Int, None, Any, ReadOnly),
    def("sasl.login.refresh.buffer.seconds", Short, Some("300"), Any, PerBroker),
    def("sasl.login.refresh.min.period.seconds", Short, Some("60"), Any, PerBroker),
    def("sasl.login.refresh.window.factor", Double, Some("0.8"), Any, PerBroker),
    def("sasl.login.refresh.window.jitter", Double, Some("0.05"), Any, PerBroker),
    def("sasl.login.retry.backoff.max.ms", Long, Some("10000"), Any, ReadOnly),
    def("sasl.login.retry.backoff.ms", Long, Some("100"), Any, ReadOnly),
    def("sasl.mechanism.controller.protocol", Str, Some("GSSAPI"), Any, ReadOnly),
    def("sasl.mechanism.inter.broker.protocol", Str, Some("GSSAPI"), Any, PerBroker),
    def("sasl.oauthbearer.assertion.algorithm", Str, Some("RS256"), OneOfIgnoreCase(&["ES256", "RS256"]), ReadOnly),
    def("sasl.oauthbearer.assertion.claim.aud", Str, None, Any, ReadOnly),
    def("sasl.oauthbearer.assertion.claim.exp.seconds", Int, Some("300"), Between(0.0, 86400.0), ReadOnly),
    def("sasl.oauthbearer.assertion.claim.iss", Str, None, Any, ReadOnly),
    def("sasl.oauthbearer.assertion.claim.jti.include", Boolean, Some("false"), Any, ReadOnly),
    def("sasl.oauthbearer.assertion.claim.nbf.seconds", Int, Some("60"), Between(0.0, 3600.0), ReadOnly),
    def("sasl.oauthbearer.assertion.claim.sub", Str, None, Any, ReadOnly),
    def("sasl.oauthbearer.assertion.file", Str, None, Any, ReadOnly),
    def("sasl.oauthbearer.assertion.private.key.file", Str, None, Any, ReadOnly),
    def("sasl.oauthbearer.assertion.private.key.passphrase", Password, None, Any, ReadOnly),
    def("sasl.oauthbearer.assertion.template.file", Str, None, Any, ReadOnly),
    def("sasl.oauthbearer.client.credentials.client.id", Str, None, Any, ReadOnly),
    def("sasl.oauthbearer.client.credentials.client.secret", Password, None, Any, ReadOnly),
    def("sasl.oauthbearer.clock.skew.seconds", Int, Some("30"), Any, ReadOnly),
    def("sasl.oauthbearer.expected.audience", List, None, Any, ReadOnly),
    def("sasl.oauthbearer.expected.issuer", Str, None, Any, ReadOnly),
    def("sasl.oauthbearer.jwks.endpoint.refresh.ms", Long, Some("3600000"), Any, ReadOnly),
    def("sasl.oauthbearer.jwks.endpoint.retry.backoff.max.ms", Long, Some("10000"), Any, ReadOnly),
    def("sasl.oauthbearer.jwks.endpoint.retry.backoff.ms", Long, Some("100"), Any, ReadOnly),
    def("sasl.oauthbearer.jwks.endpoint.url", Str, None, Any, ReadOnly),
    def("sasl.oauthbearer.jwt.retriever.class", Class, Some("org.apache.kafka.common.security.oauthbearer.DefaultJwtRetriever"), Any, ReadOnly),
    def("sasl.oauthbearer.jwt.validator.class", Class, Some("org.apache.kafka.common.security.oauthbearer.DefaultJwtValidator"), Any, ReadOnly),
    def("sasl.oauthbearer.scope", Str, None, Any, ReadOnly),
    def("sasl.oauthbearer.scope.claim.name", Str, Some("scope"), Any, ReadOnly),
    def("sasl.oauthbearer.sub.claim.name", Str, Some("sub"), Any, ReadOnly),
    def("sasl.oauthbearer.token.endpoint.url", Str, None, Any, ReadOnly),
    def("sasl.server.callback.handler.class", Class, None, Any, ReadOnly),
    def("sasl.server.max.receive.size", Int, Some("524288"), Any, ReadOnly),
    def("security.inter.broker.protocol", Str, Some("PLAINTEXT"), OneOf(&["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]), ReadOnly),
    def("security.providers", Str, None, Any, ReadOnly),
    def("share.coordinator.append.linger.ms", Int, Some("5"), AtLeast(0.0), ReadOnly),
    def("share.coordinator.load.buffer.size", Int, Some("5242880"), AtLeast(1.0), ReadOnly),
    def("share.coordinator.snapshot.update.records.per.snapshot", Int, Some("500"), AtLeast(0.0), ReadOnly),
    def("share.coordinator.state.topic.compression.codec", Int, Some("0"), Any, ReadOnly),
    def("share.coordinator.state.topic.min.isr", Short, Some("2"), AtLeast(1.0), ReadOnly),
    def("share.coordinator.state.topic.num.partitions", Int, Some("50"), AtLeast(1.0), ReadOnly),
    def("share.coordinator.state.topic.replication.factor", Short, Some("3"), AtLeast(1.0), ReadOnly),
    def("share.coordinator.state.topic.segment.bytes", Int, Some("104857600"), AtLeast(1.0), ReadOnly),
    def("share.coordinator.threads", Int, Some("1"), AtLeast(1.0), ReadOnly),
    def("share.coordinator.write.timeout.ms", Int, Some("5000"), AtLeast(1.0), ReadOnly),
    def("share.fetch.purgatory.purge.interval.requests", Int, Some("1000"), Any, ReadOnly),
    def("socket.connection.setup.timeout.max.ms", Long, Some("30000"), Any, ReadOnly),
    def("socket.connection.setup.timeout.ms", Long, Some("10000"), Any, ReadOnly),
    def("socket.listen.backlog.size", Int, Some("50"), AtLeast(1.0), ReadOnly),
    def("socket.receive.buffer.bytes", Int, Some("102400"), Any, ReadOnly),
    def("socket.request.max.bytes", Int, Some("104857600"), AtLeast(1.0), ReadOnly),
    def("socket.send.buffer.bytes", Int, Some("102400"), Any, ReadOnly),
    def("ssl.allow.dn.changes", Boolean, Some("false"), Any, ReadOnly),
    def("ssl.allow.san.changes", Boolean, Some("false"), Any, ReadOnly),
    def("ssl.cipher.suites", List, Some(""), Any, PerBroker),
    def("ssl.client.auth", Str, Some("none"), OneOf(&["required", "requested", "none"]), PerBroker),
    def("ssl.enabled.protocols", List, Some("TLSv1.2,TLSv1.3"), Any, PerBroker),
    def("ssl.endpoint.identification.algorithm", Str, Some("https"), Any, PerBroker),
    def("ssl.engine.factory.class", Class, None, Any, PerBroker),
    def("ssl.key.password", Password, None, Any, PerBroker),
    def("ssl.keymanager.algorithm", Str, Some("SunX509"), Any, PerBroker),
    def("ssl.keystore.certificate.chain", Password, None, Any, PerBroker),
    def("ssl.keystore.key", Password, None, Any, PerBroker),
    def("ssl.keystore.location", Str, None, Any, PerBroker),
    def("ssl.keystore.password", Password, None, Any, PerBroker),
    def("ssl.keystore.type", Str, Some("JKS"), Any, PerBroker),
    def("ssl.principal.mapping.rules", Str, Some("DEFAULT"), Any, ReadOnly),
    def("ssl.protocol", Str, Some("TLSv1.3"), Any, PerBroker),
    def("ssl.provider", Str, None, Any, PerBroker),
    def("ssl.secure.random.implementation", Str, None, Any, PerBroker),
    def("ssl.trustmanager.algorithm", Str, Some("PKIX"), Any, PerBroker),
    def("ssl.truststore.certificates", Password, None, Any, PerBroker),
    def("ssl.truststore.location", Str, None, Any, PerBroker),
    def("ssl.truststore.password", Password, None, Any, PerBroker),
    def("ssl.truststore.type", Str, Some("JKS"), Any, PerBroker),
    def("telemetry.max.bytes", Int, Some("1048576"), AtLeast(1.0), ReadOnly),
    def("transaction.abort.timed.out.transaction.cleanup.interval.ms", Int, Some("10000"), AtLeast(1.0), ReadOnly),
    def("transaction.max.timeout.ms", Int, Some("900000"), AtLeast(1.0), ReadOnly),
    def("transaction.partition.verification.enable", Boolean, Some("true"), Any, ClusterWide),
    def("transaction.remove.expired.transaction.cleanup.interval.ms", Int, Some("3600000"), AtLeast(1.0), ReadOnly),
    def("transaction.state.log.load.buffer.size", Int, Some("5242880"), AtLeast(1.0), ReadOnly),
    def("transaction.state.log.min.isr", Int, Some("2"), AtLeast(1.0), ReadOnly),
    def("transaction.state.log.num.partitions", Int, Some("50"), AtLeast(1.0), ReadOnly),
    def("transaction.state.log.replication.factor", Short, Some("3"), AtLeast(1.0), ReadOnly),
    def("transaction.state.log.segment.bytes", Int, Some("104857600"), AtLeast(1.0), ReadOnly),
    def("transaction.two.phase.commit.enable", Boolean, Some("false"), Any, ReadOnly),
    def("transactional.id.expiration.ms", Int, Some("604800000"), AtLeast(1.0), ReadOnly),
    def("unclean.leader.election.enable", Boolean, Some("false"), Any, ClusterWide),
];

/// The broker configs gregor acts on, with what each does in gregor.
#[rustfmt::skip]
const HONOURED: &[(&str, &str)] = &[
    ("admin.fault.plane.enable", "gregor's own: whether the admin listener serves the fault plane (/faults, /faults/disk, partition pause); on in --dev mode."),
    ("admin.listener", "gregor's own: host:port of the HTTP endpoint serving /metrics and /health; off when unset."),
    ("admin.listener.token", "gregor's own: when set, every admin endpoint but /metrics and /health needs Authorization: Bearer <token>."),
    ("advertised.listeners", "What Metadata gives the clients of each listener; the listener's own address when unset."),
    ("auto.create.topics.enable", "Whether Metadata for an unknown topic creates it with the broker's defaults (Produce never does)."),
    ("broker.heartbeat.interval.ms", "How often a broker tells the active controller it is alive."),
    ("broker.id", "Accepted as a synonym of node.id."),
    ("broker.rack", "The broker's rack, shown in Metadata and DescribeCluster."),
    ("broker.session.timeout.ms", "How long the active controller waits for a heartbeat before fencing a broker and moving its leaderships."),
    ("connections.max.idle.ms", "A connection that sends and receives nothing for this long is closed, a half-sent request included; -1 never closes one."),
    ("default.replication.factor", "Replication factor of auto-created topics and of CreateTopics asking for -1."),
    ("delete.topic.enable", "Whether DeleteTopics may delete topics."),
    ("fetch.max.bytes", "The most one Fetch response carries across all its partitions, whatever the request asks (only the first batch may exceed it)."),
    ("group.consumer.assignors", "Server-side assignors of KIP-848 consumer groups (uniform, range); the first is the default."),
    ("group.consumer.heartbeat.interval.ms", "How often KIP-848 consumer group members are told to heartbeat."),
    ("group.consumer.max.heartbeat.interval.ms", "Upper bound of group.consumer.heartbeat.interval.ms."),
    ("group.consumer.max.session.timeout.ms", "Upper bound of group.consumer.session.timeout.ms."),
    ("group.consumer.max.size", "Largest number of members of a KIP-848 consumer group."),
    ("group.consumer.migration.policy", "Whether a classic group with members becomes a consumer group when a KIP-848 member joins (upgrade), and back when its last KIP-848 member leaves (downgrade)."),
    ("group.consumer.min.heartbeat.interval.ms", "Lower bound of group.consumer.heartbeat.interval.ms."),
    ("group.consumer.min.session.timeout.ms", "Lower bound of group.consumer.session.timeout.ms."),
    ("group.consumer.session.timeout.ms", "A KIP-848 consumer group member that does not heartbeat for this long is removed and its partitions reassigned."),
    ("group.initial.rebalance.delay.ms", "How long a new classic group waits for more members before its first rebalance."),
    ("group.max.session.timeout.ms", "Largest session timeout a group member may ask for."),
    ("group.max.size", "Largest number of members of a classic group."),
    ("group.min.session.timeout.ms", "Smallest session timeout a group member may ask for."),
    ("inter.broker.listener.name", "The listener brokers reach each other on (PLAINTEXT only in a cluster, yet)."),
    ("listener.security.protocol.map", "Each listener's protocol: PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL."),
    ("listeners", "Where the broker listens: every listener but the controller's serves clients."),
    ("log.cleaner.backoff.ms", "Pause between compaction passes over the compacted partitions."),
    ("log.cleaner.dedupe.buffer.size", "Memory of a compaction pass's key to offset map; a pass cleans as far as the map holds, the next one goes on."),
    ("log.cleaner.delete.retention.ms", "Default of delete.retention.ms: how long tombstones survive compaction."),
    ("log.cleaner.enable", "Whether compacted topics are compacted at all."),
    ("log.cleaner.max.compaction.lag.ms", "Default of max.compaction.lag.ms."),
    ("log.cleaner.min.cleanable.ratio", "Default of min.cleanable.dirty.ratio."),
    ("log.cleaner.min.compaction.lag.ms", "Default of min.compaction.lag.ms."),
    ("log.cleanup.policy", "Default of cleanup.policy: delete old segments, compact by key, or both."),
    ("log.dir", "Accepted as a synonym of log.dirs."),
    ("log.dirs", "Where partitions are stored: new ones go to the directory holding fewest; a failed one goes offline alone."),
    ("log.flush.interval.messages", "Default of flush.messages: appends between forced flushes."),
    ("log.flush.interval.ms", "Default of flush.ms: time between forced flushes."),
    ("log.flush.scheduler.interval.ms", "How often the broker checks for logs due a time-based flush."),
    ("log.index.interval.bytes", "Default of index.interval.bytes: bytes between offset index entries."),
    ("log.message.timestamp.type", "Default of message.timestamp.type: CreateTime or LogAppendTime."),
    ("log.retention.bytes", "Default of retention.bytes: size a partition keeps before old segments go."),
    ("log.retention.check.interval.ms", "How often retention deletes old segments."),
    ("log.retention.hours", "Default of retention.ms, in hours (log.retention.minutes and .ms win)."),
    ("log.retention.minutes", "Default of retention.ms, in minutes (log.retention.ms wins)."),
    ("log.retention.ms", "Default of retention.ms: age at which segments are deleted."),
    ("log.roll.hours", "Default of segment.ms, in hours (log.roll.ms wins)."),
    ("log.roll.ms", "Default of segment.ms: age at which a new segment is rolled."),
    ("log.segment.bytes", "Default of segment.bytes: size at which a new segment is rolled."),
    ("max.connections", "Connections the broker holds at once; past it, new ones wait in the listen backlog until one closes."),
    ("max.connections.per.ip", "Connections one address may hold; past it, a new one is closed at once."),
    ("max.connections.per.ip.overrides", "Per-address (or host name) exceptions to max.connections.per.ip, as host:count,host:count."),
    ("max.incremental.fetch.session.cache.slots", "How many incremental fetch sessions (KIP-227) the broker keeps; when full, a stale or smaller session is evicted as Kafka does."),
    ("message.max.bytes", "Default of max.message.bytes: largest record batch a topic accepts."),
    ("min.insync.replicas", "Default of min.insync.replicas for acks=all writes."),
    ("node.id", "This broker's id."),
    ("num.partitions", "Partition count of auto-created topics and of CreateTopics asking for -1."),
    ("offset.metadata.max.bytes", "Largest metadata string an offset commit may carry."),
    ("offsets.retention.check.interval.ms", "How often expired committed offsets are removed."),
    ("offsets.retention.minutes", "How long committed offsets of an empty group are kept."),
    ("offsets.topic.num.partitions", "Partition count of __consumer_offsets."),
    ("offsets.topic.replication.factor", "Replication factor of __consumer_offsets (capped at the live brokers when it is created)."),
    ("offsets.topic.segment.bytes", "Segment size of __consumer_offsets."),
    ("producer.id.expiration.check.interval.ms", "How often idle producers' state is expired."),
    ("producer.id.expiration.ms", "How long an idle producer's deduplication state is kept."),
    ("queued.max.request.bytes", "Request bytes all connections may hold at once before no more are read; -1 is unbounded."),
    ("replica.fetch.backoff.ms", "Pause of a follower's fetcher after a failed fetch."),
    ("replica.fetch.max.bytes", "Bytes a follower fetches per partition per request."),
    ("replica.fetch.response.max.bytes", "Bytes a follower fetches per request."),
    ("replica.fetch.wait.max.ms", "How long a follower's fetch waits at the leader for new data."),
    ("replica.lag.time.max.ms", "A follower that has not caught up with the leader for this long leaves the ISR."),
    ("socket.request.max.bytes", "Largest request the broker reads; larger ones close the connection."),
    ("transaction.abort.timed.out.transaction.cleanup.interval.ms", "How often open transactions past their timeout are aborted."),
    ("transaction.max.timeout.ms", "Largest transaction.timeout.ms a transactional producer may ask for."),
    ("transaction.remove.expired.transaction.cleanup.interval.ms", "How often idle transactional ids are expired."),
    ("transaction.state.log.num.partitions", "Partition count of __transaction_state."),
    ("transaction.state.log.replication.factor", "Replication factor of __transaction_state (capped at the live brokers when it is created)."),
    ("transaction.state.log.segment.bytes", "Segment size of __transaction_state."),
    ("transactional.id.expiration.ms", "How long an idle transactional id is kept."),
    ("unclean.leader.election.enable", "Whether a replica outside the ISR may become leader when no in-sync one is left (topics may override it)."),
];

fn honoured_doc(name: &str) -> Option<&'static str> {
    HONOURED
        .iter()
        .find(|(honoured, _)| *honoured == name)
        .map(|(_, doc)| *doc)
}

/// Broker configs Kafka defines outside its broker config table: the
/// dynamic-only replication quotas (`DynamicConfig.Broker`), all longs,
/// none secret, reported when set.
const DYNAMIC_ONLY: &[(&str, &str)] = &[
    (
        "follower.replication.throttled.rate",
        "Bytes per second followers of this broker may fetch for throttled replicas.",
    ),
    (
        "leader.replication.throttled.rate",
        "Bytes per second this broker may send to followers of throttled replicas.",
    ),
    (
        "replica.alter.log.dirs.io.max.bytes.per.second",
        "Bytes per second a replica move between log dirs may copy.",
    ),
];

/// The documentation of a dynamic-only broker config ([`DYNAMIC_ONLY`]).
pub fn dynamic_only(name: &str) -> Option<&'static str> {
    DYNAMIC_ONLY
        .iter()
        .find(|(known, _)| *known == name)
        .map(|(_, doc)| *doc)
}

pub fn broker_config(name: &str) -> Option<&'static BrokerConfigDef> {
    BROKER_CONFIGS
        .binary_search_by(|def| def.name.cmp(name))
        .ok()
        .map(|index| &BROKER_CONFIGS[index])
}

/// The names one broker setting may be given by, most specific first, as
/// Kafka resolves them (`log.retention.ms` over `.minutes` over `.hours`;
/// `log.flush.interval.ms` falls back to the flush scheduler's interval).
pub fn synonyms(name: &str) -> &'static [&'static str] {
    const RETENTION: &[&str] = &[
        "log.retention.ms",
        "log.retention.minutes",
        "log.retention.hours",
    ];
    const ROLL: &[&str] = &["log.roll.ms", "log.roll.hours"];
    const JITTER: &[&str] = &["log.roll.jitter.ms", "log.roll.jitter.hours"];
    const FLUSH: &[&str] = &["log.flush.interval.ms", "log.flush.scheduler.interval.ms"];
    match name {
        "log.retention.ms" | "log.retention.minutes" | "log.retention.hours" => RETENTION,
        "log.roll.ms" | "log.roll.hours" => ROLL,
        "log.roll.jitter.ms" | "log.roll.jitter.hours" => JITTER,
        "log.flush.interval.ms" => FLUSH,
        _ => match broker_config(name) {
            Some(def) => std::slice::from_ref(&def.name),
            None => &[],
        },
    }
}

/// Kafka's SSL settings that may change at run time only per listener
/// (`listener.name.<listener>.ssl.…`), never by their base name.
pub const LISTENER_ONLY: &[&str] = &[
    "ssl.key.password",
    "ssl.keystore.certificate.chain",
    "ssl.keystore.key",
    "ssl.keystore.location",
    "ssl.keystore.password",
    "ssl.keystore.type",
    "ssl.truststore.certificates",
    "ssl.truststore.location",
    "ssl.truststore.password",
    "ssl.truststore.type",
];

/// Checks a value against the config's type and validator; the reason is
/// worded as Kafka words it.
pub fn check_value(def: &BrokerConfigDef, value: &str) -> Result<(), String> {
    let trimmed = value.trim();
    let number = match def.kind {
        Boolean => {
            return match trimmed.to_ascii_lowercase().as_str() {
                "true" | "false" => Ok(()),
                _ => Err("Expected value to be either true or false".to_string()),
            }
        }
        Int => trimmed.parse::<i32>().map(f64::from).ok(),
        Short => trimmed.parse::<i16>().map(f64::from).ok(),
        Long => trimmed.parse::<i64>().map(|n| n as f64).ok(),
        Double => trimmed.parse::<f64>().ok(),
        Str | List | Class | Password => None,
    };
    if matches!(def.kind, Int | Short | Long | Double) && number.is_none() {
        let type_name = match def.kind {
            Int => "INT",
            Short => "SHORT",
            Long => "LONG",
            _ => "DOUBLE",
        };
        return Err(format!("Not a number of type {type_name}"));
    }
    let at_least = |minimum: f64| format!("Value must be at least {minimum}");
    let at_most = |maximum: f64| format!("Value must be no more than {maximum}");
    match (def.validator, number) {
        (AtLeast(minimum), Some(n)) if n < minimum => Err(at_least(minimum)),
        (Between(minimum, _), Some(n)) if n < minimum => Err(at_least(minimum)),
        (Between(_, maximum), Some(n)) if n > maximum => Err(at_most(maximum)),
        (BetweenOrMinusOne(minimum, maximum), Some(n))
            if n != -1.0 && !(minimum..=maximum).contains(&n) =>
        {
            Err(format!(
                "Value must be between {minimum} and {maximum}, or -1"
            ))
        }
        (OneOf(allowed), _) if !allowed.contains(&trimmed) => {
            Err(format!("String must be one of: {}", allowed.join(", ")))
        }
        (OneOfIgnoreCase(allowed), _)
            if !allowed.iter().any(|a| a.eq_ignore_ascii_case(trimmed)) =>
        {
            Err(format!(
                "String must be one of (case insensitive): {}",
                allowed.join(", ")
            ))
        }
        (ListOf(allowed), _) => match trimmed
            .split(',')
            .map(str::trim)
            .find(|entry| !allowed.contains(entry))
        {
            Some(bad) => Err(format!(
                "Invalid value {bad}: each entry must be one of {}",
                allowed.join(", ")
            )),
            None => Ok(()),
        },
        (NonEmpty, _) if trimmed.is_empty() => Err("String must be non-empty".to_string()),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_sorted_unique_and_typed_defaults_validate() {
        for pair in BROKER_CONFIGS.windows(2) {
            assert!(
                pair[0].name < pair[1].name,
                "{} / {}",
                pair[0].name,
                pair[1].name
            );
        }
        assert!(BROKER_CONFIGS.len() > 300);
        for def in BROKER_CONFIGS {
            if let Some(default) = def.default {
                if !default.is_empty() && def.validator != NonEmpty {
                    assert_eq!(check_value(def, default), Ok(()), "{}", def.name);
                }
            }
        }
    }

    #[test]
    fn every_honoured_config_is_in_the_table() {
        for (name, _) in HONOURED {
            assert!(broker_config(name).is_some(), "{name}");
        }
        let ssl = broker_config("ssl.keystore.password").unwrap();
        assert!(ssl.is_sensitive() && !ssl.is_honoured());
        assert_eq!(ssl.mode, PerBroker);
        assert_eq!(broker_config("log.dirs").unwrap().mode, ReadOnly);
        assert_eq!(broker_config("log.retention.ms").unwrap().mode, ClusterWide);
        assert_eq!(broker_config("log.retention.hours").unwrap().mode, ReadOnly);
        for name in LISTENER_ONLY {
            assert_eq!(broker_config(name).unwrap().mode, PerBroker, "{name}");
        }
    }

    #[test]
    fn values_are_checked_by_type_range_and_allowed_values() {
        let check = |name: &str, value: &str| check_value(broker_config(name).unwrap(), value);
        assert_eq!(check("log.retention.ms", "3600000"), Ok(()));
        assert_eq!(
            check("log.retention.ms", "soon"),
            Err("Not a number of type LONG".to_string())
        );
        assert!(
            check("message.max.bytes", "9999999999").is_err(),
            "not an int"
        );
        assert_eq!(
            check("log.segment.bytes", "1000"),
            Err("Value must be at least 1048576".to_string())
        );
        assert!(check("log.cleaner.min.cleanable.ratio", "1.5").is_err());
        assert_eq!(check("log.cleaner.min.cleanable.ratio", "0.25"), Ok(()));
        assert!(check("log.message.timestamp.type", "WallClock").is_err());
        assert_eq!(check("log.cleanup.policy", "compact,delete"), Ok(()));
        assert!(check("log.cleanup.policy", "compact,shred").is_err());
        assert!(check("unclean.leader.election.enable", "maybe").is_err());
        assert_eq!(check("compression.gzip.level", "-1"), Ok(()));
        assert!(check("compression.gzip.level", "0").is_err());
        assert_eq!(check("group.consumer.migration.policy", "upgrade"), Ok(()));
    }

    #[test]
    fn retention_and_roll_settings_have_kafkas_synonyms() {
        assert_eq!(
            synonyms("log.retention.hours"),
            [
                "log.retention.ms",
                "log.retention.minutes",
                "log.retention.hours"
            ]
        );
        assert_eq!(synonyms("log.roll.ms"), ["log.roll.ms", "log.roll.hours"]);
        assert_eq!(synonyms("num.io.threads"), ["num.io.threads"]);
        assert!(synonyms("no.such.config").is_empty());
    }
}
