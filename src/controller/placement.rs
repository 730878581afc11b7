//! Where a new partition's replicas go: leaders spread round-robin over the
//! live brokers, followers on the next brokers along, and — when brokers
//! set `broker.rack` — the broker list alternates racks first, so that a
//! partition's replicas land on different racks as far as there are racks
//! (Kafka's rack-aware assignment, without its random start).

use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};

use crate::metadata::{BrokerImage, PartitionImage};

/// A broker as placement sees it: its id and rack. Brokers without a rack
/// each count as a rack of their own.
#[derive(Clone, Copy, Debug)]
pub struct Candidate<'a> {
    pub node_id: i32,
    pub rack: Option<&'a str>,
}

impl<'a> From<&'a BrokerImage> for Candidate<'a> {
    fn from(broker: &'a BrokerImage) -> Self {
        Candidate {
            node_id: broker.node_id,
            rack: broker.rack.as_deref(),
        }
    }
}

/// Where a topic's round-robin starts (see [`place`]): its name's hash.
pub fn topic_seed(topic: &str) -> usize {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    topic.hash(&mut hasher);
    hasher.finish() as usize
}

/// Kafka's `validateManualPartitionAssignment`: replicas named by a client
/// (CreateTopics, CreatePartitions, AlterPartitionReassignments) must be
/// registered brokers, each once, and as many as the topic's other
/// partitions have when that is given.
pub fn validate_manual(
    registered: impl Fn(i32) -> bool,
    replicas: &[i32],
    replication_factor: Option<usize>,
) -> Result<(), String> {
    if replicas.is_empty() {
        return Err("The manual partition assignment includes an empty replica list.".to_string());
    }
    let mut sorted = replicas.to_vec();
    sorted.sort_unstable();
    for (i, id) in sorted.iter().enumerate() {
        if !registered(*id) {
            return Err(format!(
                "The manual partition assignment includes broker {id}, but no such broker is registered."
            ));
        }
        if i > 0 && sorted[i - 1] == *id {
            return Err(format!(
                "The manual partition assignment includes the broker {id} more than once."
            ));
        }
    }
    match replication_factor {
        Some(factor) if factor != replicas.len() => Err(format!(
            "The manual partition assignment includes a partition with {} replica(s), but this is not consistent with previous partitions, which have {factor} replica(s).",
            replicas.len()
        )),
        _ => Ok(()),
    }
}

/// New partitions `first..` on the replicas a client named: the live ones
/// in sync, the first of them leading (Kafka's manual assignment).
pub fn manual_partitions(
    first: i32,
    assignments: &[Vec<i32>],
    live: impl Fn(i32) -> bool,
) -> Result<Vec<PartitionImage>, String> {
    assignments
        .iter()
        .zip(first..)
        .map(|(replicas, partition)| {
            let isr: Vec<i32> = replicas.iter().copied().filter(|id| live(*id)).collect();
            let Some(&leader) = isr.first() else {
                return Err(format!(
                    "All brokers specified in the partition assignment for partition {partition} are fenced or in controlled shutdown."
                ));
            };
            Ok(PartitionImage {
                partition,
                leader,
                leader_epoch: 0,
                replicas: replicas.clone(),
                isr,
                partition_epoch: 0,
                adding_replicas: Vec::new(),
                removing_replicas: Vec::new(),
            })
        })
        .collect()
}

