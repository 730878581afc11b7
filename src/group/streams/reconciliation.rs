//! Kafka's streams `CurrentAssignmentBuilder`: moves one member from its
//! current tasks towards its target tasks, one safe step at a time.
//!
//! A member first gives up the tasks that are no longer its own and stays
//! at its epoch until it has acknowledged that (its heartbeat lists its
//! tasks without them); only then does it move to the target epoch and get
//! new tasks, and of those only the ones that are released: an active task
//! no other member still runs, and no task its own process holds in
//! another role on another thread. So no task is ever active twice, and a
//! process never runs one task twice.

use std::collections::{BTreeMap, BTreeSet};

use super::member::{MemberState, StreamsMember};
use super::{add_task, has_task, Tasks, TasksTuple};

/// Who holds which task now, across the group.
#[derive(Debug, Default)]
pub struct TaskOwners {
    /// Active tasks (assigned or pending revocation): member and process.
    active: BTreeMap<(String, i32), (String, String)>,
    /// Standby and warm-up tasks: the members and processes holding them.
    standby: BTreeMap<(String, i32), Vec<(String, String)>>,
    warmup: BTreeMap<(String, i32), Vec<(String, String)>>,
}

impl TaskOwners {
    pub fn of<'a>(members: impl Iterator<Item = &'a StreamsMember>) -> TaskOwners {
        let mut owners = TaskOwners::default();
        for member in members {
            let who = || (member.member_id.clone(), member.process_id.clone());
            for tasks in [&member.assigned.active, &member.pending_revocation.active] {
                for (subtopology, partitions) in tasks {
                    for p in partitions {
                        owners.active.insert((subtopology.clone(), *p), who());
                    }
                }
            }
            record(&mut owners.standby, &member.assigned.standby, who());
            record(
                &mut owners.standby,
                &member.pending_revocation.standby,
                who(),
            );
            record(&mut owners.warmup, &member.assigned.warmup, who());
            record(&mut owners.warmup, &member.pending_revocation.warmup, who());
        }
        owners
    }

    fn active_elsewhere(&self, task: &(String, i32), member: &StreamsMember) -> bool {
        self.active
            .get(task)
            .is_some_and(|(owner, _)| owner != &member.member_id)
    }

    fn active_in_process(&self, task: &(String, i32), member: &StreamsMember) -> bool {
        self.active.get(task).is_some_and(|(owner, process)| {
            owner != &member.member_id && process == &member.process_id
        })
    }

    fn held_in_process(
        holders: &BTreeMap<(String, i32), Vec<(String, String)>>,
        task: &(String, i32),
        member: &StreamsMember,
    ) -> bool {
        holders.get(task).is_some_and(|holders| {
            holders
                .iter()
                .any(|(owner, process)| owner != &member.member_id && process == &member.process_id)
        })
    }
}

fn record(
    kind: &mut BTreeMap<(String, i32), Vec<(String, String)>>,
    tasks: &Tasks,
    who: (String, String),
) {
    for (subtopology, partitions) in tasks {
        for p in partitions {
            kind.entry((subtopology.clone(), *p))
                .or_default()
                .push(who.clone());
        }
    }
}

/// The member's next state. `owned` is what the member reported owning
/// (`None` when the heartbeat did not say).
pub fn reconcile(
    member: &StreamsMember,
    target_epoch: i32,
    target: &TasksTuple,
    owned: Option<&TasksTuple>,
    owners: &TaskOwners,
) -> StreamsMember {
    match member.state {
        MemberState::Stable if member.member_epoch == target_epoch => member.clone(),
        MemberState::Stable | MemberState::UnreleasedTasks => next_assignment(
            member,
            member.member_epoch,
            target_epoch,
            target,
            owned,
            owners,
        ),
        MemberState::UnrevokedTasks => {
            if still_owns(owned, &member.pending_revocation) {
                return member.clone();
            }
            next_assignment(
                member,
                member.member_epoch + 1,
                target_epoch,
                target,
                owned,
                owners,
            )
        }
    }
}

/// Whether the member still reports owning any of `tasks`; a heartbeat
/// that does not list its tasks counts as still owning them.
fn still_owns(owned: Option<&TasksTuple>, tasks: &TasksTuple) -> bool {
    owned.is_none_or(|owned| owned.overlaps(tasks))
}

