//! Leader election and ISR changes, as pure functions of the metadata
//! state: each returns the partition changes to write, every one bumping
//! the partition epoch so that a leader acting on an older view is
//! refused (Kafka's AlterPartition semantics).

use kafka_protocol::error::ResponseError;

use super::quorum::{MetadataState, PartitionChange};
use crate::metadata::{PartitionImage, TopicImage, NO_LEADER};

/// Whether `topic` allows an out-of-sync replica to lead: its own
/// `unclean.leader.election.enable`, else the broker default.
pub(super) fn unclean_allowed(topic: &TopicImage, broker_default: bool) -> bool {
    match topic.configs.get("unclean.leader.election.enable") {
        Some(value) => value == "true",
        None => broker_default,
    }
}

/// The change from `old` to `new`, decided on `old`'s partition epoch.
pub(super) fn change(
    topic: &TopicImage,
    old: &PartitionImage,
    new: PartitionImage,
) -> PartitionChange {
    PartitionChange {
        topic: topic.name.clone(),
        topic_id: topic.id,
        expected_partition_epoch: old.partition_epoch,
        partition: PartitionImage {
            partition_epoch: old.partition_epoch + 1,
            ..new
        },
    }
}

fn with_leader(old: &PartitionImage, leader: i32, isr: Vec<i32>) -> PartitionImage {
    PartitionImage {
        leader,
        leader_epoch: old.leader_epoch + 1,
        isr,
        ..old.clone()
    }
}

/// The first replica (in the replicas' order) that is in the ISR and
/// alive: who leads when the leader must change.
pub(super) fn live_leader(state: &MetadataState, partition: &PartitionImage) -> Option<i32> {
    partition.replicas.iter().copied().find(|id| {
        partition.isr.contains(id) && !state.fenced.contains(id) && state.brokers.contains_key(id)
    })
}

/// A broker was fenced: it leaves every ISR it can leave, and each
/// partition it led gets the next in-sync replica as leader — or, with
/// none left, an out-of-sync one if unclean election is allowed, or no
/// leader at all (the fenced broker stays the ISR, to lead again when it
/// returns, as Kafka keeps the last ISR member).
pub fn on_fenced(state: &MetadataState, node: i32, unclean_default: bool) -> Vec<PartitionChange> {
    without_replica(state, node, unclean_default, |_, _| true)
}

/// A broker's log dir failed: for the partitions it held there, it leaves
/// the ISR and hands its leaderships on, as when it is fenced (Kafka's
/// handling of a broker's offline log dirs).
pub fn on_replicas_offline(
    state: &MetadataState,
    node: i32,
    partitions: &[(String, i32)],
    unclean_default: bool,
) -> Vec<PartitionChange> {
    without_replica(state, node, unclean_default, |topic, partition| {
        partitions
            .iter()
            .any(|(name, index)| name == topic && *index == partition)
    })
}

/// `node` leaves the ISR of the partitions `affected` picks, and their
/// leaderships move to the next live in-sync replica.
fn without_replica(
    state: &MetadataState,
    node: i32,
    unclean_default: bool,
    affected: impl Fn(&str, i32) -> bool,
) -> Vec<PartitionChange> {
    let live =
        |id: &i32| *id != node && !state.fenced.contains(id) && state.brokers.contains_key(id);
    let mut changes = Vec::new();
    for topic in state.topics.values() {
        for old in &topic.partitions {
            if !affected(&topic.name, old.partition) {
                continue;
            }
            let isr: Vec<i32> = old.isr.iter().copied().filter(|id| *id != node).collect();
            if old.leader == node {
                let next = old
                    .replicas
                    .iter()
                    .copied()
                    .find(|id| isr.contains(id) && live(id));
                let new = match next {
                    Some(leader) => with_leader(old, leader, isr),
                    None if unclean_allowed(topic, unclean_default) => {
                        match old.replicas.iter().copied().find(live) {
                            Some(leader) => with_leader(old, leader, vec![leader]),
                            None => with_leader(old, NO_LEADER, old.isr.clone()),
                        }
                    }
                    None => with_leader(old, NO_LEADER, old.isr.clone()),
                };
                changes.push(change(topic, old, new));
            } else if old.isr.contains(&node) && !isr.is_empty() {
                let new = PartitionImage { isr, ..old.clone() };
                changes.push(change(topic, old, new));
            }
        }
    }
    changes
}

