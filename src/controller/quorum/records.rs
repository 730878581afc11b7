//! The metadata log's records and the state they fold into. A record says
//! what changed, already validated by the leader that proposed it, so that
//! applying it cannot fail and gives the same state everywhere.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::config::dynamic::DynamicBrokerConfigs;
use crate::metadata::acls::{AclBinding, Acls};
use crate::metadata::client_quotas::{ClientQuotas, QuotaEntity, QuotaValue};
use crate::metadata::delegation_tokens::{DelegationTokens, TokenInformation};
use crate::metadata::scram::{ScramCredential, ScramCredentials, ScramMechanism};
use crate::metadata::{BrokerImage, PartitionImage, TopicImage};

/// A new leader, leader epoch or ISR for one partition; it applies only
/// if the partition is still at `expected_partition_epoch`, so that two
/// changes decided on the same view cannot both land.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionChange {
    pub topic: String,
    pub topic_id: uuid::Uuid,
    pub expected_partition_epoch: i32,
    pub partition: PartitionImage,
}

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
    /// A broker's registration goes (UnregisterBroker): it is no longer
    /// one of the cluster's brokers until it registers again.
    UnregisterBroker {
        node_id: i32,
    },
    /// A topic is created, gets more partitions or new configs: the whole
    /// new image of the topic. Partitions it had keep their applied state
    /// (only `ChangePartition` changes leaders and ISRs).
    PutTopic(TopicImage),
    ChangePartition(PartitionChange),
    RemoveTopic {
        name: String,
    },
    /// Reserves the next block of producer ids.
    AllocateProducerIds {
        block_size: i64,
    },
    /// Every dynamic broker config (logs written before
    /// `PutBrokerScopeConfigs`, and migrated JSON snapshots).
    PutBrokerConfigs(DynamicBrokerConfigs),
    /// One scope's dynamic broker configs after an AlterConfigs: one
    /// broker's (`node_id`) or the cluster default (`None`). Only that
    /// scope is replaced, so that two brokers' changes written from
    /// different nodes do not undo each other.
    PutBrokerScopeConfigs {
        node_id: Option<i32>,
        configs: BTreeMap<String, String>,
    },
    /// An AlterUserScramCredentials' accepted changes, all at once.
    AlterScramCredentials {
        deletions: Vec<(String, ScramMechanism)>,
        upsertions: Vec<(String, ScramMechanism, ScramCredential)>,
    },
    /// ACLs created (identical ones are kept once).
    CreateAcls(Vec<AclBinding>),
    /// ACLs deleted (absent ones are ignored).
    DeleteAcls(Vec<AclBinding>),
    /// A delegation token created, renewed or given a new expiry.
    PutDelegationToken(TokenInformation),
    /// Delegation tokens expired (absent ones are ignored).
    RemoveDelegationTokens(Vec<String>),
    /// An AlterClientQuotas' accepted changes: each key of an entity set
    /// to a value, or removed (`None`).
    AlterClientQuotas(Vec<(QuotaEntity, String, Option<QuotaValue>)>),
    /// An UpdateFeatures' finalized levels, all at once.
    SetFeatureLevels(Vec<(String, i16)>),
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
    /// A `ChangePartition` was decided on an outdated partition (or the
    /// topic is gone): nothing changed.
    StalePartition,
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
    #[serde(default)]
    pub scram_credentials: ScramCredentials,
    #[serde(default)]
    pub acls: Acls,
    #[serde(default)]
    pub delegation_tokens: DelegationTokens,
    #[serde(default)]
    pub client_quotas: ClientQuotas,
    /// Feature levels UpdateFeatures set (the others are at their default).
    #[serde(default)]
    pub feature_levels: BTreeMap<String, i16>,
    /// How many times they were set: the finalized features epoch.
    #[serde(default)]
    pub features_epoch: i64,
}

