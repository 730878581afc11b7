//! What this broker is for one partition — its leader, tracking each
//! follower's progress to advance the high watermark and keep the ISR, or
//! a follower — decided by the metadata image.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::types::Offset;

/// A follower as the leader sees it through its fetches.
#[derive(Debug, Clone, Copy)]
struct FollowerProgress {
    /// The follower's log end offset: its last fetch offset (None until
    /// it fetched from this leader).
    log_end_offset: Option<Offset>,
    /// The last time the follower had everything the leader had.
    last_caught_up: Instant,
    /// The leader's end offset when the follower last fetched: reaching it
    /// by the next fetch counts as caught up at that fetch's time.
    last_fetch: Option<(Instant, Offset)>,
}

/// An ISR change sent to the controller and not answered yet.
#[derive(Debug, Clone)]
struct PendingIsr {
    isr: Vec<i32>,
    /// The partition epoch it was asked against: the answer that clears
    /// it names the same one.
    partition_epoch: i32,
}

/// An ISR change for the controller to approve (Kafka's AlterPartition).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IsrProposal {
    pub isr: Vec<i32>,
    pub partition_epoch: i32,
}

#[derive(Debug, Clone)]
pub struct LeaderState {
    pub node_id: i32,
    pub replicas: Vec<i32>,
    pub isr: Vec<i32>,
    pub partition_epoch: i32,
    /// The log end offset when this leader's epoch began: a follower must
    /// have reached it to join the ISR (it then holds this epoch's start).
    epoch_start_offset: Offset,
    followers: HashMap<i32, FollowerProgress>,
    /// The ISR change with the controller, if any: one at a time.
    pending: Option<PendingIsr>,
}

#[derive(Debug, Clone)]
pub enum Role {
    Leader(LeaderState),
    /// Following `leader` (-1: the partition has no leader right now).
    Follower {
        leader: i32,
    },
}

impl LeaderState {
    pub fn new(
        node_id: i32,
        replicas: Vec<i32>,
        isr: Vec<i32>,
        partition_epoch: i32,
        log_end_offset: Offset,
    ) -> LeaderState {
        let now = Instant::now();
        let followers = replicas
            .iter()
            .filter(|id| **id != node_id)
            .map(|id| {
                (
                    *id,
                    FollowerProgress {
                        log_end_offset: None,
                        // In-sync followers get a full lag allowance from
                        // the election, as Kafka gives them.
                        last_caught_up: now,
                        last_fetch: None,
                    },
                )
            })
            .collect();
        LeaderState {
            node_id,
            replicas,
            isr,
            partition_epoch,
            epoch_start_offset: log_end_offset,
            followers,
            pending: None,
        }
    }

    /// Whether `replica` counts for the high watermark: a member of the
    /// ISR, or of the ISR a pending change asks for (Kafka's "maximal
    /// ISR"). A follower the controller is asked to admit may be elected
    /// the moment it is admitted, so nothing it lacks may be acknowledged
    /// meanwhile; a member being removed counts until the removal is
    /// written.
    fn counts_for_high_watermark(&self, replica: i32) -> bool {
        self.isr.contains(&replica)
            || self
                .pending
                .as_ref()
                .is_some_and(|pending| pending.isr.contains(&replica))
    }

    /// The high watermark the maximal ISR allows: the smallest log end
    /// offset of its members (a member that has not fetched yet holds it
    /// back).
    pub fn isr_high_watermark(&self, own_log_end: Offset) -> Option<Offset> {
        let followers = self
            .replicas
            .iter()
            .filter(|id| **id != self.node_id && self.counts_for_high_watermark(**id));
        followers
            .map(|id| self.followers.get(id).and_then(|f| f.log_end_offset))
            .try_fold(own_log_end, |low, end| end.map(|end| low.min(end)))
    }

