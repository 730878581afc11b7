//! The client-behaviour linter (issue 13): what Kafka experts catch in a
//! review and Kafka itself never reports, found in what each client id
//! actually sends — served at `GET /lint` and printed when a `--dev`
//! broker stops. Each finding names the client id, the evidence and the
//! client setting that fixes it.
//!
//! Rules:
//! - `non-idempotent-retry`: a producer without idempotence sent the same
//!   batch (same CRC and record count) twice to a partition, and both were
//!   appended — a retry that duplicated records.
//! - `commit-beyond-high-watermark`: a consumer committed an offset past
//!   the partition's high watermark (it would skip records it never read).
//! - `commit-went-backwards`: a group's committed offset for a partition
//!   moved back (records will be read again after a restart).
//! - `metadata-storm`: at least 5 Metadata requests a second, sustained
//!   over 2 seconds or more.
//! - `transaction-timed-out`: a transaction the producer left open until
//!   `transaction.timeout.ms` aborted it.
//!
//! Off (one atomic load per request) unless the admin listener is on or the
//! broker runs with `--dev`.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use kafka_protocol::messages::{RequestKind, ResponseKind};
use serde::Serialize;

use crate::records::batch::Batches;

/// Clients tracked at most; past it, new client ids are not linted.
const MAX_CLIENTS: usize = 10_000;
/// Batches remembered per client and partition, to recognise a resend.
const RECENT_BATCHES: usize = 32;
/// Examples kept per finding.
const EXAMPLES: usize = 5;
/// A storm: this many Metadata requests a second …
const STORM_RATE: f64 = 5.0;
/// … over at least this long.
const STORM_SECONDS: f64 = 2.0;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Finding {
    pub client_id: String,
    pub rule: &'static str,
    pub message: String,
    pub evidence: serde_json::Value,
    pub fix: &'static str,
}

/// What a request says that the linter needs after it is answered.
pub enum Pending {
    /// Non-idempotent batches: (topic, partition, CRC, record count).
    Produce(Vec<(String, i32, u32, i32)>),
    /// (group, topic, partition, offset) committed.
    OffsetCommit(Vec<(String, String, i32, i64)>),
    Metadata,
    /// A transactional producer's id, to name its client later.
    InitProducerId(String),
}

/// How often something was seen, with the first few cases.
#[derive(Default)]
struct Evidence {
    count: u64,
    examples: Vec<serde_json::Value>,
}

impl Evidence {
    fn add(&mut self, example: serde_json::Value) {
        self.count += 1;
        if self.examples.len() < EXAMPLES {
            self.examples.push(example);
        }
    }
}

#[derive(Default)]
struct ClientState {
    batches: HashMap<(String, i32), VecDeque<(u32, i32)>>,
    duplicates: Evidence,
    beyond: Evidence,
    backwards: Evidence,
    metadata: u64,
    first_metadata: Option<Instant>,
    last_metadata: Option<Instant>,
    /// The most Metadata requests seen in any one second.
    metadata_peak: u64,
    metadata_second: (u64, u64),
}

#[derive(Default)]
struct State {
    clients: HashMap<String, ClientState>,
    /// Each group's committed offsets and who committed them.
    committed: HashMap<(String, String, i32), i64>,
    /// Transactional id → the client id that initialized it.
    transactional: HashMap<String, String>,
}

#[derive(Default)]
pub struct Linter {
    enabled: AtomicBool,
    state: Mutex<State>,
    started: std::sync::OnceLock<Instant>,
}

impl Linter {
    pub fn enable(&self) {
        self.started.get_or_init(Instant::now);
        self.enabled.store(true, Ordering::Release);
    }

