//! Partition reassignment (KIP-455; Kafka's `ReplicationControlManager`
//! with `PartitionReassignmentReplicas` and `PartitionReassignmentRevert`).
//!
//! AlterPartitionReassignments gives a partition target replicas. Its
//! replicas become the target followed by the current ones the target
//! drops (`removing_replicas`); the ones it adds (`adding_replicas`) open
//! the partition, fetch from the leader and join the ISR as any follower
//! does. The ISR change that brings the last target replica in completes
//! the reassignment in the same record: the replicas become the target,
//! the removed ones leave the ISR, and if the leader was one of them the
//! first target replica in sync leads (a new leader epoch either way, so
//! the removed followers are fenced). The removed brokers delete their
//! copies once their metadata no longer names them. A null target cancels:
//! back to the replicas before it, without the added ones. Everything is
//! in the partition's image in the metadata log, so a controller failover
//! keeps reassignments going.
//!
//! Replication throttles (`leader/follower.replication.throttled.*`) are
//! not applied: added replicas catch up at full speed.

use kafka_protocol::error::ResponseError;

use super::election::{change, live_leader, unclean_allowed};
use super::partitions::find_partition;
use super::placement::validate_manual;
use super::quorum::{MetadataState, PartitionChange};
use super::Controller;
use crate::metadata::{PartitionImage, TopicImage, NO_LEADER};

/// A refused reassignment: Kafka's error and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub error: ResponseError,
    pub message: String,
}

fn refused(error: ResponseError, message: String) -> Refused {
    Refused { error, message }
}

/// The replicas a partition had before the reassignment in progress.
pub fn original_replicas(partition: &PartitionImage) -> Vec<i32> {
    partition
        .replicas
        .iter()
        .copied()
        .filter(|id| !partition.adding_replicas.contains(id))
        .collect()
}

fn validate(state: &MetadataState, target: &[i32]) -> Result<(), Refused> {
    validate_manual(|id| state.brokers.contains_key(&id), target, None)
        .map_err(|message| refused(ResponseError::InvalidReplicaAssignment, message))
}

/// Starts (or replaces) the reassignment of `old` to `target`; `None` when
/// nothing changes (the target is what the partition has).
pub fn start(
    state: &MetadataState,
    topic: &TopicImage,
    old: &PartitionImage,
    target: &[i32],
    allow_replication_factor_change: bool,
) -> Result<Option<PartitionChange>, Refused> {
    validate(state, target)?;
    let before = original_replicas(old).len();
    if !allow_replication_factor_change && target.len() != before {
        return Err(refused(
            ResponseError::InvalidReplicationFactor,
            format!(
                "The replication factor is changed from {before} to {} but option allowReplicationFactorChange is false",
                target.len()
            ),
        ));
    }
    let mut removing: Vec<i32> = old
        .replicas
        .iter()
        .copied()
        .filter(|id| !target.contains(id))
        .collect();
    removing.sort_unstable();
    let mut adding: Vec<i32> = target
        .iter()
        .copied()
        .filter(|id| !old.replicas.contains(id))
        .collect();
    adding.sort_unstable();
    let mut replicas = target.to_vec();
    replicas.extend(&removing);
    let new = complete_if_done(
        state,
        PartitionImage {
            replicas,
            adding_replicas: adding,
            removing_replicas: removing,
            ..old.clone()
        },
    );
    if new == *old {
        return Ok(None);
    }
    Ok(Some(change(topic, old, new)))
}

/// Cancels the reassignment in progress: the replicas it added go (from
/// the ISR too), the ones it was removing stay. If only added replicas
/// were in sync, the first remaining one leads alone — an unclean
/// election, refused unless the topic allows it.
pub fn cancel(
    state: &MetadataState,
    topic: &TopicImage,
    old: &PartitionImage,
    unclean_allowed: bool,
) -> Result<PartitionChange, Refused> {
    if !old.is_reassigning() {
        return Err(refused(
            ResponseError::NoReassignmentInProgress,
            "No partition reassignment is in progress.".to_string(),
        ));
    }
    let replicas = original_replicas(old);
    let mut isr: Vec<i32> = old
        .isr
        .iter()
        .copied()
        .filter(|id| !old.adding_replicas.contains(id))
        .collect();
    if isr.is_empty() {
        let Some(first) = replicas.first() else {
            return Err(refused(
                ResponseError::InvalidReplicaAssignment,
                "Invalid replica assignment: addingReplicas contains all replicas.".to_string(),
            ));
        };
        if !unclean_allowed {
            return Err(refused(
                ResponseError::InvalidReplicaAssignment,
                format!(
                    "Unable to revert partition assignment for {}:{} because it would require an unclean leader election.",
                    topic.name, old.partition
                ),
            ));
        }
        isr.push(*first);
    }
    let mut new = PartitionImage {
        replicas,
        isr,
        adding_replicas: Vec::new(),
        removing_replicas: Vec::new(),
        ..old.clone()
    };
    if !new.isr.contains(&new.leader) {
        new.leader = live_leader(state, &new).unwrap_or(NO_LEADER);
        new.leader_epoch += 1;
    }
    Ok(change(topic, old, new))
}

