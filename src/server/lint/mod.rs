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
//! - `auto-commit-with-manual-commits`: one client's commits to a partition
//!   went up and back down at least twice: the auto-commit and the
//!   application's own commits overwrite each other (`seesaw`).
//! - `metadata-storm`: at least 5 Metadata requests a second, sustained
//!   over 2 seconds or more.
//! - `heartbeat-storm`: a group member heartbeating at least twice a
//!   second over 2 seconds or more (the default is once in 3 s).
//! - `rebalance-storm`: a member left its group and rejoined on the same
//!   connection (its client gave up on it: more time between polls than
//!   `max.poll.interval.ms`), or was expelled (its heartbeats were answered
//!   UNKNOWN_MEMBER_ID: `session.timeout.ms` ran out), at least twice —
//!   each time the whole group rebalances.
//! - `removed-api-version`: requests at API versions Kafka 4.0 removed
//!   (KIP-896); a Kafka 4 broker refuses such a client.
//! - `transaction-timed-out`: a transaction the producer left open until
//!   `transaction.timeout.ms` aborted it.
//! - `idempotent-in-flight`: an idempotent producer with more than 5
//!   Produce requests in flight on a connection (`in_flight`).
//! - `sequence-gap`: an idempotent producer's batch answered
//!   OUT_OF_ORDER_SEQUENCE_NUMBER: its sequence skipped ahead of what the
//!   partition had from it (a batch it gave up on, or its state lost).
//!
//! Off (one atomic load per request) unless the admin listener is on or the
//! broker runs with `--dev`.

mod in_flight;
mod removed_versions;
mod seesaw;
mod storm;

pub use in_flight::produce_requests_waiting;

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::{ApiKey, RequestKind, ResponseKind};
use serde::Serialize;

use super::handlers::produce::partition_error;
use crate::metadata::MetadataImage;
use crate::records::batch::Batches;
use seesaw::Seesaw;
use storm::Storm;

/// An answer saying a member is no longer in its group: it was expelled.
fn expelled(error_code: i16) -> bool {
    matches!(
        ResponseError::try_from_code(error_code),
        Some(ResponseError::UnknownMemberId | ResponseError::FencedMemberEpoch)
    )
}

/// Clients tracked at most; past it, new client ids are not linted.
const MAX_CLIENTS: usize = 10_000;
/// Batches remembered per client and partition, to recognise a resend.
const RECENT_BATCHES: usize = 32;
/// Examples kept per finding.
const EXAMPLES: usize = 5;
/// Group members whose heartbeats are counted, per client.
const MEMBERS: usize = 64;
/// Partitions whose commits are followed, per client.
const COMMITTED_PARTITIONS: usize = 1024;
/// Rejoins and expulsions that make a rebalance storm.
const REBALANCES: u64 = 2;

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
    Produce {
        batches: Vec<ProducedBatch>,
        /// An idempotent producer's id, and its requests in flight when
        /// more than Kafka deduplicates.
        over_in_flight: Option<(i64, usize)>,
    },
    /// Offsets committed.
    OffsetCommit(Vec<Commit>),
    Metadata,
    /// A transactional producer's id, to name its client later.
    InitProducerId(String),
    /// A classic member joining `group` on the connection from `peer`.
    JoinGroup {
        group: String,
        peer: SocketAddr,
        session_timeout_ms: i32,
        rebalance_timeout_ms: i32,
    },
    /// A classic member leaving `group`.
    LeaveGroup {
        group: String,
        peer: SocketAddr,
    },
    /// A classic member's heartbeat.
    Heartbeat {
        group: String,
        member: String,
    },
    /// A KIP-848 member's heartbeat: epoch 0 joins, a negative one leaves.
    ConsumerGroupHeartbeat {
        group: String,
        member: String,
        member_epoch: i32,
        peer: SocketAddr,
        rebalance_timeout_ms: i32,
    },
}

