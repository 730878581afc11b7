//! The metadata quorum as its leader sees it, for DescribeQuorum (KIP-595,
//! `kafka-metadata-quorum.sh`): the leader and its epoch (the Raft term),
//! the high watermark, each voter's log end offset, and the brokers that
//! follow the voters' applied state (observers) with when each was last
//! heard; controllers that follow the log without voting (openraft
//! learners) are observers too, with their log end offsets. Offsets are
//! Raft log indexes + 1 (the next to write), as Kafka counts its metadata
//! log's offsets from 0.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use super::MetadataRaft;
use crate::controller::liveness::Liveness;
use crate::types::now_ms;

/// When this node, leading, last heard from each peer of the Raft log (an
/// AppendEntries answered) and last found it caught up, for DescribeQuorum's
/// `LastFetchTimestamp` and `LastCaughtUpTimestamp`: openraft 0.9 keeps
/// neither. Recorded by the peers' clients (`network.rs`).
#[derive(Debug, Default)]
pub struct PeerContacts {
    /// The greatest log index sent to any peer: the leader's log end, as
    /// near as its clients know it.
    sent: AtomicU64,
    by_node: Mutex<HashMap<u64, Contact>>,
}

#[derive(Debug, Clone, Copy)]
struct Contact {
    last_fetch_ms: i64,
    last_caught_up_ms: i64,
}

impl PeerContacts {
    /// An AppendEntries reaching `index` goes out; the log end to compare
    /// its answer with.
    pub(super) fn sending(&self, index: Option<u64>) -> u64 {
        match index {
            Some(index) => self.sent.fetch_max(index, Ordering::Relaxed).max(index),
            None => self.sent.load(Ordering::Relaxed),
        }
    }

    /// `node` answered that it holds the log up to `reached`; caught up if
    /// that is `log_end`, the log end when the request went out.
    pub(super) fn answered(&self, node: u64, reached: Option<u64>, log_end: u64) {
        let now = now_ms();
        let mut by_node = self
            .by_node
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let contact = by_node.entry(node).or_insert(Contact {
            last_fetch_ms: -1,
            last_caught_up_ms: -1,
        });
        contact.last_fetch_ms = now;
        if reached.is_some_and(|reached| reached >= log_end) {
            contact.last_caught_up_ms = now;
        }
    }

    fn contact(&self, node: u64) -> Option<Contact> {
        self.by_node
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(&node)
            .copied()
    }
}

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
pub(super) fn leader_view(
    raft: &MetadataRaft,
    liveness: &Liveness,
    contacts: &PeerContacts,
) -> Option<QuorumDescription> {
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
    let now_ms = now_ms();
    let replica = |id: u64| {
        // The leader is as current as it gets, as Kafka reports it.
        let (last_fetch_timestamp, last_caught_up_timestamp) = match id == metrics.id {
            true => (now_ms, now_ms),
            false => contacts
                .contact(id)
                .map_or((-1, -1), |c| (c.last_fetch_ms, c.last_caught_up_ms)),
        };
        ReplicaState {
            replica_id: i32::try_from(id).unwrap_or(-1),
            log_end_offset: log_end_offset(id),
            last_fetch_timestamp,
            last_caught_up_timestamp,
            directory_id: membership.get_node(&id).and_then(|node| node.directory_id),
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_peer_is_caught_up_only_when_it_reached_what_had_been_sent() {
        let contacts = PeerContacts::default();
        assert!(contacts.contact(2).is_none());
        // Node 2 gets entries up to 10 and answers: caught up.
        let end = contacts.sending(Some(10));
        contacts.answered(2, Some(10), end);
        let first = contacts.contact(2).unwrap();
        assert!(first.last_fetch_ms > 0 && first.last_caught_up_ms == first.last_fetch_ms);
        // Node 3 lags: it answers for 4 while 10 was sent.
        let end = contacts.sending(Some(4));
        assert_eq!(end, 10);
        contacts.answered(3, Some(4), end);
        let lagging = contacts.contact(3).unwrap();
        assert!(lagging.last_fetch_ms > 0 && lagging.last_caught_up_ms == -1);
        // A heartbeat (no entries) at 10 finds it caught up.
        let end = contacts.sending(None);
        contacts.answered(3, Some(10), end);
        assert!(contacts.contact(3).unwrap().last_caught_up_ms > 0);
    }
}