    pub fn is_enabled(&self) -> bool {
        self.enabled.load(Ordering::Acquire)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// What of `request` matters once it is answered.
    pub fn before(&self, request: &RequestKind) -> Option<Pending> {
        match request {
            RequestKind::Produce(produce) => {
                let mut batches = Vec::new();
                for topic in &produce.topic_data {
                    for partition in &topic.partition_data {
                        let Some(records) = &partition.records else {
                            continue;
                        };
                        for (_, batch) in Batches::new(records).flatten() {
                            if batch.producer_id() < 0 {
                                batches.push((
                                    topic.name.to_string(),
                                    partition.index,
                                    batch.crc(),
                                    batch.records_count(),
                                ));
                            }
                        }
                    }
                }
                Some(Pending::Produce(batches))
            }
            RequestKind::OffsetCommit(commit) => Some(Pending::OffsetCommit(
                commit
                    .topics
                    .iter()
                    .flat_map(|topic| {
                        topic.partitions.iter().map(|p| {
                            (
                                commit.group_id.to_string(),
                                topic.name.to_string(),
                                p.partition_index,
                                p.committed_offset,
                            )
                        })
                    })
                    .collect(),
            )),
            RequestKind::Metadata(_) => Some(Pending::Metadata),
            RequestKind::InitProducerId(init) => init
                .transactional_id
                .as_ref()
                .map(|id| Pending::InitProducerId(id.to_string())),
            _ => None,
        }
    }

    /// Records what a request did, now that `response` answers it;
    /// `high_watermark` looks a partition's up.
    pub fn after(
        &self,
        client_id: &str,
        pending: Pending,
        response: Option<&ResponseKind>,
        high_watermark: impl Fn(&str, i32) -> Option<i64>,
    ) {
        let mut state = self.lock();
        let state = &mut *state;
        if !state.clients.contains_key(client_id) && state.clients.len() >= MAX_CLIENTS {
            return;
        }
        let client = state.clients.entry(client_id.to_string()).or_default();
        match (pending, response) {
            (Pending::Produce(batches), Some(ResponseKind::Produce(produce))) => {
                for (topic, partition, crc, count) in batches {
                    if !super::handlers::produce::appended(produce, &topic, partition) {
                        continue;
                    }
                    let recent = client
                        .batches
                        .entry((topic.clone(), partition))
                        .or_default();
                    if recent.contains(&(crc, count)) {
                        client.duplicates.add(serde_json::json!({"topic": topic,
                            "partition": partition, "records": count, "crc": crc}));
                        continue;
                    }
                    if recent.len() == RECENT_BATCHES {
                        recent.pop_front();
                    }
                    recent.push_back((crc, count));
                }
            }
            (Pending::OffsetCommit(commits), Some(ResponseKind::OffsetCommit(response))) => {
                let accepted = |topic: &str, partition: i32| {
                    response
                        .topics
                        .iter()
                        .filter(|t| t.name.as_str() == topic)
                        .flat_map(|t| t.partitions.iter())
                        .any(|p| p.partition_index == partition && p.error_code == 0)
                };
                for (group, topic, partition, offset) in commits {
                    if !accepted(&topic, partition) {
                        continue;
                    }
                    if let Some(hw) = high_watermark(&topic, partition) {
                        if offset > hw {
                            client.beyond.add(serde_json::json!({"group": group,
                                "topic": topic, "partition": partition, "offset": offset,
                                "high_watermark": hw}));
                        }
                    }
                    let key = (group.clone(), topic.clone(), partition);
                    if let Some(previous) = state.committed.insert(key, offset) {
                        if offset < previous {
                            client.backwards.add(serde_json::json!({"group": group,
                                "topic": topic, "partition": partition, "from": previous,
                                "to": offset}));
                        }
                    }
                }
            }
            (Pending::Metadata, _) => {
                let now = Instant::now();
                client.metadata += 1;
                client.first_metadata.get_or_insert(now);
                client.last_metadata = Some(now);
                let second = self
                    .started
                    .get()
                    .map_or(0, |started| now.duration_since(*started).as_secs());
                match client.metadata_second {
                    (s, n) if s == second => client.metadata_second = (s, n + 1),
                    _ => client.metadata_second = (second, 1),
                }
                client.metadata_peak = client.metadata_peak.max(client.metadata_second.1);
            }
            (Pending::InitProducerId(id), _) => {
                state.transactional.insert(id, client_id.to_string());
            }
            _ => {}
        }
    }

    /// Every finding so far, by client id; `timed_out` are the
    /// transactional ids (with their timeouts) the coordinator aborted.
    pub fn findings(&self, timed_out: &[(String, i32)]) -> Vec<Finding> {
        let state = self.lock();
        let mut findings = Vec::new();
        let mut by_client: Vec<(&String, &ClientState)> = state.clients.iter().collect();
        by_client.sort_by(|a, b| a.0.cmp(b.0));
        for (client_id, client) in by_client {
            let mut counted = |evidence: &Evidence, rule, what: &str, key: &str, fix| {
                if evidence.count > 0 {
                    findings.push(Finding {
                        client_id: client_id.clone(),
                        rule,
                        message: format!("{} {what}", evidence.count),
                        evidence: serde_json::json!({key: evidence.count,
                                                     "examples": evidence.examples}),
                        fix,
                    });
                }
            };
            counted(
                &client.duplicates,
                "non-idempotent-retry",
                "batch(es) appended twice: a producer without idempotence retried a request that had been written",
                "duplicates",
                "enable.idempotence=true (the default since Kafka 3.0), or retries=0",
            );
            counted(
                &client.beyond,
                "commit-beyond-high-watermark",
                "offset(s) committed past the high watermark: a restart skips records never read",
                "commits",
                "commit the offset of the next record to read (last processed + 1), from the records the consumer returned",
            );
            counted(
                &client.backwards,
                "commit-went-backwards",
                "commit(s) moved a group's offset back: those records are read again after a restart",
                "commits",
                "commit only increasing offsets; with manual commits set enable.auto.commit=false",
            );
            if let (Some(first), Some(last)) = (client.first_metadata, client.last_metadata) {
                let seconds = last.duration_since(first).as_secs_f64();
                let rate = client.metadata as f64 / seconds.max(1e-3);
                if seconds >= STORM_SECONDS && rate >= STORM_RATE {
                    findings.push(Finding {
                        client_id: client_id.clone(),
                        rule: "metadata-storm",
                        message: format!(
                            "{} Metadata requests in {seconds:.1} s ({rate:.0}/s)",
                            client.metadata
                        ),
                        evidence: serde_json::json!({"requests": client.metadata,
                            "seconds": (seconds * 10.0).round() / 10.0,
                            "peak_per_second": client.metadata_peak}),
                        fix: "metadata.max.age.ms (Java, kafka-python) or topic.metadata.refresh.interval.ms (librdkafka): minutes, not milliseconds",
                    });
                }
            }
        }
        let mut timed_out_by_client: BTreeMap<&str, Vec<serde_json::Value>> = BTreeMap::new();
        for (id, timeout_ms) in timed_out {
            let client = state.transactional.get(id).map_or("", String::as_str);
            timed_out_by_client
                .entry(client)
                .or_default()
                .push(serde_json::json!({"transactional_id": id, "timeout_ms": timeout_ms}));
        }
        for (client_id, transactions) in timed_out_by_client {
            findings.push(Finding {
                client_id: client_id.to_string(),
                rule: "transaction-timed-out",
                message: format!(
                    "{} transaction(s) left open until transaction.timeout.ms aborted them",
                    transactions.len()
                ),
                evidence: serde_json::json!({"transactions": transactions}),
                fix: "commit or abort every transaction (abortTransaction on errors); raise transaction.timeout.ms only if a transaction really takes longer",
            });
        }
        findings
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::produce_response::{
        PartitionProduceResponse, TopicProduceResponse,
    };
    use kafka_protocol::messages::{ProduceResponse, TopicName};
    use kafka_protocol::protocol::StrBytes;

    fn produced(topic: &str) -> ResponseKind {
        ResponseKind::Produce(ProduceResponse::default().with_responses(vec![
            TopicProduceResponse::default()
                .with_name(TopicName(StrBytes::from_string(topic.to_string())))
                .with_partition_responses(vec![PartitionProduceResponse::default().with_index(0)]),
        ]))
    }

    #[test]
    fn a_resent_batch_appended_twice_is_a_finding_and_a_new_one_is_not() {
        let linter = Linter::default();
        linter.enable();
        let batch = |crc| Pending::Produce(vec![("t".to_string(), 0, crc, 3)]);
        let response = produced("t");
        linter.after("app", batch(7), Some(&response), |_, _| None);
        linter.after("app", batch(8), Some(&response), |_, _| None);
        assert!(linter.findings(&[]).is_empty());
        linter.after("app", batch(7), Some(&response), |_, _| None);
        let findings = linter.findings(&[]);
        assert_eq!(findings.len(), 1);
        assert_eq!(
            (findings[0].rule, findings[0].client_id.as_str()),
            ("non-idempotent-retry", "app")
        );
    }

    #[test]
    fn timed_out_transactions_are_named_by_the_client_that_initialized_them() {
        let linter = Linter::default();
        linter.enable();
        linter.after(
            "txn-app",
            Pending::InitProducerId("tx-1".into()),
            None,
            |_, _| None,
        );
        let findings = linter.findings(&[("tx-1".to_string(), 1000)]);
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].client_id, "txn-app");
        assert_eq!(findings[0].rule, "transaction-timed-out");
    }
}
