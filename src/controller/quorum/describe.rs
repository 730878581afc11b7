//! The metadata quorum as its leader sees it, for DescribeQuorum (KIP-595,
//! `kafka-metadata-quorum.sh`): the leader and its epoch (the Raft term),
//! the high watermark, each voter's log end offset, and the brokers that
//! follow the voters' applied state (observers) with when each was last
//! heard. Offsets are Raft log indexes + 1 (the next to write), as Kafka
//! counts its metadata log's offsets from 0.

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
}

/// One replica; -1 where the leader does not know.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplicaState {
    pub replica_id: i32,
    pub log_end_offset: i64,
    pub last_fetch_timestamp: i64,
    pub last_caught_up_timestamp: i64,
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
    let voters: Vec<ReplicaState> = metrics
        .membership_config
        .membership()
        .voter_ids()
        .map(|id| {
            let log_end_offset = match id == metrics.id {
                true => next(metrics.last_log_index),
                false => replication
                    .get(&id)
                    .map_or(-1, |matched| next(matched.map(|log_id| log_id.index))),
            };
            ReplicaState {
                replica_id: i32::try_from(id).unwrap_or(-1),
                log_end_offset,
                last_fetch_timestamp: -1,
                last_caught_up_timestamp: -1,
            }
        })
        .collect();
    let now_ms = crate::types::now_ms();
    let observers = liveness
        .last_heard()
        .into_iter()
        .filter(|(node, _)| !voters.iter().any(|v| v.replica_id == *node))
        .map(|(node, elapsed)| ReplicaState {
            replica_id: node,
            log_end_offset: -1,
            last_fetch_timestamp: now_ms - i64::try_from(elapsed.as_millis()).unwrap_or(0),
            last_caught_up_timestamp: -1,
        })
        .collect();
    Some(QuorumDescription {
        leader_id: i32::try_from(metrics.id).unwrap_or(-1),
        leader_epoch: i32::try_from(metrics.current_term).unwrap_or(i32::MAX),
        high_watermark: next(metrics.last_applied.map(|log_id| log_id.index)),
        voters,
        observers,
    })
}
