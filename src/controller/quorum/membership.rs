//! KIP-853's dynamic quorum (AddRaftVoter, RemoveRaftVoter) as openraft
//! membership changes.
//!
//! A controller that is not a voter (absent from
//! `controller.quorum.voters`, or removed) follows the metadata log as an
//! openraft learner, which is what Kafka calls an observer of the log: on
//! its first start it asks the leader to take it in (`observe`), and the
//! leader replicates the log to it as to a voter. AddRaftVoter promotes
//! such a learner once it has caught up; RemoveRaftVoter turns a voter back
//! into a learner, so that the node keeps its copy of the log and keeps
//! serving as a broker, as a removed Kafka controller goes on fetching as
//! an observer. Both go through openraft's joint consensus and answer once
//! the new voter set is committed.
//!
//! Voters seeded from `controller.quorum.voters` have no directory id in
//! the membership until `kraft.version` 1; then each has the leader record
//! its own (the part of UpdateRaftVoter gregor needs), and RemoveRaftVoter
//! checks it as it checks a dynamically added voter's.
//!
//! One change at a time, as Kafka's leader allows: a request that arrives
//! while another runs, or before the last change is committed, gets
//! REQUEST_TIMED_OUT. The changes need the finalized `kraft.version` 1
//! (`kafka-features.sh upgrade --feature kraft.version=1`), else
//! UNSUPPORTED_VERSION.
//!
//! The voter set lives in the Raft log and its snapshots, never in the
//! configuration: `controller.quorum.voters` seeds a quorum whose log is
//! empty and tells a new controller where to find the quorum; a node
//! restarted with an older list keeps the membership its log holds.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use openraft::error::{ChangeMembershipError, ClientWriteError, RaftError};
use openraft::ChangeMembers;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::network::Transport;
use super::state_machine::StateMachineStore;
use super::{ControllerNode, MetadataRaft};
use crate::metadata::features::KRAFT_VERSION;

/// How long a removal may take to commit (RemoveRaftVoter carries no
/// timeout; an addition waits as long as its request says).
pub const REMOVAL_WAIT: Duration = Duration::from_secs(30);
/// The longest an addition may wait, whatever its request asks.
const LONGEST_ADDITION: Duration = Duration::from_secs(300);

/// A change of the voter set, as the leader carries it out.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum VoterChange {
    /// Promote observer `id` (with this directory id, reached at
    /// `address`) to voter, within `timeout`.
    Add {
        id: u64,
        directory_id: Uuid,
        address: String,
        timeout: Duration,
        /// Answer once the new voter set is committed; else once the
        /// leader has written it (AddRaftVoter v1's AckWhenCommitted).
        #[serde(default = "committed")]
        ack_when_committed: bool,
    },
    /// Demote voter `id` to observer, if its directory id matches.
    Remove { id: u64, directory_id: Uuid },
    /// Bring member `id`'s entry up to date, as Kafka's voters send
    /// UpdateRaftVoter: the address it is reached at now (a controller
    /// restarted on another host or port) and, once `kraft.version` is 1,
    /// its directory id where none is recorded (a voter seeded from
    /// `controller.quorum.voters`). Refused if another directory id is.
    #[serde(alias = "RecordDirectory")]
    Update {
        id: u64,
        directory_id: Uuid,
        /// `None` from nodes that only recorded directory ids.
        #[serde(default)]
        address: Option<String>,
    },
}

fn committed() -> bool {
    true
}

impl VoterChange {
    /// How long the whole change may take, wherever it is carried out.
    pub fn timeout(&self) -> Duration {
        match self {
            VoterChange::Add { timeout, .. } => (*timeout).min(LONGEST_ADDITION),
            VoterChange::Remove { .. } | VoterChange::Update { .. } => REMOVAL_WAIT,
        }
    }
}

