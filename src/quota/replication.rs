//! Replication throttles (Kafka's `ReplicationQuotaManager`, KIP-73): the
//! bytes replicated for the replicas a topic names in
//! `leader.replication.throttled.replicas` /
//! `follower.replication.throttled.replicas` are held to the broker's
//! `leader.replication.throttled.rate` / `follower.replication.throttled.rate`
//! — what `kafka-reassign-partitions.sh --throttle` sets so that a replica
//! catching up does not take every byte of the network. A replica already
//! in the ISR is never throttled. Over the rate, the leader answers the
//! throttled partitions without records and the follower leaves them out
//! of its fetches until the measured rate is back under it.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use super::rate::SampledRate;
use crate::config::dynamic::{DynamicBrokerConfigs, Scope};

/// Which end of the replication a throttle holds back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Leader,
    Follower,
}

impl Side {
    /// The broker config with the rate, bytes per second.
    pub fn rate_config(self) -> &'static str {
        match self {
            Side::Leader => "leader.replication.throttled.rate",
            Side::Follower => "follower.replication.throttled.rate",
        }
    }

    /// The topic config naming the throttled replicas.
    pub fn replicas_config(self) -> &'static str {
        match self {
            Side::Leader => "leader.replication.throttled.replicas",
            Side::Follower => "follower.replication.throttled.replicas",
        }
    }
}

/// One broker's meter for one side.
pub struct ReplicationQuota {
    side: Side,
    started: Instant,
    rate: Mutex<SampledRate>,
    /// Partitions held back (answered without records, or left out).
    held_back: AtomicU64,
    /// Throttled replicas' bytes recorded.
    bytes: AtomicU64,
}

impl ReplicationQuota {
    /// Measured over `window_num` windows of `window_size_seconds`
    /// (`replication.quota.window.num` / `.size.seconds`).
    pub fn new(side: Side, window_num: u32, window_size_seconds: u32) -> ReplicationQuota {
        ReplicationQuota {
            side,
            started: Instant::now(),
            rate: Mutex::new(SampledRate::new(
                window_num,
                u64::from(window_size_seconds) * 1000,
                0,
            )),
            held_back: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
        }
    }

    pub fn side(&self) -> Side {
        self.side
    }

    fn now_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    /// The rate in force at `node_id`: its own dynamic value, else the
    /// cluster-wide one; `None` when unlimited (Kafka's default).
    pub fn bound(&self, configs: &DynamicBrokerConfigs, node_id: i32) -> Option<u64> {
        let name = self.side.rate_config();
        let value = configs
            .of(Scope::Broker(node_id))
            .get(name)
            .or_else(|| configs.of(Scope::ClusterDefault).get(name))?;
        value
            .trim()
            .parse::<u64>()
            .ok()
            .filter(|rate| *rate < i64::MAX as u64)
    }

    /// Whether the throttled replicas have used up `bound` bytes/s: then
    /// they are held back, and counted as such.
    pub fn holds_back(&self, bound: u64) -> bool {
        let now = self.now_ms();
        let over = self.lock().measure(now) > bound as f64;
        if over {
            self.held_back.fetch_add(1, Ordering::Relaxed);
        }
        over
    }

    /// Counts bytes replicated for throttled replicas.
    pub fn record(&self, bytes: usize) {
        if bytes > 0 {
            let now = self.now_ms();
            self.lock().record(bytes as f64, now);
            self.bytes.fetch_add(bytes as u64, Ordering::Relaxed);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, SampledRate> {
        self.rate.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// (partitions held back, throttled bytes) since start.
    pub fn figures(&self) -> (u64, u64) {
        (
            self.held_back.load(Ordering::Relaxed),
            self.bytes.load(Ordering::Relaxed),
        )
    }
}

/// Whether a topic with `configs` throttles partition `partition`'s
/// replica on broker `node_id` on `side`: its list names
/// `partition:node_id`, or is `*`.
pub fn is_throttled(
    configs: &BTreeMap<String, String>,
    side: Side,
    partition: i32,
    node_id: i32,
) -> bool {
    let Some(list) = configs.get(side.replicas_config()) else {
        return false;
    };
    let list = list.trim();
    if list == "*" {
        return true;
    }
    list.split(',').any(|entry| {
        entry.trim().split_once(':').is_some_and(|(p, b)| {
            p.trim().parse() == Ok(partition) && b.trim().parse() == Ok(node_id)
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replicas_are_throttled_as_their_topics_list_names_them() {
        let configs = |value: &str| {
            BTreeMap::from([(
                Side::Leader.replicas_config().to_string(),
                value.to_string(),
            )])
        };
        assert!(is_throttled(&configs("0:1, 1:2"), Side::Leader, 1, 2));
        assert!(!is_throttled(&configs("0:1,1:2"), Side::Leader, 1, 1));
        assert!(!is_throttled(&configs("0:1,1:2"), Side::Follower, 0, 1));
        assert!(is_throttled(&configs("*"), Side::Leader, 7, 3));
        assert!(!is_throttled(&configs(""), Side::Leader, 0, 1));
    }

    #[test]
    fn the_brokers_own_rate_wins_over_the_cluster_default() {
        let quota = ReplicationQuota::new(Side::Follower, 11, 1);
        let configs = DynamicBrokerConfigs::default()
            .with(
                Scope::ClusterDefault,
                BTreeMap::from([("follower.replication.throttled.rate".into(), "100".into())]),
            )
            .with(
                Scope::Broker(2),
                BTreeMap::from([("follower.replication.throttled.rate".into(), "50".into())]),
            );
        assert_eq!(quota.bound(&configs, 2), Some(50));
        assert_eq!(quota.bound(&configs, 1), Some(100));
        assert_eq!(quota.bound(&DynamicBrokerConfigs::default(), 1), None);
        quota.record(20_000);
        assert!(quota.holds_back(1000), "20 kB over a 10 s span is 2 kB/s");
        assert!(!quota.holds_back(3000));
        assert_eq!(quota.figures(), (1, 20_000));
    }
}