/// A batch a producer sent.
pub struct ProducedBatch {
    /// An idempotent producer's id and the batch's first sequence.
    idempotent: Option<(i64, i32)>,
    topic: String,
    /// From Produce v13, which names topics by id (nil before).
    topic_id: uuid::Uuid,
    partition: i32,
    crc: u32,
    records: i32,
}

/// An offset a consumer committed.
pub struct Commit {
    group: String,
    topic: String,
    /// From OffsetCommit v10, which names topics by id (nil before).
    topic_id: uuid::Uuid,
    /// The topic's id in the metadata when committed (nil if unknown): a
    /// topic deleted and created again starts its offsets afresh.
    incarnation: uuid::Uuid,
    partition: i32,
    offset: i64,
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
    /// This client's commits, by (group, topic, partition).
    seesaws: HashMap<(String, String, i32), Seesaw>,
    metadata: Storm,
    /// Heartbeats per (group, member id).
    heartbeats: HashMap<(String, String), Storm>,
    /// When a member left a group on a connection: joining again on it is
    /// the same consumer rejoining (a new consumer comes on a new one).
    left: HashMap<(String, SocketAddr), Instant>,
    /// The timeouts each group's member joined with last:
    /// (session.timeout.ms, max.poll.interval.ms).
    timeouts: HashMap<String, (i32, i32)>,
    rejoins: Evidence,
    expelled: Evidence,
    /// Idempotent batches answered OUT_OF_ORDER_SEQUENCE_NUMBER.
    sequence_gaps: Evidence,
    /// Produce requests sent with more than 5 in flight, and the most seen.
    in_flight: Evidence,
    most_in_flight: usize,
    /// Requests at versions Kafka 4.0 removed, by (API, version).
    removed_versions: BTreeMap<(i16, i16), u64>,
}

impl ClientState {
    fn left(&mut self, group: String, peer: SocketAddr) {
        self.left.insert((group, peer), Instant::now());
    }

    /// A join of `group` from `peer`: a rejoin if this connection left it.
    fn joined(&mut self, group: String, peer: SocketAddr, timeouts: (i32, i32)) {
        self.timeouts.insert(group.clone(), timeouts);
        if let Some(left) = self.left.remove(&(group.clone(), peer)) {
            self.rejoins.add(serde_json::json!({"group": group,
                "rejoined_after_ms": left.elapsed().as_millis() as u64,
                "session_timeout_ms": timeouts.0, "max_poll_interval_ms": timeouts.1}));
        }
    }

    fn heartbeat(&mut self, group: String, member: String, now: Instant, second: u64) {
        let key = (group, member);
        if self.heartbeats.len() < MEMBERS || self.heartbeats.contains_key(&key) {
            self.heartbeats.entry(key).or_default().add(now, second);
        }
    }
}

#[derive(Default)]
struct State {
    clients: HashMap<String, ClientState>,
    /// Each group's committed offsets, with the topic's id then.
    committed: HashMap<(String, String, i32), (uuid::Uuid, i64)>,
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

