//! Fetch (v4–v12): reads whole batches from each requested partition up to
//! the high watermark, long-polling up to `max_wait_ms` until `min_bytes`
//! are available.
//!
//! Sizes follow KIP-74, as Kafka's `ReplicaManager.readFromLog`: the
//! response holds at most the request's `max_bytes`, capped by the
//! broker's `fetch.max.bytes`, summed over all partitions, and each
//! partition at most its `partition_max_bytes`. Only the first batch of the
//! first partition with data may exceed them (so a batch larger than the
//! limits still gets through); every later partition gets only whole
//! batches that fit. Followers are held to the same: their request's
//! `max_bytes` is `replica.fetch.response.max.bytes` (see
//! `replication/fetcher.rs`), and `fetch.max.bytes` caps it here as
//! Kafka's leader does.
//!
//! read_committed consumers read up to the last stable offset and get the
//! aborted transactions of what they read, to drop those records.
//!
//! From v7 a fetch may belong to a fetch session (KIP-227,
//! `server/fetch_session.rs`): an incremental fetch reads the session's
//! partitions and answers only those with something new.

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
use crate::metadata::acls::{AclOperation, ResourceType, CLUSTER_NAME};
use crate::metadata::MetadataImage;
use crate::partition::{FetchedRecords, Isolation, Partition};
use crate::quota::replication::{is_throttled, ReplicationQuota, Side};
use crate::server::context::RequestContext;
use crate::server::encoded::{self, FileRecordSets};
use crate::server::fetch_session::INVALID_SESSION_ID;
use crate::types::{Offset, TopicPartition};

/// Upper bound on how long one fetch may park, whatever the client asks.
const MAX_WAIT_CAP: Duration = Duration::from_secs(60);

