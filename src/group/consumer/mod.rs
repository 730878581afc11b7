//! KIP-848 consumer groups: the group coordinator computes the assignment
//! (server-side assignors) and each member reconciles towards it through
//! ConsumerGroupHeartbeat, giving up partitions before others get them.
//!
//! - `member.rs`: a member as the coordinator knows it (epochs, state,
//!   assigned partitions and partitions pending revocation);
//! - `reconciliation.rs`: Kafka's `CurrentAssignmentBuilder`, which moves
//!   one member towards its target assignment;
//! - `assignor.rs`: the `uniform` and `range` server-side assignors;
//! - `group.rs`: the group (group epoch, target assignment, who owns which
//!   partition), the heartbeat and its rules, leaves and time-outs;
//! - `classic_members.rs`: members that speak the classic protocol
//!   (JoinGroup, SyncGroup, Heartbeat, LeaveGroup) in a consumer group, as
//!   a group migrating between the protocols has them;
//! - `records.rs`: the group as Kafka's records in `__consumer_offsets`.
//!
//! Pure state like the classic state machine: no I/O, no timers. The
//! group actor owns one beside its classic group and writes its records
//! before it answers.

pub mod assignor;
pub mod classic_members;
pub mod group;
pub mod member;
pub mod reconciliation;
pub mod records;

use std::collections::{BTreeMap, BTreeSet};

use uuid::Uuid;

pub use crate::group::error::GroupError;
pub use group::{ConsumerGroup, ConsumerGroupState, Heartbeat, HeartbeatAnswer};
pub use member::{ClassicMember, ConsumerMember, MemberState};

/// Partitions by topic id: a member's assignment, current or target.
pub type Assignment = BTreeMap<Uuid, BTreeSet<i32>>;

/// The member epoch a member joins with.
pub const JOIN_GROUP_MEMBER_EPOCH: i32 = 0;
/// The member epoch a member leaves with.
pub const LEAVE_GROUP_MEMBER_EPOCH: i32 = -1;
/// The member epoch of a static member that left for a while and keeps
/// its partitions until it comes back or its session times out.
pub const LEAVE_GROUP_STATIC_MEMBER_EPOCH: i32 = -2;