/// The replica lists of partitions `first..first + count`, each
/// `replication_factor` long (callers check there are enough brokers).
/// `seed` picks where the round-robin starts (a topic name's hash), so
/// that many small topics do not all lead on the same broker.
pub fn place(
    brokers: &[Candidate<'_>],
    first: i32,
    count: i32,
    replication_factor: usize,
    seed: usize,
) -> Vec<Vec<i32>> {
    let order = rack_alternated(brokers);
    if order.is_empty() {
        return Vec::new();
    }
    let n = order.len();
    let rack_of = |id: i32| {
        brokers
            .iter()
            .find(|broker| broker.node_id == id)
            .and_then(|broker| broker.rack)
    };
    (first..first + count)
        .map(|partition| {
            let start = (seed + partition as usize) % n;
            let along = (0..n).map(|i| order[(start + i) % n]);
            // Followers on racks not used yet first; where there are fewer
            // racks than replicas, the next brokers along.
            let mut replicas: Vec<i32> = Vec::with_capacity(replication_factor.min(n));
            let mut racks: Vec<Option<&str>> = Vec::new();
            for id in along.clone() {
                let rack = rack_of(id);
                if replicas.len() < replication_factor && (rack.is_none() || !racks.contains(&rack))
                {
                    replicas.push(id);
                    racks.push(rack);
                }
            }
            for id in along {
                if replicas.len() < replication_factor && !replicas.contains(&id) {
                    replicas.push(id);
                }
            }
            replicas
        })
        .collect()
}

/// Broker ids ordered so that consecutive ones are on different racks
/// where possible: the first of each rack, then the second of each…
/// Brokers without a rack count as one rack of their own each.
fn rack_alternated(brokers: &[Candidate<'_>]) -> Vec<i32> {
    let mut by_rack: BTreeMap<String, Vec<i32>> = BTreeMap::new();
    for broker in brokers {
        let rack = match broker.rack {
            Some(rack) => rack.to_string(),
            None => format!("\u{0}{}", broker.node_id),
        };
        by_rack.entry(rack).or_default().push(broker.node_id);
    }
    for ids in by_rack.values_mut() {
        ids.sort_unstable();
    }
    let mut racks: Vec<Vec<i32>> = by_rack.into_values().collect();
    // Without racks, plain id order.
    racks.sort_by_key(|ids| ids.first().copied());
    let deepest = racks.iter().map(Vec::len).max().unwrap_or(0);
    (0..deepest)
        .flat_map(|level| {
            racks
                .iter()
                .filter_map(move |ids| ids.get(level).copied())
                .collect::<Vec<_>>()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn broker(node_id: i32, rack: Option<&str>) -> Candidate<'_> {
        Candidate { node_id, rack }
    }

    #[test]
    fn leaders_and_replicas_spread_over_the_brokers() {
        let brokers = [broker(3, None), broker(1, None), broker(2, None)];
        let placed = place(&brokers, 0, 6, 3, 0);
        assert_eq!(placed[0], vec![1, 2, 3]);
        assert_eq!(placed[1], vec![2, 3, 1]);
        assert_eq!(placed[2], vec![3, 1, 2]);
        let mut leaders: Vec<i32> = placed.iter().map(|r| r[0]).collect();
        leaders.sort_unstable();
        assert_eq!(leaders, vec![1, 1, 2, 2, 3, 3]);
        for replicas in &placed {
            let mut distinct = replicas.clone();
            distinct.sort_unstable();
            distinct.dedup();
            assert_eq!(distinct.len(), 3);
        }
        assert_eq!(place(&brokers, 4, 1, 1, 0), vec![vec![2]]);
        assert_eq!(place(&brokers, 0, 1, 2, 1), vec![vec![2, 3]]);
    }

    #[test]
    fn uneven_racks_still_get_one_replica_each() {
        let brokers = [
            broker(1, Some("a")),
            broker(2, Some("a")),
            broker(3, Some("b")),
        ];
        let placed = place(&brokers, 0, 6, 2, 0);
        for replicas in &placed {
            assert!(replicas.contains(&3), "{replicas:?}");
        }
        let mut leaders: Vec<i32> = placed.iter().map(|r| r[0]).collect();
        leaders.sort_unstable();
        assert_eq!(leaders, vec![1, 1, 2, 2, 3, 3]);
        // More replicas than racks: the rest along the list.
        for replicas in place(&brokers, 0, 3, 3, 0) {
            let mut sorted = replicas.clone();
            sorted.sort_unstable();
            assert_eq!(sorted, vec![1, 2, 3]);
        }
    }

    #[test]
    fn replicas_of_a_partition_go_to_different_racks_first() {
        let brokers = [
            broker(1, Some("a")),
            broker(2, Some("a")),
            broker(3, Some("b")),
            broker(4, Some("b")),
        ];
        for replicas in place(&brokers, 0, 8, 2, 0) {
            let rack = |id: i32| if id <= 2 { "a" } else { "b" };
            assert_ne!(rack(replicas[0]), rack(replicas[1]), "{replicas:?}");
        }
    }
}
