//! The read-only metadata image handlers read: brokers, topics with their
//! ids, partitions with leader, leader epoch, replicas and ISR, topic config
//! overrides. The controller publishes a new image on every change; readers
//! hold an `Arc` to one consistent version.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrokerImage {
    pub node_id: i32,
    pub host: String,
    pub port: u16,
    pub rack: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionImage {
    pub partition: i32,
    /// -1 when no replica may lead (every in-sync one is fenced).
    pub leader: i32,
    pub leader_epoch: i32,
    pub replicas: Vec<i32>,
    pub isr: Vec<i32>,
    /// Bumped on every change of leader or ISR: an AlterPartition from a
    /// leader that saw an older version is refused (Kafka's partition epoch).
    #[serde(default)]
    pub partition_epoch: i32,
}

/// The leader id of a partition that has none.
pub const NO_LEADER: i32 = -1;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicImage {
    pub name: String,
    pub id: Uuid,
    pub partitions: Vec<PartitionImage>,
    /// Topic-level config overrides given at creation (Kafka names).
    pub configs: BTreeMap<String, String>,
}

impl TopicImage {
    pub fn is_internal(&self) -> bool {
        self.name.starts_with("__")
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetadataImage {
    pub cluster_id: String,
    pub controller_id: i32,
    pub brokers: Vec<BrokerImage>,
    pub topics: BTreeMap<String, TopicImage>,
    #[serde(skip)]
    topic_names_by_id: HashMap<Uuid, String>,
}

impl MetadataImage {
    pub fn new(
        cluster_id: String,
        controller_id: i32,
        brokers: Vec<BrokerImage>,
        topics: BTreeMap<String, TopicImage>,
    ) -> Self {
        let topic_names_by_id = topics
            .values()
            .map(|topic| (topic.id, topic.name.clone()))
            .collect();
        MetadataImage {
            cluster_id,
            controller_id,
            brokers,
            topics,
            topic_names_by_id,
        }
    }

    pub fn topic(&self, name: &str) -> Option<&TopicImage> {
        self.topics.get(name)
    }

    pub fn topic_by_id(&self, id: Uuid) -> Option<&TopicImage> {
        self.topic_names_by_id
            .get(&id)
            .and_then(|name| self.topics.get(name))
    }

    pub fn broker(&self, node_id: i32) -> Option<&BrokerImage> {
        self.brokers.iter().find(|broker| broker.node_id == node_id)
    }
}
