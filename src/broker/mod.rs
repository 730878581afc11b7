//! One broker: its config, the controller's metadata, the logs and the
//! partitions built from them; handlers reach every subsystem from here.
//! How the hosted partitions follow the metadata is `metadata_publisher`,
//! the periodic work that keeps them (retention, flushes, expiries) is
//! `maintenance`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use thiserror::Error;
use tracing::{info, warn};

use tokio_util::sync::CancellationToken;

use crate::config::dynamic::{self, BrokerConfigError, BrokerConfigLayers, Scope};
use crate::config::{BrokerConfig, ConfigError, LogConfig};
use crate::controller::quorum::QuorumMembers;
use crate::controller::{Controller, ControllerError, NewTopic};
use crate::group::{GroupCoordinator, OFFSETS_TOPIC};
use crate::log::{LogError, LogManager};
use crate::metadata::{BrokerImage, Endpoint, MetadataImage, TopicImage};
use crate::partition::{Partition, Partitions};
use crate::txn::producer_ids::ProducerIds;
use crate::txn::{TransactionCoordinator, TRANSACTION_STATE_TOPIC};
use crate::types::TopicPartition;

mod listener_tls;
mod maintenance;
mod metadata_publisher;
pub mod replica_moves;

#[derive(Debug, Error)]
pub enum BrokerError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Controller(#[from] ControllerError),
    #[error(transparent)]
    Log(#[from] LogError),
    #[error(transparent)]
    Tls(#[from] crate::auth::tls::TlsError),
}

/// How long a stopping broker tries to move its leaderships away.
const CONTROLLED_SHUTDOWN_WAIT: Duration = Duration::from_secs(5);

/// One log dir as DescribeLogDirs reports it.
pub struct LogDirUsage {
    pub path: std::path::PathBuf,
    /// Why the dir is offline, if it is.
    pub failure: Option<String>,
    pub replicas: Vec<ReplicaUsage>,
}

/// One replica in a log dir, as DescribeLogDirs reports it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ReplicaUsage {
    pub partition: TopicPartition,
    /// A future replica: the copy of a replica moving into this dir.
    pub is_future: bool,
    pub size: u64,
    /// Kafka's figure: for a future replica, how far its log end is behind
    /// the current one's; for a current one, how far behind the high
    /// watermark its log end is.
    pub offset_lag: i64,
}

pub struct Broker {
    config: BrokerConfig,
    controller: Arc<Controller>,
    logs: LogManager,
    partitions: Arc<Partitions>,
    groups: Arc<GroupCoordinator>,
    txn: TransactionCoordinator,
    /// Cancelled when the broker starts shutting down, so that parked
    /// requests (fetch long polls) answer at once instead of holding it up.
    shutting_down: CancellationToken,
    producer_ids: Arc<ProducerIds>,
    /// Held while a topic is created: the controller publishes the topic
    /// before its partitions are open, and internal users (the group and
    /// transaction coordinators) must not see it in between.
    topic_creation: tokio::sync::Mutex<()>,
    metrics: crate::metrics::Metrics,
    faults: crate::server::faults::Faults,
    journal: crate::server::journal::Journal,
    /// The client-behaviour linter (on with the admin listener or `--dev`).
    linter: crate::server::lint::Linter,
    /// Serialises reconciliations with the metadata image.
    reconciling: std::sync::Mutex<()>,
    /// Set when this broker took over `__transaction_state` partitions.
    txn_recovery_due: std::sync::atomic::AtomicBool,
    /// The fetchers that keep this broker's follower replicas in step.
    replication: crate::replication::ReplicaFetchers,
    /// Decides what each principal may do (`authorizer.class.name`).
    authorizer: crate::auth::authorizer::Authorizer,
    /// Incremental fetch sessions (KIP-227).
    fetch_sessions: crate::server::fetch_session::FetchSessionCache,
    /// Client quota meters (the quotas themselves are in the metadata).
    quotas: crate::server::quotas::QuotaManagers,
    /// The leader's side of the replication throttles.
    leader_throttle: crate::quota::replication::ReplicationQuota,
    /// Replicas moving between log dirs (AlterReplicaLogDirs).
    replica_moves: replica_moves::ReplicaMoves,
    /// The TLS listeners' acceptors, reloaded by dynamic configs.
    listener_tls: listener_tls::ListenerTls,
}

impl Broker {
    /// Opens the data directory, recovers every log and builds the
    /// partitions the metadata says this broker leads.
    /// `endpoints`: each client listener's advertised address.
    pub fn open(
        config: BrokerConfig,
        endpoints: Vec<Endpoint>,
    ) -> Result<Arc<Broker>, BrokerError> {
        let logs = LogManager::open(&config.log_dirs)?;
        // Followers fetch from the inter-broker listener.
        let inter_broker = endpoints
            .iter()
            .find(|e| e.listener == config.security.inter_broker_listener_name)
            .or(endpoints.first())
            .map_or(("localhost".to_string(), 9092), |e| {
                (e.host.clone(), e.port)
            });
        let me = BrokerImage {
            node_id: config.node_id,
            host: inter_broker.0,
            port: inter_broker.1,
            rack: config.replication.rack.clone(),
            endpoints,
        };
        // Opening runs on a blocking thread of the broker's runtime; the
        // controller waits there for the metadata quorum.
        let runtime = tokio::runtime::Handle::try_current().map_err(|error| {
            LogError::Io(std::io::Error::other(format!("no async runtime: {error}")))
        })?;
        let members = QuorumMembers {
            voters: config
                .controller_quorum_voters
                .iter()
                .map(|v| (v.node_id as u64, v.address()))
                .collect(),
            bootstrap: config.controller_quorum_bootstrap_servers.clone(),
            bind: config.controller_listener().map(|l| l.bind_address()),
            observer: !config.is_controller(),
            address: config.controller_listener().map(|listener| {
                let advertised = config.advertised(listener);
                let host = match advertised.host.as_str() {
                    "" | "0.0.0.0" | "::" => "localhost",
                    host => host,
                };
                format!("{host}:{}", advertised.port)
            }),
            // Read from meta.properties when the controller opens.
            directory_id: uuid::Uuid::nil(),
            security: crate::controller::quorum::QuorumSecurity::from_config(&config)?,
        };
        let config_node_id = config.node_id;
        let replication_config = config.replication.clone();
        let runtime_handle = runtime.clone();
        let controller = Arc::new(Controller::open(
            config.data_dir(),
            me,
            config.log.clone(),
            &members,
            runtime,
        )?);
        let follower_throttle = {
            let controller = Arc::clone(&controller);
            crate::replication::throttle::FollowerThrottle::new(
                config_node_id,
                config.quota.replication_window_num,
                config.quota.replication_window_size_seconds,
                Box::new(move || (controller.image(), controller.broker_configs())),
            )
        };
        let partitions = Arc::new(Partitions::default());
        let groups = Arc::new(GroupCoordinator::new(
            config.group.clone(),
            Arc::clone(&partitions),
        ));
        let producer_ids = Arc::new(ProducerIds::new(Arc::clone(&controller)));
        let txn = TransactionCoordinator::new(
            config.txn.clone(),
            Arc::clone(&partitions),
            Arc::clone(&groups),
            Arc::clone(&producer_ids),
            Arc::clone(&controller),
        );
        let authorizer =
            crate::auth::authorizer::Authorizer::new(config.security.authorizer.clone());
        let fetch_sessions = crate::server::fetch_session::FetchSessionCache::new(
            config.max_incremental_fetch_session_cache_slots,
        );
        let quotas = crate::server::quotas::QuotaManagers::new(config.quota);
        let leader_throttle = crate::quota::replication::ReplicationQuota::new(
            crate::quota::replication::Side::Leader,
            config.quota.replication_window_num,
            config.quota.replication_window_size_seconds,
        );
        let broker = Arc::new(Broker {
            authorizer,
            fetch_sessions,
            quotas,
            leader_throttle,
            config,
            controller,
            logs,
            partitions,
            groups,
            txn,
            shutting_down: CancellationToken::new(),
            producer_ids,
            topic_creation: tokio::sync::Mutex::new(()),
            metrics: crate::metrics::Metrics::default(),
            faults: Default::default(),
            journal: Default::default(),
            linter: Default::default(),
            reconciling: Default::default(),
            replica_moves: Default::default(),
            listener_tls: Default::default(),
            txn_recovery_due: Default::default(),
            replication: crate::replication::ReplicaFetchers::new(
                config_node_id,
                replication_config,
                follower_throttle,
                runtime_handle,
            ),
        });
        broker.remove_stray_logs()?;
        broker.reconcile()?;
        broker.resume_replica_moves();
        let image = broker.controller.image();
        info!(partitions = broker.partitions.all().len(), cluster_id = %image.cluster_id, "logs loaded");
        Ok(broker)
    }

    pub fn config(&self) -> &BrokerConfig {
        &self.config
    }

    pub fn metadata(&self) -> Arc<MetadataImage> {
        self.controller.image()
    }

    pub fn controller(&self) -> &Controller {
        &self.controller
    }

    pub fn authorizer(&self) -> &crate::auth::authorizer::Authorizer {
        &self.authorizer
    }

    pub fn fetch_sessions(&self) -> &crate::server::fetch_session::FetchSessionCache {
        &self.fetch_sessions
    }

    pub fn quotas(&self) -> &crate::server::quotas::QuotaManagers {
        &self.quotas
    }

    pub fn leader_throttle(&self) -> &crate::quota::replication::ReplicationQuota {
        &self.leader_throttle
    }

    /// The follower throttle's (partitions held back, bytes metered).
    pub fn follower_throttle_figures(&self) -> (u64, u64) {
        self.replication.throttle_figures()
    }

    pub fn partition(&self, topic_partition: &TopicPartition) -> Option<Arc<Partition>> {
        self.partitions.get(topic_partition)
    }

    pub fn groups(&self) -> &GroupCoordinator {
        &self.groups
    }

    pub fn txn(&self) -> &TransactionCoordinator {
        &self.txn
    }

    pub fn metrics(&self) -> &crate::metrics::Metrics {
        &self.metrics
    }

    /// Faults armed through the admin listener.
    pub fn faults(&self) -> &crate::server::faults::Faults {
        &self.faults
    }

    pub fn journal(&self) -> &crate::server::journal::Journal {
        &self.journal
    }

    pub fn linter(&self) -> &crate::server::lint::Linter {
        &self.linter
    }

    /// What the linter found so far.
    pub fn lint(&self) -> Vec<crate::server::lint::Finding> {
        self.linter.findings(&self.txn().timed_out())
    }

    /// Every hosted partition, by name.
    pub fn partitions_by_name(&self) -> std::collections::BTreeMap<TopicPartition, Arc<Partition>> {
        self.partitions
            .all()
            .into_iter()
            .map(|p| (p.topic_partition().clone(), p))
            .collect()
    }

    /// A new producer id for an idempotent producer (InitProducerId).
    pub async fn next_producer_id(self: &Arc<Self>) -> Result<i64, BrokerError> {
        Ok(self.producer_ids.next().await?)
    }

    /// Completes when shutdown begins.
    pub async fn shutting_down(&self) {
        self.shutting_down.cancelled().await
    }

    /// Starts shutting down: parked requests answer now.
    pub fn begin_shutdown(&self) {
        self.shutting_down.cancel();
        for partition in self.partitions.all() {
            partition.set_paused(false);
        }
    }

    /// Creates `__consumer_offsets` on first use, as Kafka does, with the
    /// `offsets.topic.*` settings and compaction.
    pub async fn ensure_offsets_topic(self: &Arc<Self>) -> Result<(), BrokerError> {
        let group = &self.config.group;
        self.ensure_internal_topic(
            OFFSETS_TOPIC,
            group.offsets_topic_num_partitions,
            self.config.offsets_topic_replication_factor,
            group.offsets_topic_segment_bytes,
        )
        .await
    }

    /// Creates `__transaction_state` on first use, with the
    /// `transaction.state.log.*` settings and compaction.
    pub async fn ensure_transaction_state_topic(self: &Arc<Self>) -> Result<(), BrokerError> {
        let txn = &self.config.txn;
        self.ensure_internal_topic(
            TRANSACTION_STATE_TOPIC,
            txn.state_log_num_partitions,
            self.config.transaction_state_log_replication_factor,
            txn.state_log_segment_bytes,
        )
        .await
    }

    async fn ensure_internal_topic(
        self: &Arc<Self>,
        name: &str,
        num_partitions: i32,
        replication_factor: i16,
        segment_bytes: i32,
    ) -> Result<(), BrokerError> {
        if self
            .partitions
            .contains(&TopicPartition::new(name, num_partitions - 1))
        {
            return Ok(());
        }
        // Wait for a creation in flight, then look again.
        let _creating = self.topic_creation.lock().await;
        if self.metadata().topic(name).is_some() {
            return Ok(());
        }
        let topic = NewTopic {
            name: name.to_string(),
            num_partitions,
            // Kafka's default of 3 would leave a smaller cluster without
            // coordinators; the live brokers are what there is.
            replication_factor: replication_factor
                .min(self.metadata().brokers.len() as i16)
                .max(1),
            configs: [
                ("cleanup.policy".to_string(), "compact".to_string()),
                ("segment.bytes".to_string(), segment_bytes.to_string()),
            ]
            .into_iter()
            .collect(),
            assignments: None,
        };
        self.create_topic_now(topic, false).await.map(|_| ())
    }

    /// This broker's settings in layers: static, dynamic cluster default,
    /// dynamic per-broker, and what they resolve to.
    pub fn config_layers(&self) -> Result<BrokerConfigLayers, ConfigError> {
        BrokerConfigLayers::resolve(&self.config, &self.controller.broker_configs())
    }

    /// The effective log config of a topic: the broker's (static and
    /// dynamic) defaults plus its overrides.
    pub fn log_config(&self, topic: &TopicImage) -> Result<LogConfig, ConfigError> {
        self.config_layers()?
            .effective
            .log
            .with_overrides(&topic.configs)
    }

    /// Changes the dynamic broker configs of one scope to what `change`
    /// makes of its current ones, after Kafka's checks; every live
    /// partition then takes its topic's new effective config.
    pub async fn alter_broker_configs(
        self: &Arc<Self>,
        scope: Scope,
        change: impl FnOnce(&BTreeMap<String, String>) -> Result<BTreeMap<String, String>, BrokerConfigError>
            + Send
            + 'static,
        validate_only: bool,
    ) -> Result<(), BrokerError> {
        self.on_controller(move |broker| {
            let mut reloads = None;
            broker
                .controller
                .alter_broker_configs(scope, validate_only, |current| {
                    let configs = change(current.of(scope))?;
                    dynamic::validate(&configs, scope)?;
                    let next = current.with(scope, configs.clone());
                    let layers = BrokerConfigLayers::resolve(&broker.config, &next)
                        .map_err(|error| BrokerConfigError::Unusable(error.to_string()))?;
                    reloads = Some(broker.listener_tls.prepare(&layers.effective.security)?);
                    Ok(configs)
                })?;
            if let Some(reloads) = reloads.filter(|_| !validate_only) {
                reloads.install();
            }
            Ok(())
        })
        .await?;
        if !validate_only {
            for topic in self.metadata().topics.values() {
                let config = self.log_config(topic)?;
                for partition in &topic.partitions {
                    if let Some(live) =
                        self.partition(&TopicPartition::new(&topic.name, partition.partition))
                    {
                        live.set_config(config.clone()).await?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Creates a topic through the controller and opens its partitions.
    pub async fn create_topic(
        self: &Arc<Self>,
        topic: NewTopic,
        validate_only: bool,
    ) -> Result<TopicImage, BrokerError> {
        let _creating = self.topic_creation.lock().await;
        self.create_topic_now(topic, validate_only).await
    }

    /// Creates a topic; the caller holds `topic_creation`.
    async fn create_topic_now(
        self: &Arc<Self>,
        topic: NewTopic,
        validate_only: bool,
    ) -> Result<TopicImage, BrokerError> {
        self.on_controller(move |broker| {
            let created = broker.controller.create_topic(&topic, validate_only)?;
            if !validate_only {
                broker.reconcile()?;
            }
            Ok(created)
        })
        .await
    }

    /// Creates a topic with the broker's defaults, as auto-creation does.
    /// Losing a creation race to another request is fine.
    pub async fn auto_create_topic(
        self: &Arc<Self>,
        name: &str,
    ) -> Result<Option<TopicImage>, BrokerError> {
        if name == OFFSETS_TOPIC {
            self.ensure_offsets_topic().await?;
            return Ok(self.metadata().topic(name).cloned());
        }
        if name == TRANSACTION_STATE_TOPIC {
            self.ensure_transaction_state_topic().await?;
            return Ok(self.metadata().topic(name).cloned());
        }
        let topic = NewTopic {
            name: name.to_string(),
            num_partitions: self.config.num_partitions,
            replication_factor: self.config.default_replication_factor,
            configs: Default::default(),
            assignments: None,
        };
        match self.create_topic(topic, false).await {
            Ok(created) => Ok(Some(created)),
            Err(BrokerError::Controller(ControllerError::TopicAlreadyExists(_))) => {
                Ok(self.metadata().topic(name).cloned())
            }
            Err(error) => Err(error),
        }
    }

    /// Runs controller work on a blocking thread (it writes the metadata).
    pub(crate) async fn on_controller<T: Send + 'static>(
        self: &Arc<Self>,
        work: impl FnOnce(&Broker) -> Result<T, BrokerError> + Send + 'static,
    ) -> Result<T, BrokerError> {
        let broker = Arc::clone(self);
        tokio::task::spawn_blocking(move || work(&broker))
            .await
            .map_err(|join_error| LogError::TaskFailed(join_error.to_string()))?
    }

    /// Replaces a topic's config overrides; live partitions take the new
    /// settings at once.
    pub async fn alter_topic_configs(
        self: &Arc<Self>,
        name: String,
        configs: std::collections::BTreeMap<String, String>,
        validate_only: bool,
    ) -> Result<TopicImage, BrokerError> {
        let topic = self
            .on_controller(move |broker| {
                Ok(broker
                    .controller
                    .alter_topic_configs(&name, configs, validate_only)?)
            })
            .await?;
        if !validate_only {
            let config = self.log_config(&topic)?;
            for partition in &topic.partitions {
                if let Some(live) =
                    self.partition(&TopicPartition::new(&topic.name, partition.partition))
                {
                    live.set_config(config.clone()).await?;
                }
            }
        }
        Ok(topic)
    }

    /// Grows a topic to `count` partitions and opens the new ones.
    pub async fn create_partitions(
        self: &Arc<Self>,
        name: String,
        count: i32,
        assignments: Option<Vec<Vec<i32>>>,
        validate_only: bool,
    ) -> Result<TopicImage, BrokerError> {
        self.on_controller(move |broker| {
            let topic = broker.controller.create_partitions(
                &name,
                count,
                assignments.as_deref(),
                validate_only,
            )?;
            if !validate_only {
                broker.reconcile()?;
            }
            Ok(topic)
        })
        .await
    }

    /// Every log dir, why it is offline if it is, and the replicas it
    /// holds (future ones too) with their sizes and lags.
    pub fn log_dir_sizes(&self) -> Vec<LogDirUsage> {
        let partitions = self.partitions.all();
        let moves = self.replica_moves.all();
        self.logs
            .dirs()
            .iter()
            .map(|dir| {
                let current = partitions
                    .iter()
                    .filter(|p| Arc::ptr_eq(&p.log_dir(), dir))
                    .map(|p| ReplicaUsage {
                        partition: p.topic_partition().clone(),
                        is_future: false,
                        size: p.size_bytes(),
                        offset_lag: (p.high_watermark().0 - p.log_end_offset().0).max(0),
                    });
                let future = moves
                    .iter()
                    .filter(|(_, progress)| Arc::ptr_eq(&progress.target, dir))
                    .filter_map(|(partition, progress)| {
                        let live = self.partitions.get(partition)?;
                        Some(ReplicaUsage {
                            partition: partition.clone(),
                            is_future: true,
                            size: progress.future_size(),
                            offset_lag: (live.log_end_offset().0
                                - progress.future_log_end_offset().0)
                                .max(0),
                        })
                    });
                let mut replicas: Vec<ReplicaUsage> = current.chain(future).collect();
                replicas.sort();
                LogDirUsage {
                    path: dir.path().to_path_buf(),
                    failure: dir.failure().map(str::to_string),
                    replicas,
                }
            })
            .collect()
    }

    /// When a log dir fails, its partitions stop leading and following
    /// here: their coordinators unload, and the controller moves their
    /// leadership to in-sync replicas on other brokers (Kafka's
    /// `handleLogDirFailure`). The dir stays offline until a restart.
    pub async fn watch_log_dirs(self: Arc<Self>) {
        let mut failures = self.logs.subscribe_failures();
        loop {
            tokio::select! {
                changed = failures.changed() => if changed.is_err() { return },
                _ = self.shutting_down() => return,
            }
            let offline: Vec<Arc<Partition>> = self
                .partitions
                .all()
                .into_iter()
                .filter(|partition| partition.is_offline())
                .collect();
            for partition in &offline {
                self.coordinators_lose(partition.topic_partition());
                partition.become_follower(crate::metadata::NO_LEADER, partition.leader_epoch());
            }
            let names: Vec<TopicPartition> = offline
                .iter()
                .map(|partition| partition.topic_partition().clone())
                .collect();
            warn!(
                partitions = names.len(),
                "log dir offline: moving the leadership of its partitions"
            );
            if let Err(error) = self
                .controller
                .replicas_offline(
                    self.config.node_id,
                    names,
                    self.config.replication.unclean_leader_election,
                )
                .await
            {
                warn!(%error, "could not tell the controller of the offline replicas");
            }
            // Fetchers stop for the offline partitions.
            let broker = Arc::clone(&self);
            let _ = tokio::task::spawn_blocking(move || broker.reconcile()).await;
        }
    }

    /// Deletes a topic from the metadata, then its partitions and files
    /// (renamed before this returns; removed after
    /// `file.delete.delay.ms`).
    pub async fn delete_topic(self: &Arc<Self>, name: &str) -> Result<TopicImage, BrokerError> {
        if !self.config.delete_topic_enable {
            return Err(ControllerError::TopicDeletionDisabled.into());
        }
        let name = name.to_string();
        self.on_controller(move |broker| {
            let removed = broker.controller.delete_topic(&name)?;
            broker.reconcile()?;
            Ok(removed)
        })
        .await
    }

    /// Stops the metadata quorum without flushing anything (a simulated
    /// crash). Blocking.
    pub fn stop_metadata_quorum(&self) {
        self.replication.stop_all();
        self.controller.shutdown();
    }

    /// Starts the broker's metadata-driven tasks: reconciling partitions
    /// with each new image, and heartbeats (and, while this node leads
    /// the quorum, fencing of silent brokers).
    pub fn start_cluster_tasks(self: &Arc<Self>) {
        tokio::spawn(Arc::clone(self).follow_metadata());
        tokio::spawn(Arc::clone(self).watch_log_dirs());
        tokio::spawn(Arc::clone(&self.controller).run_liveness(self.config.replication.clone()));
    }

    /// Before a clean stop in a cluster, hands this broker's leaderships to
    /// in-sync replicas (Kafka's controlled shutdown), so that clients
    /// move on at once rather than after the session timeout.
    pub async fn controlled_shutdown(&self) {
        let config = &self.config;
        if config.controller_quorum_voters.len() > 1
            || !config.controller_quorum_bootstrap_servers.is_empty()
        {
            self.controller
                .controlled_shutdown(&self.config.replication, CONTROLLED_SHUTDOWN_WAIT)
                .await;
        }
    }

    /// Flushes every log, checkpoints the high watermarks and leaves the
    /// clean-shutdown marker.
    pub fn shutdown(&self) -> Result<(), BrokerError> {
        self.replication.stop_all();
        let config = self.config();
        let threads = config.num_recovery_threads_per_data_dir * config.log_dirs.len();
        self.partitions.checkpoint_online(threads)?;
        self.checkpoint_high_watermarks();
        self.logs.mark_clean_shutdown()?;
        self.controller.shutdown();
        info!("logs flushed; clean shutdown");
        Ok(())
    }
}
