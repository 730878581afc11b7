//! One broker: its config, the controller's metadata, the logs and the
//! partitions built from them, and the background tasks that keep them
//! (retention, time-based flush). Handlers reach every subsystem from here.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use thiserror::Error;
use tracing::{debug, info, warn};

use tokio_util::sync::CancellationToken;

use crate::config::dynamic::{self, BrokerConfigError, BrokerConfigLayers, Scope};
use crate::config::{BrokerConfig, ConfigError, LogConfig};
use crate::controller::quorum::QuorumMembers;
use crate::controller::{Controller, ControllerError, NewTopic};
use crate::group::{GroupCoordinator, OFFSETS_TOPIC};
use crate::log::{LogError, LogManager};
use crate::metadata::{BrokerImage, Endpoint, MetadataImage, TopicImage};
use crate::partition::role::Role;
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
    pub sizes: Vec<(TopicPartition, u64)>,
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
    /// Serialises reconciliations with the metadata image.
    reconciling: std::sync::Mutex<()>,
    /// Set when this broker took over `__transaction_state` partitions.
    txn_recovery_due: std::sync::atomic::AtomicBool,
    /// The fetchers that keep this broker's follower replicas in step.
    replication: crate::replication::ReplicaFetchers,
    /// Decides what each principal may do (`authorizer.class.name`).
    authorizer: crate::auth::authorizer::Authorizer,
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
            bind: config.controller_listener().map(|l| l.bind_address()),
            observer: !config.is_controller(),
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
        let broker = Arc::new(Broker {
            authorizer,
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
            reconciling: Default::default(),
            txn_recovery_due: Default::default(),
            replication: crate::replication::ReplicaFetchers::new(
                config_node_id,
                replication_config,
                runtime_handle,
            ),
        });
        broker.remove_stray_logs()?;
        let image = broker.controller.image();
        broker.reconcile(&image)?;
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
                self.logs.delete_partition(&found, Duration::ZERO)?;
            }
        }
        Ok(())
    }

    /// Brings the hosted partitions in line with a metadata image: drops
    /// those of deleted (or re-created) topics, opens the logs of every
    /// partition this broker is a replica of, gives each its role, and
    /// points the follower fetchers at the leaders. Idempotent; blocking.
    fn reconcile(&self, image: &MetadataImage) -> Result<(), BrokerError> {
        let me = self.config.node_id;
        let _one_at_a_time = self.reconciling.lock().unwrap_or_else(|p| p.into_inner());
        for hosted in self.partitions.all() {
            let topic_partition = hosted.topic_partition();
            let wanted = image
                .topic(&topic_partition.topic)
                .filter(|topic| topic.id == hosted.topic_id())
                .and_then(|topic| topic.partitions.get(topic_partition.partition as usize))
                .is_some_and(|p| p.replicas.contains(&me));
            if !wanted {
                self.coordinators_lose(topic_partition);
                self.partitions.remove(topic_partition);
                hosted.become_follower(crate::metadata::NO_LEADER, hosted.leader_epoch());
                info!(partition = %topic_partition, "no longer a replica: removing the log");
                hosted.delete_log_blocking(&self.logs)?;
            }
        }
        let mut following = BTreeMap::new();
        for topic in image.topics.values() {
            let mut config = None;
            for assigned in topic.partitions.iter().filter(|p| p.replicas.contains(&me)) {
                let topic_partition = TopicPartition::new(&topic.name, assigned.partition);
                let partition = match self.partitions.get(&topic_partition) {
                    Some(partition) => partition,
                    None => {
                        let config = match &config {
                            Some(config) => config,
                            None => config.insert(self.log_config(topic)?),
                        };
                        let (log, dir) = match self.logs.open_log(&topic_partition, config.clone())
                        {
                            Ok(opened) => opened,
                            Err(error @ (LogError::LogDirOffline { .. } | LogError::Io(_))) => {
                                warn!(partition = %topic_partition, %error, "cannot host the partition: its log dir is offline");
                                continue;
                            }
                            Err(error) => return Err(error.into()),
                        };
                        let checkpointed = self.logs.checkpointed_high_watermark(&topic_partition);
                        self.partitions.insert(Partition::new(
                            topic_partition.clone(),
                            topic.id,
                            log,
                            dir,
                            LeaderEpoch(assigned.leader_epoch),
                            checkpointed,
                        ))
                    }
                };
                if partition.is_offline() {
                    // It serves nothing and follows no one until a restart.
                    continue;
                }
                let epoch = LeaderEpoch(assigned.leader_epoch);
                if assigned.leader == me {
                    let newly = !partition.is_leader() || partition.leader_epoch() != epoch;
                    partition.become_leader(
                        me,
                        epoch,
                        assigned.replicas.clone(),
                        assigned.isr.clone(),
                        assigned.partition_epoch,
                    );
                    if newly {
                        self.coordinators_gain(&topic_partition)?;
                    }
                } else {
                    if partition.is_leader() {
                        self.coordinators_lose(&topic_partition);
                    }
                    let changed = match partition.role() {
                        Role::Follower { leader } => {
                            leader != assigned.leader || partition.leader_epoch() != epoch
                        }
                        Role::Leader(_) => true,
                    };
                    if changed {
                        partition.become_follower(assigned.leader, epoch);
                    }
                    if let Some(leader) = image.broker(assigned.leader) {
                        following.insert(topic_partition, (leader.clone(), partition));
                    }
                }
            }
        }
        self.replication.follow(following);
        Ok(())
    }

    /// Asks the controller to change the ISR of a partition this broker
    /// leads (a follower caught up, or some lag too far behind); one
    /// request per partition at a time. The new ISR takes effect when the
    /// controller has written it.
    pub fn propose_isr(self: &Arc<Self>, partition: Arc<Partition>, isr: Vec<i32>) {
        use std::sync::atomic::Ordering;
        if partition.isr_change_pending.swap(true, Ordering::AcqRel) {
            return;
        }
        let broker = Arc::clone(self);
        tokio::spawn(async move {
            let topic_partition = partition.topic_partition().clone();
            if let Some(partition_epoch) = partition.partition_epoch() {
                let epoch = partition.leader_epoch();
                let outcome = broker
                    .controller
                    .alter_isr(
                        &topic_partition.topic,
                        topic_partition.partition,
                        epoch.value(),
                        partition_epoch,
                        isr.clone(),
                    )
                    .await;
                match outcome {
                    // Unless leadership moved on meanwhile (the image then
                    // says what this broker is).
                    Ok(applied) if partition.is_leader() && partition.leader_epoch() == epoch => {
                        partition.become_leader(
                            broker.config.node_id,
                            epoch,
                            applied.replicas,
                            applied.isr,
                            applied.partition_epoch,
                        )
                    }
                    Ok(_) => {}
                    Err(error) => {
                        debug!(partition = %topic_partition, ?isr, ?error, "ISR change refused")
                    }
                }
            }
            partition.isr_change_pending.store(false, Ordering::Release);
        });
    }

    /// The group and transaction coordinators follow the leadership of
    /// their internal partitions: a new leader loads the partition's
    /// groups or transactional ids and serves them from then on.
    fn coordinators_gain(&self, topic_partition: &TopicPartition) -> Result<(), BrokerError> {
        match topic_partition.topic.as_str() {
            OFFSETS_TOPIC => self.groups.load_partition(topic_partition.partition)?,
            TRANSACTION_STATE_TOPIC => {
                self.txn.load_partition(topic_partition.partition)?;
                self.txn_recovery_due
                    .store(true, std::sync::atomic::Ordering::Release);
            }
            _ => {}
        }
        Ok(())
    }

    fn coordinators_lose(&self, topic_partition: &TopicPartition) {
        match topic_partition.topic.as_str() {
            OFFSETS_TOPIC => self.groups.unload_partition(topic_partition.partition),
            TRANSACTION_STATE_TOPIC => self.txn.unload_partition(topic_partition.partition),
            _ => {}
        }
    }

    /// Completes the transactions decided but not completed under the
    /// previous coordinator of partitions this broker just took over.
    pub async fn recover_transactions_if_due(&self) {
        if self
            .txn_recovery_due
            .swap(false, std::sync::atomic::Ordering::AcqRel)
        {
            self.txn.recover().await;
        }
    }

    /// Reconciles every new metadata image until the broker stops.
    pub async fn follow_metadata(self: Arc<Self>) {
        let mut images = self.controller.subscribe_images();
        loop {
            tokio::select! {
                changed = images.changed() => {
                    if changed.is_err() {
                        return;
                    }
                }
                _ = self.shutting_down() => return,
            }
            let image = images.borrow_and_update().clone();
            let broker = Arc::clone(&self);
            let outcome = tokio::task::spawn_blocking(move || broker.reconcile(&image)).await;
            match outcome {
                Ok(Ok(())) => {}
                Ok(Err(error)) => warn!(%error, "applying the metadata image failed"),
                Err(error) => warn!(%error, "applying the metadata image failed"),
            }
            self.recover_transactions_if_due().await;
        }
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
                broker.reconcile(&broker.metadata())?;
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
        validate_only: bool,
    ) -> Result<TopicImage, BrokerError> {
        self.on_controller(move |broker| {
            let topic = broker
                .controller
                .create_partitions(&name, count, validate_only)?;
            if !validate_only {
                broker.reconcile(&broker.metadata())?;
            }
            Ok(topic)
        })
        .await
    }

    /// Every log dir, why it is offline if it is, and the partitions it
    /// holds with their sizes.
    pub fn log_dir_sizes(&self) -> Vec<LogDirUsage> {
        let partitions = self.partitions.all();
        self.logs
            .dirs()
            .iter()
            .map(|dir| {
                let mut sizes: Vec<(TopicPartition, u64)> = partitions
                    .iter()
                    .filter(|p| Arc::ptr_eq(p.log_dir(), dir))
                    .map(|p| (p.topic_partition().clone(), p.size_bytes()))
                    .collect();
                sizes.sort();
                LogDirUsage {
                    path: dir.path().to_path_buf(),
                    failure: dir.failure().map(str::to_string),
                    sizes,
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
            let image = self.metadata();
            let broker = Arc::clone(&self);
            let _ = tokio::task::spawn_blocking(move || broker.reconcile(&image)).await;
        }
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
                self.on_controller(move |broker| Ok(partition.delete_log_blocking(&broker.logs)?))
                    .await?;
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
        let max_lag = self.config.replication.replica_lag_time_max;
        let mut isr_check = tokio::time::interval((max_lag / 2).max(Duration::from_millis(10)));
        let txn = &self.config.txn;
        let mut txn_timeouts =
            tokio::time::interval(txn.abort_timed_out_interval.max(Duration::from_millis(1)));
        let mut txn_expiry =
            tokio::time::interval(txn.remove_expired_interval.max(Duration::from_millis(1)));
        let mut token_expiry =
            tokio::time::interval(self.config.delegation_token.expiry_check_interval());
        let tokens_on = self.config.delegation_token.secret().is_some();
        let mut high_watermark_checkpoint = tokio::time::interval(Duration::from_millis(
            self.config
                .replica_high_watermark_checkpoint_interval_ms
                .max(1),
        ));
        loop {
            tokio::select! {
                _ = high_watermark_checkpoint.tick() => {
                    let broker = Arc::clone(&self);
                    let _ = tokio::task::spawn_blocking(move || broker.checkpoint_high_watermarks()).await;
                }
                _ = token_expiry.tick(), if tokens_on => {
                    if self.controller.is_active() {
                        let removed = self
                            .on_controller(|broker| {
                                Ok(broker.controller.remove_expired_delegation_tokens(now_ms())?)
                            })
                            .await;
                        if let Err(error) = removed {
                            warn!(%error, "removing expired delegation tokens failed");
                        }
                    }
                }
                _ = txn_timeouts.tick() => self.txn.abort_timed_out().await,
                _ = txn_expiry.tick() => self.txn.expire_transactional_ids().await,
                _ = isr_check.tick() => {
                    for partition in self.partitions.online() {
                        if let Some((isr, _, _)) = partition.lagging_isr(max_lag) {
                            info!(partition = %partition.topic_partition(), ?isr, "followers lag: shrinking the ISR");
                            self.propose_isr(partition, isr);
                        }
                    }
                }
                _ = cleaner.tick(), if self.config.log_cleaner_enable => {
                    // log.cleaner.dedupe.buffer.size may be changed at run time;
                    // gregor's one cleaner task gets all of it, as Kafka's one
                    // cleaner thread (log.cleaner.threads=1) does.
                    let dedupe_buffer_size = self
                        .config_layers()
                        .map_or(self.config.log_cleaner_dedupe_buffer_size, |layers| {
                            layers.effective.log_cleaner_dedupe_buffer_size
                        });
                    let dedupe_buffer_size = usize::try_from(dedupe_buffer_size).unwrap_or(0);
                    for partition in self.partitions.online() {
                        if let Err(error) = partition.compact(now_ms(), dedupe_buffer_size).await {
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
                    for partition in self.partitions.online() {
                        if let Err(error) = partition.expire_producers(now_ms(), expiration).await {
                            warn!(partition = %partition.topic_partition(), %error, "producer expiry failed");
                        }
                    }
                }
                _ = retention.tick() => {
                    for partition in self.partitions.online() {
                        if let Err(error) = partition.apply_retention(now_ms()).await {
                            warn!(partition = %partition.topic_partition(), %error, "retention failed");
                        }
                    }
                }
                _ = flush.tick() => {
                    for partition in self.partitions.online() {
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
        if self.config.controller_quorum_voters.len() > 1 {
            self.controller
                .controlled_shutdown(&self.config.replication, CONTROLLED_SHUTDOWN_WAIT)
                .await;
        }
    }

    /// Writes every online partition's high watermark to its log dir's
    /// `replication-offset-checkpoint`. Blocking.
    fn checkpoint_high_watermarks(&self) {
        let entries: Vec<_> = self
            .partitions
            .online()
            .into_iter()
            .map(|p| {
                let high_watermark = p.high_watermark();
                (
                    Arc::clone(p.log_dir()),
                    p.topic_partition().clone(),
                    high_watermark,
                )
            })
            .collect();
        self.logs.checkpoint_high_watermarks(&entries);
    }

    /// Flushes every log, checkpoints the high watermarks and leaves the
    /// clean-shutdown marker.
    pub fn shutdown(&self) -> Result<(), BrokerError> {
        self.replication.stop_all();
        for partition in self.partitions.online() {
            partition.checkpoint_blocking()?;
        }
        self.checkpoint_high_watermarks();
        self.logs.mark_clean_shutdown()?;
        self.controller.shutdown();
        info!("logs flushed; clean shutdown");
        Ok(())
    }
}