/// Why the voter set did not change (Kafka's error for each: `crate::error`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum MembershipError {
    #[error("no leader of the metadata quorum is known here")]
    NotLeader,
    #[error(
        "Cluster doesn't support changing the voters because the kraft.version feature is {0}"
    )]
    KraftVersion(i16),
    #[error("Request timed out waiting for leader to handle previous voter change request")]
    ChangePending,
    #[error("The voter id {0} is already part of the set of voters.")]
    DuplicateVoter(u64),
    #[error("Cannot remove voter {id} with directory id {directory_id} from the set of voters {voters:?}")]
    VoterNotFound {
        id: u64,
        directory_id: Uuid,
        voters: Vec<u64>,
    },
    #[error("New voter {id} is not an observer of the metadata quorum {detail}: start it as a controller (process.roles=broker,controller) that is not in controller.quorum.voters first")]
    NotObserving { id: u64, detail: String },
    #[error("Aborted add voter operation for {0} since it is lagging behind")]
    Lagging(u64),
    #[error("The voter change was not committed within {0:?}")]
    TimedOut(Duration),
    #[error("metadata quorum: {0}")]
    Raft(String),
}

/// The leader's one change at a time.
#[derive(Debug, Default, Clone)]
pub struct Changes(Arc<tokio::sync::Mutex<()>>);

