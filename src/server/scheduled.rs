//! Faults that wait for traffic: "after 1,000 more records to topic X", as
//! a test script says it. A request fault counts the records it sees
//! appended (`faults.rs`); the other faults — disk, client cuts, and the
//! dev cluster's kills, pauses, cuts and leader moves — run from here once
//! the topic's end offsets have grown by that much since they were
//! scheduled. Nothing polls unless something is scheduled.

use std::time::Duration;

use super::faults::After;
use crate::broker::Broker;

/// A change's schedule, if its JSON body has one (`"after": {"topic": …,
/// "records": …}`); an error if the body is not JSON or its `after` is
/// malformed.
pub fn after_of(body: &[u8]) -> Result<Option<After>, serde_json::Error> {
    #[derive(serde::Deserialize)]
    struct Scheduled {
        #[serde(default)]
        after: Option<After>,
    }
    serde_json::from_slice::<Scheduled>(body).map(|scheduled| scheduled.after)
}

/// How often a scheduled fault looks at the topic.
const POLL: Duration = Duration::from_millis(5);

/// Runs `action` once `after.records` more records are in `after.topic`
/// than now, as `records_in` counts them (the topic may not exist yet;
/// `None`: cannot count just now, ask again).
pub fn run_after(
    after: After,
    records_in: impl Fn(&str) -> Option<u64> + Send + 'static,
    action: impl FnOnce() + Send + 'static,
) {
    let start = records_in(&after.topic);
    tokio::spawn(async move {
        let mut start = start;
        loop {
            match (start, records_in(&after.topic)) {
                (None, now) => start = now,
                (Some(start), Some(now)) if now >= start.saturating_add(after.records) => break,
                _ => {}
            }
            tokio::time::sleep(POLL).await;
        }
        tracing::info!(topic = %after.topic, records = after.records, "scheduled fault due");
        action();
    });
}

/// The records in `topic` on this broker: the sum of its partitions' log
/// end offsets (what was appended, replicated or not).
pub fn records_on(broker: &Broker, topic: &str) -> u64 {
    broker
        .partitions_by_name()
        .iter()
        .filter(|(partition, _)| partition.topic == topic)
        .map(|(_, partition)| u64::try_from(partition.log_end_offset().value()).unwrap_or(0))
        .sum()
}
