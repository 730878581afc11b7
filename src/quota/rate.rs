//! The two meters Kafka's quotas use, with its arithmetic so that clients
//! see the throttle times Kafka would give them: a rate over sampled
//! windows (`Rate` on `SampledStat`), and a token bucket (`TokenBucket`,
//! KIP-599's controller mutations).

/// A rate over `samples` windows of `window_ms`, the last one current.
/// Times are milliseconds on any monotonic clock.
#[derive(Debug, Clone)]
pub struct SampledRate {
    samples: Vec<Sample>,
    current: usize,
    window_ms: u64,
    /// Kafka's `samples` (the ring holds this many).
    count: usize,
    pub last_record_ms: u64,
}

#[derive(Debug, Clone, Copy)]
struct Sample {
    start_ms: u64,
    value: f64,
}

impl SampledRate {
    pub fn new(samples: u32, window_ms: u64, now_ms: u64) -> SampledRate {
        let count = samples.max(1) as usize;
        SampledRate {
            samples: vec![Sample {
                start_ms: now_ms,
                value: 0.0,
            }],
            current: 0,
            window_ms: window_ms.max(1),
            count,
            last_record_ms: now_ms,
        }
    }

    /// Adds `value` at `now_ms` (negative takes back what was recorded).
    pub fn record(&mut self, value: f64, now_ms: u64) {
        if now_ms.saturating_sub(self.samples[self.current].start_ms) >= self.window_ms {
            self.current = (self.current + 1) % self.count;
            let fresh = Sample {
                start_ms: now_ms,
                value: 0.0,
            };
            match self.samples.get_mut(self.current) {
                Some(sample) => *sample = fresh,
                None => self.samples.push(fresh),
            }
        }
        self.samples[self.current].value += value;
        self.last_record_ms = now_ms;
    }

    /// Samples older than the whole span no longer count.
    fn purge(&mut self, now_ms: u64) {
        let expiry = self.count as u64 * self.window_ms;
        for sample in &mut self.samples {
            if now_ms.saturating_sub(sample.start_ms) >= expiry {
                *sample = Sample {
                    start_ms: now_ms,
                    value: 0.0,
                };
            }
        }
    }

    /// The span the rate is over, in ms: since the oldest sample began,
    /// but never less than `samples - 1` whole windows, so that the first
    /// burst of a quiet client is spread over the full span (Kafka's
    /// `Rate.windowSize`).
    pub fn window_size_ms(&mut self, now_ms: u64) -> u64 {
        self.purge(now_ms);
        let oldest = self
            .samples
            .iter()
            .map(|s| s.start_ms)
            .min()
            .unwrap_or(now_ms);
        let mut elapsed = now_ms.saturating_sub(oldest);
        let full = elapsed / self.window_ms;
        let min_full = self.count as u64 - 1;
        if full < min_full {
            elapsed += (min_full - full) * self.window_ms;
        }
        elapsed.max(1)
    }

    /// Units per second.
    pub fn measure(&mut self, now_ms: u64) -> f64 {
        let window = self.window_size_ms(now_ms);
        let total: f64 = self.samples.iter().map(|s| s.value).sum();
        total / (window as f64 / 1000.0)
    }

    /// How long the client must wait for its rate to fall back to `bound`:
    /// `(rate - bound) / bound × window`, 0 when within it (Kafka's
    /// `QuotaUtils.throttleTime`).
    pub fn throttle_ms(&mut self, bound: f64, now_ms: u64) -> u64 {
        let rate = self.measure(now_ms);
        if rate <= bound || bound <= 0.0 {
            return 0;
        }
        let window = self.window_size_ms(now_ms) as f64;
        ((rate - bound) / bound * window).round() as u64
    }
}

/// Tokens refilled at `rate` per second up to `burst`; spending may take
/// the balance below zero, which later requests then wait out.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    tokens: f64,
    last_ms: u64,
    pub last_record_ms: u64,
}

impl TokenBucket {
    /// A full bucket.
    pub fn new(burst: f64, now_ms: u64) -> TokenBucket {
        TokenBucket {
            tokens: burst,
            last_ms: now_ms,
            last_record_ms: now_ms,
        }
    }

    fn refill(&mut self, rate: f64, burst: f64, now_ms: u64) {
        let elapsed = now_ms.saturating_sub(self.last_ms) as f64 / 1000.0;
        self.tokens = (self.tokens + elapsed * rate).min(burst);
        self.last_ms = now_ms;
    }

    /// The balance now.
    pub fn tokens(&mut self, rate: f64, burst: f64, now_ms: u64) -> f64 {
        self.refill(rate, burst, now_ms);
        self.tokens
    }

    pub fn spend(&mut self, amount: f64, rate: f64, burst: f64, now_ms: u64) {
        self.refill(rate, burst, now_ms);
        self.tokens = (self.tokens - amount).min(burst);
        self.last_record_ms = now_ms;
    }

    /// How long until the balance is back to zero.
    pub fn throttle_ms(&mut self, rate: f64, burst: f64, now_ms: u64) -> u64 {
        let tokens = self.tokens(rate, burst, now_ms);
        if tokens >= 0.0 || rate <= 0.0 {
            return 0;
        }
        (-tokens / rate * 1000.0).round() as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quiet_clients_first_burst_is_spread_over_the_whole_span() {
        // Kafka's example: 20 KiB against 1 KiB/s, 11 windows of 1 s.
        let mut rate = SampledRate::new(11, 1000, 0);
        rate.record(20480.0, 0);
        assert_eq!(rate.window_size_ms(0), 10_000);
        assert_eq!(rate.measure(0), 2048.0);
        assert_eq!(rate.throttle_ms(1024.0, 0), 10_000);
        assert_eq!(rate.throttle_ms(4096.0, 0), 0);
    }

    #[test]
    fn old_samples_stop_counting_and_negative_records_take_back() {
        let mut rate = SampledRate::new(3, 1000, 0);
        rate.record(3000.0, 0);
        rate.record(-1000.0, 0);
        assert_eq!(rate.measure(0), 1000.0);
        rate.record(500.0, 1500);
        assert_eq!(rate.measure(1500), 1000.0);
        // 3 windows after the first sample began, only the second counts.
        assert_eq!(rate.measure(3000), 200.0);
        assert_eq!(rate.measure(10_000), 0.0);
    }

    #[test]
    fn a_bucket_may_go_below_zero_and_refills_at_its_rate() {
        let (rate, burst) = (2.0, 22.0);
        let mut bucket = TokenBucket::new(burst, 0);
        bucket.spend(30.0, rate, burst, 0);
        assert_eq!(bucket.tokens(rate, burst, 0), -8.0);
        assert_eq!(bucket.throttle_ms(rate, burst, 0), 4000);
        assert_eq!(bucket.throttle_ms(rate, burst, 4000), 0);
        assert_eq!(bucket.tokens(rate, burst, 100_000), burst);
    }
}
