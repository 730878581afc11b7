//! Fetch (v4–v12): reads whole batches from each requested partition up to
//! the high watermark, within `max_bytes` and per-partition limits (but at
//! least one batch, KIP-74), long-polling up to `max_wait_ms` until
//! `min_bytes` are available.
//!
//! read_committed consumers read up to the last stable offset and get the
//! aborted transactions of what they read, to drop those records.
//!
//! Fetch sessions (KIP-227) are not kept: every response is a full one with
//! session id 0, which clients accept as "no session".

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::future::select_all;
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::fetch_request::FetchTopic;
use kafka_protocol::messages::fetch_response::{
    AbortedTransaction, EpochEndOffset, FetchableTopicResponse, PartitionData,
};
use kafka_protocol::messages::ProducerId;
use kafka_protocol::messages::{FetchRequest, FetchResponse};
use tokio::time::Instant;

use super::{leader_epoch_error, topic_name};
use crate::broker::Broker;
use crate::error::KafkaError;
use crate::log::txn_index::AbortedTxn;
use crate::partition::{Isolation, Partition};
use crate::types::{Offset, TopicPartition};

/// Upper bound on how long one fetch may park, whatever the client asks.
const MAX_WAIT_CAP: Duration = Duration::from_secs(60);

pub async fn handle(broker: &Arc<Broker>, request: FetchRequest, _version: i16) -> FetchResponse {
    let max_wait = Duration::from_millis(request.max_wait_ms.max(0) as u64).min(MAX_WAIT_CAP);
    let deadline = Instant::now() + max_wait;
    let min_bytes = request.min_bytes.max(0) as usize;
    let mut wanted = resolve(broker, &request.topics);
    // A follower (replica id >= 0) reads to the log end and reports its
    // progress with each fetch; consumers read to the visible end.
    let replica = (request.replica_id.0 >= 0).then_some(request.replica_id.0);
    let isolation = match replica {
        Some(_) => Isolation::Replica,
        None => Isolation::from_wire(request.isolation_level),
    };
    if let Some(replica) = replica {
        find_divergences(&mut wanted).await;
        record_follower_progress(broker, &wanted, replica);
    }

    loop {
        // Register for wake-ups before reading, so data appended between the
        // read and the wait is not missed.
        let mut waiters: Vec<_> = wanted
            .iter()
            .filter_map(|(_, partition)| partition.as_ref())
            .map(|partition| Box::pin(partition.data_arrived()))
            .collect();
        for waiter in &mut waiters {
            waiter.as_mut().enable();
        }
        let (topics, total_bytes, any_error) = read_all(&wanted, &request, isolation).await;
        let now = Instant::now();
        if total_bytes >= min_bytes || any_error || now >= deadline || waiters.is_empty() {
            return respond(broker, topics);
        }
        tokio::select! {
            _ = tokio::time::timeout(deadline - now, select_all(waiters)) => {}
            // Answer with what there is rather than hold up shutdown.
            _ = broker.shutting_down() => return respond(broker, topics),
        }
    }
}

/// Checks each partition a follower fetches for divergence once per
/// request, not on every pass of the long poll.
async fn find_divergences(wanted: &mut Wanted) {
    for (fetch, partition) in wanted.iter_mut() {
        if let Some(partition) = partition.as_ref().filter(|p| p.is_leader()) {
            fetch.diverged = diverging(partition, fetch).await;
        }
    }
}

/// A follower's fetch offsets are its log end offsets: the leader's ISR
/// and high watermark move with them. A diverging follower (its last
/// fetched epoch ends before its fetch offset here) is not counted.
fn record_follower_progress(broker: &Arc<Broker>, wanted: &Wanted, replica: i32) {
    for (fetch, partition) in wanted {
        let Some(partition) = partition else { continue };
        if !partition.is_leader() || fetch.diverged.is_some() {
            continue;
        }
        if let Some(isr) = partition.record_follower_fetch(replica, Offset(fetch.fetch_offset)) {
            broker.propose_isr(Arc::clone(partition), isr);
        }
    }
}

/// Where a follower's log leaves the leader's, if it does: the epoch
/// and end offset the follower must truncate to (KIP-320 in Fetch v12+).
async fn diverging(partition: &Arc<Partition>, fetch: &Fetch) -> Option<(i32, Offset)> {
    if fetch.last_fetched_epoch < 0 {
        return None;
    }
    let (epoch, end) = partition
        .end_offset_for_epoch(fetch.last_fetched_epoch)
        .await
        .ok()?;
    if epoch < 0 {
        return None;
    }
    (epoch < fetch.last_fetched_epoch || end.value() < fetch.fetch_offset).then_some((epoch, end))
}

/// The response, counting the bytes it serves per topic.
fn respond(broker: &Broker, topics: Vec<FetchableTopicResponse>) -> FetchResponse {
    for topic in &topics {
        let bytes: usize = topic
            .partitions
            .iter()
            .filter_map(|p| p.records.as_ref().map(Bytes::len))
            .sum();
        if bytes > 0 {
            broker.metrics().bytes_fetched(topic.topic.as_str(), bytes);
        }
    }
    FetchResponse::default().with_responses(topics)
}