    /// What of `request`, sent on the connection from `peer`, matters
    /// once it is answered; topics named by id are looked up in `image`.
    /// `produce_waiting`: the Produce requests received behind it.
    pub fn before(
        &self,
        peer: SocketAddr,
        request: &RequestKind,
        produce_waiting: usize,
        image: impl FnOnce() -> Arc<MetadataImage>,
    ) -> Option<Pending> {
        match request {
            RequestKind::Produce(produce) => {
                let image = image();
                let mut batches = Vec::new();
                let mut producer_id = None;
                for topic in &produce.topic_data {
                    let name = image.requested_topic(&topic.name, topic.topic_id);
                    for partition in &topic.partition_data {
                        let Some(records) = &partition.records else {
                            continue;
                        };
                        for (_, batch) in Batches::new(records).flatten() {
                            let idempotent = (batch.producer_id() >= 0)
                                .then(|| (batch.producer_id(), batch.base_sequence()));
                            producer_id = producer_id.or(idempotent.map(|(id, _)| id));
                            batches.push(ProducedBatch {
                                idempotent,
                                topic: name.clone(),
                                topic_id: topic.topic_id,
                                partition: partition.index,
                                crc: batch.crc(),
                                records: batch.records_count(),
                            });
                        }
                    }
                }
                let in_flight = 1 + produce_waiting;
                let over_in_flight = producer_id
                    .filter(|_| produce.acks == -1 && in_flight > in_flight::MAX_IN_FLIGHT)
                    .map(|id| (id, in_flight));
                Some(Pending::Produce {
                    batches,
                    over_in_flight,
                })
            }
            RequestKind::OffsetCommit(commit) => {
                let image = image();
                Some(Pending::OffsetCommit(
                    commit
                        .topics
                        .iter()
                        .flat_map(|topic| {
                            let name = image.requested_topic(&topic.name, topic.topic_id);
                            let incarnation =
                                image.topic(&name).map_or(uuid::Uuid::nil(), |t| t.id);
                            topic.partitions.iter().map(move |p| Commit {
                                group: commit.group_id.to_string(),
                                topic: name.clone(),
                                topic_id: topic.topic_id,
                                incarnation,
                                partition: p.partition_index,
                                offset: p.committed_offset,
                            })
                        })
                        .collect(),
                ))
            }
            RequestKind::Metadata(_) => Some(Pending::Metadata),
            RequestKind::InitProducerId(init) => init
                .transactional_id
                .as_ref()
                .map(|id| Pending::InitProducerId(id.to_string())),
            RequestKind::JoinGroup(join) => Some(Pending::JoinGroup {
                group: join.group_id.to_string(),
                peer,
                session_timeout_ms: join.session_timeout_ms,
                rebalance_timeout_ms: join.rebalance_timeout_ms,
            }),
            RequestKind::LeaveGroup(leave) => Some(Pending::LeaveGroup {
                group: leave.group_id.to_string(),
                peer,
            }),
            RequestKind::Heartbeat(heartbeat) => Some(Pending::Heartbeat {
                group: heartbeat.group_id.to_string(),
                member: heartbeat.member_id.to_string(),
            }),
            RequestKind::ConsumerGroupHeartbeat(heartbeat) => {
                Some(Pending::ConsumerGroupHeartbeat {
                    group: heartbeat.group_id.to_string(),
                    member: heartbeat.member_id.to_string(),
                    member_epoch: heartbeat.member_epoch,
                    peer,
                    rebalance_timeout_ms: heartbeat.rebalance_timeout_ms,
                })
            }
            _ => None,
        }
    }