/// Carries out `change` on this node, which must lead the quorum.
pub(super) async fn change_here(
    raft: &MetadataRaft,
    state: &StateMachineStore,
    changes: &Changes,
    transport: &Transport,
    change: VoterChange,
) -> Result<(), MembershipError> {
    let running = Arc::clone(&changes.0)
        .try_lock_owned()
        .map_err(|_| MembershipError::ChangePending)?;
    if !leads(raft) {
        return Err(MembershipError::NotLeader);
    }
    let kraft_version = kraft_version(state);
    // Addresses live in the log whatever the version (openraft keeps the
    // membership there); Kafka's kraft.version 0 reads them from config.
    if kraft_version < 1 && !matches!(change, VoterChange::Update { .. }) {
        return Err(MembershipError::KraftVersion(kraft_version));
    }
    if let Some(target) = left_joint(raft) {
        // A leader that failed between openraft's two steps left the
        // quorum joint: finish that change first.
        tracing::warn!(
            ?target,
            "finishing a voter change a previous leader left joint"
        );
        let raft = raft.clone();
        tokio::spawn(async move {
            if let Err(error) = raft
                .change_membership(ChangeMembers::ReplaceAllVoters(target), true)
                .await
            {
                tracing::warn!(%error, "finishing a joint voter change failed");
            }
            drop(running);
        });
        return Err(MembershipError::ChangePending);
    }
    let timeout = change.timeout();
    let answered_when_written = match change {
        VoterChange::Add {
            id,
            ack_when_committed: false,
            ..
        } => Some(id),
        _ => None,
    };
    let membership = committed_membership(raft)?;
    let own_id = raft.metrics().borrow().id;
    let resigns = matches!(change, VoterChange::Remove { id, .. } if id == own_id);
    let voters: BTreeSet<u64> = membership.voter_ids().collect();
    let members = match change {
        VoterChange::Add {
            id,
            directory_id,
            address,
            ..
        } => {
            if voters.contains(&id) {
                return Err(MembershipError::DuplicateVoter(id));
            }
            let not_observing = |detail: String| MembershipError::NotObserving { id, detail };
            let node = membership
                .get_node(&id)
                .ok_or_else(|| not_observing(String::new()))?;
            if node.directory_id.is_some_and(|known| known != directory_id) {
                return Err(not_observing(format!(
                    "with directory id {directory_id} (its log dir's is {})",
                    node.directory_id.unwrap_or_default()
                )));
            }
            if node.addr != address {
                return Err(not_observing(format!(
                    "at {address} (it observes from {})",
                    node.addr
                )));
            }
            caught_up(raft, id, timeout).await?;
            ChangeMembers::AddVoterIds(BTreeSet::from([id]))
        }
        VoterChange::Remove { id, directory_id } => {
            let matches = membership
                .get_node(&id)
                .is_some_and(|node| node.directory_id.is_none_or(|known| known == directory_id));
            // Kafka refuses to remove the last voter the same way.
            if !voters.contains(&id) || !matches || voters.len() == 1 {
                return Err(MembershipError::VoterNotFound {
                    id,
                    directory_id,
                    voters: voters.into_iter().collect(),
                });
            }
            ChangeMembers::RemoveVoters(BTreeSet::from([id]))
        }
        VoterChange::Update {
            id,
            directory_id,
            address,
        } => {
            let node = membership
                .get_node(&id)
                .ok_or_else(|| MembershipError::Raft(format!("{id} is not a member")))?;
            if let Some(known) = node.directory_id.filter(|known| *known != directory_id) {
                return Err(MembershipError::Raft(format!(
                    "{id} has directory id {known} recorded, not {directory_id}"
                )));
            }
            let updated = ControllerNode {
                addr: address.unwrap_or_else(|| node.addr.clone()),
                directory_id: match kraft_version {
                    0 => node.directory_id,
                    _ => Some(directory_id),
                },
            };
            if updated == *node {
                return Ok(());
            }
            ChangeMembers::SetNodes(BTreeMap::from([(id, updated)]))
        }
    };
    // On its own task: openraft proposes the joint config, then the new
    // one; a caller that gives up must not leave the quorum joint.
    let raft_handle = raft.clone();
    let raft = raft.clone();
    let mut task = tokio::spawn(async move {
        let changed = raft.change_membership(members, true).await;
        drop(running);
        changed
    });
    if let Some(id) = answered_when_written {
        let wait = raft_handle.wait(Some(timeout));
        let written = wait.metrics(
            |m| {
                m.membership_config
                    .membership()
                    .voter_ids()
                    .any(|v| v == id)
            },
            "the new voter set written",
        );
        tokio::select! {
            written = written => {
                return written.map(|_| ()).map_err(|_| MembershipError::TimedOut(timeout));
            }
            done = &mut task => {
                return match done {
                    Err(join) => Err(MembershipError::Raft(join.to_string())),
                    Ok(Err(error)) => Err(from_raft(error)),
                    Ok(Ok(_)) => Ok(()),
                };
            }
        }
    }
    match tokio::time::timeout(timeout, task).await {
        Err(_) => Err(MembershipError::TimedOut(timeout)),
        Ok(Err(join)) => Err(MembershipError::Raft(join.to_string())),
        Ok(Ok(Err(error))) => Err(from_raft(error)),
        Ok(Ok(Ok(_))) => {
            if resigns {
                tokio::spawn(resign(raft_handle, transport.clone()));
            }
            Ok(())
        }
    }
}

/// A leader that removed itself goes on leading (openraft keeps a leader
/// that is not a voter) until someone campaigns: as Kafka's removed leader
/// resigns once the removal is committed, it asks the voter that holds
/// the most of its log to start an election, which it wins and this node
/// follows.
async fn resign(raft: MetadataRaft, transport: Transport) {
    let successor = {
        let metrics = raft.metrics();
        let metrics = metrics.borrow();
        let membership = metrics.membership_config.membership();
        let replication = metrics.replication.clone().unwrap_or_default();
        membership
            .voter_ids()
            .filter(|id| *id != metrics.id)
            .max_by_key(|id| {
                replication
                    .get(id)
                    .cloned()
                    .flatten()
                    .map(|log_id| log_id.index)
            })
            .and_then(|id| Some((id, membership.get_node(&id)?.addr.clone())))
    };
    let Some((id, address)) = successor else {
        return;
    };
    tracing::info!(
        successor = id,
        "removed from the voters: resigning the metadata quorum's leadership"
    );
    if let Err(error) = super::network::campaign(&transport, &address).await {
        tracing::warn!(%error, successor = id, "asking a voter to campaign failed");
    }
}

