//! The broker's clock: real time, unless a dev broker's test moves it
//! forward (time travel, issue 13). Everything that expires by time —
//! group sessions and rebalances, transactions, producer ids, retention,
//! delegation tokens — reads it here, so that an advance fires them at once
//! instead of after real minutes. Process-wide: the brokers of a cluster in
//! one process share one clock. Reading it costs one atomic load.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::sync::Notify;

static OFFSET_MS: AtomicU64 = AtomicU64::new(0);
static ADVANCED: Notify = Notify::const_new();

fn offset() -> Duration {
    Duration::from_millis(OFFSET_MS.load(Ordering::Acquire))
}

/// How far the clock has been moved ahead of real time.
pub fn offset_ms() -> u64 {
    OFFSET_MS.load(Ordering::Acquire)
}

/// Milliseconds since the epoch: the unit of Kafka timestamps.
pub fn now_ms() -> i64 {
    let real = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis() as i64);
    real.saturating_add(offset_ms() as i64)
}

/// Now, for deadlines.
pub fn instant() -> Instant {
    Instant::now() + offset()
}

/// When a deadline on this clock comes in real time (for sleeping until
/// it); now if it already has.
pub fn to_real(deadline: Instant) -> Instant {
    deadline.checked_sub(offset()).unwrap_or_else(Instant::now)
}

/// Moves the clock forward; whoever waits on `advanced` looks at its
/// deadlines again.
pub fn advance(by: Duration) {
    let ms = u64::try_from(by.as_millis()).unwrap_or(u64::MAX);
    OFFSET_MS.fetch_add(ms, Ordering::AcqRel);
    ADVANCED.notify_waiters();
}

/// Resolves when the clock is next moved forward (never, in production).
pub async fn advanced() {
    ADVANCED.notified().await
}

/// `POST /clock/advance?ms=N` on an admin plane: the milliseconds asked
/// for, or why the query is refused.
pub fn advance_query(query: Option<&str>) -> Result<Duration, String> {
    let ms = query
        .into_iter()
        .flat_map(|query| query.split('&'))
        .find_map(|pair| pair.strip_prefix("ms="))
        .ok_or("say how far: /clock/advance?ms=<milliseconds>")?;
    ms.parse::<u64>()
        .ok()
        .filter(|ms| *ms <= 10 * 365 * 24 * 3_600_000)
        .map(Duration::from_millis)
        .ok_or_else(|| format!("ms={ms} is not a number of milliseconds up to ten years"))
}

/// What `GET /clock` answers.
#[derive(serde::Serialize)]
pub struct ClockState {
    pub now_ms: i64,
    pub offset_ms: u64,
}

pub fn state() -> ClockState {
    ClockState {
        now_ms: now_ms(),
        offset_ms: offset_ms(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_advance_moves_both_clocks_and_wakes_the_waiters() {
        let (before_ms, before) = (now_ms(), instant());
        let waiter = tokio::spawn(advanced());
        tokio::time::sleep(Duration::from_millis(10)).await;
        // The clock is the process's (other tests run beside this one): a
        // millisecond is all it moves.
        advance(Duration::from_millis(1));
        tokio::time::timeout(Duration::from_secs(5), waiter)
            .await
            .expect("woken")
            .expect("no panic");
        assert!(now_ms() - before_ms >= 1);
        assert!(instant() - before >= Duration::from_millis(1));
        let deadline = instant() + Duration::from_secs(1);
        assert!(to_real(deadline) <= Instant::now() + Duration::from_secs(1));
    }

    #[test]
    fn advances_are_asked_in_milliseconds() {
        assert_eq!(
            advance_query(Some("ms=1500")),
            Ok(Duration::from_millis(1500))
        );
        assert_eq!(
            advance_query(Some("x=1&ms=7")),
            Ok(Duration::from_millis(7))
        );
        assert!(advance_query(None).is_err());
        assert!(advance_query(Some("ms=-1")).is_err());
        assert!(advance_query(Some("ms=99999999999999999")).is_err());
    }
}
