//! The follower's side of a replication throttle: while the bytes this
//! broker fetched for its throttled replicas are over
//! `follower.replication.throttled.rate`, those replicas are left out of
//! its fetches (replicas in the ISR never are).

use std::collections::BTreeSet;
use std::sync::Arc;

use super::Followed;
use crate::config::dynamic::DynamicBrokerConfigs;
use crate::metadata::MetadataImage;
use crate::quota::replication::{is_throttled, ReplicationQuota, Side};
use crate::types::TopicPartition;

/// The current metadata and dynamic broker configs.
pub type Source = Box<dyn Fn() -> (Arc<MetadataImage>, Arc<DynamicBrokerConfigs>) + Send + Sync>;

pub struct FollowerThrottle {
    quota: ReplicationQuota,
    node_id: i32,
    source: Source,
}

/// One fetch's view of the throttle.
#[derive(Debug, Default, PartialEq)]
pub struct Plan {
    /// Left out of this fetch.
    pub held_back: BTreeSet<TopicPartition>,
    /// Fetched, their bytes counted against the rate.
    pub metered: BTreeSet<TopicPartition>,
}

impl FollowerThrottle {
    pub fn new(node_id: i32, window_num: u32, window_size_seconds: u32, source: Source) -> Self {
        FollowerThrottle {
            quota: ReplicationQuota::new(Side::Follower, window_num, window_size_seconds),
            node_id,
            source,
        }
    }

    /// Which of `followed` this fetch leaves out, and which it meters;
    /// nothing without a follower rate set.
    pub fn plan(&self, followed: &Followed) -> Plan {
        let (image, configs) = (self.source)();
        let Some(bound) = self.quota.bound(&configs, self.node_id) else {
            return Plan::default();
        };
        let throttled: Vec<&TopicPartition> = followed
            .keys()
            .filter(|tp| {
                image.topic(&tp.topic).is_some_and(|topic| {
                    let in_sync = topic
                        .partitions
                        .get(tp.partition.max(0) as usize)
                        .is_some_and(|p| p.isr.contains(&self.node_id));
                    !in_sync
                        && is_throttled(&topic.configs, Side::Follower, tp.partition, self.node_id)
                })
            })
            .collect();
        if throttled.is_empty() {
            return Plan::default();
        }
        let over = self.quota.holds_back(bound);
        let chosen = throttled.into_iter().cloned().collect();
        match over {
            true => Plan {
                held_back: chosen,
                metered: BTreeSet::new(),
            },
            false => Plan {
                held_back: BTreeSet::new(),
                metered: chosen,
            },
        }
    }

    pub fn record(&self, bytes: usize) {
        self.quota.record(bytes);
    }

    pub fn figures(&self) -> (u64, u64) {
        self.quota.figures()
    }
}
