//! The controller: the one writer of cluster metadata (topics, partitions,
//! assignments, topic configs, dynamic broker configs), publishing each new
//! version as a [`MetadataImage`].
//!
//! Today a single broker is its own controller and keeps the metadata in a
//! JSON snapshot beside the logs, replaced atomically on every change. The
//! multi-broker quorum (openraft) replaces the storage, not this interface.

pub mod quorum;
mod topic_name;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use base64::Engine;
use thiserror::Error;
use tracing::info;
use uuid::Uuid;

use crate::config::dynamic::{BrokerConfigError, DynamicBrokerConfigs, Scope};
use crate::config::{ConfigError, LogConfig};
use crate::metadata::{BrokerImage, MetadataImage, PartitionImage, TopicImage};

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

/// What the controller persists.
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
    snapshot_path: PathBuf,
    log_defaults: LogConfig,
    /// Serialises writers (and holds the next producer id); readers use `image`.
    write_lock: Mutex<i64>,
    image: RwLock<Arc<MetadataImage>>,
    broker_configs: RwLock<Arc<DynamicBrokerConfigs>>,
}

impl Controller {
    /// Loads the metadata kept in `data_dir`, or starts a new cluster there.
    pub fn open(
        data_dir: &Path,
        broker: BrokerImage,
        log_defaults: LogConfig,
    ) -> Result<Controller, ControllerError> {
        std::fs::create_dir_all(data_dir)?;
        let cluster_id = load_or_create_cluster_id(data_dir, broker.node_id)?;
        let snapshot_path = data_dir.join(SNAPSHOT_FILE);
        let Snapshot {
            topics,
            next_producer_id,
            broker_configs,
        } = match std::fs::read(&snapshot_path) {
            Ok(bytes) => serde_json::from_slice(&bytes)?,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Snapshot::default(),
            Err(error) => return Err(error.into()),
        };
        let node_id = broker.node_id;
        let image = MetadataImage::new(cluster_id, node_id, vec![broker], topics);
        Ok(Controller {
            node_id,
            snapshot_path,
            log_defaults,
            write_lock: Mutex::new(next_producer_id),
            image: RwLock::new(Arc::new(image)),
            broker_configs: RwLock::new(Arc::new(broker_configs)),
        })
    }

