//! A member of a consumer group as the coordinator knows it: what it
//! subscribes to, its epochs, and where its reconciliation stands.

use bytes::Bytes;

use super::Assignment;

/// What the coordinator keeps of a member that uses the classic protocol
/// inside a consumer group (a group migrating between the protocols):
/// Kafka's `ClassicMemberMetadata`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassicMember {
    /// The session timeout of its JoinGroup; its heartbeats keep it alive.
    pub session_timeout_ms: i32,
    /// Its protocols by preference: name and subscription.
    pub protocols: Vec<(String, Bytes)>,
}

impl ClassicMember {
    /// The protocol it prefers, which its JoinGroup answer names.
    pub fn protocol_name(&self) -> &str {
        self.protocols
            .first()
            .map(|(name, _)| name.as_str())
            .unwrap_or_default()
    }

    /// The subscription of its preferred protocol.
    pub fn subscription(&self) -> &[u8] {
        self.protocols
            .first()
            .map(|(_, metadata)| metadata.as_ref())
            .unwrap_or_default()
    }
}

/// Where a member's reconciliation stands (Kafka's `MemberState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberState {
    /// The member owns its assignment at its epoch.
    Stable,
    /// The member must give up partitions before it moves to a new epoch.
    UnrevokedPartitions,
    /// The member is at the target epoch but waits for partitions that
    /// other members still own.
    UnreleasedPartitions,
}

impl MemberState {
    /// The value Kafka writes in `ConsumerGroupCurrentMemberAssignmentValue`.
    pub fn value(self) -> i8 {
        match self {
            MemberState::Stable => 1,
            MemberState::UnrevokedPartitions => 2,
            MemberState::UnreleasedPartitions => 3,
        }
    }

    /// The state a `ConsumerGroupCurrentMemberAssignmentValue` names.
    pub fn from_value(value: i8) -> Option<MemberState> {
        match value {
            1 => Some(MemberState::Stable),
            2 => Some(MemberState::UnrevokedPartitions),
            3 => Some(MemberState::UnreleasedPartitions),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerMember {
    pub member_id: String,
    pub instance_id: Option<String>,
    pub rack_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub subscribed_topic_names: Vec<String>,
    pub subscribed_topic_regex: Option<String>,
    pub server_assignor: Option<String>,
    pub rebalance_timeout_ms: i32,
    pub member_epoch: i32,
    pub previous_member_epoch: i32,
    pub state: MemberState,
    /// The partitions the member owns (or is being given) at its epoch.
    pub assigned_partitions: Assignment,
    /// The partitions the member must give up; it still owns them.
    pub partitions_pending_revocation: Assignment,
    /// Set for a member that speaks the classic protocol.
    pub classic: Option<ClassicMember>,
}

impl ConsumerMember {
    pub fn new(member_id: String) -> ConsumerMember {
        ConsumerMember {
            member_id,
            instance_id: None,
            rack_id: None,
            client_id: String::new(),
            client_host: String::new(),
            subscribed_topic_names: Vec::new(),
            subscribed_topic_regex: None,
            server_assignor: None,
            rebalance_timeout_ms: -1,
            member_epoch: 0,
            previous_member_epoch: 0,
            state: MemberState::Stable,
            assigned_partitions: Assignment::new(),
            partitions_pending_revocation: Assignment::new(),
            classic: None,
        }
    }

    pub fn uses_classic_protocol(&self) -> bool {
        self.classic.is_some()
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

    /// Every partition the member owns: assigned or pending revocation.
    pub fn owned_partitions(&self) -> impl Iterator<Item = (uuid::Uuid, i32)> + '_ {
        self.assigned_partitions
            .iter()
            .chain(self.partitions_pending_revocation.iter())
            .flat_map(|(topic_id, partitions)| partitions.iter().map(move |p| (*topic_id, *p)))
    }
}
