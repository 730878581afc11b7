//! Which brokers are alive, as the active controller hears them: every
//! broker sends a heartbeat to the quorum's leader each
//! `broker.heartbeat.interval.ms`; the leader fences a broker it has not
//! heard from for `broker.session.timeout.ms` (its leaderships move) and
//! unfences it when it is heard again. Heartbeats are not written to the
//! metadata log: only the fencing decisions are.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Default)]
pub struct Liveness {
    heard: Mutex<HashMap<i32, Instant>>,
    /// Brokers shutting down (controlled shutdown): fenced on request,
    /// never unfenced until they are heard again as not leaving.
    leaving: Mutex<std::collections::HashSet<i32>>,
}

impl Liveness {
    pub fn heard(&self, node_id: i32, leaving: bool) {
        let mut heard = self.heard.lock().unwrap_or_else(|p| p.into_inner());
        heard.insert(node_id, Instant::now());
        let mut leavers = self.leaving.lock().unwrap_or_else(|p| p.into_inner());
        match leaving {
            true => leavers.insert(node_id),
            false => leavers.remove(&node_id),
        };
    }

    pub fn is_leaving(&self, node_id: i32) -> bool {
        let leavers = self.leaving.lock().unwrap_or_else(|p| p.into_inner());
        leavers.contains(&node_id)
    }

    /// A controller that just took the lead starts every broker's clock
    /// now: it cannot know what the previous leader heard.
    pub fn restart_clocks(&self, nodes: impl IntoIterator<Item = i32>) {
        let now = Instant::now();
        let mut heard = self.heard.lock().unwrap_or_else(|p| p.into_inner());
        heard.clear();
        heard.extend(nodes.into_iter().map(|node| (node, now)));
    }

    /// Every node heard, and how long ago, by node id.
    pub fn last_heard(&self) -> Vec<(i32, Duration)> {
        let heard = self.heard.lock().unwrap_or_else(|p| p.into_inner());
        let mut last: Vec<(i32, Duration)> = heard
            .iter()
            .map(|(node, at)| (*node, at.elapsed()))
            .collect();
        last.sort_by_key(|(node, _)| *node);
        last
    }

    /// Starts the session clock of a broker this controller has not heard
    /// yet (just registered, its first heartbeat still to come — or sent
    /// before its registration and ignored): a registration counts as a
    /// heartbeat, as Kafka's does.
    pub fn start_clock_if_unknown(&self, node_id: i32) {
        let mut heard = self.heard.lock().unwrap_or_else(|p| p.into_inner());
        heard.entry(node_id).or_insert_with(Instant::now);
    }

    /// Whether `node_id` was heard within `session_timeout`.
    pub fn is_alive(&self, node_id: i32, session_timeout: Duration) -> bool {
        let heard = self.heard.lock().unwrap_or_else(|p| p.into_inner());
        heard
            .get(&node_id)
            .is_some_and(|at| at.elapsed() < session_timeout)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_broker_is_alive_until_its_session_times_out() {
        let liveness = Liveness::default();
        assert!(!liveness.is_alive(1, Duration::from_secs(9)));
        liveness.heard(1, false);
        assert!(liveness.is_alive(1, Duration::from_secs(9)));
        liveness.heard(1, true);
        assert!(liveness.is_leaving(1));
        liveness.heard(1, false);
        assert!(!liveness.is_leaving(1));
        assert!(!liveness.is_alive(1, Duration::ZERO));
        liveness.restart_clocks([2]);
        liveness.start_clock_if_unknown(3);
        assert!(
            liveness.is_alive(3, Duration::from_secs(9)),
            "a new broker's session starts"
        );
        assert!(!liveness.is_alive(1, Duration::from_secs(9)));
        assert!(liveness.is_alive(2, Duration::from_secs(9)));
    }
}