    /// The current metadata image.
    pub fn image(&self) -> Arc<MetadataImage> {
        match self.image.read() {
            Ok(image) => image.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// The current dynamic broker configs.
    pub fn broker_configs(&self) -> Arc<DynamicBrokerConfigs> {
        match self.broker_configs.read() {
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
        let writer = self.write_lock.lock().unwrap_or_else(|p| p.into_inner());
        let current = self.broker_configs();
        let next = Arc::new(current.with(scope, change(&current)?));
        if validate_only {
            return Ok(next);
        }
        let image = self.image();
        self.persist(&image.topics, *writer, &next)?;
        match self.broker_configs.write() {
            Ok(mut configs) => *configs = Arc::clone(&next),
            Err(poisoned) => *poisoned.into_inner() = Arc::clone(&next),
        }
        info!(?scope, "altered dynamic broker configs");
        Ok(next)
    }

    /// Validates a new topic; with `validate_only`, stops there.
    pub fn create_topic(
        &self,
        topic: &NewTopic,
        validate_only: bool,
    ) -> Result<TopicImage, ControllerError> {
        let writer = self.write_lock.lock().unwrap_or_else(|p| p.into_inner());
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
            partitions: (0..topic.num_partitions)
                .map(|partition| PartitionImage {
                    partition,
                    leader: self.node_id,
                    leader_epoch: 0,
                    replicas: vec![self.node_id],
                    isr: vec![self.node_id],
                })
                .collect(),
            configs: topic.configs.clone(),
        };
        if validate_only {
            return Ok(created);
        }
        let mut topics = image.topics.clone();
        topics.insert(created.name.clone(), created.clone());
        self.publish(&image, topics, *writer)?;
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
        let writer = self.write_lock.lock().unwrap_or_else(|p| p.into_inner());
        let image = self.image();
        let mut topic = image
            .topic(name)
            .cloned()
            .ok_or_else(|| ControllerError::UnknownTopic(name.to_string()))?;
        change(&mut topic)?;
        if !validate_only {
            let mut topics = image.topics.clone();
            topics.insert(name.to_string(), topic.clone());
            self.publish(&image, topics, *writer)?;
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
        let node_id = self.node_id;
        let mut current = 0;
        let topic = self.update_topic(name, validate_only, |topic| {
            current = topic.partitions.len() as i32;
            if count <= current {
                return Err(ControllerError::PartitionCountNotIncreased {
                    current,
                    requested: count,
                });
            }
            topic
                .partitions
                .extend((current..count).map(|partition| PartitionImage {
                    partition,
                    leader: node_id,
                    leader_epoch: 0,
                    replicas: vec![node_id],
                    isr: vec![node_id],
                }));
            Ok(())
        })?;
        if !validate_only {
            info!(topic = %name, from = current, to = count, "created partitions");
        }
        Ok(topic)
    }

    /// Removes a topic from the metadata; its logs go when the image is applied.
    pub fn delete_topic(&self, name: &str) -> Result<TopicImage, ControllerError> {
        let writer = self.write_lock.lock().unwrap_or_else(|p| p.into_inner());
        let image = self.image();
        let mut topics = image.topics.clone();
        let removed = topics
            .remove(name)
            .ok_or_else(|| ControllerError::UnknownTopic(name.to_string()))?;
        self.publish(&image, topics, *writer)?;
        info!(topic = %name, "deleted topic");
        Ok(removed)
    }

    /// Hands out the next block of producer ids, persisted before it is
    /// used so that no id is ever given twice, even across restarts.
    pub fn allocate_producer_ids(&self) -> Result<std::ops::Range<i64>, ControllerError> {
        let mut next = self.write_lock.lock().unwrap_or_else(|p| p.into_inner());
        let block = *next..*next + PRODUCER_ID_BLOCK_SIZE;
        let image = self.image();
        self.publish(&image, image.topics.clone(), block.end)?;
        *next = block.end;
        Ok(block)
    }

    /// Persists the new state (write, fsync, rename), then swaps the image.
    fn publish(
        &self,
        current: &MetadataImage,
        topics: BTreeMap<String, TopicImage>,
        next_producer_id: i64,
    ) -> Result<(), ControllerError> {
        self.persist(&topics, next_producer_id, &self.broker_configs())?;
        let next = MetadataImage::new(
            current.cluster_id.clone(),
            current.controller_id,
            current.brokers.clone(),
            topics,
        );
        match self.image.write() {
            Ok(mut image) => *image = Arc::new(next),
            Err(poisoned) => *poisoned.into_inner() = Arc::new(next),
        }
        Ok(())
    }

    /// Writes the snapshot (write, fsync, rename).
    fn persist(
        &self,
        topics: &BTreeMap<String, TopicImage>,
        next_producer_id: i64,
        broker_configs: &DynamicBrokerConfigs,
    ) -> Result<(), ControllerError> {
        /// [`Snapshot`], borrowed: written without cloning the topics.
        #[derive(serde::Serialize)]
        struct SnapshotRef<'a> {
            topics: &'a BTreeMap<String, TopicImage>,
            next_producer_id: i64,
            broker_configs: &'a DynamicBrokerConfigs,
        }
        let snapshot = SnapshotRef {
            topics,
            next_producer_id,
            broker_configs,
        };
        write_atomically(&self.snapshot_path, &serde_json::to_vec_pretty(&snapshot)?)?;
        Ok(())
    }
}

/// Replaces `path` so that a crash leaves either the old or the new content.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let temporary = path.with_extension("tmp");
    let mut file = std::fs::File::create(&temporary)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&temporary, path)?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
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
    let contents = format!("version=1\ncluster.id={cluster_id}\nnode.id={node_id}\n");
    write_atomically(&path, contents.as_bytes())?;
    Ok(cluster_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn controller(dir: &Path) -> Controller {
        let broker = BrokerImage {
            node_id: 1,
            host: "localhost".into(),
            port: 9092,
            rack: None,
        };
        Controller::open(dir, broker, LogConfig::default()).unwrap()
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
