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

mod acls;
pub mod client_quotas;
mod cluster;
mod configs;
pub mod delegation_tokens;
pub mod election;
pub mod features;
pub mod liveness;
mod partitions;
pub mod placement;
mod producer_ids;
pub mod quorum;
pub mod reassignment;
pub mod scram;
mod topic_name;
mod topics;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use thiserror::Error;
use tracing::info;
use uuid::Uuid;

use crate::config::dynamic::{BrokerConfigError, DynamicBrokerConfigs};
use crate::config::{ConfigError, LogConfig};
use crate::kafka_uuid;
use crate::metadata::{BrokerImage, MetadataImage, TopicImage};
use quorum::{MetadataRecord, MetadataResponse};

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
    /// Each partition's replicas as the client named them, in partition
    /// order (else they are placed).
    pub assignments: Option<Vec<Vec<i32>>>,
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
    /// Read by every request: swapped whole, read without a lock.
    image: ArcSwap<MetadataImage>,
    /// Every new image, for the broker to bring its partitions in line.
    images: tokio::sync::watch::Sender<Arc<MetadataImage>>,
    broker_configs: ArcSwap<DynamicBrokerConfigs>,
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
        let mut image = MetadataImage::new(cluster_id, self.node_id, brokers, state.topics.clone());
        image.scram = Arc::new(state.scram_credentials.clone());
        image.acls = Arc::new(state.acls.clone());
        image.delegation_tokens = Arc::new(state.delegation_tokens.clone());
        image.client_quotas = Arc::new(state.client_quotas.clone());
        image.features = Arc::new(crate::metadata::features::FinalizedFeatures::new(
            &state.feature_levels,
            state.features_epoch,
        ));
        let image = Arc::new(image);
        self.image.store(Arc::clone(&image));
        self.images.send_if_modified(|current| {
            let changed = **current != *image;
            *current = Arc::clone(&image);
            changed
        });
        self.broker_configs
            .store(Arc::new(state.broker_configs.clone()));
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
        let (proposed_id, directory_id) = load_or_create_meta_properties(data_dir, broker.node_id)?;
        let node_id = broker.node_id;
        let members = quorum::QuorumMembers {
            directory_id,
            ..members.clone()
        };
        let quorum = quorum::Quorum::start(data_dir, node_id as u64, &members, runtime.clone())?;
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
            write_meta_properties(data_dir, &cluster_id, node_id, directory_id)?;
        }
        if quorum.state().brokers.get(&node_id) != Some(&broker) {
            quorum.propose(MetadataRecord::RegisterBroker(broker))?;
        }
        let published = Arc::new(Published {
            cluster_id,
            node_id,
            image: ArcSwap::from_pointee(MetadataImage::default()),
            images: tokio::sync::watch::Sender::new(Arc::new(MetadataImage::default())),
            broker_configs: ArcSwap::from_pointee(DynamicBrokerConfigs::default()),
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
        self.published.image.load_full()
    }

    /// Each new metadata image, as it is published.
    pub fn subscribe_images(&self) -> tokio::sync::watch::Receiver<Arc<MetadataImage>> {
        self.published.images.subscribe()
    }

    /// The current dynamic broker configs.
    pub fn broker_configs(&self) -> Arc<DynamicBrokerConfigs> {
        self.published.broker_configs.load_full()
    }
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

/// Reads `cluster.id` and `directory.id` from `meta.properties` (Kafka's
/// file), creating what is missing: a random UUID in URL-safe base64
/// without padding, as Kafka writes both. The directory id names this
/// node's metadata log dir in AddRaftVoter and RemoveRaftVoter
/// (`kafka-metadata-quorum.sh add-controller` reads it from this file).
fn load_or_create_meta_properties(
    data_dir: &Path,
    node_id: i32,
) -> Result<(String, Uuid), ControllerError> {
    let path = data_dir.join(META_PROPERTIES);
    let properties = std::fs::read_to_string(&path)
        .ok()
        .and_then(|text| crate::config::properties::parse(&text).ok())
        .unwrap_or_default();
    let cluster_id = properties.get("cluster.id").cloned();
    let directory_id = properties
        .get("directory.id")
        .and_then(|id| kafka_uuid::parse(id).ok());
    if let (Some(cluster_id), Some(directory_id)) = (&cluster_id, directory_id) {
        return Ok((cluster_id.clone(), directory_id));
    }
    let cluster_id = cluster_id.unwrap_or_else(kafka_uuid::random_text);
    let directory_id = directory_id.unwrap_or_else(kafka_uuid::random);
    write_meta_properties(data_dir, &cluster_id, node_id, directory_id)?;
    Ok((cluster_id, directory_id))
}

fn write_meta_properties(
    data_dir: &Path,
    cluster_id: &str,
    node_id: i32,
    directory_id: Uuid,
) -> std::io::Result<()> {
    let contents = format!(
        "version=1\ncluster.id={cluster_id}\nnode.id={node_id}\ndirectory.id={}\n",
        kafka_uuid::format(directory_id)
    );
    crate::durable::write_atomically(&data_dir.join(META_PROPERTIES), contents.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::dynamic::Scope;

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
            assignments: None,
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
    fn a_directory_id_is_created_once_and_kept_beside_an_older_cluster_id() {
        let dir = tempfile::tempdir().unwrap();
        // meta.properties as gregor wrote it before directory ids.
        std::fs::write(
            dir.path().join(META_PROPERTIES),
            "version=1\ncluster.id=MkU3OEVBNTcwNTJENDM2Qg\nnode.id=1\n",
        )
        .unwrap();
        let (cluster_id, directory_id) = load_or_create_meta_properties(dir.path(), 1).unwrap();
        assert_eq!(cluster_id, "MkU3OEVBNTcwNTJENDM2Qg");
        let written = std::fs::read_to_string(dir.path().join(META_PROPERTIES)).unwrap();
        assert!(written.contains(&format!(
            "directory.id={}\n",
            kafka_uuid::format(directory_id)
        )));
        assert_eq!(
            load_or_create_meta_properties(dir.path(), 1).unwrap(),
            (cluster_id, directory_id)
        );
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