/// Takes controller `id` in as a learner (an observer of the log), if it
/// is not a member already. This node must lead.
pub(super) async fn observe_here(
    raft: &MetadataRaft,
    id: u64,
    node: ControllerNode,
) -> Result<(), MembershipError> {
    if !leads(raft) {
        return Err(MembershipError::NotLeader);
    }
    let known = raft
        .metrics()
        .borrow()
        .membership_config
        .membership()
        .get_node(&id)
        .cloned();
    if known.is_some() {
        return Ok(());
    }
    tracing::info!(id, address = %node.addr, "a controller joins the metadata quorum as an observer");
    let added = tokio::time::timeout(REMOVAL_WAIT, raft.add_learner(id, node, false)).await;
    match added {
        Err(_) => Err(MembershipError::TimedOut(REMOVAL_WAIT)),
        Ok(Err(error)) => Err(from_raft(error)),
        Ok(Ok(_)) => Ok(()),
    }
}

/// The finalized `kraft.version`.
pub(super) fn kraft_version(state: &StateMachineStore) -> i16 {
    state
        .state()
        .feature_levels
        .get(KRAFT_VERSION)
        .copied()
        .unwrap_or(0)
}

fn leads(raft: &MetadataRaft) -> bool {
    let metrics = raft.metrics();
    let metrics = metrics.borrow();
    metrics.current_leader == Some(metrics.id)
}

/// The voter set, if the last change to it is committed (applied here)
/// and not joint; else another change is still under way.
fn committed_membership(
    raft: &MetadataRaft,
) -> Result<openraft::Membership<u64, ControllerNode>, MembershipError> {
    let metrics = raft.metrics();
    let metrics = metrics.borrow();
    let stored = &metrics.membership_config;
    let applied = metrics.last_applied.map(|log_id| log_id.index);
    let committed = stored.log_id().map(|log_id| log_id.index) <= applied;
    let membership = stored.membership();
    if !committed || membership.get_joint_config().len() != 1 {
        return Err(MembershipError::ChangePending);
    }
    Ok(membership.clone())
}

/// The voters a committed joint config was heading for, if the
/// membership is one (openraft leaves it so when the leader that began
/// the change lost its term before the second step).
fn left_joint(raft: &MetadataRaft) -> Option<BTreeSet<u64>> {
    let metrics = raft.metrics();
    let metrics = metrics.borrow();
    let stored = &metrics.membership_config;
    let applied = metrics.last_applied.map(|log_id| log_id.index);
    let committed = stored.log_id().map(|log_id| log_id.index) <= applied;
    let configs = stored.membership().get_joint_config();
    match committed && configs.len() > 1 {
        true => configs.last().cloned(),
        false => None,
    }
}

/// Waits until learner `id` holds the leader's log as it is now.
async fn caught_up(raft: &MetadataRaft, id: u64, timeout: Duration) -> Result<(), MembershipError> {
    let target = raft.metrics().borrow().last_log_index;
    let reached = raft
        .wait(Some(timeout))
        .metrics(
            |metrics| {
                let matched = metrics
                    .replication
                    .as_ref()
                    .and_then(|replication| replication.get(&id).cloned())
                    .flatten()
                    .map(|log_id| log_id.index);
                matched >= target
            },
            "the new voter caught up",
        )
        .await;
    reached
        .map(|_| ())
        .map_err(|_| MembershipError::Lagging(id))
}

fn from_raft(error: RaftError<u64, ClientWriteError<u64, ControllerNode>>) -> MembershipError {
    match error {
        RaftError::APIError(ClientWriteError::ForwardToLeader(_)) => MembershipError::NotLeader,
        RaftError::APIError(ClientWriteError::ChangeMembershipError(
            ChangeMembershipError::InProgress(_),
        )) => MembershipError::ChangePending,
        other => MembershipError::Raft(other.to_string()),
    }
}