    /// Notes a request at an API version Kafka 4.0 removed; the lock is
    /// taken only for those.
    pub fn version_used(&self, client_id: &str, api_key: ApiKey, version: i16) {
        if !removed_versions::removed(api_key, version) {
            return;
        }
        let mut state = self.lock();
        if !state.clients.contains_key(client_id) && state.clients.len() >= MAX_CLIENTS {
            return;
        }
        let client = state.clients.entry(client_id.to_string()).or_default();
        *client
            .removed_versions
            .entry((api_key as i16, version))
            .or_default() += 1;
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
        let now = Instant::now();
        let second = self
            .started
            .get()
            .map_or(0, |started| now.duration_since(*started).as_secs());
        match (pending, response) {
            (
                Pending::Produce {
                    batches,
                    over_in_flight,
                },
                Some(ResponseKind::Produce(produce)),
            ) => {
                if let Some((producer_id, requests)) = over_in_flight {
                    client
                        .in_flight
                        .add(serde_json::json!({"producer_id": producer_id,
                        "requests_in_flight": requests}));
                    client.most_in_flight = client.most_in_flight.max(requests);
                }
                for batch in batches {
                    let ProducedBatch {
                        idempotent,
                        topic,
                        topic_id,
                        partition,
                        crc,
                        records: count,
                    } = batch;
                    let error = partition_error(produce, &topic, topic_id, partition);
                    if let Some((producer_id, sequence)) = idempotent {
                        if error == Some(ResponseError::OutOfOrderSequenceNumber.code()) {
                            client.sequence_gaps.add(serde_json::json!({"topic": topic,
                                "partition": partition, "producer_id": producer_id,
                                "sequence": sequence}));
                        }
                        continue;
                    }
                    if error != Some(0) {
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
                let accepted = |commit: &Commit| {
                    response
                        .topics
                        .iter()
                        .filter(|t| match t.name.is_empty() && !commit.topic_id.is_nil() {
                            true => t.topic_id == commit.topic_id,
                            false => t.name.as_str() == commit.topic,
                        })
                        .flat_map(|t| t.partitions.iter())
                        .any(|p| p.partition_index == commit.partition && p.error_code == 0)
                };
                for commit in commits {
                    if !accepted(&commit) {
                        continue;
                    }
                    let Commit {
                        group,
                        topic,
                        incarnation,
                        partition,
                        offset,
                        ..
                    } = commit;
                    if let Some(hw) = high_watermark(&topic, partition) {
                        if offset > hw {
                            client.beyond.add(serde_json::json!({"group": group,
                                "topic": topic, "partition": partition, "offset": offset,
                                "high_watermark": hw}));
                        }
                    }
                    let key = (group.clone(), topic.clone(), partition);
                    let following = client.seesaws.len();
                    match client.seesaws.entry(key.clone()) {
                        Entry::Occupied(mut seesaw) if seesaw.get().topic_id == incarnation => {
                            seesaw.get_mut().commit(offset)
                        }
                        Entry::Occupied(mut seesaw) => {
                            seesaw.insert(Seesaw::new(incarnation, offset));
                        }
                        Entry::Vacant(new) if following < COMMITTED_PARTITIONS => {
                            new.insert(Seesaw::new(incarnation, offset));
                        }
                        Entry::Vacant(_) => {}
                    }
                    let previous = state.committed.insert(key, (incarnation, offset));
                    if let Some((_, previous)) = previous.filter(|(id, _)| *id == incarnation) {
                        if offset < previous {
                            client.backwards.add(serde_json::json!({"group": group,
                                "topic": topic, "partition": partition, "from": previous,
                                "to": offset}));
                        }
                    }
                }
            }
            (Pending::Metadata, _) => client.metadata.add(now, second),
            (Pending::InitProducerId(id), _) => {
                state.transactional.insert(id, client_id.to_string());
            }
            (
                Pending::JoinGroup {
                    group,
                    peer,
                    session_timeout_ms,
                    rebalance_timeout_ms,
                },
                _,
            ) => client.joined(group, peer, (session_timeout_ms, rebalance_timeout_ms)),
            (Pending::LeaveGroup { group, peer }, _) => client.left(group, peer),
            (Pending::Heartbeat { group, member }, Some(ResponseKind::Heartbeat(answer))) => {
                if expelled(answer.error_code) {
                    let timeouts = client.timeouts.get(&group).copied().unwrap_or((-1, -1));
                    client
                        .expelled
                        .add(serde_json::json!({"group": group, "member": member,
                        "session_timeout_ms": timeouts.0, "max_poll_interval_ms": timeouts.1}));
                }
                client.heartbeat(group, member, now, second);
            }
            (
                Pending::ConsumerGroupHeartbeat {
                    group,
                    member,
                    member_epoch,
                    peer,
                    rebalance_timeout_ms,
                },
                Some(ResponseKind::ConsumerGroupHeartbeat(answer)),
            ) => {
                if member_epoch < 0 {
                    client.left(group, peer);
                } else if member_epoch == 0 {
                    client.joined(group, peer, (-1, rebalance_timeout_ms));
                } else {
                    if expelled(answer.error_code) {
                        client.expelled.add(serde_json::json!({"group": group,
                            "member": member, "error_code": answer.error_code,
                            "max_poll_interval_ms": rebalance_timeout_ms}));
                    }
                    client.heartbeat(group, member, now, second);
                }
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
            counted(
                &client.sequence_gaps,
                "sequence-gap",
                "idempotent batch(es) answered OUT_OF_ORDER_SEQUENCE_NUMBER: the producer's sequence skipped ahead of what the partition had from it",
                "batches",
                "keep delivery.timeout.ms (and retries) at their defaults, so that a producer never gives up on a batch it sent; a custom client must number each partition's batches without gaps",
            );
            let mut seesaws: Vec<_> = client
                .seesaws
                .iter()
                .filter(|(_, seesaw)| seesaw.drops >= seesaw::DROPS)
                .collect();
            if !seesaws.is_empty() {
                seesaws.sort_by(|a, b| a.0.cmp(b.0));
                findings.push(Finding {
                    client_id: client_id.clone(),
                    rule: "auto-commit-with-manual-commits",
                    message: format!(
                        "{} partition(s) whose committed offset went up and back down again and again: two committers overwrite each other, the auto-commit with the consumer's position and the application with what it processed; a crash while the auto-commit is ahead loses the records between",
                        seesaws.len()
                    ),
                    evidence: serde_json::json!({"partitions": seesaws.len(),
                        "examples": seesaws.iter().take(EXAMPLES)
                            .map(|((group, topic, partition), seesaw)| serde_json::json!({
                                "group": group, "topic": topic, "partition": partition,
                                "drops": seesaw.drops, "recent_offsets": seesaw.recent()}))
                            .collect::<Vec<_>>()}),
                    fix: "enable.auto.commit=false when the application commits offsets itself",
                });
            }
            if client.in_flight.count > 0 {
                findings.push(Finding {
                    client_id: client_id.clone(),
                    rule: "idempotent-in-flight",
                    message: format!(
                        "{} Produce request(s) of an idempotent producer sent with more than {} in flight (up to {}): the broker deduplicates only a producer's last {} batches, so a retry of an older one fails instead of being recognised",
                        client.in_flight.count,
                        in_flight::MAX_IN_FLIGHT,
                        client.most_in_flight,
                        in_flight::MAX_IN_FLIGHT
                    ),
                    evidence: serde_json::json!({"requests": client.in_flight.count,
                        "most_in_flight": client.most_in_flight,
                        "examples": client.in_flight.examples}),
                    fix: "max.in.flight.requests.per.connection=5 or fewer with enable.idempotence=true",
                });
            }
            if let Some(storm) = client.metadata.storm(storm::METADATA_RATE) {
                findings.push(Finding {
                    client_id: client_id.clone(),
                    rule: "metadata-storm",
                    message: format!(
                        "{} Metadata requests in {} s ({:.0}/s)",
                        storm.count, storm.seconds, storm.rate
                    ),
                    evidence: serde_json::json!({"requests": storm.count,
                        "seconds": storm.seconds, "peak_per_second": storm.peak_per_second}),
                    fix: "metadata.max.age.ms (Java, kafka-python) or topic.metadata.refresh.interval.ms (librdkafka): minutes, not milliseconds",
                });
            }
            let mut members: Vec<_> = client
                .heartbeats
                .iter()
                .filter_map(|((group, member), storm)| {
                    storm
                        .storm(storm::HEARTBEAT_RATE)
                        .map(|storm| (group, member, storm))
                })
                .collect();
            members.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
            if let Some((_, _, worst)) = members.iter().max_by(|a, b| a.2.rate.total_cmp(&b.2.rate))
            {
                findings.push(Finding {
                    client_id: client_id.clone(),
                    rule: "heartbeat-storm",
                    message: format!(
                        "{} member(s) heartbeating up to {:.0} times a second",
                        members.len(),
                        worst.rate
                    ),
                    evidence: serde_json::json!({"members": members.iter().take(EXAMPLES)
                        .map(|(group, member, storm)| serde_json::json!({"group": group,
                            "member": member, "heartbeats": storm.count,
                            "seconds": storm.seconds,
                            "peak_per_second": storm.peak_per_second}))
                        .collect::<Vec<_>>()}),
                    fix: "heartbeat.interval.ms about a third of session.timeout.ms (3000 by default), not milliseconds",
                });
            }
            let rebalances = client.rejoins.count + client.expelled.count;
            if rebalances >= REBALANCES {
                findings.push(Finding {
                    client_id: client_id.clone(),
                    rule: "rebalance-storm",
                    message: format!(
                        "{} time(s) a member left its group and rejoined, {} time(s) one was expelled: each rebalances the whole group",
                        client.rejoins.count, client.expelled.count
                    ),
                    evidence: serde_json::json!({"rejoins": client.rejoins.count,
                        "expelled": client.expelled.count,
                        "examples": client.rejoins.examples.iter()
                            .chain(&client.expelled.examples).take(EXAMPLES)
                            .collect::<Vec<_>>()}),
                    fix: "max.poll.interval.ms above the longest time between polls (or fewer records per poll: max.poll.records); session.timeout.ms at least 3 x heartbeat.interval.ms",
                });
            }
            if !client.removed_versions.is_empty() {
                let requests: u64 = client.removed_versions.values().sum();
                findings.push(Finding {
                    client_id: client_id.clone(),
                    rule: "removed-api-version",
                    message: format!(
                        "{requests} request(s) at API versions Kafka 4.0 removed (KIP-896): a Kafka 4 broker refuses them"
                    ),
                    evidence: serde_json::json!({"requests": client.removed_versions.iter()
                        .map(|((api, version), count)| {
                            let api = ApiKey::try_from(*api).map_or_else(
                                |()| format!("API {api}"), |api| format!("{api:?}"));
                            (format!("{api} v{version}"), *count)
                        })
                        .collect::<BTreeMap<_, _>>()}),
                    fix: "upgrade the client, or let it ask the broker's versions (librdkafka: api.version.request=true without broker.version.fallback; kafka-python: no api_version)",
                });
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
        let batch = |crc| Pending::Produce {
            batches: vec![ProducedBatch {
                idempotent: None,
                topic: "t".to_string(),
                topic_id: uuid::Uuid::nil(),
                partition: 0,
                crc,
                records: 3,
            }],
            over_in_flight: None,
        };
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
    fn idempotent_batches_are_never_duplicates_and_a_refused_sequence_is_a_gap() {
        let linter = Linter::default();
        linter.enable();
        let batch = |sequence, over_in_flight| Pending::Produce {
            batches: vec![ProducedBatch {
                idempotent: Some((42, sequence)),
                topic: "t".to_string(),
                topic_id: uuid::Uuid::nil(),
                partition: 0,
                crc: 7,
                records: 3,
            }],
            over_in_flight,
        };
        let appended = produced("t");
        // The same CRC twice from an idempotent producer: not a retry.
        linter.after("app", batch(0, None), Some(&appended), |_, _| None);
        linter.after("app", batch(3, None), Some(&appended), |_, _| None);
        assert!(linter.findings(&[]).is_empty());
        let ResponseKind::Produce(mut refused) = produced("t") else {
            unreachable!()
        };
        refused.responses[0].partition_responses[0].error_code =
            ResponseError::OutOfOrderSequenceNumber.code();
        let refused = ResponseKind::Produce(refused);
        linter.after("app", batch(9, Some((42, 7))), Some(&refused), |_, _| None);
        let rules: Vec<_> = linter.findings(&[]).iter().map(|f| f.rule).collect();
        assert_eq!(rules, ["sequence-gap", "idempotent-in-flight"]);
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

    #[test]
    fn a_member_rejoining_on_its_connection_is_a_rebalance_and_a_new_consumer_is_not() {
        let linter = Linter::default();
        linter.enable();
        let here: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        let elsewhere: SocketAddr = "127.0.0.1:5001".parse().unwrap();
        let join = |peer| Pending::JoinGroup {
            group: "g".into(),
            peer,
            session_timeout_ms: 6000,
            rebalance_timeout_ms: 1000,
        };
        let leave = |peer| Pending::LeaveGroup {
            group: "g".into(),
            peer,
        };
        // A consumer closed, and a new one (same client id) on a new connection.
        linter.after("app", join(here), None, |_, _| None);
        linter.after("app", leave(here), None, |_, _| None);
        linter.after("app", join(elsewhere), None, |_, _| None);
        assert!(linter.findings(&[]).is_empty());
        // The same consumer leaving and rejoining, twice.
        for _ in 0..2 {
            linter.after("app", leave(elsewhere), None, |_, _| None);
            linter.after("app", join(elsewhere), None, |_, _| None);
        }
        let findings = linter.findings(&[]);
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].rule, "rebalance-storm");
        assert_eq!(findings[0].evidence["rejoins"], 2);
        assert_eq!(
            findings[0].evidence["examples"][0]["max_poll_interval_ms"],
            1000
        );
    }

    #[test]
    fn requests_at_versions_kafka_4_removed_are_named_by_api_and_version() {
        let linter = Linter::default();
        linter.enable();
        linter.version_used("old", ApiKey::Produce, 2);
        linter.version_used("old", ApiKey::Produce, 2);
        linter.version_used("old", ApiKey::Produce, 9);
        linter.version_used("new", ApiKey::Fetch, 17);
        let findings = linter.findings(&[]);
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].client_id, "old");
        assert_eq!(findings[0].evidence["requests"]["Produce v2"], 2);
    }

    #[test]
    fn commits_up_and_down_twice_are_two_committers_unless_the_topic_was_created_again() {
        use kafka_protocol::messages::offset_commit_response::{
            OffsetCommitResponsePartition, OffsetCommitResponseTopic,
        };
        use kafka_protocol::messages::OffsetCommitResponse;
        let linter = Linter::default();
        linter.enable();
        let accepted = ResponseKind::OffsetCommit(OffsetCommitResponse::default().with_topics(
            vec![OffsetCommitResponseTopic::default()
                .with_name(TopicName(StrBytes::from_static_str("t")))
                .with_partitions(vec![OffsetCommitResponsePartition::default()])],
        ));
        let commit = |client: &str, incarnation: u128, offset| {
            let pending = Pending::OffsetCommit(vec![Commit {
                group: "g".into(),
                topic: "t".into(),
                topic_id: uuid::Uuid::nil(),
                incarnation: uuid::Uuid::from_u128(incarnation),
                partition: 0,
                offset,
            }]);
            linter.after(client, pending, Some(&accepted), |_, _| None);
        };
        // Each incarnation of the topic goes up and down once: one drop each.
        for (incarnation, offsets) in [(1, [0, 10, 5]), (2, [0, 20, 15])] {
            for offset in offsets {
                commit("recreating", incarnation, offset);
            }
        }
        // Positions and lagging commits from one client, on one topic.
        for offset in [10, 5, 20, 15, 30, 25] {
            commit("both", 3, offset);
        }
        let rules = |client: &str| {
            linter
                .findings(&[])
                .into_iter()
                .filter(|f| f.client_id == client)
                .map(|f| f.rule)
                .collect::<Vec<_>>()
        };
        assert_eq!(rules("recreating"), ["commit-went-backwards"]);
        assert_eq!(
            rules("both"),
            ["commit-went-backwards", "auto-commit-with-manual-commits"]
        );
        let finding = linter
            .findings(&[])
            .into_iter()
            .find(|f| f.rule == "auto-commit-with-manual-commits")
            .unwrap();
        assert_eq!(
            finding.evidence["examples"][0]["recent_offsets"],
            serde_json::json!([10, 5, 20, 15, 30, 25])
        );
        assert_eq!(finding.evidence["examples"][0]["drops"], 2);
    }
}