/// One requested partition.
struct Fetch {
    topic_partition: TopicPartition,
    current_leader_epoch: i32,
    fetch_offset: i64,
    partition_max_bytes: i32,
    last_fetched_epoch: i32,
    /// For a follower: the epoch and end offset where its log leaves
    /// this leader's, if it does.
    diverged: Option<(i32, Offset)>,
}

/// The requested partitions, looked up once per request.
type Wanted = Vec<(Fetch, Option<Arc<Partition>>)>;

fn resolve(broker: &Broker, topics: &[FetchTopic]) -> Wanted {
    topics
        .iter()
        .flat_map(|topic| {
            topic.partitions.iter().map(move |p| {
                let topic_partition = TopicPartition::new(topic.topic.to_string(), p.partition);
                let partition = broker.partition(&topic_partition);
                let fetch = Fetch {
                    topic_partition,
                    current_leader_epoch: p.current_leader_epoch,
                    fetch_offset: p.fetch_offset,
                    partition_max_bytes: p.partition_max_bytes,
                    last_fetched_epoch: p.last_fetched_epoch,
                    diverged: None,
                };
                (fetch, partition)
            })
        })
        .collect()
}

async fn read_all(
    wanted: &Wanted,
    request: &FetchRequest,
    isolation: Isolation,
) -> (Vec<FetchableTopicResponse>, usize, bool) {
    let read_committed = isolation == Isolation::ReadCommitted;
    let mut topics: Vec<FetchableTopicResponse> = Vec::new();
    let mut remaining = request.max_bytes.max(0) as usize;
    let mut total = 0usize;
    let mut any_error = false;
    for (fetch, partition) in wanted {
        let topic_partition = &fetch.topic_partition;
        let mut data = PartitionData::default()
            .with_partition_index(topic_partition.partition)
            .with_high_watermark(-1)
            .with_last_stable_offset(-1)
            .with_log_start_offset(-1)
            .with_aborted_transactions(read_committed.then(Vec::new))
            .with_records(Some(Bytes::new()));
        match partition {
            None => {
                any_error = true;
                data = data.with_error_code(ResponseError::UnknownTopicOrPartition.code());
            }
            Some(partition) => {
                data = data
                    .with_high_watermark(partition.high_watermark().value())
                    .with_last_stable_offset(partition.last_stable_offset().value())
                    .with_log_start_offset(partition.log_start_offset().value());
                let error = match partition.is_leader() {
                    _ if partition.is_offline() => {
                        tracing::warn!(partition = %partition.topic_partition(),
                                       cause = partition.log_dir().failure().unwrap_or(""),
                                       "KAFKA_STORAGE_ERROR: fetch from a partition in an offline log dir");
                        Some(ResponseError::KafkaStorageError)
                    }
                    false => Some(ResponseError::NotLeaderOrFollower),
                    true => {
                        leader_epoch_error(fetch.current_leader_epoch, partition.leader_epoch())
                    }
                };
                if let Some(error) = error {
                    any_error = true;
                    data = data.with_error_code(error.code());
                } else if let Some((epoch, end)) = fetch.diverged {
                    any_error = true;
                    data = data.with_diverging_epoch(
                        EpochEndOffset::default()
                            .with_epoch(epoch)
                            .with_end_offset(end.value()),
                    );
                } else {
                    // Past the response limit, a partition still gets its
                    // first batch only if nothing was returned yet (KIP-74).
                    let limit = fetch.partition_max_bytes.max(0) as usize;
                    let limit = if total == 0 {
                        limit
                    } else {
                        limit.min(remaining)
                    };
                    if limit > 0 || total == 0 {
                        let read =
                            partition.read(Offset(fetch.fetch_offset), limit.max(1), isolation);
                        match read.await {
                            Ok(fetched) => {
                                total += fetched.records.len();
                                remaining = remaining.saturating_sub(fetched.records.len());
                                let aborted = read_committed.then(|| {
                                    fetched.aborted.iter().map(aborted_transaction).collect()
                                });
                                data = data
                                    .with_high_watermark(fetched.high_watermark.value())
                                    .with_last_stable_offset(fetched.last_stable_offset.value())
                                    .with_log_start_offset(fetched.log_start_offset.value())
                                    .with_aborted_transactions(aborted)
                                    .with_records(Some(Bytes::from(fetched.records)));
                            }
                            Err(error) => {
                                any_error = true;
                                data = data.with_error_code(error.code());
                            }
                        }
                    }
                }
            }
        }
        match topics.last_mut() {
            Some(last) if last.topic.as_str() == topic_partition.topic => {
                last.partitions.push(data)
            }
            _ => topics.push(
                FetchableTopicResponse::default()
                    .with_topic(topic_name(&topic_partition.topic))
                    .with_partitions(vec![data]),
            ),
        }
    }
    (topics, total, any_error)
}

fn aborted_transaction(txn: &AbortedTxn) -> AbortedTransaction {
    AbortedTransaction::default()
        .with_producer_id(ProducerId(txn.producer_id))
        .with_first_offset(txn.first_offset.value())
}
