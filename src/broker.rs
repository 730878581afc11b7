//! One broker: its config, the controller's metadata, the logs and the
//! partitions built from them, and the background tasks that keep them
//! (retention, time-based flush). Handlers reach every subsystem from here.

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
use crate::metadata::{BrokerImage, MetadataImage, TopicImage};
use crate::partition::{Partition, Partitions};
use crate::txn::producer_ids::ProducerIds;
use crate::txn::{TransactionCoordinator, TRANSACTION_STATE_TOPIC};
use crate::types::{now_ms, LeaderEpoch, TopicPartition};

#[derive(Debug, Error)]
pub enum BrokerError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Controller(#[from] ControllerError),
    #[error(transparent)]
    Log(#[from] LogError),
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
}

impl Broker {
    /// Opens the data directory, recovers every log and builds the
    /// partitions the metadata says this broker leads.
    pub fn open(config: BrokerConfig, advertised_port: u16) -> Result<Arc<Broker>, BrokerError> {
        let logs = LogManager::open(config.data_dir())?;
        let listener = config.advertised_listener();
        let host = match listener.host.as_str() {
            "" | "0.0.0.0" | "::" => "localhost".to_string(),
            host => host.to_string(),
        };
        let me = BrokerImage {
            node_id: config.node_id,
            host,
            port: advertised_port,
            rack: None,
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
            bind: config.controller_listener().map(|l| l.bind_address()),
        };
        let controller = Arc::new(Controller::open(
            config.data_dir(),
            me,
            config.log.clone(),
            &members,
            runtime,
        )?);
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
        );
        let broker = Arc::new(Broker {
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
        });
        broker.remove_stray_logs()?;
        let image = broker.controller.image();
        for topic in image.topics.values() {
            broker.open_partitions(topic)?;
        }
        broker.groups.load()?;
        broker.txn.load()?;
        info!(partitions = broker.partitions.all().len(), cluster_id = %image.cluster_id, "logs loaded");
        Ok(broker)
    }

    pub fn config(&self) -> &BrokerConfig {
        &self.config
    }

    pub fn metadata(&self) -> Arc<MetadataImage> {
        self.controller.image()
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
            txn.state_log_segment_bytes,
        )
        .await
    }

    async fn ensure_internal_topic(
        self: &Arc<Self>,
        name: &str,
        num_partitions: i32,
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
            replication_factor: 1,
            configs: [
                ("cleanup.policy".to_string(), "compact".to_string()),
                ("segment.bytes".to_string(), segment_bytes.to_string()),
            ]
            .into_iter()
            .collect(),
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
            broker
                .controller
                .alter_broker_configs(scope, validate_only, |current| {
                    let configs = change(current.of(scope))?;
                    dynamic::validate(&configs, scope)?;
                    let next = current.with(scope, configs.clone());
                    BrokerConfigLayers::resolve(&broker.config, &next)
                        .map_err(|error| BrokerConfigError::Unusable(error.to_string()))?;
                    Ok(configs)
                })?;
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

    /// Partition folders whose topic is gone from the metadata (a crash
    /// during deletion) are removed, as Kafka removes stray logs.
    fn remove_stray_logs(&self) -> Result<(), BrokerError> {
        let image = self.controller.image();
        for found in self.logs.partitions_on_disk()? {
            let known = image
                .topic(&found.topic)
                .is_some_and(|topic| (found.partition as usize) < topic.partitions.len());
            if !known {
                warn!(partition = %found, "removing stray log of a deleted topic");
                std::fs::remove_dir_all(self.logs.partition_dir(&found)).map_err(LogError::Io)?;
            }
        }
        Ok(())
    }

    fn open_partitions(&self, topic: &TopicImage) -> Result<(), BrokerError> {
        let config = self.log_config(topic)?;
        for partition in &topic.partitions {
            let topic_partition = TopicPartition::new(&topic.name, partition.partition);
            if self.partitions.contains(&topic_partition) {
                continue;
            }
            let log = self.logs.open_log(&topic_partition, config.clone())?;
            self.partitions.insert(Partition::new(
                topic_partition,
                topic.id,
                log,
                LeaderEpoch(partition.leader_epoch),
            ));
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
                broker.open_partitions(&created)?;
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
    async fn on_controller<T: Send + 'static>(
        self: &Arc<Self>,
        work: impl FnOnce(&Broker) -> Result<T, BrokerError> + Send + 'static,
    ) -> Result<T, BrokerError> {
        let broker = Arc::clone(self);
        tokio::task::spawn_blocking(move || work(&broker))
            .await
            .map_err(|join_error| LogError::Io(std::io::Error::other(join_error.to_string())))?
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
        validate_only: bool,
    ) -> Result<TopicImage, BrokerError> {
        self.on_controller(move |broker| {
            let topic = broker
                .controller
                .create_partitions(&name, count, validate_only)?;
            if !validate_only {
                broker.open_partitions(&topic)?;
            }
            Ok(topic)
        })
        .await
    }

    /// The data directory and every hosted partition with its size.
    pub fn log_dir_sizes(&self) -> (std::path::PathBuf, Vec<(TopicPartition, u64)>) {
        let mut sizes: Vec<(TopicPartition, u64)> = self
            .partitions
            .all()
            .iter()
            .map(|p| (p.topic_partition().clone(), p.size_bytes()))
            .collect();
        sizes.sort();
        (self.config.data_dir().clone(), sizes)
    }

    /// Deletes a topic from the metadata, then its partitions and files.
    pub async fn delete_topic(self: &Arc<Self>, name: &str) -> Result<TopicImage, BrokerError> {
        if !self.config.delete_topic_enable {
            return Err(ControllerError::TopicDeletionDisabled.into());
        }
        let name = name.to_string();
        let removed = self
            .on_controller(move |broker| Ok(broker.controller.delete_topic(&name)?))
            .await?;
        for partition in &removed.partitions {
            let topic_partition = TopicPartition::new(&removed.name, partition.partition);
            if let Some(partition) = self.partitions.remove(&topic_partition) {
                partition.delete_log_files().await?;
            }
        }
        Ok(removed)
    }

    /// Runs retention, compaction, producer expiry, time-based flushes and
    /// the transaction coordinator's time-outs until the broker stops.
    pub async fn run_log_maintenance(self: Arc<Self>) {
        let retention_every =
            Duration::from_millis(self.config.log_retention_check_interval_ms.max(1));
        let flush_every = Duration::from_millis(self.config.log_flush_scheduler_interval_ms.max(1));
        let mut retention = tokio::time::interval(retention_every);
        let mut flush = tokio::time::interval(flush_every);
        let mut producer_expiry = tokio::time::interval(Duration::from_millis(
            self.config.producer_id_expiration_check_interval_ms.max(1),
        ));
        let mut cleaner = tokio::time::interval(Duration::from_millis(
            self.config.log_cleaner_backoff_ms.max(1),
        ));
        let txn = &self.config.txn;
        let mut txn_timeouts =
            tokio::time::interval(txn.abort_timed_out_interval.max(Duration::from_millis(1)));
        let mut txn_expiry =
            tokio::time::interval(txn.remove_expired_interval.max(Duration::from_millis(1)));
        loop {
            tokio::select! {
                _ = txn_timeouts.tick() => self.txn.abort_timed_out().await,
                _ = txn_expiry.tick() => self.txn.expire_transactional_ids().await,
                _ = cleaner.tick(), if self.config.log_cleaner_enable => {
                    for partition in self.partitions.all() {
                        if let Err(error) = partition.compact(now_ms()).await {
                            warn!(partition = %partition.topic_partition(), %error, "compaction failed");
                        }
                    }
                }
                _ = producer_expiry.tick() => {
                    // producer.id.expiration.ms may be changed at run time
                    let expiration = self
                        .config_layers()
                        .map_or(self.config.producer_id_expiration_ms, |layers| {
                            layers.effective.producer_id_expiration_ms
                        });
                    for partition in self.partitions.all() {
                        if let Err(error) = partition.expire_producers(now_ms(), expiration).await {
                            warn!(partition = %partition.topic_partition(), %error, "producer expiry failed");
                        }
                    }
                }
                _ = retention.tick() => {
                    for partition in self.partitions.all() {
                        if let Err(error) = partition.apply_retention(now_ms()).await {
                            warn!(partition = %partition.topic_partition(), %error, "retention failed");
                        }
                    }
                }
                _ = flush.tick() => {
                    for partition in self.partitions.all() {
                        if let Err(error) = partition.maybe_flush_by_time().await {
                            warn!(partition = %partition.topic_partition(), %error, "flush failed");
                        }
                    }
                }
            }
        }
    }

    /// Stops the metadata quorum without flushing anything (a simulated
    /// crash). Blocking.
    pub fn stop_metadata_quorum(&self) {
        self.controller.shutdown();
    }

    /// Flushes every log and leaves the clean-shutdown marker.
    pub fn shutdown(&self) -> Result<(), BrokerError> {
        for partition in self.partitions.all() {
            partition.checkpoint_blocking()?;
        }
        self.logs.mark_clean_shutdown()?;
        self.controller.shutdown();
        info!("logs flushed; clean shutdown");
        Ok(())
    }
}
