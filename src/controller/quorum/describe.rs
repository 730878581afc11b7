//! The metadata quorum as its leader sees it, for DescribeQuorum (KIP-595,
//! `kafka-metadata-quorum.sh`): the leader and its epoch (the Raft term),
//! the high watermark, each voter's log end offset, and the brokers that
//! follow the voters' applied state (observers) with when each was last
//! heard; controllers that follow the log without voting (openraft
//! learners) are observers too, with their log end offsets. Offsets are
//! Raft log indexes + 1 (the next to write), as Kafka counts its metadata
//! log's offsets from 0.

use serde::{Deserialize, Serialize};

use super::MetadataRaft;
use crate::controller::liveness::Liveness;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuorumDescription {
    pub leader_id: i32,
    pub leader_epoch: i32,
    pub high_watermark: i64,
    pub voters: Vec<ReplicaState>,
    pub observers: Vec<ReplicaState>,
    /// Each voter's controller address (`host:port`), as the membership
    /// records it.
    #[serde(default)]
    pub voter_addresses: Vec<(i32, String)>,
}

/// One replica; -1 where the leader does not know.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplicaState {
    pub replica_id: i32,
    pub log_end_offset: i64,
    pub last_fetch_timestamp: i64,
    pub last_caught_up_timestamp: i64,
    /// Its metadata log dir's id, where the membership records it.
    #[serde(default)]
    pub directory_id: Option<uuid::Uuid>,
}

/// The description, if `raft` leads the quorum.
pub(super) fn leader_view(raft: &MetadataRaft, liveness: &Liveness) -> Option<QuorumDescription> {
    let metrics = raft.metrics();
    let metrics = metrics.borrow();
    if metrics.current_leader != Some(metrics.id) {
        return None;
    }
    let next = |index: Option<u64>| index.map_or(0, |i| i64::try_from(i + 1).unwrap_or(i64::MAX));
    let replication = metrics.replication.clone().unwrap_or_default();
    let membership = metrics.membership_config.membership();
    let log_end_offset = |id: u64| match id == metrics.id {
        true => next(metrics.last_log_index),
        false => replication
            .get(&id)
            .map_or(-1, |matched| next(matched.map(|log_id| log_id.index))),
    };
    let replica = |id: u64| ReplicaState {
        replica_id: i32::try_from(id).unwrap_or(-1),
        log_end_offset: log_end_offset(id),
        last_fetch_timestamp: -1,
        last_caught_up_timestamp: -1,
        directory_id: membership.get_node(&id).and_then(|node| node.directory_id),
    };
    let voters: Vec<ReplicaState> = membership.voter_ids().map(replica).collect();
    let voter_addresses = membership
        .voter_ids()
        .filter_map(|id| {
            Some((
                i32::try_from(id).ok()?,
                membership.get_node(&id)?.addr.clone(),
            ))
        })
        .collect();
    let mut observers: Vec<ReplicaState> = membership.learner_ids().map(replica).collect();
    let now_ms = crate::types::now_ms();
    for (node, elapsed) in liveness.last_heard() {
        if voters.iter().any(|v| v.replica_id == node) {
            continue;
        }
        let last_fetch_timestamp = now_ms - i64::try_from(elapsed.as_millis()).unwrap_or(0);
        match observers.iter_mut().find(|o| o.replica_id == node) {
            Some(observer) => observer.last_fetch_timestamp = last_fetch_timestamp,
            None => observers.push(ReplicaState {
                replica_id: node,
                log_end_offset: -1,
                last_fetch_timestamp,
                last_caught_up_timestamp: -1,
                directory_id: None,
            }),
        }
    }
    Some(QuorumDescription {
        leader_id: i32::try_from(metrics.id).unwrap_or(-1),
        leader_epoch: i32::try_from(metrics.current_term).unwrap_or(i32::MAX),
        high_watermark: next(metrics.last_applied.map(|log_id| log_id.index)),
        voters,
        observers,
        voter_addresses,
    })
}