pub async fn handle(
    broker: &Arc<Broker>,
    mut request: FetchRequest,
    version: i16,
    client_id: &str,
    context: &RequestContext,
) -> (FetchResponse, FileRecordSets) {
    let max_wait = Duration::from_millis(request.max_wait_ms.max(0) as u64).min(MAX_WAIT_CAP);
    let deadline = Instant::now() + max_wait;
    let mut max_bytes = request.max_bytes.clamp(0, broker.config().fetch_max_bytes) as usize;
    let min_bytes = (request.min_bytes.max(0) as usize).min(max_bytes);
    // A follower (replica id >= 0; in the replica state from v15) reads to
    // the log end and reports its progress with each fetch; consumers read
    // to the visible end.
    let replica_id = match version >= 15 {
        true => request.replica_state.replica_id.0,
        false => request.replica_id.0,
    };
    let replica = (replica_id >= 0).then_some(replica_id);
    if replica.is_none() {
        // A consumer under consumer_byte_rate gets no more than its quota
        // allows over the whole span: more would be throttled, answered
        // empty, and read again, forever.
        let quotas = &broker.metadata().client_quotas;
        if !quotas.is_empty() {
            let client = crate::server::quotas::Client::new(&context.principal, client_id);
            if let Some(cap) = broker.quotas().fetch_bytes_cap(quotas, &client) {
                max_bytes = max_bytes.min(cap.max(0) as usize);
            }
        }
    }
    // Followers need CLUSTER_ACTION (a client claiming a replica id must
    // not read past the high watermark, nor move it); consumers need READ
    // on each topic. Kafka answers both refusals per partition, with
    // TOPIC_AUTHORIZATION_FAILED, after what was read.
    let authz = context.authz(broker);
    let follower_allowed = replica.is_none()
        || authz.allows(
            AclOperation::ClusterAction,
            ResourceType::Cluster,
            CLUSTER_NAME,
        );
    // A fetch in a session (KIP-227) reads the session's partitions; a
    // session error is the whole answer.
    let sessions = broker.fetch_sessions();
    let session = sessions.new_context(
        version,
        &request,
        replica.is_some() && follower_allowed,
        std::time::Instant::now(),
    );
    let session = match session {
        Ok(session) => session,
        Err(error) => {
            let response = FetchResponse::default()
                .with_error_code(error.code())
                .with_session_id(INVALID_SESSION_ID);
            return (response, FileRecordSets::default());
        }
    };
    if let Some(topics) = session.topics() {
        request.topics = topics;
    }
    // From v13 topics come by id: an unknown id is answered before
    // anything else (ids are not secret), the others are read by name.
    // Older versions name topics and need no metadata here.
    let image = (version >= 13).then(|| broker.metadata());
    let mut unknown_ids = Vec::new();
    if let Some(image) = &image {
        let by_id = std::mem::take(&mut request.topics);
        for mut topic in by_id {
            match image.topic_by_id(topic.topic_id) {
                Some(known) => {
                    topic.topic = topic_name(&known.name);
                    request.topics.push(topic);
                }
                None => unknown_ids.push(refused(&topic, ResponseError::UnknownTopicId)),
            }
        }
    }
    let (allowed, denied): (Vec<FetchTopic>, Vec<FetchTopic>) = std::mem::take(&mut request.topics)
        .into_iter()
        .partition(|topic| {
            follower_allowed
                && (replica.is_some()
                    || authz.allows(
                        AclOperation::Read,
                        ResourceType::Topic,
                        topic.topic.as_str(),
                    ))
        });
    drop(authz);
    let mut denied: Vec<FetchableTopicResponse> = denied
        .iter()
        .map(|topic| refused(topic, ResponseError::TopicAuthorizationFailed))
        .collect();
    denied.append(&mut unknown_ids);
    request.topics = allowed;
    let respond = |broker: &Broker, mut topics: Vec<FetchableTopicResponse>| {
        topics.extend(denied.iter().cloned());
        if let Some(image) = &image {
            for topic in &mut topics {
                if let Some(known) = image.topic(topic.topic.as_str()) {
                    topic.topic_id = known.id;
                }
            }
        }
        let mut response = respond(topics);
        let now = std::time::Instant::now();
        let (session_id, error) = sessions.finish(&session, &mut response.responses, now);
        response = response
            .with_session_id(session_id)
            .with_error_code(error.map_or(0, |e| e.code()));
        if version >= 16 {
            super::leader_hints::fetch(broker, context, &mut response);
        }
        response
    };
    let mut wanted = resolve(broker, &request.topics);
    let isolation = match replica {
        Some(_) => Isolation::Replica,
        None => Isolation::from_wire(request.isolation_level),
    };
    if let Some(replica) = replica {
        find_divergences(&mut wanted).await;
        record_follower_progress(broker, &wanted, replica);
    }
    let throttle = replica.and_then(|replica| LeaderThrottle::of(broker, replica));
    // Record sets stay in their files until the connection writes them
    // (unless the stand-ins' address range could not be reserved).
    let in_files = encoded::stand_ins_available();

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
        let read = read_all(&wanted, max_bytes, isolation, in_files, throttle.as_ref()).await;
        let now = Instant::now();
        if read.bytes >= min_bytes || read.any_error || now >= deadline || waiters.is_empty() {
            return read.answered(broker, respond);
        }
        tokio::select! {
            _ = tokio::time::timeout(deadline - now, select_all(waiters)) => {}
            // Answer with what there is rather than hold up shutdown.
            _ = broker.shutting_down() => return read.answered(broker, respond),
        }
    }
}