/// A broker is back: partitions without a leader that it may lead (it is
/// in their ISR, or unclean election is allowed) get it as leader.
pub fn on_unfenced(
    state: &MetadataState,
    node: i32,
    unclean_default: bool,
) -> Vec<PartitionChange> {
    let mut changes = Vec::new();
    for topic in state.topics.values() {
        for old in &topic.partitions {
            if old.leader != NO_LEADER || !old.replicas.contains(&node) {
                continue;
            }
            if old.isr.contains(&node) {
                changes.push(change(topic, old, with_leader(old, node, old.isr.clone())));
            } else if unclean_allowed(topic, unclean_default) {
                changes.push(change(topic, old, with_leader(old, node, vec![node])));
            }
        }
    }
    changes
}

/// Preferred-leader election (ElectLeaders type 0): the first replica
/// leads again if it is alive and in sync. `None` when there is nothing
/// to do; an error when it cannot lead.
pub fn preferred(
    state: &MetadataState,
    topic: &TopicImage,
    old: &PartitionImage,
) -> Result<Option<PartitionChange>, ResponseError> {
    let Some(&preferred) = old.replicas.first() else {
        return Err(ResponseError::PreferredLeaderNotAvailable);
    };
    if old.leader == preferred {
        return Ok(None);
    }
    if !old.isr.contains(&preferred) || state.fenced.contains(&preferred) {
        return Err(ResponseError::PreferredLeaderNotAvailable);
    }
    Ok(Some(change(
        topic,
        old,
        with_leader(old, preferred, old.isr.clone()),
    )))
}

/// Unclean election (ElectLeaders type 1) of a partition without a
/// leader: the first live replica leads, alone in the ISR.
pub fn unclean(
    state: &MetadataState,
    topic: &TopicImage,
    old: &PartitionImage,
) -> Result<Option<PartitionChange>, ResponseError> {
    if old.leader != NO_LEADER {
        return Ok(None);
    }
    let live = |id: &i32| !state.fenced.contains(id) && state.brokers.contains_key(id);
    let Some(leader) = old.replicas.iter().copied().find(live) else {
        return Err(ResponseError::EligibleLeadersNotAvailable);
    };
    Ok(Some(change(
        topic,
        old,
        with_leader(old, leader, vec![leader]),
    )))
}