/// The partition with its reassignment completed if every target replica
/// is in its ISR (Kafka's `maybeCompleteReassignment`); else as it is.
pub fn complete_if_done(state: &MetadataState, partition: PartitionImage) -> PartitionImage {
    if !partition.is_reassigning() {
        return partition;
    }
    let removing = &partition.removing_replicas;
    let target: Vec<i32> = partition
        .replicas
        .iter()
        .copied()
        .filter(|id| !removing.contains(id))
        .collect();
    let isr: Vec<i32> = partition
        .isr
        .iter()
        .copied()
        .filter(|id| !removing.contains(id))
        .collect();
    if target.is_empty() || isr.is_empty() || !target.iter().all(|id| isr.contains(id)) {
        return partition;
    }
    let removed_any = !removing.is_empty();
    let leader_before = partition.leader;
    let mut done = PartitionImage {
        replicas: target,
        isr,
        adding_replicas: Vec::new(),
        removing_replicas: Vec::new(),
        ..partition
    };
    if !done.replicas.contains(&done.leader) {
        done.leader = live_leader(state, &done).unwrap_or(NO_LEADER);
    }
    // A new epoch fences the removed replicas' fetches (and marks a new
    // leader's start).
    if removed_any || done.leader != leader_before {
        done.leader_epoch += 1;
    }
    done
}

/// How long a reassignment naming a partition this node does not know
/// waits to catch up with the metadata log.
const CATCH_UP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

impl Controller {
    /// AlterPartitionReassignments for one partition: starts or replaces
    /// its reassignment to `target`, or (`None`) cancels the one in
    /// progress. `unclean_default` is `unclean.leader.election.enable` of
    /// the broker, for a topic that does not set it.
    pub async fn alter_partition_reassignment(
        &self,
        topic: &str,
        partition: i32,
        target: Option<&[i32]>,
        allow_replication_factor_change: bool,
        unclean_default: bool,
    ) -> Result<(), Refused> {
        // A change decided on a partition that changed meanwhile (an ISR
        // change, a leader moving) is decided again on the new one.
        let mut caught_up = false;
        for _ in 0..RETRIES {
            let state = self.quorum.state();
            let (topic_image, old) = match find_partition(&state, topic, partition) {
                Ok(found) => found,
                // This node's image may trail the quorum: look again once
                // caught up before refusing.
                Err(_) if !caught_up => {
                    caught_up = true;
                    if let Err(error) = self.quorum.caught_up(CATCH_UP_TIMEOUT).await {
                        tracing::debug!(%error, "not caught up with the metadata log");
                    }
                    continue;
                }
                Err(_) => {
                    let message = match state.topics.contains_key(topic) {
                        true => format!("Unable to find partition {topic}:{partition}."),
                        false => format!("Unable to find a topic named {topic}."),
                    };
                    return Err(refused(ResponseError::UnknownTopicOrPartition, message));
                }
            };
            let decided = match target {
                None => {
                    let unclean = unclean_allowed(topic_image, unclean_default);
                    Some(cancel(&state, topic_image, old, unclean)?)
                }
                Some(target) => start(
                    &state,
                    topic_image,
                    old,
                    target,
                    allow_replication_factor_change,
                )?,
            };
            let Some(change) = decided else {
                return Ok(());
            };
            match self.write_changes(vec![change], None).await {
                Ok(1) => return Ok(()),
                Ok(_) => continue,
                Err(error) => {
                    return Err(refused(ResponseError::RequestTimedOut, error.to_string()))
                }
            }
        }
        Err(refused(
            ResponseError::RequestTimedOut,
            format!("{topic}-{partition} kept changing while its reassignment was decided"),
        ))
    }
}