    /// Records a follower's fetch at `fetch_offset` while the leader's log
    /// ends at `leader_end`, as Kafka's `updateFetchState` does.
    pub fn record_fetch(&mut self, replica: i32, fetch_offset: Offset, leader_end: Offset) {
        let now = Instant::now();
        let Some(progress) = self.followers.get_mut(&replica) else {
            return;
        };
        if fetch_offset >= leader_end {
            progress.last_caught_up = now;
        } else if let Some((at, end_then)) = progress.last_fetch {
            if fetch_offset >= end_then {
                progress.last_caught_up = progress.last_caught_up.max(at);
            }
        }
        progress.log_end_offset = Some(fetch_offset);
        progress.last_fetch = Some((now, leader_end));
    }

    /// Proposes the ISR with `replica` added, if it is out of it, has
    /// caught up to both the high watermark and this epoch's start, and no
    /// other change is pending. From here on it holds the high watermark.
    pub fn propose_expansion(
        &mut self,
        replica: i32,
        high_watermark: Offset,
    ) -> Option<IsrProposal> {
        let progress = self.followers.get(&replica)?;
        let end = progress.log_end_offset?;
        if self.pending.is_some()
            || self.isr.contains(&replica)
            || end < high_watermark
            || end < self.epoch_start_offset
        {
            return None;
        }
        let mut isr = self.isr.clone();
        isr.push(replica);
        Some(self.propose(isr))
    }

    /// Proposes the ISR without the followers that have not caught up for
    /// `max_lag`, if any must go and no other change is pending.
    pub fn propose_shrink(&mut self, max_lag: Duration) -> Option<IsrProposal> {
        if self.pending.is_some() {
            return None;
        }
        let now = Instant::now();
        let isr: Vec<i32> = self
            .isr
            .iter()
            .copied()
            .filter(|id| {
                *id == self.node_id
                    || self
                        .followers
                        .get(id)
                        .is_some_and(|f| now.duration_since(f.last_caught_up) <= max_lag)
            })
            .collect();
        (isr.len() < self.isr.len()).then(|| self.propose(isr))
    }

    fn propose(&mut self, isr: Vec<i32>) -> IsrProposal {
        let partition_epoch = self.partition_epoch;
        self.pending = Some(PendingIsr {
            isr: isr.clone(),
            partition_epoch,
        });
        IsrProposal {
            isr,
            partition_epoch,
        }
    }

    /// The controller answered the change asked against
    /// `partition_epoch` (its outcome comes as an [`update`](Self::update)).
    pub fn proposal_answered(&mut self, partition_epoch: i32) {
        if self
            .pending
            .as_ref()
            .is_some_and(|pending| pending.partition_epoch == partition_epoch)
        {
            self.pending = None;
        }
    }

