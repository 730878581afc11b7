//! The `sticky` task assignor, as Kafka's `StickyTaskAssignor` places
//! tasks: each active task stays with the member that runs it (while that
//! member is within its share), then goes to a member that kept it as a
//! standby, then to the least-loaded process and its least-loaded member;
//! standby replicas of stateful tasks go to other processes than the
//! active one, previous holders first. No warm-up tasks (Kafka 4.4 inserts
//! none either).

use std::collections::{BTreeMap, BTreeSet};

use super::{add_task, has_task, TasksTuple};

/// What the assignor knows of a member.
#[derive(Debug, Clone)]
pub struct MemberSpec<'a> {
    pub member_id: &'a str,
    pub process_id: &'a str,
    /// The tasks it owns now (not its target).
    pub current: &'a TasksTuple,
}

/// Target tasks for each member. `tasks` gives the number of tasks of each
/// subtopology; standbys are placed for `stateful` subtopologies only.
pub fn assign(
    members: &[MemberSpec<'_>],
    tasks: &BTreeMap<String, i32>,
    stateful: &BTreeSet<String>,
    num_standby_replicas: usize,
) -> BTreeMap<String, TasksTuple> {
    let mut targets: BTreeMap<String, TasksTuple> = members
        .iter()
        .map(|m| (m.member_id.to_string(), TasksTuple::default()))
        .collect();
    if members.is_empty() {
        return targets;
    }
    let mut load: BTreeMap<&str, usize> = members.iter().map(|m| (m.member_id, 0)).collect();
    let process_of: BTreeMap<&str, &str> = members
        .iter()
        .map(|m| (m.member_id, m.process_id))
        .collect();
    let mut all: Vec<(i32, &str)> = tasks
        .iter()
        .flat_map(|(s, n)| (0..*n).map(move |p| (p, s.as_str())))
        .collect();
    all.sort();
    let quota = all.len().div_ceil(members.len());
    let mut unassigned: Vec<(i32, &str)> = Vec::new();

    // 1. Each active task back to its previous owner within its share;
    // 2. else to a member that held it as a standby.
    for &(p, s) in &all {
        let previous = members
            .iter()
            .find(|m| has_task(&m.current.active, s, p) && load[m.member_id] < quota);
        let standby = || {
            members
                .iter()
                .filter(|m| has_task(&m.current.standby, s, p) && load[m.member_id] < quota)
                .min_by_key(|m| (load[m.member_id], m.member_id))
        };
        match previous.or_else(standby) {
            Some(member) => {
                if let Some(target) = targets.get_mut(member.member_id) {
                    add_task(&mut target.active, s, p);
                }
                *load.entry(member.member_id).or_default() += 1;
            }
            None => unassigned.push((p, s)),
        }
    }
    // 3. The rest to the least-loaded process, then its least-loaded member.
    unassigned.sort_by(|a, b| (a.1, a.0).cmp(&(b.1, b.0)));
    for (p, s) in unassigned {
        let Some(member) = least_loaded(members, &load, &process_of, |_| true) else {
            continue;
        };
        if let Some(target) = targets.get_mut(member) {
            add_task(&mut target.active, s, p);
        }
        *load.entry(member).or_default() += 1;
    }

    // Standbys: on processes that do not hold the task already.
    if num_standby_replicas > 0 {
        let mut standby_tasks: Vec<(i32, &str)> = all
            .iter()
            .copied()
            .filter(|(_, s)| stateful.contains(*s))
            .collect();
        standby_tasks.sort_by(|a, b| b.cmp(a));
        for (p, s) in standby_tasks {
            for _ in 0..num_standby_replicas {
                let holding: BTreeSet<&str> = targets
                    .iter()
                    .filter(|(_, t)| has_task(&t.active, s, p) || has_task(&t.standby, s, p))
                    .filter_map(|(m, _)| process_of.get(m.as_str()).copied())
                    .collect();
                let free = |m: &str| !holding.contains(process_of.get(m).copied().unwrap_or(""));
                let previous = members
                    .iter()
                    .filter(|m| has_task(&m.current.standby, s, p) && free(m.member_id))
                    .min_by_key(|m| (load[m.member_id], m.member_id))
                    .map(|m| m.member_id);
                let Some(member) =
                    previous.or_else(|| least_loaded(members, &load, &process_of, free))
                else {
                    tracing::warn!(
                        subtopology = s,
                        partition = p,
                        "not enough application instances for the standby replicas asked for"
                    );
                    break;
                };
                if let Some(target) = targets.get_mut(member) {
                    add_task(&mut target.standby, s, p);
                }
                *load.entry(member).or_default() += 1;
            }
        }
    }
    targets
}

/// The least-loaded member of the least-loaded process (load per member
/// of the process), among members `allowed`.
fn least_loaded<'a>(
    members: &[MemberSpec<'a>],
    load: &BTreeMap<&str, usize>,
    process_of: &BTreeMap<&str, &str>,
    allowed: impl Fn(&str) -> bool,
) -> Option<&'a str> {
    let mut processes: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for member in members {
        let entry = processes.entry(member.process_id).or_default();
        entry.0 += load.get(member.member_id).copied().unwrap_or(0);
        entry.1 += 1;
    }
    members
        .iter()
        .filter(|m| allowed(m.member_id))
        .min_by(|a, b| {
            let process_load = |m: &MemberSpec<'_>| {
                let (tasks, size) = processes
                    .get(process_of.get(m.member_id).copied().unwrap_or(""))
                    .copied()
                    .unwrap_or((0, 1));
                // Compare tasks/size as fractions without rounding.
                (tasks, size.max(1))
            };
            let (ta, sa) = process_load(a);
            let (tb, sb) = process_load(b);
            (ta * sb)
                .cmp(&(tb * sa))
                .then(load[a.member_id].cmp(&load[b.member_id]))
                .then(a.member_id.cmp(b.member_id))
        })
        .map(|m| m.member_id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::group::streams::Tasks;

    fn owning(list: &[(&str, i32)]) -> TasksTuple {
        let mut active = Tasks::new();
        for (s, p) in list {
            add_task(&mut active, s, *p);
        }
        TasksTuple {
            active,
            ..TasksTuple::default()
        }
    }

    fn count(t: &TasksTuple) -> usize {
        t.active.values().map(BTreeSet::len).sum()
    }

    #[test]
    fn tasks_are_spread_evenly_and_stay_where_they_ran() {
        let none = TasksTuple::default();
        let tasks = BTreeMap::from([("0".to_string(), 3), ("1".to_string(), 3)]);
        let one = [MemberSpec {
            member_id: "a",
            process_id: "p1",
            current: &none,
        }];
        let first = assign(&one, &tasks, &BTreeSet::new(), 0);
        assert_eq!(count(&first["a"]), 6);
        let a_now = first["a"].clone();
        let two = [
            MemberSpec {
                member_id: "a",
                process_id: "p1",
                current: &a_now,
            },
            MemberSpec {
                member_id: "b",
                process_id: "p2",
                current: &none,
            },
        ];
        let second = assign(&two, &tasks, &BTreeSet::new(), 0);
        assert_eq!((count(&second["a"]), count(&second["b"])), (3, 3));
        // a keeps only tasks it had; nothing is active twice.
        assert!(second["a"].is_subset_of(&a_now));
        assert!(!second["a"].overlaps(&second["b"]));
    }

    #[test]
    fn standbys_go_to_another_process() {
        let a_now = owning(&[("0", 0)]);
        let none = TasksTuple::default();
        let members = [
            MemberSpec {
                member_id: "a",
                process_id: "p1",
                current: &a_now,
            },
            MemberSpec {
                member_id: "a2",
                process_id: "p1",
                current: &none,
            },
            MemberSpec {
                member_id: "b",
                process_id: "p2",
                current: &none,
            },
        ];
        let tasks = BTreeMap::from([("0".to_string(), 1)]);
        let stateful = BTreeSet::from(["0".to_string()]);
        let targets = assign(&members, &tasks, &stateful, 1);
        assert_eq!(targets["a"].active, a_now.active);
        assert_eq!(targets["b"].standby, a_now.active);
        assert!(targets["a2"].is_empty());
        // Two replicas asked, one other process: one placed.
        let targets = assign(&members, &tasks, &stateful, 2);
        let standbys: usize = targets
            .values()
            .map(|t| t.standby.values().map(BTreeSet::len).sum::<usize>())
            .sum();
        assert_eq!(standbys, 1);
    }
}