/// A leader asks to change its partition's ISR (AlterPartition). Refused
/// with Kafka's errors if the asker is not the leader it thinks it is, saw
/// an older partition epoch, or names replicas that are not replicas or
/// (when they join) not alive.
pub fn alter_isr(
    state: &MetadataState,
    topic: &TopicImage,
    old: &PartitionImage,
    leader: i32,
    leader_epoch: i32,
    partition_epoch: i32,
    isr: Vec<i32>,
) -> Result<PartitionChange, ResponseError> {
    if leader != old.leader || leader_epoch < old.leader_epoch {
        return Err(ResponseError::FencedLeaderEpoch);
    }
    if leader_epoch > old.leader_epoch || partition_epoch != old.partition_epoch {
        return Err(ResponseError::InvalidUpdateVersion);
    }
    if !isr.contains(&leader) || isr.iter().any(|id| !old.replicas.contains(id)) {
        return Err(ResponseError::InvalidRequest);
    }
    if isr
        .iter()
        .any(|id| !old.isr.contains(id) && state.fenced.contains(id))
    {
        return Err(ResponseError::IneligibleReplica);
    }
    // The ISR change that brings a reassignment's last target replica in
    // completes it.
    let new = super::reassignment::complete_if_done(state, PartitionImage { isr, ..old.clone() });
    Ok(change(topic, old, new))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn state(partitions: Vec<PartitionImage>, unclean: Option<&str>) -> MetadataState {
        let mut state = MetadataState::with_brokers(3);
        let configs: BTreeMap<String, String> = unclean
            .map(|v| [("unclean.leader.election.enable".to_string(), v.to_string())].into())
            .unwrap_or_default();
        state.topics.insert(
            "t".into(),
            TopicImage {
                name: "t".into(),
                id: uuid::Uuid::from_u128(7),
                partitions,
                configs,
            },
        );
        state
    }

    fn partition(leader: i32, isr: &[i32]) -> PartitionImage {
        PartitionImage {
            partition: 0,
            leader,
            leader_epoch: 4,
            replicas: vec![1, 2, 3],
            isr: isr.to_vec(),
            partition_epoch: 10,
            adding_replicas: Vec::new(),
            removing_replicas: Vec::new(),
        }
    }

    #[test]
    fn a_fenced_leader_hands_over_to_the_next_in_sync_replica() {
        let state = state(vec![partition(1, &[1, 2, 3])], None);
        let changes = on_fenced(&state, 1, false);
        assert_eq!(changes.len(), 1);
        let new = &changes[0].partition;
        assert_eq!((new.leader, new.leader_epoch), (2, 5));
        assert_eq!(new.isr, vec![2, 3]);
        assert_eq!(changes[0].expected_partition_epoch, 10);
        assert_eq!(new.partition_epoch, 11);
    }

    #[test]
    fn a_fenced_follower_leaves_the_isr_and_the_leader_stays() {
        let state = state(vec![partition(1, &[1, 3])], None);
        let changes = on_fenced(&state, 3, false);
        let new = &changes[0].partition;
        assert_eq!(
            (new.leader, new.leader_epoch, new.isr.clone()),
            (1, 4, vec![1])
        );
        assert!(
            on_fenced(&state, 2, false).is_empty(),
            "not in the ISR: nothing"
        );
    }

    #[test]
    fn without_an_in_sync_replica_the_partition_waits_unless_unclean_is_allowed() {
        let clean = state(vec![partition(1, &[1])], None);
        let new = &on_fenced(&clean, 1, false)[0].partition;
        assert_eq!((new.leader, new.isr.clone()), (NO_LEADER, vec![1]));
        let mut waiting = clean.clone();
        waiting.topics.get_mut("t").unwrap().partitions[0] = new.clone();
        waiting.fenced.insert(1);
        // an out-of-sync replica coming back does not lead...
        assert!(on_unfenced(&waiting, 2, false).is_empty());
        // ...the last in-sync one does
        waiting.fenced.remove(&1);
        let back = &on_unfenced(&waiting, 1, false)[0].partition;
        assert_eq!((back.leader, back.leader_epoch), (1, 6));

        let by_topic = state(vec![partition(1, &[1])], Some("true"));
        let new = &on_fenced(&by_topic, 1, false)[0].partition;
        assert_eq!((new.leader, new.isr.clone()), (2, vec![2]));
        let by_broker = state(vec![partition(1, &[1])], None);
        assert_eq!(on_fenced(&by_broker, 1, true)[0].partition.leader, 2);
        let overridden = state(vec![partition(1, &[1])], Some("false"));
        assert_eq!(
            on_fenced(&overridden, 1, true)[0].partition.leader,
            NO_LEADER
        );
    }

    #[test]
    fn isr_changes_are_checked_like_alter_partition() {
        let mut state = state(vec![partition(2, &[2, 3])], None);
        let topic = state.topics["t"].clone();
        let old = &topic.partitions[0];
        let ok = alter_isr(&state, &topic, old, 2, 4, 10, vec![1, 2, 3]).unwrap();
        assert_eq!(ok.partition.isr, vec![1, 2, 3]);
        assert_eq!(
            alter_isr(&state, &topic, old, 3, 4, 10, vec![3]).unwrap_err(),
            ResponseError::FencedLeaderEpoch
        );
        assert_eq!(
            alter_isr(&state, &topic, old, 2, 4, 9, vec![2]).unwrap_err(),
            ResponseError::InvalidUpdateVersion
        );
        assert_eq!(
            alter_isr(&state, &topic, old, 2, 4, 10, vec![3]).unwrap_err(),
            ResponseError::InvalidRequest
        );
        state.fenced.insert(1);
        assert_eq!(
            alter_isr(&state, &topic, old, 2, 4, 10, vec![1, 2]).unwrap_err(),
            ResponseError::IneligibleReplica
        );
    }

    #[test]
    fn preferred_election_moves_leadership_back_to_the_first_replica() {
        let state = state(vec![partition(2, &[1, 2])], None);
        let topic = &state.topics["t"];
        let change = preferred(&state, topic, &topic.partitions[0])
            .unwrap()
            .unwrap();
        assert_eq!(
            (change.partition.leader, change.partition.leader_epoch),
            (1, 5)
        );
        let out_of_sync = self::state(vec![partition(2, &[2, 3])], None);
        let topic = &out_of_sync.topics["t"];
        assert_eq!(
            preferred(&out_of_sync, topic, &topic.partitions[0]).unwrap_err(),
            ResponseError::PreferredLeaderNotAvailable
        );
    }
}
