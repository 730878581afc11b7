//! KIP-1071 streams groups: Kafka Streams applications whose tasks the
//! group coordinator assigns (`group.protocol=streams`), through
//! StreamsGroupHeartbeat.
//!
//! - `topology.rs`: the application's topology and how it is configured
//!   against the cluster's topics (internal topic counts, statuses);
//! - `member.rs`: a member and its tasks (active, standby, warm-up);
//! - `reconciliation.rs`: Kafka's streams `CurrentAssignmentBuilder`,
//!   which moves one member towards its target tasks, revoking before
//!   granting, so no task is ever active on two members;
//! - `assignor.rs`: the `sticky` task assignor;
//! - `group.rs`: the group (epochs, target assignment, members), the
//!   heartbeat and its rules, leaves and time-outs;
//! - `records.rs`: the group as Kafka's records in `__consumer_offsets`.
//!
//! Pure state like the consumer groups beside it: no I/O, no timers.

pub mod assignor;
pub mod group;
pub mod member;
pub mod reconciliation;
pub mod records;
pub mod topology;

use std::collections::{BTreeMap, BTreeSet};

pub use group::{StreamsGroup, StreamsGroupState, StreamsHeartbeat, StreamsHeartbeatAnswer};

/// Partitions (task numbers) by subtopology id.
pub type Tasks = BTreeMap<String, BTreeSet<i32>>;

/// A member's tasks of each kind (Kafka's `TasksTuple`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TasksTuple {
    pub active: Tasks,
    pub standby: Tasks,
    pub warmup: Tasks,
}

impl TasksTuple {
    pub fn is_empty(&self) -> bool {
        self.active.values().all(BTreeSet::is_empty)
            && self.standby.values().all(BTreeSet::is_empty)
            && self.warmup.values().all(BTreeSet::is_empty)
    }

    /// Whether any task of `other` is in `self`, kind by kind.
    pub fn overlaps(&self, other: &TasksTuple) -> bool {
        fn overlap(a: &Tasks, b: &Tasks) -> bool {
            a.iter()
                .any(|(s, p)| b.get(s).is_some_and(|q| !p.is_disjoint(q)))
        }
        overlap(&self.active, &other.active)
            || overlap(&self.standby, &other.standby)
            || overlap(&self.warmup, &other.warmup)
    }

    /// Whether every task of `self` is in `other`, kind by kind.
    pub fn is_subset_of(&self, other: &TasksTuple) -> bool {
        fn subset(a: &Tasks, b: &Tasks) -> bool {
            a.iter()
                .all(|(s, p)| p.is_empty() || b.get(s).is_some_and(|q| p.is_subset(q)))
        }
        subset(&self.active, &other.active)
            && subset(&self.standby, &other.standby)
            && subset(&self.warmup, &other.warmup)
    }
}

/// Adds `partition` of `subtopology` to `tasks`.
pub fn add_task(tasks: &mut Tasks, subtopology: &str, partition: i32) {
    tasks
        .entry(subtopology.to_string())
        .or_default()
        .insert(partition);
}

/// Whether `tasks` hold `partition` of `subtopology`.
pub fn has_task(tasks: &Tasks, subtopology: &str, partition: i32) -> bool {
    tasks
        .get(subtopology)
        .is_some_and(|partitions| partitions.contains(&partition))
}

/// The member epoch a member joins with.
pub const JOIN_GROUP_MEMBER_EPOCH: i32 = 0;
/// The member epoch a member leaves with.
pub const LEAVE_GROUP_MEMBER_EPOCH: i32 = -1;
/// The member epoch of a static member leaving for a while.
pub const LEAVE_GROUP_STATIC_MEMBER_EPOCH: i32 = -2;

/// `StreamsGroupHeartbeatResponse.Status` codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusCode {
    StaleTopology = 0,
    MissingSourceTopics = 1,
    IncorrectlyPartitionedTopics = 2,
    MissingInternalTopics = 3,
    ShutdownApplication = 4,
    AssignmentDelayed = 5,
}

/// A status of the group, sent with every heartbeat while it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub code: StatusCode,
    pub detail: String,
}
