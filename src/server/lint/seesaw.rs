//! Two committers in one consumer: its committed offset for a partition goes
//! up and back down, again and again. That is what auto-commit beside manual
//! commits does when the two disagree. The auto-commit commits the consumer's
//! position (everything poll returned), the application commits what it has
//! processed, and each overwrites the other. Whenever the auto-commit is
//! ahead, a crash loses the records between the two offsets.
//!
//! One OffsetCommit does not say which committer sent it, and while both
//! commit the same offsets the combination does no harm and shows nothing.
//! So the rule needs the seesaw itself, from one client, twice: one drop
//! alone is `commit-went-backwards` (a seek back, a reset).

use std::collections::VecDeque;

use uuid::Uuid;

/// Drops straight after a rise, on one partition, that make the finding.
pub const DROPS: u32 = 2;
/// Offsets kept per partition, for the finding's evidence.
const RECENT: usize = 8;

/// One client's commits to one partition of one group.
#[derive(Debug)]
pub struct Seesaw {
    /// The topic's id: a topic deleted and created again starts a new one.
    pub topic_id: Uuid,
    last: i64,
    rising: bool,
    /// Drops that came straight after a rise.
    pub drops: u32,
    /// The last few offsets committed, oldest first.
    recent: VecDeque<i64>,
}

impl Seesaw {
    pub fn new(topic_id: Uuid, offset: i64) -> Seesaw {
        Seesaw {
            topic_id,
            last: offset,
            rising: false,
            drops: 0,
            recent: VecDeque::from([offset]),
        }
    }

    /// Another commit of `offset`.
    pub fn commit(&mut self, offset: i64) {
        if offset == self.last {
            return;
        }
        let rising = offset > self.last;
        if !rising && self.rising {
            self.drops += 1;
        }
        self.rising = rising;
        self.last = offset;
        if self.recent.len() == RECENT {
            self.recent.pop_front();
        }
        self.recent.push_back(offset);
    }

    pub fn recent(&self) -> Vec<i64> {
        self.recent.iter().copied().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drops(offsets: &[i64]) -> u32 {
        let mut seesaw = Seesaw::new(Uuid::nil(), offsets[0]);
        for &offset in &offsets[1..] {
            seesaw.commit(offset);
        }
        seesaw.drops
    }

    #[test]
    fn only_drops_straight_after_rises_count() {
        // Manual commits lagging the auto-commit's positions.
        assert_eq!(drops(&[10, 5, 20, 15, 30, 25]), 2);
        // A consumer committing what it processed, repeats included.
        assert_eq!(drops(&[0, 5, 5, 10, 20, 20]), 0);
        // One seek back, then forward again.
        assert_eq!(drops(&[0, 10, 20, 5, 10, 15]), 1);
        // Going down step by step is one drop.
        assert_eq!(drops(&[30, 40, 20, 10, 5]), 1);
    }

    #[test]
    fn recent_offsets_are_bounded() {
        let mut seesaw = Seesaw::new(Uuid::nil(), 0);
        for offset in 1..100 {
            seesaw.commit(offset);
        }
        assert_eq!(seesaw.recent(), (92..100).collect::<Vec<_>>());
    }
}