/// How often a reassignment is decided again on a partition that changed.
const RETRIES: usize = 5;

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn state() -> MetadataState {
        MetadataState::with_brokers(4)
    }

    fn topic() -> TopicImage {
        TopicImage {
            name: "t".into(),
            id: uuid::Uuid::from_u128(7),
            partitions: Vec::new(),
            configs: BTreeMap::new(),
        }
    }

    fn partition(leader: i32, replicas: &[i32], isr: &[i32]) -> PartitionImage {
        PartitionImage {
            partition: 0,
            leader,
            leader_epoch: 4,
            replicas: replicas.to_vec(),
            isr: isr.to_vec(),
            partition_epoch: 10,
            adding_replicas: Vec::new(),
            removing_replicas: Vec::new(),
        }
    }

    #[test]
    fn a_reassignment_adds_then_completes_when_the_target_is_in_sync() {
        let state = state();
        let old = partition(1, &[1, 2, 3], &[1, 2, 3]);
        let started = start(&state, &topic(), &old, &[4, 2, 3], true)
            .unwrap()
            .unwrap();
        let moving = started.partition.clone();
        assert_eq!(moving.replicas, vec![4, 2, 3, 1]);
        assert_eq!(moving.adding_replicas, vec![4]);
        assert_eq!(moving.removing_replicas, vec![1]);
        assert_eq!((moving.leader, moving.leader_epoch), (1, 4), "1 leads on");
        assert_eq!(moving.partition_epoch, 11);
        // 2 and 3 in sync, but not 4 yet: nothing completes.
        let partly = complete_if_done(&state, moving.clone());
        assert_eq!(partly, moving);
        // 4 joins the ISR: done, 1 leaves, 4 (the first in sync) leads.
        let joined = PartitionImage {
            isr: vec![1, 2, 3, 4],
            ..moving
        };
        let done = complete_if_done(&state, joined);
        assert_eq!(done.replicas, vec![4, 2, 3]);
        assert_eq!(done.isr, vec![2, 3, 4]);
        assert!(!done.is_reassigning());
        assert_eq!((done.leader, done.leader_epoch), (4, 5));
    }

    #[test]
    fn reordering_completes_at_once_and_the_same_target_changes_nothing() {
        let state = state();
        let old = partition(1, &[1, 2, 3], &[1, 2, 3]);
        let reordered = start(&state, &topic(), &old, &[3, 1, 2], true)
            .unwrap()
            .unwrap()
            .partition;
        assert_eq!(reordered.replicas, vec![3, 1, 2]);
        assert!(!reordered.is_reassigning());
        assert_eq!((reordered.leader, reordered.leader_epoch), (1, 4));
        assert_eq!(start(&state, &topic(), &old, &[1, 2, 3], true), Ok(None));
    }

    #[test]
    fn bad_targets_and_cancellations_get_kafkas_errors() {
        let state = state();
        let old = partition(1, &[1, 2, 3], &[1, 2, 3]);
        let error = |target: &[i32], allow| {
            start(&state, &topic(), &old, target, allow)
                .unwrap_err()
                .error
        };
        assert_eq!(error(&[], true), ResponseError::InvalidReplicaAssignment);
        assert_eq!(
            error(&[1, 1, 2], true),
            ResponseError::InvalidReplicaAssignment
        );
        assert_eq!(
            error(&[1, 2, 9], true),
            ResponseError::InvalidReplicaAssignment
        );
        assert_eq!(
            error(&[1, 2], false),
            ResponseError::InvalidReplicationFactor
        );
        assert_eq!(
            cancel(&state, &topic(), &old, false).unwrap_err().error,
            ResponseError::NoReassignmentInProgress
        );
        // Cancelled while 4 was being added: back to 1, 2, 3.
        let moving = start(&state, &topic(), &old, &[4, 2, 3], true)
            .unwrap()
            .unwrap()
            .partition;
        let reverted = cancel(&state, &topic(), &moving, false).unwrap().partition;
        assert_eq!(reverted.replicas, vec![2, 3, 1]);
        assert_eq!(reverted.isr, vec![1, 2, 3]);
        assert!(!reverted.is_reassigning());
        assert_eq!(reverted.leader, 1);
        // Only the added replica in sync: reverting needs an unclean election.
        let lonely = PartitionImage {
            leader: 4,
            isr: vec![4],
            ..moving
        };
        assert_eq!(
            cancel(&state, &topic(), &lonely, false).unwrap_err().error,
            ResponseError::InvalidReplicaAssignment
        );
        let unclean = cancel(&state, &topic(), &lonely, true).unwrap().partition;
        assert_eq!((unclean.leader, unclean.isr.clone()), (2, vec![2]));
    }
}
