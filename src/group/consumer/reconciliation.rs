//! Kafka's `CurrentAssignmentBuilder`: moves one member from its current
//! assignment towards its target assignment, one safe step at a time.
//!
//! A member first gives up the partitions that are no longer its own and
//! stays at its epoch until it has acknowledged that (they are no longer
//! in the partitions it reports owning); only then does it move to the
//! target epoch and get new partitions, and of those only the ones no other
//! member still owns ("unreleased" partitions come on a later heartbeat).
//! So no partition is ever owned by two members.

use std::collections::BTreeSet;

use uuid::Uuid;

use super::member::{ConsumerMember, MemberState};
use super::Assignment;

/// The member's next state. `owned` is what the member reported owning
/// (`None` when the heartbeat did not say); `partition_epoch` gives the
/// epoch of the member owning a partition, or -1 if none does.
pub fn reconcile(
    member: &ConsumerMember,
    target_epoch: i32,
    target: &Assignment,
    owned: Option<&Assignment>,
    partition_epoch: impl Fn(Uuid, i32) -> i32,
) -> ConsumerMember {
    match member.state {
        MemberState::Stable if member.member_epoch == target_epoch => member.clone(),
        MemberState::Stable | MemberState::UnreleasedPartitions => next_assignment(
            member,
            member.member_epoch,
            target_epoch,
            target,
            owned,
            partition_epoch,
        ),
        MemberState::UnrevokedPartitions => {
            if owns_any(owned, &member.partitions_pending_revocation) {
                return member.clone();
            }
            next_assignment(
                member,
                member.member_epoch + 1,
                target_epoch,
                target,
                owned,
                partition_epoch,
            )
        }
    }
}

/// Whether the member still reports owning any of `partitions`; a
/// heartbeat that does not say counts as still owning them.
fn owns_any(owned: Option<&Assignment>, partitions: &Assignment) -> bool {
    let Some(owned) = owned else {
        return true;
    };
    owned.iter().any(|(topic_id, owned)| {
        partitions
            .get(topic_id)
            .is_some_and(|pending| !pending.is_disjoint(owned))
    })
}

fn next_assignment(
    member: &ConsumerMember,
    member_epoch: i32,
    target_epoch: i32,
    target: &Assignment,
    owned: Option<&Assignment>,
    partition_epoch: impl Fn(Uuid, i32) -> i32,
) -> ConsumerMember {
    let mut has_unreleased = false;
    let mut assigned = Assignment::new();
    let mut pending_revocation = Assignment::new();
    let mut pending_assignment = Assignment::new();
    let topic_ids: BTreeSet<Uuid> = target
        .keys()
        .chain(member.assigned_partitions.keys())
        .copied()
        .collect();
    let empty = BTreeSet::new();
    for topic_id in topic_ids {
        let target = target.get(&topic_id).unwrap_or(&empty);
        let current = member.assigned_partitions.get(&topic_id).unwrap_or(&empty);
        let kept: BTreeSet<i32> = current.intersection(target).copied().collect();
        let revoked: BTreeSet<i32> = current.difference(&kept).copied().collect();
        let mut added: BTreeSet<i32> = target.difference(&kept).copied().collect();
        let before = added.len();
        added.retain(|partition| partition_epoch(topic_id, *partition) == -1);
        has_unreleased |= added.len() != before;
        if !kept.is_empty() {
            assigned.insert(topic_id, kept);
        }
        if !revoked.is_empty() {
            pending_revocation.insert(topic_id, revoked);
        }
        if !added.is_empty() {
            pending_assignment.insert(topic_id, added);
        }
    }
    let mut next = member.clone();
    if !pending_revocation.is_empty() && owns_any(owned, &pending_revocation) {
        next.state = MemberState::UnrevokedPartitions;
        next.update_member_epoch(member_epoch);
        next.assigned_partitions = assigned;
        next.partitions_pending_revocation = pending_revocation;
        return next;
    }
    for (topic_id, partitions) in pending_assignment {
        assigned.entry(topic_id).or_default().extend(partitions);
    }
    next.state = match has_unreleased {
        true => MemberState::UnreleasedPartitions,
        false => MemberState::Stable,
    };
    next.update_member_epoch(target_epoch);
    next.assigned_partitions = assigned;
    next.partitions_pending_revocation = Assignment::new();
    next
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topic() -> Uuid {
        Uuid::from_u128(7)
    }

    fn assignment(partitions: &[i32]) -> Assignment {
        Assignment::from([(topic(), partitions.iter().copied().collect())])
    }

    fn member(epoch: i32, partitions: &[i32]) -> ConsumerMember {
        let mut member = ConsumerMember::new("m".into());
        member.member_epoch = epoch;
        member.assigned_partitions = assignment(partitions);
        member
    }

    #[test]
    fn partitions_are_revoked_before_new_ones_are_given() {
        let current = member(1, &[0, 1, 2]);
        let step = reconcile(
            &current,
            2,
            &assignment(&[0, 3]),
            Some(&assignment(&[0, 1, 2])),
            |_, _| -1,
        );
        assert_eq!(step.state, MemberState::UnrevokedPartitions);
        assert_eq!(step.member_epoch, 1);
        assert_eq!(step.assigned_partitions, assignment(&[0]));
        assert_eq!(step.partitions_pending_revocation, assignment(&[1, 2]));
        // Still reported as owned: no progress.
        let again = reconcile(
            &step,
            2,
            &assignment(&[0, 3]),
            Some(&assignment(&[0, 1])),
            |_, _| -1,
        );
        assert_eq!(again, step);
        let done = reconcile(
            &step,
            2,
            &assignment(&[0, 3]),
            Some(&assignment(&[0])),
            |_, _| -1,
        );
        assert_eq!(done.state, MemberState::Stable);
        assert_eq!(done.member_epoch, 2);
        assert_eq!(done.assigned_partitions, assignment(&[0, 3]));
    }

    #[test]
    fn partitions_another_member_owns_are_not_given_yet() {
        let current = member(1, &[0]);
        let owner_of_1 = |_: Uuid, p: i32| if p == 1 { 1 } else { -1 };
        let step = reconcile(
            &current,
            2,
            &assignment(&[0, 1]),
            Some(&assignment(&[0])),
            owner_of_1,
        );
        assert_eq!(step.state, MemberState::UnreleasedPartitions);
        assert_eq!(step.member_epoch, 2);
        assert_eq!(step.assigned_partitions, assignment(&[0]));
        let released = reconcile(
            &step,
            2,
            &assignment(&[0, 1]),
            Some(&assignment(&[0])),
            |_, _| -1,
        );
        assert_eq!(released.state, MemberState::Stable);
        assert_eq!(released.assigned_partitions, assignment(&[0, 1]));
    }
}