/// Every partition of `topic` refused with `error`.
fn refused(topic: &FetchTopic, error: ResponseError) -> FetchableTopicResponse {
    FetchableTopicResponse::default()
        .with_topic(topic.topic.clone())
        .with_topic_id(topic.topic_id)
        .with_partitions(
            topic
                .partitions
                .iter()
                .map(|p| {
                    PartitionData::default()
                        .with_partition_index(p.partition)
                        .with_error_code(error.code())
                        .with_high_watermark(-1)
                        .with_last_stable_offset(-1)
                        .with_log_start_offset(-1)
                        .with_records(Some(Bytes::new()))
                })
                .collect(),
        )
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
/// fetched epoch ends before its fetch offset here) is not counted, nor
/// one fetching at another leader epoch (refused with FENCED_LEADER_EPOCH
/// or UNKNOWN_LEADER_EPOCH when read), as Kafka validates the epoch before
/// it updates a follower's state.
fn record_follower_progress(broker: &Arc<Broker>, wanted: &Wanted, replica: i32) {
    for (fetch, partition) in wanted {
        let Some(partition) = partition else { continue };
        let other_epoch = fetch.current_leader_epoch >= 0
            && fetch.current_leader_epoch != partition.leader_epoch().value();
        if !partition.is_leader() || fetch.diverged.is_some() || other_epoch {
            continue;
        }
        if let Some(proposal) = partition.record_follower_fetch(replica, Offset(fetch.fetch_offset))
        {
            broker.propose_isr(Arc::clone(partition), proposal);
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

/// The response of `topics`.
fn respond(topics: Vec<FetchableTopicResponse>) -> FetchResponse {
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

/// A follower's fetch under `leader.replication.throttled.rate`: the
/// replicas its topics throttle on this leader, while out of the ISR, get
/// no records once the rate is used up.
struct LeaderThrottle<'a> {
    quota: &'a ReplicationQuota,
    bound: u64,
    replica: i32,
    node_id: i32,
    image: Arc<MetadataImage>,
}

impl<'a> LeaderThrottle<'a> {
    /// `None` without a leader rate set on this broker.
    fn of(broker: &'a Broker, replica: i32) -> Option<LeaderThrottle<'a>> {
        let quota = broker.leader_throttle();
        let node_id = broker.config().node_id;
        let bound = quota.bound(&broker.controller().broker_configs(), node_id)?;
        Some(LeaderThrottle {
            quota,
            bound,
            replica,
            node_id,
            image: broker.metadata(),
        })
    }

    fn applies(&self, topic_partition: &TopicPartition, partition: &Partition) -> bool {
        self.image
            .topic(&topic_partition.topic)
            .is_some_and(|topic| {
                let (p, node) = (topic_partition.partition, self.node_id);
                is_throttled(&topic.configs, Side::Leader, p, node)
                    && !partition.in_sync_replicas().contains(&self.replica)
            })
    }
}

/// Reads every wanted partition within the response budget `max_bytes`;
/// with `in_files`, record sets stay in their files.
async fn read_all(
    wanted: &Wanted,
    max_bytes: usize,
    isolation: Isolation,
    in_files: bool,
    throttle: Option<&LeaderThrottle<'_>>,
) -> ReadAll {
    let mut metered = 0;
    let mut files = FileRecordSets::default();
    let mut served = Vec::new();
    let read_committed = isolation == Isolation::ReadCommitted;
    let mut topics: Vec<FetchableTopicResponse> = Vec::new();
    let mut budget = ResponseBudget::new(max_bytes);
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
                } else if let Some(limit) = budget.limit(fetch.partition_max_bytes) {
                    let throttled = throttle.filter(|t| t.applies(topic_partition, partition));
                    if throttled.is_some_and(|t| t.quota.holds_back(t.bound)) {
                        // Answered as caught up for now: no records.
                        push_partition(&mut topics, topic_partition, data);
                        continue;
                    }
                    let read =
                        partition.read(Offset(fetch.fetch_offset), limit, isolation, in_files);
                    match read.await {
                        Ok(mut fetched) => {
                            if !budget.take(fetched.records.len(), limit) {
                                // Its first batch alone is over the limit, and
                                // only the first partition with data may do that.
                                fetched.records = FetchedRecords::default();
                                fetched.aborted.clear();
                            }
                            if throttled.is_some() {
                                metered += fetched.records.len();
                            }
                            if !fetched.records.is_empty() {
                                served.push((Arc::clone(partition), fetched.records.len()));
                            }
                            let aborted = read_committed
                                .then(|| fetched.aborted.iter().map(aborted_transaction).collect());
                            data = data
                                .with_high_watermark(fetched.high_watermark.value())
                                .with_last_stable_offset(fetched.last_stable_offset.value())
                                .with_log_start_offset(fetched.log_start_offset.value())
                                .with_aborted_transactions(aborted)
                                .with_records(Some(match fetched.records {
                                    FetchedRecords::Memory(bytes) => bytes,
                                    // Past the stand-ins' range (far beyond
                                    // any response's size): none this time.
                                    FetchedRecords::File(records) => {
                                        files.stand_in(records).unwrap_or_default()
                                    }
                                }));
                        }
                        Err(error) => {
                            any_error = true;
                            data = data.with_error_code(error.code());
                        }
                    }
                }
            }
        }
        push_partition(&mut topics, topic_partition, data);
    }
    ReadAll {
        topics,
        bytes: budget.used,
        any_error,
        metered,
        files,
        served,
    }
}

/// One pass of reads over the wanted partitions.
struct ReadAll {
    topics: Vec<FetchableTopicResponse>,
    bytes: usize,
    any_error: bool,
    /// Bytes read for throttled replicas.
    metered: usize,
    /// The record sets left in their files.
    files: FileRecordSets,
    /// Record bytes read from each partition.
    served: Vec<(Arc<Partition>, usize)>,
}

impl ReadAll {
    /// This pass's reads are the answer: counted, and `respond` makes it
    /// of the topics.
    fn answered(
        self,
        broker: &Broker,
        respond: impl FnOnce(&Broker, Vec<FetchableTopicResponse>) -> FetchResponse,
    ) -> (FetchResponse, FileRecordSets) {
        broker.leader_throttle().record(self.metered);
        for (partition, bytes) in &self.served {
            partition.count_bytes_out(*bytes);
        }
        (respond(broker, self.topics), self.files)
    }
}

/// Adds a partition's answer under its topic (wanted partitions come
/// grouped by topic).
fn push_partition(
    topics: &mut Vec<FetchableTopicResponse>,
    topic_partition: &TopicPartition,
    data: PartitionData,
) {
    match topics.last_mut() {
        Some(last) if last.topic.as_str() == topic_partition.topic => last.partitions.push(data),
        _ => topics.push(
            FetchableTopicResponse::default()
                .with_topic(topic_name(&topic_partition.topic))
                .with_partitions(vec![data]),
        ),
    }
}

/// What is left of a response's size limit as partitions are read.
struct ResponseBudget {
    remaining: usize,
    used: usize,
}

impl ResponseBudget {
    fn new(max_bytes: usize) -> ResponseBudget {
        ResponseBudget {
            remaining: max_bytes,
            used: 0,
        }
    }

    /// Until some partition returned data, a read may return one batch
    /// larger than its limit (KIP-74's "first message").
    fn min_one_batch(&self) -> bool {
        self.used == 0
    }

    /// The bytes the next partition may read, or `None` if there is no
    /// point reading it.
    fn limit(&self, partition_max_bytes: i32) -> Option<usize> {
        let limit = (partition_max_bytes.max(0) as usize).min(self.remaining);
        (limit > 0 || self.min_one_batch()).then_some(limit)
    }

    /// Counts `read` bytes read under `limit`; `false` if they must not be
    /// sent (over the limit, and not the first batch of the response).
    fn take(&mut self, read: usize, limit: usize) -> bool {
        if read > limit && !self.min_one_batch() {
            return false;
        }
        self.used += read;
        self.remaining = self.remaining.saturating_sub(read);
        true
    }
}

fn aborted_transaction(txn: &AbortedTxn) -> AbortedTransaction {
    AbortedTransaction::default()
        .with_producer_id(ProducerId(txn.producer_id))
        .with_first_offset(txn.first_offset.value())
}

/// The answer to `request` failing with `code` in every partition (Kafka's
/// `FetchRequest.getErrorResponse`).
pub fn error_response(request: &FetchRequest, _version: i16, code: i16) -> FetchResponse {
    FetchResponse::default().with_responses(
        request
            .topics
            .iter()
            .map(|t| {
                FetchableTopicResponse::default()
                    .with_topic(t.topic.clone())
                    .with_topic_id(t.topic_id)
                    .with_partitions(
                        t.partitions
                            .iter()
                            .map(|p| {
                                PartitionData::default()
                                    .with_partition_index(p.partition)
                                    .with_error_code(code)
                                    .with_high_watermark(-1)
                                    .with_last_stable_offset(-1)
                                    .with_log_start_offset(-1)
                                    .with_records(Some(Bytes::new()))
                            })
                            .collect(),
                    )
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::ResponseBudget;

    #[test]
    fn only_the_first_batch_of_the_response_may_exceed_the_limits() {
        let mut budget = ResponseBudget::new(1_000);
        // first partition: up to its own limit; its first batch may be larger
        assert_eq!(budget.limit(600), Some(600));
        assert!(budget.take(700, 600));
        assert_eq!((budget.used, budget.remaining), (700, 300));
        // later partitions: capped by what is left, and never over it
        assert_eq!(budget.limit(600), Some(300));
        assert!(!budget.take(400, 300));
        assert!(budget.take(250, 300));
        assert_eq!(budget.limit(600), Some(50));
        assert!(budget.take(50, 50));
        assert_eq!(budget.limit(600), None);
        assert_eq!(budget.used, 1_000);
    }

    #[test]
    fn empty_partitions_keep_the_first_batch_allowance_for_the_next() {
        let mut budget = ResponseBudget::new(100);
        assert_eq!(budget.limit(0), Some(0));
        assert!(budget.take(0, 0));
        assert_eq!(budget.limit(50), Some(50));
        assert!(
            budget.take(5_000, 50),
            "the first data may be one large batch"
        );
        assert_eq!(budget.limit(50), None);
        let nothing = ResponseBudget::new(0);
        assert_eq!(nothing.limit(1_000), Some(0));
    }
}
