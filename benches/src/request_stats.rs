//! librdkafka's own count of the requests a client sent, by request type
//! (`brokers.*.req.<Type>` in its statistics, summed over brokers): the
//! exact number of Produce or Fetch requests behind a phase, rather than
//! one inferred from the client's settings.
//!
//! The statistics arrive every `statistics.interval.ms` through the
//! client's poll; a count read after a phase is only trusted once a report
//! generated after the phase's end has been seen (two reports on).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rdkafka::statistics::Statistics;

/// The interval clients that count their requests are given.
pub const INTERVAL_MS: u64 = 100;

#[derive(Default)]
pub struct RequestStats {
    latest: Mutex<(u64, HashMap<String, i64>)>,
}

impl RequestStats {
    /// Called with each statistics report.
    pub fn record(&self, statistics: &Statistics) {
        let mut totals: HashMap<String, i64> = HashMap::new();
        for broker in statistics.brokers.values() {
            for (request, count) in &broker.req {
                *totals.entry(request.clone()).or_default() += count;
            }
        }
        if let Ok(mut latest) = self.latest.lock() {
            latest.0 += 1;
            latest.1 = totals;
        }
    }

    fn generation(&self) -> u64 {
        self.latest.lock().map(|latest| latest.0).unwrap_or(0)
    }

    /// The count of `request` in a report generated after this call,
    /// calling `poll` (which serves the client's statistics callback)
    /// until one arrives.
    pub fn fresh_count(
        &self,
        request: &str,
        mut poll: impl FnMut(),
        timeout: Duration,
    ) -> Result<i64, String> {
        let seen = self.generation();
        let deadline = Instant::now() + timeout;
        // The next report may have been generated before this call;
        // the one after it was not.
        while self.generation() < seen + 2 {
            if Instant::now() > deadline {
                return Err(format!(
                    "no librdkafka statistics report within {timeout:?} \
                     (statistics.interval.ms={INTERVAL_MS})"
                ));
            }
            poll();
        }
        let latest = self
            .latest
            .lock()
            .map_err(|_| "the statistics lock is poisoned".to_string())?;
        Ok(latest.1.get(request).copied().unwrap_or(0))
    }
}
