//! The metadata log's records and the state they fold into. A record says
//! what changed, already validated by the leader that proposed it, so that
//! applying it cannot fail and gives the same state everywhere.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::config::dynamic::DynamicBrokerConfigs;
use crate::metadata::{BrokerImage, TopicImage};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum MetadataRecord {
    /// The cluster's id, proposed by every node as it starts: the first
    /// one applied is the cluster's, so that no format step is needed.
    InitCluster {
        cluster_id: String,
    },
    /// A broker (re)registers with its endpoint.
    RegisterBroker(BrokerImage),
    /// A broker stops being available (fenced): it leads nothing.
    FenceBroker {
        node_id: i32,
    },
    /// A topic is created, or its partitions, leaders, ISR or configs
    /// change: the whole new image of the topic.
    PutTopic(TopicImage),
    RemoveTopic {
        name: String,
    },
    /// Reserves the next block of producer ids.
    AllocateProducerIds {
        block_size: i64,
    },
    /// The dynamic broker configs after an AlterConfigs.
    PutBrokerConfigs(DynamicBrokerConfigs),
}

/// What applying a record answers its proposer.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum MetadataResponse {
    #[default]
    Applied,
    /// The producer-id block reserved: `start..end`.
    ProducerIds { start: i64, end: i64 },
    /// A `PutTopic` lost a race: another topic of that name (another id)
    /// was created first, on another controller.
    TopicExists,
}

/// Everything the metadata log describes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetadataState {
    #[serde(default)]
    pub cluster_id: Option<String>,
    pub brokers: BTreeMap<i32, BrokerImage>,
    /// Brokers that registered but are fenced (not alive).
    pub fenced: std::collections::BTreeSet<i32>,
    pub topics: BTreeMap<String, TopicImage>,
    /// The first producer id not handed out in any block.
    pub next_producer_id: i64,
    pub broker_configs: DynamicBrokerConfigs,
}

impl MetadataState {
    pub fn apply(&mut self, record: &MetadataRecord) -> MetadataResponse {
        match record {
            MetadataRecord::InitCluster { cluster_id } => {
                self.cluster_id.get_or_insert_with(|| cluster_id.clone());
            }
            MetadataRecord::RegisterBroker(broker) => {
                self.fenced.remove(&broker.node_id);
                self.brokers.insert(broker.node_id, broker.clone());
            }
            MetadataRecord::FenceBroker { node_id } => {
                self.fenced.insert(*node_id);
            }
            MetadataRecord::PutTopic(topic) => {
                if self
                    .topics
                    .get(&topic.name)
                    .is_some_and(|existing| existing.id != topic.id)
                {
                    return MetadataResponse::TopicExists;
                }
                self.topics.insert(topic.name.clone(), topic.clone());
            }
            MetadataRecord::RemoveTopic { name } => {
                self.topics.remove(name);
            }
            MetadataRecord::AllocateProducerIds { block_size } => {
                let start = self.next_producer_id;
                self.next_producer_id = start.saturating_add((*block_size).max(1));
                return MetadataResponse::ProducerIds {
                    start,
                    end: self.next_producer_id,
                };
            }
            MetadataRecord::PutBrokerConfigs(configs) => {
                self.broker_configs = configs.clone();
            }
        }
        MetadataResponse::Applied
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_fold_into_the_state_and_producer_id_blocks_never_overlap() {
        let mut state = MetadataState::default();
        let broker = BrokerImage {
            node_id: 2,
            host: "localhost".into(),
            port: 9093,
            rack: None,
        };
        state.apply(&MetadataRecord::RegisterBroker(broker.clone()));
        state.apply(&MetadataRecord::FenceBroker { node_id: 2 });
        assert!(state.fenced.contains(&2));
        state.apply(&MetadataRecord::RegisterBroker(broker));
        assert!(state.fenced.is_empty());
        let topic = |id: u128| TopicImage {
            name: "orders".into(),
            id: uuid::Uuid::from_u128(id),
            partitions: Vec::new(),
            configs: BTreeMap::new(),
        };
        assert_eq!(
            state.apply(&MetadataRecord::PutTopic(topic(1))),
            MetadataResponse::Applied
        );
        assert_eq!(
            state.apply(&MetadataRecord::PutTopic(topic(1))),
            MetadataResponse::Applied
        );
        assert_eq!(
            state.apply(&MetadataRecord::PutTopic(topic(2))),
            MetadataResponse::TopicExists,
            "a second creation of the name loses"
        );
        assert_eq!(state.topics["orders"].id, uuid::Uuid::from_u128(1));
        let first = state.apply(&MetadataRecord::AllocateProducerIds { block_size: 1000 });
        let second = state.apply(&MetadataRecord::AllocateProducerIds { block_size: 1000 });
        assert_eq!(
            first,
            MetadataResponse::ProducerIds {
                start: 0,
                end: 1000
            }
        );
        assert_eq!(
            second,
            MetadataResponse::ProducerIds {
                start: 1000,
                end: 2000
            }
        );
    }
}
