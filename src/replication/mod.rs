//! Follower replication: one fetcher per leader broker (not per
//! partition) keeps this broker's follower replicas in step with their
//! leaders through Kafka Fetch requests carrying this broker's replica id.
//! The metadata reconciliation says which partitions follow which leader;
//! this module only moves partitions between fetchers.

mod fetcher;
pub mod throttle;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::config::broker::ReplicationConfig;
use crate::metadata::BrokerImage;
use crate::partition::Partition;
use crate::types::TopicPartition;

/// Replica fetchers' client ids start with this (then the node id).
pub const REPLICA_CLIENT_ID_PREFIX: &str = "gregor-replica-";

/// The partitions one fetcher keeps in step.
pub(crate) type Followed = Arc<BTreeMap<TopicPartition, Arc<Partition>>>;

struct FetcherHandle {
    leader: BrokerImage,
    partitions: watch::Sender<Followed>,
    stop: CancellationToken,
}

pub struct ReplicaFetchers {
    node_id: i32,
    config: ReplicationConfig,
    throttle: Arc<throttle::FollowerThrottle>,
    runtime: tokio::runtime::Handle,
    by_leader: Mutex<HashMap<i32, FetcherHandle>>,
}

impl ReplicaFetchers {
    pub fn new(
        node_id: i32,
        config: ReplicationConfig,
        throttle: throttle::FollowerThrottle,
        runtime: tokio::runtime::Handle,
    ) -> ReplicaFetchers {
        ReplicaFetchers {
            node_id,
            config,
            throttle: Arc::new(throttle),
            runtime,
            by_leader: Mutex::new(HashMap::new()),
        }
    }

    /// Follows exactly these partitions, each from the given leader:
    /// fetchers start for new leaders and stop for leaders followed no more.
    pub fn follow(&self, following: BTreeMap<TopicPartition, (BrokerImage, Arc<Partition>)>) {
        let mut by_leader: HashMap<i32, (BrokerImage, BTreeMap<TopicPartition, Arc<Partition>>)> =
            HashMap::new();
        for (topic_partition, (leader, partition)) in following {
            by_leader
                .entry(leader.node_id)
                .or_insert_with(|| (leader, BTreeMap::new()))
                .1
                .insert(topic_partition, partition);
        }
        let mut fetchers = self.by_leader.lock().unwrap_or_else(|p| p.into_inner());
        fetchers.retain(|leader, handle| {
            let keep = by_leader
                .get(leader)
                .is_some_and(|(image, _)| *image == handle.leader);
            if !keep {
                handle.stop.cancel();
            }
            keep
        });
        for (leader_id, (leader, partitions)) in by_leader {
            let partitions: Followed = Arc::new(partitions);
            match fetchers.get(&leader_id) {
                Some(handle) => {
                    handle.partitions.send_if_modified(|current| {
                        let changed = current.len() != partitions.len()
                            || current
                                .iter()
                                .zip(partitions.iter())
                                .any(|(a, b)| a.0 != b.0 || !Arc::ptr_eq(a.1, b.1));
                        *current = Arc::clone(&partitions);
                        changed
                    });
                }
                None => {
                    let (sender, receiver) = watch::channel(partitions);
                    let stop = CancellationToken::new();
                    self.runtime.spawn(
                        fetcher::Fetcher::new(
                            self.node_id,
                            leader.clone(),
                            self.config.clone(),
                            Arc::clone(&self.throttle),
                            receiver,
                            stop.clone(),
                        )
                        .run(),
                    );
                    fetchers.insert(
                        leader_id,
                        FetcherHandle {
                            leader,
                            partitions: sender,
                            stop,
                        },
                    );
                }
            }
        }
    }

    /// The follower throttle's (partitions held back, bytes metered).
    pub fn throttle_figures(&self) -> (u64, u64) {
        self.throttle.figures()
    }

    /// Stops every fetcher (shutdown).
    pub fn stop_all(&self) {
        let mut fetchers = self.by_leader.lock().unwrap_or_else(|p| p.into_inner());
        for (_, handle) in fetchers.drain() {
            handle.stop.cancel();
        }
    }
}
