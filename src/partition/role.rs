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
        }
    }

    /// The high watermark the ISR allows: the smallest log end offset of
    /// its members (a member that has not fetched yet holds it back).
    pub fn isr_high_watermark(&self, own_log_end: Offset) -> Option<Offset> {
        self.isr
            .iter()
            .map(|id| match *id == self.node_id {
                true => Some(own_log_end),
                false => self.followers.get(id).and_then(|f| f.log_end_offset),
            })
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

    /// The ISR with `replica` added, if it is out of it and has caught up
    /// to both the high watermark and this epoch's start.
    pub fn expanded_isr(&self, replica: i32, high_watermark: Offset) -> Option<Vec<i32>> {
        let progress = self.followers.get(&replica)?;
        let end = progress.log_end_offset?;
        if self.isr.contains(&replica) || end < high_watermark || end < self.epoch_start_offset {
            return None;
        }
        let mut isr = self.isr.clone();
        isr.push(replica);
        Some(isr)
    }

    /// The ISR without the followers that have not caught up for
    /// `max_lag`, if any must go.
    pub fn shrunk_isr(&self, max_lag: Duration) -> Option<Vec<i32>> {
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
        (isr.len() < self.isr.len()).then_some(isr)
    }

    /// Takes a new ISR and partition epoch from the metadata, keeping the
    /// followers' progress.
    pub fn update(&mut self, replicas: Vec<i32>, isr: Vec<i32>, partition_epoch: i32) {
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
            state.expanded_isr(2, Offset(8)),
            None,
            "below the epoch start"
        );
        state.record_fetch(2, Offset(11), Offset(12));
        assert_eq!(
            state.expanded_isr(2, Offset(12)),
            None,
            "below the high watermark"
        );
        assert_eq!(state.expanded_isr(2, Offset(11)), Some(vec![1, 2]));
        state.update(vec![1, 2], vec![1, 2], 6);
        assert_eq!(state.shrunk_isr(Duration::from_secs(30)), None);
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(state.shrunk_isr(Duration::ZERO), Some(vec![1]));
    }
}