impl MetadataState {
    /// A state with brokers 1 to `brokers` registered (tests).
    #[cfg(test)]
    pub fn with_brokers(brokers: i32) -> MetadataState {
        let mut state = MetadataState::default();
        for node_id in 1..=brokers {
            state.brokers.insert(
                node_id,
                BrokerImage {
                    node_id,
                    host: "localhost".into(),
                    port: 9090 + node_id as u16,
                    rack: None,
                    endpoints: Vec::new(),
                },
            );
        }
        state
    }

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
            MetadataRecord::UnregisterBroker { node_id } => {
                self.brokers.remove(node_id);
                self.fenced.remove(node_id);
            }
            MetadataRecord::PutTopic(topic) => {
                let mut topic = topic.clone();
                if let Some(existing) = self.topics.get(&topic.name) {
                    if existing.id != topic.id {
                        return MetadataResponse::TopicExists;
                    }
                    let kept = existing.partitions.len().min(topic.partitions.len());
                    topic.partitions[..kept].clone_from_slice(&existing.partitions[..kept]);
                }
                self.topics.insert(topic.name.clone(), topic);
            }
            MetadataRecord::ChangePartition(change) => {
                let current = self
                    .topics
                    .get_mut(&change.topic)
                    .filter(|topic| topic.id == change.topic_id)
                    .and_then(|topic| {
                        topic
                            .partitions
                            .get_mut(change.partition.partition.max(0) as usize)
                    })
                    .filter(|p| p.partition_epoch == change.expected_partition_epoch);
                match current {
                    Some(current) => *current = change.partition.clone(),
                    None => return MetadataResponse::StalePartition,
                }
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
            MetadataRecord::PutBrokerScopeConfigs { node_id, configs } => {
                let scope = match node_id {
                    Some(node_id) => crate::config::dynamic::Scope::Broker(*node_id),
                    None => crate::config::dynamic::Scope::ClusterDefault,
                };
                self.broker_configs = self.broker_configs.with(scope, configs.clone());
            }
            MetadataRecord::AlterScramCredentials {
                deletions,
                upsertions,
            } => {
                for (user, mechanism) in deletions {
                    if let Some(credentials) = self.scram_credentials.get_mut(user) {
                        credentials.remove(mechanism);
                        if credentials.is_empty() {
                            self.scram_credentials.remove(user);
                        }
                    }
                }
                for (user, mechanism, credential) in upsertions {
                    self.scram_credentials
                        .entry(user.clone())
                        .or_default()
                        .insert(*mechanism, credential.clone());
                }
            }
            MetadataRecord::CreateAcls(acls) => self.acls.extend(acls.iter().cloned()),
            MetadataRecord::DeleteAcls(acls) => {
                for acl in acls {
                    self.acls.remove(acl);
                }
            }
            MetadataRecord::PutDelegationToken(token) => {
                self.delegation_tokens
                    .insert(token.token_id.clone(), token.clone());
            }
            MetadataRecord::RemoveDelegationTokens(ids) => {
                for id in ids {
                    self.delegation_tokens.remove(id);
                }
            }
            MetadataRecord::SetFeatureLevels(levels) => {
                self.feature_levels.extend(levels.iter().cloned());
                self.features_epoch += 1;
            }
            MetadataRecord::AlterClientQuotas(changes) => {
                for (entity, key, value) in changes {
                    self.client_quotas.apply(entity, key, *value);
                }
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
            endpoints: Vec::new(),
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

    #[test]
    fn partition_changes_apply_only_to_the_epoch_they_were_decided_on() {
        let mut state = MetadataState::default();
        let partition = |leader: i32, partition_epoch: i32| crate::metadata::PartitionImage {
            partition: 0,
            leader,
            leader_epoch: leader,
            replicas: vec![1, 2],
            isr: vec![1, 2],
            partition_epoch,
            adding_replicas: Vec::new(),
            removing_replicas: Vec::new(),
        };
        let topic = TopicImage {
            name: "t".into(),
            id: uuid::Uuid::from_u128(1),
            partitions: vec![partition(1, 0)],
            configs: BTreeMap::new(),
        };
        state.apply(&MetadataRecord::PutTopic(topic.clone()));
        let to_two = PartitionChange {
            topic: "t".into(),
            topic_id: topic.id,
            expected_partition_epoch: 0,
            partition: partition(2, 1),
        };
        assert_eq!(
            state.apply(&MetadataRecord::ChangePartition(to_two.clone())),
            MetadataResponse::Applied
        );
        assert_eq!(
            state.apply(&MetadataRecord::ChangePartition(to_two)),
            MetadataResponse::StalePartition
        );
        // a config change re-putting the topic keeps the applied leader
        let mut reconfigured = topic.clone();
        reconfigured
            .configs
            .insert("retention.ms".into(), "1".into());
        reconfigured.partitions.push(partition(1, 0));
        state.apply(&MetadataRecord::PutTopic(reconfigured));
        let partitions = &state.topics["t"].partitions;
        assert_eq!((partitions[0].leader, partitions.len()), (2, 2));
    }

    /// Two brokers' configs altered from different nodes, each on its own
    /// view: both stay (a whole-configs record would undo the first).
    #[test]
    fn scoped_broker_configs_replace_only_their_scope() {
        let mut state = MetadataState::default();
        let set = |node_id, value: &str| MetadataRecord::PutBrokerScopeConfigs {
            node_id,
            configs: BTreeMap::from([("log.cleaner.threads".to_string(), value.to_string())]),
        };
        state.apply(&set(Some(1), "2"));
        state.apply(&set(Some(2), "3"));
        state.apply(&set(None, "4"));
        let configs = &state.broker_configs;
        assert_eq!(configs.per_broker.len(), 2);
        assert_eq!(configs.per_broker[&1]["log.cleaner.threads"], "2");
        assert_eq!(configs.cluster_default["log.cleaner.threads"], "4");
        state.apply(&MetadataRecord::PutBrokerScopeConfigs {
            node_id: Some(1),
            configs: BTreeMap::new(),
        });
        assert_eq!(
            state.broker_configs.per_broker.keys().collect::<Vec<_>>(),
            vec![&2]
        );
    }
}
