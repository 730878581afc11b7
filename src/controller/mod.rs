//! The controller: the one writer of cluster metadata (topics, partitions,
//! assignments, topic configs, dynamic broker configs), publishing each new
//! version as a [`MetadataImage`].
//!
//! The controller validates each change, then writes it as a record to the
//! metadata quorum (`quorum/`, on openraft) and waits until it is committed
//! and applied; the image is rebuilt from the applied state. A single
//! broker is the quorum's only voter: the same code path as a cluster's.
//!
//! Data directories of earlier gregor versions kept the metadata in a JSON
//! snapshot (`gregor-metadata.json`); it is carried into the quorum's log
//! on first start and renamed `.migrated`.

pub mod election;
pub mod liveness;
mod placement;
pub mod quorum;
mod topic_name;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};

use base64::Engine;
use thiserror::Error;
use tracing::{info, warn};
use uuid::Uuid;

use crate::config::dynamic::{BrokerConfigError, DynamicBrokerConfigs, Scope};
use crate::config::{ConfigError, LogConfig};
use crate::metadata::{BrokerImage, MetadataImage, PartitionImage, TopicImage, NO_LEADER};
use kafka_protocol::error::ResponseError;
use quorum::{MetadataRecord, MetadataResponse, PartitionChange};

use crate::config::broker::ReplicationConfig;

pub use topic_name::validate_topic_name;