fn next_assignment(
    member: &StreamsMember,
    member_epoch: i32,
    target_epoch: i32,
    target: &TasksTuple,
    owned: Option<&TasksTuple>,
    owners: &TaskOwners,
) -> StreamsMember {
    let current = &member.assigned;
    // What the member gives up: tasks it has and its target does not
    // (a standby or warm-up it is to run as active is converted instead).
    let to_active = |s: &str, p: i32| has_task(&target.active, s, p);
    let pending = TasksTuple {
        active: leaving(&current.active, to_active),
        standby: leaving(&current.standby, |s, p| {
            has_task(&target.standby, s, p) || to_active(s, p)
        }),
        warmup: leaving(&current.warmup, |s, p| {
            has_task(&target.warmup, s, p) || to_active(s, p)
        }),
    };
    let revoking = !pending.is_empty() && still_owns(owned, &pending);

    let mut assigned = TasksTuple::default();
    let mut held_back = false;
    let mut granted_active: BTreeSet<(String, i32)> = BTreeSet::new();
    let mut epochs = member.active_task_epochs.clone();
    // Active tasks: kept, or granted once no one else runs them.
    for (subtopology, partition) in union(&current.active, &target.active) {
        let task = (subtopology.clone(), partition);
        let now = has_task(&current.active, &subtopology, partition);
        let wanted = has_task(&target.active, &subtopology, partition);
        if now && wanted {
            add_task(&mut assigned.active, &subtopology, partition);
        } else if wanted && !revoking {
            let unreleased = owners.active_elsewhere(&task, member)
                || TaskOwners::held_in_process(&owners.standby, &task, member)
                || TaskOwners::held_in_process(&owners.warmup, &task, member);
            if unreleased {
                held_back = true;
            } else {
                granted_active.insert(task);
            }
        }
    }
    // Standby and warm-up tasks; one the member is to run as active stays
    // until the active task is granted, and then turns into it in place.
    for (current_kind, target_kind, assigned_kind) in [
        (&current.standby, &target.standby, &mut assigned.standby),
        (&current.warmup, &target.warmup, &mut assigned.warmup),
    ] {
        for (subtopology, partition) in union(current_kind, target_kind) {
            let task = (subtopology.clone(), partition);
            let now = has_task(current_kind, &subtopology, partition);
            let wanted = has_task(target_kind, &subtopology, partition);
            let promoted = has_task(&target.active, &subtopology, partition);
            if now && (wanted || (promoted && !granted_active.contains(&task))) {
                add_task(assigned_kind, &subtopology, partition);
            } else if !now && wanted && !revoking {
                let unreleased = owners.active_in_process(&task, member)
                    || TaskOwners::held_in_process(&owners.standby, &task, member)
                    || TaskOwners::held_in_process(&owners.warmup, &task, member);
                if unreleased {
                    held_back = true;
                } else {
                    add_task(assigned_kind, &subtopology, partition);
                }
            }
        }
    }
    let mut next = member.clone();
    if revoking {
        next.state = MemberState::UnrevokedTasks;
        next.update_member_epoch(member_epoch);
        next.assigned = assigned;
        next.pending_revocation = pending;
        next.active_task_epochs = epochs;
        retain_epochs(&mut next);
        return next;
    }
    for (subtopology, partition) in &granted_active {
        add_task(&mut assigned.active, subtopology, *partition);
        epochs.insert((subtopology.clone(), *partition), target_epoch);
    }
    next.state = match held_back {
        true => MemberState::UnreleasedTasks,
        false => MemberState::Stable,
    };
    next.update_member_epoch(target_epoch);
    next.assigned = assigned;
    next.pending_revocation = TasksTuple::default();
    next.active_task_epochs = epochs;
    retain_epochs(&mut next);
    next
}

fn retain_epochs(member: &mut StreamsMember) {
    let assigned = member.assigned.active.clone();
    let pending = member.pending_revocation.active.clone();
    member
        .active_task_epochs
        .retain(|(subtopology, partition), _| {
            has_task(&assigned, subtopology, *partition)
                || has_task(&pending, subtopology, *partition)
        });
}

