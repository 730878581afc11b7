//! A member of a streams group as the coordinator knows it: its process
//! (several stream threads of one application instance are several
//! members of one process), its endpoint for interactive queries, its
//! epochs and its tasks.

use std::collections::BTreeMap;

use super::TasksTuple;

/// Where a member's reconciliation stands (Kafka's streams `MemberState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberState {
    /// The member owns its assignment at its epoch.
    Stable,
    /// The member must give up tasks before it moves to a new epoch.
    UnrevokedTasks,
    /// The member is at the target epoch but waits for tasks that other
    /// members still own.
    UnreleasedTasks,
}

/// A host and port where the member answers interactive queries
/// (`application.server`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub host: String,
    pub port: u16,
}

/// A task's changelog offset as the member last reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskOffset {
    pub subtopology: String,
    pub partition: i32,
    pub offset: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamsMember {
    pub member_id: String,
    pub instance_id: Option<String>,
    pub rack_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub rebalance_timeout_ms: i32,
    pub topology_epoch: i32,
    /// The application instance the member (a stream thread) runs in.
    pub process_id: String,
    pub user_endpoint: Option<Endpoint>,
    pub client_tags: Vec<(String, String)>,
    pub member_epoch: i32,
    pub previous_member_epoch: i32,
    pub state: MemberState,
    /// The tasks the member owns (or is being given) at its epoch.
    pub assigned: TasksTuple,
    /// The epoch at which each of its active tasks was given to it; an
    /// offset commit at an older member epoch is accepted for a task it
    /// has owned since then.
    pub active_task_epochs: BTreeMap<(String, i32), i32>,
    /// The tasks the member must give up; it still owns them.
    pub pending_revocation: TasksTuple,
    pub task_offsets: Vec<TaskOffset>,
    pub task_end_offsets: Vec<TaskOffset>,
}

impl StreamsMember {
    pub fn new(member_id: String) -> StreamsMember {
        StreamsMember {
            member_id,
            instance_id: None,
            rack_id: None,
            client_id: String::new(),
            client_host: String::new(),
            rebalance_timeout_ms: -1,
            topology_epoch: -1,
            process_id: String::new(),
            user_endpoint: None,
            client_tags: Vec::new(),
            member_epoch: 0,
            previous_member_epoch: 0,
            state: MemberState::Stable,
            assigned: TasksTuple::default(),
            active_task_epochs: BTreeMap::new(),
            pending_revocation: TasksTuple::default(),
            task_offsets: Vec::new(),
            task_end_offsets: Vec::new(),
        }
    }

    /// Whether the member owns exactly its target assignment of `epoch`.
    pub fn is_reconciled_to(&self, epoch: i32) -> bool {
        self.state == MemberState::Stable && self.member_epoch == epoch
    }

    /// Moves the member to `epoch`, remembering the one it leaves.
    pub fn update_member_epoch(&mut self, epoch: i32) {
        self.previous_member_epoch = self.member_epoch;
        self.member_epoch = epoch;
    }

    /// Whether the member owns active task `partition` of `subtopology`
    /// (assigned or pending revocation) since at most `epoch`.
    pub fn owned_active_since(&self, subtopology: &str, partition: i32, epoch: i32) -> bool {
        let owned = super::has_task(&self.assigned.active, subtopology, partition)
            || super::has_task(&self.pending_revocation.active, subtopology, partition);
        owned
            && self
                .active_task_epochs
                .get(&(subtopology.to_string(), partition))
                .is_some_and(|given| epoch >= *given)
    }
}
