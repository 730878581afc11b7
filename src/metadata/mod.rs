//! The read-only metadata image handlers read: brokers, topics with their
//! ids, partitions with leader, leader epoch, replicas and ISR, topic config
//! overrides. The controller publishes a new image on every change; readers
//! hold an `Arc` to one consistent version.

pub mod acls;
pub mod client_quotas;
pub mod delegation_tokens;
pub mod features;
pub mod scram;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrokerImage {
    pub node_id: i32,
    /// The inter-broker listener's advertised address: followers fetch
    /// from it.
    pub host: String,
    pub port: u16,
    pub rack: Option<String>,
    /// Every client listener's advertised address, by listener name, so
    /// that each client is told the brokers' addresses on the listener it
    /// came in on. Empty in registrations written before listeners were
    /// named: then `host` and `port` serve every listener.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub endpoints: Vec<Endpoint>,
}

/// One advertised listener of a broker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    pub listener: String,
    pub host: String,
    pub port: u16,
}

impl BrokerImage {
    /// Where a client that came in on `listener` reaches this broker;
    /// `None` if the broker has no such listener (Kafka then leaves it out
    /// of Metadata).
    pub fn endpoint(&self, listener: &str) -> Option<(&str, u16)> {
        if self.endpoints.is_empty() {
            return Some((&self.host, self.port));
        }
        self.endpoints
            .iter()
            .find(|e| e.listener == listener)
            .map(|e| (e.host.as_str(), e.port))
    }
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
    /// A reassignment in progress (KIP-455): the replicas it adds (in
    /// `replicas`, catching up) …
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub adding_replicas: Vec<i32>,
    /// … and those it removes once every added one is in the ISR.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub removing_replicas: Vec<i32>,
}

impl PartitionImage {
    /// Whether a reassignment is in progress.
    pub fn is_reassigning(&self) -> bool {
        !self.adding_replicas.is_empty() || !self.removing_replicas.is_empty()
    }
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
    /// SCRAM credentials by user and mechanism (secrets: never served).
    #[serde(skip)]
    pub scram: Arc<scram::ScramCredentials>,
    /// Every ACL, for the authorizer.
    #[serde(skip)]
    pub acls: Arc<acls::Acls>,
    /// Delegation tokens by id (their HMACs are derived, not stored).
    #[serde(skip)]
    pub delegation_tokens: Arc<delegation_tokens::DelegationTokens>,
    /// Client quotas by entity.
    #[serde(skip)]
    pub client_quotas: Arc<client_quotas::ClientQuotas>,
    /// The finalized feature levels.
    #[serde(skip)]
    pub features: Arc<features::FinalizedFeatures>,
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
            scram: Arc::default(),
            acls: Arc::default(),
            delegation_tokens: Arc::default(),
            client_quotas: Arc::default(),
            features: Arc::default(),
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

    /// The topic a request names: by `name`, or — at the versions that
    /// name topics by id (Produce v13+, Fetch v13+, OffsetCommit v10+,
    /// TxnOffsetCommit v6+), whose names are empty — by `id` ("" if the
    /// id is unknown).
    pub fn requested_topic(&self, name: &str, id: Uuid) -> String {
        match name.is_empty() && !id.is_nil() {
            true => self
                .topic_by_id(id)
                .map_or_else(String::new, |topic| topic.name.clone()),
            false => name.to_string(),
        }
    }

    pub fn broker(&self, node_id: i32) -> Option<&BrokerImage> {
        self.brokers.iter().find(|broker| broker.node_id == node_id)
    }

    /// The partition's leader as clients are told it: a live broker, or
    /// `NO_LEADER`. Fencing a broker and moving its leaderships are two
    /// metadata records, so between them a partition can name a leader
    /// that is no longer listed among the brokers; Kafka's metadata cache
    /// reports a leader it has no live endpoint for as none (clients look
    /// again), and a client told of an unlisted leader may never recover.
    pub fn live_leader(&self, partition: &PartitionImage) -> i32 {
        match self.broker(partition.leader) {
            Some(_) => partition.leader,
            None => NO_LEADER,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn broker(node_id: i32) -> BrokerImage {
        BrokerImage {
            node_id,
            host: "localhost".to_string(),
            port: 9092,
            rack: None,
            endpoints: Vec::new(),
        }
    }

    #[test]
    fn a_leader_that_is_not_a_live_broker_is_reported_as_none() {
        let image = MetadataImage::new("c".to_string(), 1, vec![broker(1)], BTreeMap::new());
        let led_by = |leader| PartitionImage {
            partition: 0,
            leader,
            leader_epoch: 3,
            replicas: vec![1, 2],
            isr: vec![1, 2],
            partition_epoch: 5,
            adding_replicas: Vec::new(),
            removing_replicas: Vec::new(),
        };
        assert_eq!(image.live_leader(&led_by(1)), 1);
        assert_eq!(image.live_leader(&led_by(2)), NO_LEADER);
        assert_eq!(image.live_leader(&led_by(NO_LEADER)), NO_LEADER);
    }
}
