//! A request storm: one sender repeating a request many times a second,
//! sustained — a setting in milliseconds where the client wants seconds.

use std::time::Instant;

/// Metadata requests a second that make a storm: a client refreshes every
/// few minutes (`metadata.max.age.ms`, 5 minutes by default), and at most a
/// few times a second while leaders move.
pub const METADATA_RATE: f64 = 5.0;
/// Heartbeats a second of one member that make a storm: six times the
/// default (one per `heartbeat.interval.ms`, 3 s). librdkafka heartbeats at
/// most about 2.5 times a second whatever its setting.
pub const HEARTBEAT_RATE: f64 = 2.0;
/// A storm is sustained over at least this long.
pub const SECONDS: f64 = 2.0;

/// One sender's requests of one kind.
#[derive(Debug, Default)]
pub struct Storm {
    count: u64,
    first: Option<Instant>,
    last: Option<Instant>,
    /// The most requests seen in any one second.
    peak: u64,
    /// (second since the linter started, requests in it).
    second: (u64, u64),
}

/// What a storm looked like, for its finding.
pub struct Figures {
    pub count: u64,
    pub seconds: f64,
    pub rate: f64,
    pub peak_per_second: u64,
}

impl Storm {
    /// One more request at `now`, `second` whole seconds after the linter
    /// started.
    pub fn add(&mut self, now: Instant, second: u64) {
        self.count += 1;
        self.first.get_or_insert(now);
        self.last = Some(now);
        match self.second {
            (s, n) if s == second => self.second = (s, n + 1),
            _ => self.second = (second, 1),
        }
        self.peak = self.peak.max(self.second.1);
    }

    /// The figures if this is a storm: at least `rate` requests a second
    /// over at least [`SECONDS`].
    pub fn storm(&self, min_rate: f64) -> Option<Figures> {
        let seconds = self.last?.duration_since(self.first?).as_secs_f64();
        let rate = self.count as f64 / seconds.max(1e-3);
        (seconds >= SECONDS && rate >= min_rate).then_some(Figures {
            count: self.count,
            seconds: (seconds * 10.0).round() / 10.0,
            rate,
            peak_per_second: self.peak,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_storm_is_a_sustained_rate_not_a_burst() {
        let start = Instant::now();
        let mut burst = Storm::default();
        for i in 0..50 {
            burst.add(start + Duration::from_millis(i), 0);
        }
        assert!(
            burst.storm(METADATA_RATE).is_none(),
            "50 in 50 ms is a burst"
        );
        let mut steady = Storm::default();
        for i in 0..30 {
            steady.add(start + Duration::from_millis(i * 100), i / 10);
        }
        let figures = steady.storm(METADATA_RATE).expect("10/s over 2.9 s");
        assert_eq!((figures.count, figures.peak_per_second), (30, 10));
        let mut calm = Storm::default();
        for i in 0..4 {
            calm.add(start + Duration::from_secs(i), i);
        }
        assert!(calm.storm(HEARTBEAT_RATE).is_none(), "1/s is no storm");
    }
}
