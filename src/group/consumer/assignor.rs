//! The server-side assignors a member may choose (`server_assignor`), as
//! `group.consumer.assignors` lists them; the first listed is the default.
//!
//! - `uniform`: every member gets as many partitions of the topics it
//!   subscribes to as the others, give or take one where subscriptions
//!   allow; partitions stay where they are when the balance allows, so a
//!   member joining or leaving moves as few partitions as it can.
//! - `range`: per topic, the subscribed members sorted by member id each
//!   get a contiguous range of partitions, the first ones one more.

use std::collections::{BTreeMap, BTreeSet};

use uuid::Uuid;

use super::Assignment;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Assignor {
    Uniform,
    Range,
}

/// What an assignor needs to know of a member.
#[derive(Debug, Clone)]
pub struct MemberSpec {
    pub subscribed_topic_ids: BTreeSet<Uuid>,
    /// The member's current target assignment, kept where possible.
    pub current: Assignment,
}

impl Assignor {
    pub fn by_name(name: &str) -> Option<Assignor> {
        match name {
            "uniform" => Some(Assignor::Uniform),
            "range" => Some(Assignor::Range),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Assignor::Uniform => "uniform",
            Assignor::Range => "range",
        }
    }

    /// The target assignment of every member; `topics` gives each
    /// subscribed topic's partition count.
    pub fn assign(
        self,
        members: &BTreeMap<String, MemberSpec>,
        topics: &BTreeMap<Uuid, i32>,
    ) -> BTreeMap<String, Assignment> {
        match self {
            Assignor::Uniform => uniform(members, topics),
            Assignor::Range => range(members, topics),
        }
    }
}

fn range(
    members: &BTreeMap<String, MemberSpec>,
    topics: &BTreeMap<Uuid, i32>,
) -> BTreeMap<String, Assignment> {
    let mut result: BTreeMap<String, Assignment> = members
        .keys()
        .map(|m| (m.clone(), Assignment::new()))
        .collect();
    for (topic_id, partitions) in topics {
        let subscribed: Vec<&String> = members
            .iter()
            .filter(|(_, spec)| spec.subscribed_topic_ids.contains(topic_id))
            .map(|(member_id, _)| member_id)
            .collect();
        if subscribed.is_empty() || *partitions <= 0 {
            continue;
        }
        let count = subscribed.len() as i32;
        let (quota, extra) = (partitions / count, partitions % count);
        let mut next = 0;
        for (index, member_id) in subscribed.into_iter().enumerate() {
            let take = quota + i32::from((index as i32) < extra);
            if take > 0 {
                if let Some(assignment) = result.get_mut(member_id) {
                    assignment
                        .entry(*topic_id)
                        .or_default()
                        .extend(next..next + take);
                }
            }
            next += take;
        }
    }
    result
}

fn uniform(
    members: &BTreeMap<String, MemberSpec>,
    topics: &BTreeMap<Uuid, i32>,
) -> BTreeMap<String, Assignment> {
    let mut load: BTreeMap<&String, usize> = members.keys().map(|m| (m, 0)).collect();
    let mut owner: BTreeMap<(Uuid, i32), &String> = BTreeMap::new();
    let exists = |topic_id: &Uuid, partition: i32| {
        topics
            .get(topic_id)
            .is_some_and(|count| (0..*count).contains(&partition))
    };
    // Stickiness: partitions stay with a member still subscribed to them.
    for (member_id, spec) in members {
        for (topic_id, partitions) in &spec.current {
            if !spec.subscribed_topic_ids.contains(topic_id) {
                continue;
            }
            for partition in partitions {
                if exists(topic_id, *partition) && !owner.contains_key(&(*topic_id, *partition)) {
                    owner.insert((*topic_id, *partition), member_id);
                    *load.entry(member_id).or_default() += 1;
                }
            }
        }
    }
    let eligible = |topic_id: &Uuid| -> Vec<&String> {
        members
            .iter()
            .filter(|(_, spec)| spec.subscribed_topic_ids.contains(topic_id))
            .map(|(member_id, _)| member_id)
            .collect()
    };
    // New partitions go to the least loaded member subscribed to them.
    for (topic_id, count) in topics {
        let candidates = eligible(topic_id);
        for partition in 0..*count {
            if owner.contains_key(&(*topic_id, partition)) {
                continue;
            }
            let Some(member_id) = candidates.iter().min_by_key(|m| (load[**m], **m)).copied()
            else {
                continue;
            };
            owner.insert((*topic_id, partition), member_id);
            *load.entry(member_id).or_default() += 1;
        }
    }
    // Balance: move partitions from a member to one with at least two
    // fewer that also subscribes to them, until no such move is left.
    let total = owner.len();
    for _ in 0..total.saturating_mul(2) {
        let moved = owner.iter().find_map(|(key, from)| {
            eligible(&key.0)
                .into_iter()
                .filter(|to| load[*to] + 1 < load[*from])
                .min_by_key(|to| (load[*to], *to))
                .map(|to| (*key, *from, to))
        });
        let Some((key, from, to)) = moved else {
            break;
        };
        owner.insert(key, to);
        *load.entry(from).or_default() -= 1;
        *load.entry(to).or_default() += 1;
    }
    let mut result: BTreeMap<String, Assignment> = members
        .keys()
        .map(|m| (m.clone(), Assignment::new()))
        .collect();
    for ((topic_id, partition), member_id) in owner {
        if let Some(assignment) = result.get_mut(member_id) {
            assignment.entry(topic_id).or_default().insert(partition);
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(topics: &[Uuid], current: Assignment) -> MemberSpec {
        MemberSpec {
            subscribed_topic_ids: topics.iter().copied().collect(),
            current,
        }
    }

    fn sizes(result: &BTreeMap<String, Assignment>) -> Vec<usize> {
        result
            .values()
            .map(|a| a.values().map(BTreeSet::len).sum())
            .collect()
    }

    #[test]
    fn uniform_balances_and_keeps_partitions_where_they_are() {
        let topic = Uuid::from_u128(1);
        let topics = BTreeMap::from([(topic, 6)]);
        let mut members = BTreeMap::from([
            ("a".to_string(), spec(&[topic], Assignment::new())),
            ("b".to_string(), spec(&[topic], Assignment::new())),
        ]);
        let first = Assignor::Uniform.assign(&members, &topics);
        assert_eq!(sizes(&first), vec![3, 3]);
        for (member_id, assignment) in &first {
            members.get_mut(member_id).unwrap().current = assignment.clone();
        }
        members.insert("c".to_string(), spec(&[topic], Assignment::new()));
        let second = Assignor::Uniform.assign(&members, &topics);
        assert_eq!(sizes(&second), vec![2, 2, 2]);
        for member_id in ["a", "b"] {
            let kept = &second[member_id][&topic];
            assert!(kept.is_subset(&first[member_id][&topic]));
        }
    }

    #[test]
    fn range_gives_contiguous_ranges_per_topic() {
        let topic = Uuid::from_u128(1);
        let topics = BTreeMap::from([(topic, 5)]);
        let members = BTreeMap::from([
            ("a".to_string(), spec(&[topic], Assignment::new())),
            ("b".to_string(), spec(&[topic], Assignment::new())),
        ]);
        let result = Assignor::Range.assign(&members, &topics);
        assert_eq!(result["a"][&topic], BTreeSet::from([0, 1, 2]));
        assert_eq!(result["b"][&topic], BTreeSet::from([3, 4]));
    }
}