#[derive(Debug, Error)]
pub enum ControllerError {
    #[error("topic '{0}' already exists")]
    TopicAlreadyExists(String),
    #[error("unknown topic '{0}'")]
    UnknownTopic(String),
    #[error("unknown topic id {0}")]
    UnknownTopicId(Uuid),
    #[error("invalid topic name: {0}")]
    InvalidTopicName(String),
    #[error("number of partitions must be at least 1, got {0}")]
    InvalidPartitions(i32),
    #[error("replication factor {requested} is larger than the {available} available brokers")]
    InvalidReplicationFactor { requested: i16, available: usize },
    #[error("invalid topic config: {0}")]
    InvalidConfig(#[from] ConfigError),
    #[error("topic has {current} partitions; the new count must be larger, got {requested}")]
    PartitionCountNotIncreased { current: i32, requested: i32 },
    #[error("invalid replica assignment: {0}")]
    InvalidReplicaAssignment(String),
    #[error("topic deletion is disabled (delete.topic.enable=false)")]
    TopicDeletionDisabled,
    #[error(transparent)]
    BrokerConfig(#[from] BrokerConfigError),
    #[error("metadata storage failed: {0}")]
    Storage(#[from] std::io::Error),
    #[error("metadata snapshot is corrupt: {0}")]
    CorruptSnapshot(#[from] serde_json::Error),
    #[error(transparent)]
    Quorum(#[from] quorum::QuorumError),
}

/// What CreateTopics asks for, after defaults (-1) are resolved by the caller.
#[derive(Debug, Clone)]
pub struct NewTopic {
    pub name: String,
    pub num_partitions: i32,
    pub replication_factor: i16,
    pub configs: BTreeMap<String, String>,
}

const SNAPSHOT_FILE: &str = "gregor-metadata.json";

/// Producer ids are handed to brokers in blocks of this size, as Kafka's
/// controller does (AllocateProducerIds).
pub const PRODUCER_ID_BLOCK_SIZE: i64 = 1000;

/// What earlier versions persisted in `gregor-metadata.json`.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct Snapshot {
    topics: BTreeMap<String, TopicImage>,
    /// The first producer id not yet handed out in any block.
    #[serde(default)]
    next_producer_id: i64,
    /// Dynamic broker configs (absent from snapshots written before them).
    #[serde(default)]
    broker_configs: DynamicBrokerConfigs,
}
const META_PROPERTIES: &str = "meta.properties";

pub struct Controller {
    node_id: i32,
    log_defaults: LogConfig,
    quorum: quorum::Quorum,
    /// Serialises writers: each validates against the state the previous
    /// one left. Readers use `image`.
    write_lock: Mutex<()>,
    published: Arc<Published>,
    /// Set by a controlled shutdown: heartbeats say this broker is leaving.
    leaving: std::sync::atomic::AtomicBool,
}

/// What readers see: rebuilt whenever the applied metadata changes, by
/// this controller's writes or by records other voters wrote.
struct Published {
    cluster_id: String,
    node_id: i32,
    image: RwLock<Arc<MetadataImage>>,
    /// Every new image, for the broker to bring its partitions in line.
    images: tokio::sync::watch::Sender<Arc<MetadataImage>>,
    broker_configs: RwLock<Arc<DynamicBrokerConfigs>>,
}

impl Published {
    fn update(&self, state: &quorum::MetadataState) {
        let cluster_id = state
            .cluster_id
            .clone()
            .unwrap_or_else(|| self.cluster_id.clone());
        let brokers = state
            .brokers
            .values()
            .filter(|b| !state.fenced.contains(&b.node_id))
            .cloned()
            .collect();
        let image = Arc::new(MetadataImage::new(
            cluster_id,
            self.node_id,
            brokers,
            state.topics.clone(),
        ));
        match self.image.write() {
            Ok(mut current) => *current = Arc::clone(&image),
            Err(poisoned) => *poisoned.into_inner() = Arc::clone(&image),
        }
        self.images.send_if_modified(|current| {
            let changed = **current != *image;
            *current = Arc::clone(&image);
            changed
        });
        let configs = Arc::new(state.broker_configs.clone());
        match self.broker_configs.write() {
            Ok(mut current) => *current = configs,
            Err(poisoned) => *poisoned.into_inner() = configs,
        }
    }
}

impl Controller {
    /// Starts this broker's controller on the metadata log in `data_dir`
    /// (a new cluster if there is none), registers the broker, and builds
    /// the first image. Blocking: call off the async runtime.
    pub fn open(
        data_dir: &Path,
        broker: BrokerImage,
        log_defaults: LogConfig,
        members: &quorum::QuorumMembers,
        runtime: tokio::runtime::Handle,
    ) -> Result<Controller, ControllerError> {
        std::fs::create_dir_all(data_dir)?;
        let proposed_id = load_or_create_cluster_id(data_dir, broker.node_id)?;
        let node_id = broker.node_id;
        let quorum = quorum::Quorum::start(data_dir, node_id as u64, members, runtime.clone())?;
        migrate_json_snapshot(data_dir, &quorum)?;
        if quorum.state().cluster_id.is_none() {
            quorum.propose(MetadataRecord::InitCluster {
                cluster_id: proposed_id.clone(),
            })?;
        }
        let cluster_id = quorum
            .state()
            .cluster_id
            .clone()
            .unwrap_or(proposed_id.clone());
        if cluster_id != proposed_id {
            // Another voter's id won: this node's meta.properties follows.
            write_meta_properties(data_dir, &cluster_id, node_id)?;
        }
        if quorum.state().brokers.get(&node_id) != Some(&broker) {
            quorum.propose(MetadataRecord::RegisterBroker(broker))?;
        }
        let published = Arc::new(Published {
            cluster_id,
            node_id,
            image: RwLock::new(Arc::new(MetadataImage::default())),
            images: tokio::sync::watch::Sender::new(Arc::new(MetadataImage::default())),
            broker_configs: RwLock::new(Arc::new(DynamicBrokerConfigs::default())),
        });
        published.update(&quorum.state());
        // Records written on other voters reach this image too.
        let mut changes = quorum.subscribe();
        let stopped = quorum.stopped();
        let following = Arc::clone(&published);
        runtime.spawn(async move {
            loop {
                tokio::select! {
                    changed = changes.changed() => {
                        if changed.is_err() {
                            return;
                        }
                        let state = changes.borrow_and_update().clone();
                        following.update(&state);
                    }
                    _ = stopped.cancelled() => return,
                }
            }
        });
        Ok(Controller {
            node_id,
            log_defaults,
            quorum,
            write_lock: Mutex::new(()),
            published,
            leaving: Default::default(),
        })
    }

    /// Rebuilds the image and the broker configs from the applied state.
    fn refresh(&self) {
        self.published.update(&self.quorum.state());
    }

    /// Writes records to the quorum, then refreshes the image.
    fn commit(
        &self,
        records: Vec<MetadataRecord>,
    ) -> Result<Vec<MetadataResponse>, ControllerError> {
        let mut responses = Vec::with_capacity(records.len());
        for record in records {
            responses.push(self.quorum.propose(record)?);
        }
        self.refresh();
        Ok(responses)
    }

    /// Stops the metadata quorum (clean shutdown).
    pub fn shutdown(&self) {
        self.quorum.shutdown();
    }

    /// The current metadata image.
    pub fn image(&self) -> Arc<MetadataImage> {
        match self.published.image.read() {
            Ok(image) => image.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Each new metadata image, as it is published.
    pub fn subscribe_images(&self) -> tokio::sync::watch::Receiver<Arc<MetadataImage>> {
        self.published.images.subscribe()
    }

    /// The current dynamic broker configs.
    pub fn broker_configs(&self) -> Arc<DynamicBrokerConfigs> {
        match self.published.broker_configs.read() {
            Ok(configs) => configs.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Replaces the dynamic configs of one scope with what `change` makes
    /// of all current ones (it validates them; it runs under the write
    /// lock, so concurrent changes do not lose each other's updates).
    /// With `validate_only`, nothing is stored.
    pub fn alter_broker_configs(
        &self,
        scope: Scope,
        validate_only: bool,
        change: impl FnOnce(
            &DynamicBrokerConfigs,
        ) -> Result<BTreeMap<String, String>, BrokerConfigError>,
    ) -> Result<Arc<DynamicBrokerConfigs>, ControllerError> {
        let _writer = self.write_lock.lock().unwrap_or_else(|p| p.into_inner());
        let current = self.broker_configs();
        let next = Arc::new(current.with(scope, change(&current)?));
        if validate_only {
            return Ok(next);
        }
        self.commit(vec![MetadataRecord::PutBrokerConfigs((*next).clone())])?;
        info!(?scope, "altered dynamic broker configs");
        Ok(next)
    }

    /// Validates a new topic; with `validate_only`, stops there.
    pub fn create_topic(
        &self,
        topic: &NewTopic,
        validate_only: bool,
    ) -> Result<TopicImage, ControllerError> {
        let _writer = self.write_lock.lock().unwrap_or_else(|p| p.into_inner());
        let image = self.image();
        validate_topic_name(&topic.name).map_err(ControllerError::InvalidTopicName)?;
        if image.topic(&topic.name).is_some() {
            return Err(ControllerError::TopicAlreadyExists(topic.name.clone()));
        }
        if topic.num_partitions < 1 {
            return Err(ControllerError::InvalidPartitions(topic.num_partitions));
        }
        if topic.replication_factor < 1 || topic.replication_factor as usize > image.brokers.len() {
            return Err(ControllerError::InvalidReplicationFactor {
                requested: topic.replication_factor,
                available: image.brokers.len(),
            });
        }
        self.log_defaults.with_overrides(&topic.configs)?;
        let created = TopicImage {
            name: topic.name.clone(),
            id: Uuid::new_v4(),
            partitions: new_partitions(
                &image,
                &topic.name,
                0,
                topic.num_partitions,
                topic.replication_factor as usize,
            ),
            configs: topic.configs.clone(),
        };
        if validate_only {
            return Ok(created);
        }
        let responses = self.commit(vec![MetadataRecord::PutTopic(created.clone())])?;
        if responses.contains(&MetadataResponse::TopicExists) {
            return Err(ControllerError::TopicAlreadyExists(created.name));
        }
        info!(topic = %created.name, id = %created.id, partitions = topic.num_partitions, "created topic");
        Ok(created)
    }

    /// Changes one topic under the write lock and, unless `validate_only`,
    /// publishes the result.
    fn update_topic(
        &self,
        name: &str,
        validate_only: bool,
        change: impl FnOnce(&mut TopicImage) -> Result<(), ControllerError>,
    ) -> Result<TopicImage, ControllerError> {
        let _writer = self.write_lock.lock().unwrap_or_else(|p| p.into_inner());
        let image = self.image();
        let mut topic = image
            .topic(name)
            .cloned()
            .ok_or_else(|| ControllerError::UnknownTopic(name.to_string()))?;
        change(&mut topic)?;
        if !validate_only {
            self.commit(vec![MetadataRecord::PutTopic(topic.clone())])?;
        }
        Ok(topic)
    }

    /// Replaces a topic's config overrides (validated first).
    pub fn alter_topic_configs(
        &self,
        name: &str,
        configs: BTreeMap<String, String>,
        validate_only: bool,
    ) -> Result<TopicImage, ControllerError> {
        let topic = self.update_topic(name, validate_only, |topic| {
            self.log_defaults.with_overrides(&configs)?;
            topic.configs = configs;
            Ok(())
        })?;
        if !validate_only {
            info!(topic = %name, "altered topic configs");
        }
        Ok(topic)
    }

    /// Grows a topic to `count` partitions.
    pub fn create_partitions(
        &self,
        name: &str,
        count: i32,
        validate_only: bool,
    ) -> Result<TopicImage, ControllerError> {
        let image = self.image();
        let mut current = 0;
        let topic = self.update_topic(name, validate_only, |topic| {
            current = topic.partitions.len() as i32;
            if count <= current {
                return Err(ControllerError::PartitionCountNotIncreased {
                    current,
                    requested: count,
                });
            }
            let replication_factor = topic.partitions.first().map_or(1, |p| p.replicas.len());
            if replication_factor > image.brokers.len() {
                return Err(ControllerError::InvalidReplicationFactor {
                    requested: replication_factor as i16,
                    available: image.brokers.len(),
                });
            }
            let added = new_partitions(
                &image,
                &topic.name,
                current,
                count - current,
                replication_factor,
            );
            topic.partitions.extend(added);
            Ok(())
        })?;
        if !validate_only {
            info!(topic = %name, from = current, to = count, "created partitions");
        }
        Ok(topic)
    }

    /// Removes a topic from the metadata; its logs go when the image is applied.
    pub fn delete_topic(&self, name: &str) -> Result<TopicImage, ControllerError> {
        let _writer = self.write_lock.lock().unwrap_or_else(|p| p.into_inner());
        let removed = self
            .image()
            .topic(name)
            .cloned()
            .ok_or_else(|| ControllerError::UnknownTopic(name.to_string()))?;
        self.commit(vec![MetadataRecord::RemoveTopic {
            name: name.to_string(),
        }])?;
        info!(topic = %name, "deleted topic");
        Ok(removed)
    }

    /// Writes partition changes decided by `election`; how many applied
    /// (the others were decided on a partition that changed meanwhile).
    /// Changes this node decided as the leader in `leader_term` are written
    /// in that term or not at all; those asked for by a client or a broker
    /// (`None`) go to whichever node leads.
    async fn write_changes(
        &self,
        changes: Vec<PartitionChange>,
        leader_term: Option<u64>,
    ) -> Result<usize, ControllerError> {
        let mut applied = 0;
        for change in changes {
            let (topic, partition) = (change.topic.clone(), change.partition.clone());
            let record = MetadataRecord::ChangePartition(change);
            let response = match leader_term {
                Some(term) => self.quorum.propose_as_leader(record, term).await?,
                None => self.quorum.propose_async(record).await?,
            };
            if response == MetadataResponse::Applied {
                applied += 1;
                info!(%topic, partition = partition.partition, leader = partition.leader,
                      leader_epoch = partition.leader_epoch, isr = ?partition.isr,
                      "partition changed");
            }
        }
        self.refresh();
        Ok(applied)
    }

    /// This broker, leading `topic`-`partition` at `leader_epoch`, asks
    /// for a new ISR (AlterPartition); the partition as it now is.
    pub async fn alter_isr(
        &self,
        topic: &str,
        partition: i32,
        leader_epoch: i32,
        partition_epoch: i32,
        isr: Vec<i32>,
    ) -> Result<PartitionImage, ResponseError> {
        let state = self.quorum.state();
        let (topic, old) = find_partition(&state, topic, partition)?;
        let change = election::alter_isr(
            &state,
            topic,
            old,
            self.node_id,
            leader_epoch,
            partition_epoch,
            isr,
        )?;
        let wanted = change.partition.clone();
        match self.write_changes(vec![change], None).await {
            Ok(1) => Ok(wanted),
            Ok(_) => Err(ResponseError::InvalidUpdateVersion),
            Err(_) => Err(ResponseError::RequestTimedOut),
        }
    }

    /// Leader election of one partition (ElectLeaders): preferred, or
    /// unclean; whether the leader moved (`Ok(false)`: no election needed).
    pub async fn elect_leader(
        &self,
        topic: &str,
        partition: i32,
        unclean: bool,
    ) -> Result<bool, ResponseError> {
        let state = self.quorum.state();
        let (topic, old) = find_partition(&state, topic, partition)?;
        let decided = match unclean {
            false => election::preferred(&state, topic, old)?,
            true => election::unclean(&state, topic, old)?,
        };
        let Some(change) = decided else {
            return Ok(false);
        };
        match self.write_changes(vec![change], None).await {
            Ok(1) => Ok(true),
            Ok(_) => Err(ResponseError::EligibleLeadersNotAvailable),
            Err(_) => Err(ResponseError::RequestTimedOut),
        }
    }

    /// Sends this broker's heartbeats and, while this node leads the
    /// quorum, fences brokers that went silent and unfences those that
    /// came back, moving leaderships accordingly. Runs until the quorum
    /// stops.
    pub async fn run_liveness(self: Arc<Self>, config: ReplicationConfig) {
        let stopped = self.quorum.stopped();
        let mut ticks = tokio::time::interval(
            config
                .heartbeat_interval
                .max(std::time::Duration::from_millis(50)),
        );
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut leading_term = None;
        loop {
            tokio::select! {
                _ = ticks.tick() => {}
                _ = stopped.cancelled() => return,
            }
            let leaving = self.leaving.load(std::sync::atomic::Ordering::Acquire);
            if let Err(error) = self
                .quorum
                .heartbeat(self.node_id, leaving, config.heartbeat_interval)
                .await
            {
                tracing::debug!(%error, "broker heartbeat not delivered");
            }
            let Some(term) = self.quorum.leader_term() else {
                leading_term = None;
                continue;
            };
            if leading_term != Some(term) {
                leading_term = Some(term);
                info!(term, "this node is now the active controller");
                let brokers = self
                    .quorum
                    .state()
                    .brokers
                    .keys()
                    .copied()
                    .collect::<Vec<_>>();
                self.quorum.liveness().restart_clocks(brokers);
                continue;
            }
            if let Err(error) = self.check_brokers(&config, term).await {
                tracing::warn!(%error, "broker liveness check failed");
            }
        }
    }

    /// One pass of the active controller, leading in `term`, over the
    /// registered brokers. Its decisions are written in that term or not
    /// at all.
    async fn check_brokers(
        &self,
        config: &ReplicationConfig,
        term: u64,
    ) -> Result<(), ControllerError> {
        let state = self.quorum.state();
        let liveness = self.quorum.liveness();
        for &node in state.brokers.keys() {
            let alive = node == self.node_id || liveness.is_alive(node, config.session_timeout);
            let fenced = state.fenced.contains(&node);
            if !alive && !fenced {
                self.quorum
                    .propose_as_leader(MetadataRecord::FenceBroker { node_id: node }, term)
                    .await?;
                tracing::warn!(node, timeout = ?config.session_timeout, "no heartbeat: fenced broker");
            } else if alive && fenced && !liveness.is_leaving(node) {
                if let Some(image) = state.brokers.get(&node) {
                    self.quorum
                        .propose_as_leader(MetadataRecord::RegisterBroker(image.clone()), term)
                        .await?;
                    info!(node, "broker heard again: unfenced");
                }
            }
        }
        // Leaderships of fenced brokers move; leaderless partitions take
        // a live broker that may lead them. Both are no-ops once done.
        let state = self.quorum.state();
        let unclean = config.unclean_leader_election;
        let mut changes = Vec::new();
        for &node in state.brokers.keys() {
            if state.fenced.contains(&node) {
                changes.extend(election::on_fenced(&state, node, unclean));
            }
        }
        if changes.is_empty() {
            for &node in state.brokers.keys() {
                if !state.fenced.contains(&node) {
                    changes.extend(election::on_unfenced(&state, node, unclean));
                }
            }
        }
        if !changes.is_empty() {
            self.write_changes(changes, Some(term)).await?;
        }
        Ok(())
    }

    /// Kafka's controlled shutdown: this broker says it is leaving and
    /// fences itself, so that its leaderships move to in-sync replicas
    /// now rather than after its session times out. Best effort within
    /// `timeout` (the quorum may be gone too).
    pub async fn controlled_shutdown(
        &self,
        config: &ReplicationConfig,
        timeout: std::time::Duration,
    ) {
        self.leaving
            .store(true, std::sync::atomic::Ordering::Release);
        let node = self.node_id;
        let work = async {
            self.quorum
                .heartbeat(node, true, config.heartbeat_interval)
                .await
                .map_err(quorum::QuorumError::Raft)?;
            self.quorum
                .propose_async(MetadataRecord::FenceBroker { node_id: node })
                .await?;
            let state = self.quorum.state();
            let changes = election::on_fenced(&state, node, config.unclean_leader_election);
            self.write_changes(changes, None).await
        };
        match tokio::time::timeout(timeout, work).await {
            Ok(Ok(moved)) => info!(partitions = moved, "controlled shutdown: leaderships moved"),
            Ok(Err(error)) => warn!(%error, "controlled shutdown incomplete"),
            Err(_) => warn!(?timeout, "controlled shutdown timed out"),
        }
    }

    /// This broker's replicas of `partitions` are offline (their log dir
    /// failed): it leaves their ISRs and their leaderships move. Returns
    /// how many partitions changed.
    pub async fn replicas_offline(
        &self,
        node: i32,
        partitions: Vec<crate::types::TopicPartition>,
        unclean_leader_election: bool,
    ) -> Result<usize, ControllerError> {
        let partitions: Vec<(String, i32)> = partitions
            .into_iter()
            .map(|tp| (tp.topic, tp.partition))
            .collect();
        let state = self.quorum.state();
        let changes =
            election::on_replicas_offline(&state, node, &partitions, unclean_leader_election);
        self.write_changes(changes, None).await
    }

    /// Hands out the next block of producer ids, committed before it is
    /// used so that no id is ever given twice, even across restarts.
    pub fn allocate_producer_ids(&self) -> Result<std::ops::Range<i64>, ControllerError> {
        let _writer = self.write_lock.lock().unwrap_or_else(|p| p.into_inner());
        let record = MetadataRecord::AllocateProducerIds {
            block_size: PRODUCER_ID_BLOCK_SIZE,
        };
        match self.commit(vec![record])?.pop() {
            Some(MetadataResponse::ProducerIds { start, end }) => Ok(start..end),
            other => Err(quorum::QuorumError::Raft(format!(
                "producer id allocation answered {other:?}"
            ))
            .into()),
        }
    }
}

fn find_partition<'a>(
    state: &'a quorum::MetadataState,
    topic: &str,
    partition: i32,
) -> Result<(&'a TopicImage, &'a PartitionImage), ResponseError> {
    let topic = state
        .topics
        .get(topic)
        .ok_or(ResponseError::UnknownTopicOrPartition)?;
    let partition = topic
        .partitions
        .get(partition.max(0) as usize)
        .ok_or(ResponseError::UnknownTopicOrPartition)?;
    Ok((topic, partition))
}

/// Partitions `first..first + count` of a topic, placed on the live
/// brokers, each led by its first replica.
fn new_partitions(
    image: &MetadataImage,
    topic: &str,
    first: i32,
    count: i32,
    replication_factor: usize,
) -> Vec<PartitionImage> {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    topic.hash(&mut hasher);
    placement::place(
        &image.brokers,
        first,
        count,
        replication_factor,
        hasher.finish() as usize,
    )
    .into_iter()
    .zip(first..)
    .map(|(replicas, partition)| PartitionImage {
        partition,
        leader: replicas.first().copied().unwrap_or(NO_LEADER),
        leader_epoch: 0,
        isr: replicas.clone(),
        replicas,
        partition_epoch: 0,
    })
    .collect()
}

/// Carries the metadata of a data directory written by an earlier gregor
/// (`gregor-metadata.json`) into a quorum that has none yet, once.
fn migrate_json_snapshot(data_dir: &Path, quorum: &quorum::Quorum) -> Result<(), ControllerError> {
    let path = data_dir.join(SNAPSHOT_FILE);
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(error) => return Err(error.into()),
    };
    let state = quorum.state();
    if state.brokers.is_empty() && state.topics.is_empty() {
        let snapshot: Snapshot = serde_json::from_slice(&bytes)?;
        for topic in snapshot.topics.into_values() {
            quorum.propose(MetadataRecord::PutTopic(topic))?;
        }
        if snapshot.next_producer_id > 0 {
            quorum.propose(MetadataRecord::AllocateProducerIds {
                block_size: snapshot.next_producer_id,
            })?;
        }
        quorum.propose(MetadataRecord::PutBrokerConfigs(snapshot.broker_configs))?;
        info!(path = %path.display(), "metadata snapshot carried into the metadata log");
    }
    std::fs::rename(&path, path.with_extension("json.migrated"))?;
    Ok(())
}

/// Reads `cluster.id` from `meta.properties` (Kafka's file), or creates one:
/// a random UUID in URL-safe base64 without padding, as Kafka's are.
fn load_or_create_cluster_id(data_dir: &Path, node_id: i32) -> Result<String, ControllerError> {
    let path = data_dir.join(META_PROPERTIES);
    if let Ok(text) = std::fs::read_to_string(&path) {
        if let Ok(properties) = crate::config::properties::parse(&text) {
            if let Some(cluster_id) = properties.get("cluster.id") {
                return Ok(cluster_id.clone());
            }
        }
    }
    let cluster_id =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Uuid::new_v4().as_bytes());
    write_meta_properties(data_dir, &cluster_id, node_id)?;
    Ok(cluster_id)
}

fn write_meta_properties(data_dir: &Path, cluster_id: &str, node_id: i32) -> std::io::Result<()> {
    let contents = format!("version=1\ncluster.id={cluster_id}\nnode.id={node_id}\n");
    crate::durable::write_atomically(&data_dir.join(META_PROPERTIES), contents.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runtime() -> &'static tokio::runtime::Runtime {
        static RUNTIME: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();
        RUNTIME.get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .unwrap()
        })
    }

    /// A controller whose quorum stops when the test drops it, so that the
    /// next one can open the same directory.
    struct TestController(Controller);

    impl std::ops::Deref for TestController {
        type Target = Controller;
        fn deref(&self) -> &Controller {
            &self.0
        }
    }

    impl Drop for TestController {
        fn drop(&mut self) {
            self.0.shutdown();
        }
    }

    fn controller(dir: &Path) -> TestController {
        let broker = BrokerImage {
            node_id: 1,
            host: "localhost".into(),
            port: 9092,
            rack: None,
            endpoints: Vec::new(),
        };
        let handle = runtime().handle().clone();
        let members = quorum::QuorumMembers::default();
        TestController(
            Controller::open(dir, broker, LogConfig::default(), &members, handle).unwrap(),
        )
    }

    fn new_topic(name: &str) -> NewTopic {
        NewTopic {
            name: name.into(),
            num_partitions: 3,
            replication_factor: 1,
            configs: BTreeMap::new(),
        }
    }

    #[test]
    fn topics_and_cluster_id_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let first = controller(dir.path());
        let created = first.create_topic(&new_topic("orders"), false).unwrap();
        let cluster_id = first.image().cluster_id.clone();
        assert_eq!(cluster_id.len(), 22);
        drop(first);
        let second = controller(dir.path());
        let image = second.image();
        assert_eq!(image.cluster_id, cluster_id);
        assert_eq!(image.topic("orders").unwrap().id, created.id);
        assert_eq!(image.topic_by_id(created.id).unwrap().partitions.len(), 3);
    }

    #[test]
    fn create_rejects_duplicates_bad_counts_and_configs_and_validate_only_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let controller = controller(dir.path());
        controller.create_topic(&new_topic("a"), true).unwrap();
        assert!(controller.image().topic("a").is_none());
        controller.create_topic(&new_topic("a"), false).unwrap();
        assert!(matches!(
            controller.create_topic(&new_topic("a"), false),
            Err(ControllerError::TopicAlreadyExists(_))
        ));
        let mut zero = new_topic("b");
        zero.num_partitions = 0;
        assert!(matches!(
            controller.create_topic(&zero, false),
            Err(ControllerError::InvalidPartitions(0))
        ));
        let mut replicated = new_topic("c");
        replicated.replication_factor = 3;
        assert!(matches!(
            controller.create_topic(&replicated, false),
            Err(ControllerError::InvalidReplicationFactor { .. })
        ));
        let mut configured = new_topic("d");
        configured
            .configs
            .insert("retention.ms".into(), "never".into());
        assert!(matches!(
            controller.create_topic(&configured, false),
            Err(ControllerError::InvalidConfig(_))
        ));
        controller.delete_topic("a").unwrap();
        assert!(controller.image().topic("a").is_none());
    }

    #[test]
    fn broker_configs_survive_reopening_and_validate_only_stores_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let first = controller(dir.path());
        first.create_topic(&new_topic("t"), false).unwrap();
        let set = |configs: &[(&str, &str)]| {
            let configs: BTreeMap<String, String> = configs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            move |_: &DynamicBrokerConfigs| Ok(configs)
        };
        first
            .alter_broker_configs(Scope::Broker(1), false, set(&[("message.max.bytes", "10")]))
            .unwrap();
        first
            .alter_broker_configs(
                Scope::ClusterDefault,
                false,
                set(&[("log.retention.ms", "5")]),
            )
            .unwrap();
        let checked = first
            .alter_broker_configs(Scope::ClusterDefault, true, set(&[]))
            .unwrap();
        assert!(checked.cluster_default.is_empty());
        assert_eq!(first.broker_configs().cluster_default.len(), 1);
        let refused = first.alter_broker_configs(Scope::Broker(1), false, |_| {
            Err(BrokerConfigError::DuplicateKeys)
        });
        assert!(matches!(refused, Err(ControllerError::BrokerConfig(_))));
        // later topic changes keep the broker configs in the snapshot
        first.create_topic(&new_topic("u"), false).unwrap();
        drop(first);
        let reopened = controller(dir.path());
        let configs = reopened.broker_configs();
        assert_eq!(configs.of(Scope::Broker(1))["message.max.bytes"], "10");
        assert_eq!(configs.cluster_default["log.retention.ms"], "5");
        assert!(reopened.image().topic("u").is_some());
    }