/// The tasks of `current` that do not `stay`.
fn leaving(current: &Tasks, stay: impl Fn(&str, i32) -> bool) -> Tasks {
    let mut leaving = Tasks::new();
    for (subtopology, partitions) in current {
        for partition in partitions.iter().filter(|p| !stay(subtopology, **p)) {
            add_task(&mut leaving, subtopology, *partition);
        }
    }
    leaving
}

fn union(a: &Tasks, b: &Tasks) -> Vec<(String, i32)> {
    let mut all: BTreeSet<(String, i32)> = BTreeSet::new();
    for tasks in [a, b] {
        for (subtopology, partitions) in tasks {
            all.extend(partitions.iter().map(|p| (subtopology.clone(), *p)));
        }
    }
    all.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tasks(list: &[(&str, i32)]) -> Tasks {
        let mut tasks = Tasks::new();
        for (s, p) in list {
            add_task(&mut tasks, s, *p);
        }
        tasks
    }

    fn active(list: &[(&str, i32)]) -> TasksTuple {
        TasksTuple {
            active: tasks(list),
            ..TasksTuple::default()
        }
    }

    fn member(id: &str, process: &str, epoch: i32, owns: &[(&str, i32)]) -> StreamsMember {
        let mut member = StreamsMember::new(id.into());
        member.process_id = process.into();
        member.member_epoch = epoch;
        member.assigned = active(owns);
        for (s, p) in owns {
            member.active_task_epochs.insert((s.to_string(), *p), epoch);
        }
        member
    }

    #[test]
    fn a_task_moves_only_after_its_owner_revoked_it() {
        let a = member("a", "p1", 1, &[("0", 0), ("0", 1)]);
        let b = member("b", "p2", 1, &[]);
        let owners = TaskOwners::of([&a, &b].into_iter());
        // Epoch 2 gives task 0_1 to b; b cannot have it while a runs it.
        let b2 = reconcile(&b, 2, &active(&[("0", 1)]), Some(&active(&[])), &owners);
        assert_eq!(b2.state, MemberState::UnreleasedTasks);
        assert_eq!(b2.member_epoch, 2);
        assert!(b2.assigned.active.is_empty());
        // a must revoke it first, at its epoch.
        let a2 = reconcile(&a, 2, &active(&[("0", 0)]), None, &owners);
        assert_eq!(a2.state, MemberState::UnrevokedTasks);
        assert_eq!(a2.member_epoch, 1);
        assert_eq!(a2.pending_revocation.active, tasks(&[("0", 1)]));
        // a acknowledges: it moves to epoch 2 and the task is free.
        let a3 = reconcile(
            &a2,
            2,
            &active(&[("0", 0)]),
            Some(&active(&[("0", 0)])),
            &owners,
        );
        assert_eq!((a3.state, a3.member_epoch), (MemberState::Stable, 2));
        let owners = TaskOwners::of([&a3, &b2].into_iter());
        let b3 = reconcile(&b2, 2, &active(&[("0", 1)]), None, &owners);
        assert_eq!(b3.state, MemberState::Stable);
        assert_eq!(b3.assigned.active, tasks(&[("0", 1)]));
        assert!(b3.owned_active_since("0", 1, 2));
        assert!(!b3.owned_active_since("0", 1, 1));
    }

    #[test]
    fn a_standby_turns_active_in_place_once_granted() {
        let mut a = member("a", "p1", 1, &[]);
        a.assigned.standby = tasks(&[("0", 0)]);
        let owners = TaskOwners::of([&a].into_iter());
        let a2 = reconcile(&a, 2, &active(&[("0", 0)]), None, &owners);
        assert_eq!(a2.state, MemberState::Stable);
        assert_eq!(a2.assigned.active, tasks(&[("0", 0)]));
        assert!(a2.assigned.standby.is_empty());
        assert!(a2.pending_revocation.is_empty());
    }

    #[test]
    fn a_process_never_holds_a_task_twice() {
        let a = member("a", "p1", 1, &[("0", 0)]);
        let b = member("b", "p1", 1, &[]);
        let owners = TaskOwners::of([&a, &b].into_iter());
        let target = TasksTuple {
            standby: tasks(&[("0", 0)]),
            ..TasksTuple::default()
        };
        let b2 = reconcile(&b, 2, &target, Some(&TasksTuple::default()), &owners);
        assert_eq!(b2.state, MemberState::UnreleasedTasks);
        assert!(b2.assigned.standby.is_empty());
    }
}