    /// Takes a new ISR and partition epoch from the metadata (or from the
    /// controller's answer), keeping the followers' progress. An older
    /// partition epoch than the one held is stale and ignored, as Kafka
    /// ignores it; a newer one settles any pending change (it was written,
    /// or it was asked against an ISR that no longer is).
    pub fn update(&mut self, replicas: Vec<i32>, isr: Vec<i32>, partition_epoch: i32) {
        if partition_epoch < self.partition_epoch {
            return;
        }
        if partition_epoch > self.partition_epoch {
            self.pending = None;
        }
        let now = Instant::now();
        for id in &replicas {
            if *id != self.node_id {
                self.followers.entry(*id).or_insert(FollowerProgress {
                    log_end_offset: None,
                    last_caught_up: now,
                    last_fetch: None,
                });
            }
        }
        self.followers.retain(|id, _| replicas.contains(id));
        self.replicas = replicas;
        self.isr = isr;
        self.partition_epoch = partition_epoch;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leader() -> LeaderState {
        LeaderState::new(1, vec![1, 2, 3], vec![1, 2, 3], 5, Offset(10))
    }

    #[test]
    fn the_high_watermark_is_the_lowest_end_in_the_isr() {
        let mut state = leader();
        assert_eq!(
            state.isr_high_watermark(Offset(20)),
            None,
            "followers unknown"
        );
        state.record_fetch(2, Offset(15), Offset(20));
        assert_eq!(state.isr_high_watermark(Offset(20)), None);
        state.record_fetch(3, Offset(12), Offset(20));
        assert_eq!(state.isr_high_watermark(Offset(20)), Some(Offset(12)));
        state.update(vec![1, 2, 3], vec![1, 2], 6);
        assert_eq!(state.isr_high_watermark(Offset(20)), Some(Offset(15)));
        let alone = LeaderState::new(1, vec![1], vec![1], 0, Offset(0));
        assert_eq!(alone.isr_high_watermark(Offset(7)), Some(Offset(7)));
    }

    #[test]
    fn followers_join_once_caught_up_and_leave_when_they_lag() {
        let mut state = LeaderState::new(1, vec![1, 2], vec![1], 5, Offset(10));
        state.record_fetch(2, Offset(8), Offset(12));
        assert_eq!(
            state.propose_expansion(2, Offset(8)),
            None,
            "below the epoch start"
        );
        state.record_fetch(2, Offset(11), Offset(12));
        assert_eq!(
            state.propose_expansion(2, Offset(12)),
            None,
            "below the high watermark"
        );
        let expansion = state.propose_expansion(2, Offset(11));
        assert_eq!(
            expansion,
            Some(IsrProposal {
                isr: vec![1, 2],
                partition_epoch: 5
            })
        );
        assert_eq!(
            state.propose_expansion(2, Offset(11)),
            None,
            "one change at a time"
        );
        state.update(vec![1, 2], vec![1, 2], 6);
        assert_eq!(state.propose_shrink(Duration::from_secs(30)), None);
        std::thread::sleep(Duration::from_millis(5));
        let shrink = state.propose_shrink(Duration::ZERO);
        assert_eq!(shrink.map(|p| p.isr), Some(vec![1]));
        assert_eq!(state.propose_shrink(Duration::ZERO), None, "pending");
        state.proposal_answered(6);
        assert!(state.propose_shrink(Duration::ZERO).is_some());
    }

    #[test]
    fn a_follower_asked_into_the_isr_holds_the_high_watermark_at_once() {
        // ISR [1, 2]; follower 3 catches up to the high watermark of 11.
        let mut state = LeaderState::new(1, vec![1, 2, 3], vec![1, 2], 5, Offset(10));
        state.record_fetch(2, Offset(11), Offset(11));
        state.record_fetch(3, Offset(11), Offset(11));
        assert!(state.propose_expansion(3, Offset(11)).is_some());
        // The leader appends to 20 and follower 2 gets it all: until the
        // controller answers, follower 3 (which it may elect at once)
        // holds the high watermark where it is.
        state.record_fetch(2, Offset(20), Offset(20));
        assert_eq!(state.isr_high_watermark(Offset(20)), Some(Offset(11)));
        state.record_fetch(3, Offset(15), Offset(20));
        assert_eq!(state.isr_high_watermark(Offset(20)), Some(Offset(15)));
        // Refused (another change won): it no longer counts.
        state.proposal_answered(5);
        assert_eq!(state.isr_high_watermark(Offset(20)), Some(Offset(20)));
    }

    #[test]
    fn a_member_being_removed_counts_until_the_removal_is_written() {
        let mut state = leader();
        state.record_fetch(3, Offset(12), Offset(20));
        std::thread::sleep(Duration::from_millis(50));
        state.record_fetch(2, Offset(20), Offset(20));
        let shrink = state
            .propose_shrink(Duration::from_millis(25))
            .map(|p| p.isr);
        assert_eq!(shrink, Some(vec![1, 2]));
        assert_eq!(state.isr_high_watermark(Offset(20)), Some(Offset(12)));
        state.update(vec![1, 2, 3], vec![1, 2], 6);
        assert_eq!(state.isr_high_watermark(Offset(20)), Some(Offset(20)));
        // An image older than what the leader holds changes nothing.
        state.update(vec![1, 2, 3], vec![1, 2, 3], 5);
        assert_eq!(state.isr, vec![1, 2]);
    }
}