    #[test]
    fn json_snapshots_of_earlier_versions_are_carried_into_the_metadata_log() {
        let dir = tempfile::tempdir().unwrap();
        {
            let first = controller(dir.path());
            first.create_topic(&new_topic("kept"), false).unwrap();
        }
        // An earlier gregor's data directory: only the JSON snapshot.
        let topic = controller(dir.path())
            .image()
            .topic("kept")
            .cloned()
            .unwrap();
        std::fs::remove_dir_all(dir.path().join(quorum::METADATA_LOG_DIR)).unwrap();
        let snapshot = serde_json::json!({"topics": {"kept": topic}, "next_producer_id": 3000});
        std::fs::write(dir.path().join(SNAPSHOT_FILE), snapshot.to_string()).unwrap();
        let migrated = controller(dir.path());
        assert_eq!(migrated.image().topic("kept"), Some(&topic));
        assert_eq!(migrated.allocate_producer_ids().unwrap().start, 3000);
        assert!(!dir.path().join(SNAPSHOT_FILE).exists());
        drop(migrated);
        assert_eq!(controller(dir.path()).image().topic("kept"), Some(&topic));
    }

    #[test]
    fn snapshots_written_before_broker_configs_still_load() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(SNAPSHOT_FILE),
            br#"{"topics": {}, "next_producer_id": 7}"#,
        )
        .unwrap();
        let reopened = controller(dir.path());
        assert_eq!(*reopened.broker_configs(), DynamicBrokerConfigs::default());
        assert_eq!(reopened.allocate_producer_ids().unwrap().start, 7);
    }

    #[test]
    fn producer_id_blocks_never_repeat_across_restarts() {
        let dir = tempfile::tempdir().unwrap();
        let first = controller(dir.path()).allocate_producer_ids().unwrap();
        let reopened = controller(dir.path());
        let second = reopened.allocate_producer_ids().unwrap();
        assert_eq!(first, 0..PRODUCER_ID_BLOCK_SIZE);
        assert_eq!(second.start, first.end);
        reopened.create_topic(&new_topic("t"), false).unwrap();
        assert_eq!(
            controller(dir.path())
                .allocate_producer_ids()
                .unwrap()
                .start,
            second.end
        );
    }
}
