//! Incremental fetch sessions (KIP-227), as Kafka's `FetchSession.scala`.
//!
//! A consumer or follower fetching many partitions sends them all once (a
//! full fetch with epoch 0); the broker keeps them as a session and answers
//! with its id. Later fetches (epoch 1, 2, …) name only the partitions whose
//! fetch position or limits changed, and those to forget; the response
//! carries only the partitions with something new: records, a moved high
//! watermark or log start offset, an error, a diverging epoch. A session
//! remembers, per partition, the last request parameters and the high
//! watermark and log start offset last sent.
//!
//! The cache holds `max.incremental.fetch.session.cache.slots` sessions.
//! When it is full, a session unused for two minutes is evicted first; else
//! a follower's session may evict a consumer's, and any session may evict a
//! smaller one older than two minutes — Kafka's rules, so a busy consumer
//! cannot push the followers' sessions out.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic, ForgottenTopic};
use kafka_protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
use kafka_protocol::messages::{FetchRequest, TopicName};
use kafka_protocol::protocol::StrBytes;
use uuid::Uuid;

pub use crate::client::fetch_session::{
    next_epoch, FINAL_EPOCH, INITIAL_EPOCH, INVALID_SESSION_ID,
};

/// The first Fetch version with sessions.
pub const FIRST_SESSION_VERSION: i16 = 7;
/// From this version topics are named by id (KIP-516), and so are the
/// partitions of the sessions those requests create.
const TOPIC_ID_VERSION: i16 = 13;
/// Kafka's `MIN_INCREMENTAL_FETCH_SESSION_EVICTION_MS`.
const EVICTION_AGE: Duration = Duration::from_secs(120);

/// A partition of a session: by topic id for sessions of v13+ requests,
/// by topic name before.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PartitionKey {
    topic_id: Uuid,
    topic: String,
    partition: i32,
}

impl PartitionKey {
    fn new(uses_topic_ids: bool, topic_id: Uuid, topic: &str, partition: i32) -> PartitionKey {
        match uses_topic_ids {
            true => PartitionKey {
                topic_id,
                topic: String::new(),
                partition,
            },
            false => PartitionKey {
                topic_id: Uuid::nil(),
                topic: topic.to_string(),
                partition,
            },
        }
    }
}

#[derive(Debug, Clone)]
struct CachedPartition {
    /// What the fetcher last asked for this partition.
    request: FetchPartition,
    /// The high watermark last sent (-1 after an error, so it is sent
    /// again once the error is gone).
    high_watermark: i64,
    /// The log start offset last sent.
    log_start_offset: i64,
}

impl CachedPartition {
    fn new(request: FetchPartition) -> CachedPartition {
        CachedPartition {
            request,
            high_watermark: -1,
            log_start_offset: -1,
        }
    }

    /// Whether the response must carry this partition; remembers what it
    /// carries (Kafka's `maybeUpdateResponseData`).
    fn must_respond(&mut self, data: &PartitionData) -> bool {
        let mut must = data.records.as_ref().is_some_and(|r| !r.is_empty());
        if self.high_watermark != data.high_watermark {
            must = true;
            self.high_watermark = data.high_watermark;
        }
        if self.log_start_offset != data.log_start_offset {
            must = true;
            self.log_start_offset = data.log_start_offset;
        }
        if data.preferred_read_replica.0 >= 0 {
            must = true;
        }
        if data.error_code != 0 {
            self.high_watermark = -1;
            must = true;
        }
        if data.diverging_epoch.epoch >= 0 {
            must = true;
        }
        must
    }
}

#[derive(Debug)]
pub struct FetchSession {
    id: i32,
    /// A follower's session, which consumers' sessions cannot evict.
    privileged: bool,
    uses_topic_ids: bool,
    created: Instant,
    last_used: Instant,
    /// The epoch the next request must carry.
    epoch: i32,
    /// Its partitions in fetch order: partitions that returned records go
    /// to the back, so a response's size limit serves them all in turn.
    order: Vec<PartitionKey>,
    partitions: HashMap<PartitionKey, CachedPartition>,
}

impl FetchSession {
    /// Adds or updates what the request names, drops what it forgets.
    fn update(
        &mut self,
        requested: Vec<(PartitionKey, FetchPartition)>,
        forgotten: &[PartitionKey],
    ) {
        for (key, request) in requested {
            match self.partitions.get_mut(&key) {
                Some(cached) => cached.request = request,
                None => {
                    self.order.push(key.clone());
                    self.partitions.insert(key, CachedPartition::new(request));
                }
            }
        }
        for key in forgotten {
            if self.partitions.remove(key).is_some() {
                self.order.retain(|k| k != key);
            }
        }
    }

    /// The session's partitions as request topics, in fetch order.
    fn topics(&self) -> Vec<FetchTopic> {
        let mut topics: Vec<FetchTopic> = Vec::new();
        for key in &self.order {
            let Some(cached) = self.partitions.get(key) else {
                continue;
            };
            let same_topic = topics
                .last()
                .is_some_and(|t| t.topic_id == key.topic_id && t.topic.as_str() == key.topic);
            if !same_topic {
                topics.push(
                    FetchTopic::default()
                        .with_topic(TopicName(StrBytes::from_string(key.topic.clone())))
                        .with_topic_id(key.topic_id),
                );
            }
            if let Some(topic) = topics.last_mut() {
                topic.partitions.push(cached.request.clone());
            }
        }
        topics
    }
}

/// What one Fetch request is to the session cache (Kafka's
/// `FetchContext`).
pub enum FetchContext {
    /// No session: a full fetch answered in full, with session id 0.
    Sessionless,
    /// A full fetch that may create a session from what it answers.
    Full {
        privileged: bool,
        uses_topic_ids: bool,
        requested: Vec<(PartitionKey, FetchPartition)>,
    },
    /// A fetch within a session: its partitions are the session's.
    Incremental {
        session: Arc<Mutex<FetchSession>>,
        /// The epoch the session must have moved to for this request.
        expected_epoch: i32,
    },
}

impl FetchContext {
    /// The partitions to read, when they are not the request's own.
    pub fn topics(&self) -> Option<Vec<FetchTopic>> {
        match self {
            FetchContext::Incremental { session, .. } => Some(lock(session).topics()),
            _ => None,
        }
    }
}

#[derive(Debug, Default)]
struct Sessions {
    by_id: HashMap<i32, Arc<Mutex<FetchSession>>>,
    evictions: u64,
    created: u64,
    incremental_fetches: u64,
}

/// The broker's fetch sessions.
#[derive(Debug)]
pub struct FetchSessionCache {
    max_sessions: usize,
    sessions: Mutex<Sessions>,
}

/// Figures for `/metrics`, as Kafka's `NumIncrementalFetchSessions`,
/// `NumIncrementalFetchPartitionsCached` and the evictions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SessionFigures {
    pub sessions: usize,
    pub partitions: usize,
    pub evictions: u64,
    pub created: u64,
    pub incremental_fetches: u64,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

/// The request's partitions as session keys.
fn requested(version: i16, topics: &[FetchTopic]) -> Vec<(PartitionKey, FetchPartition)> {
    let uses_topic_ids = version >= TOPIC_ID_VERSION;
    topics
        .iter()
        .flat_map(|topic| {
            topic.partitions.iter().map(move |p| {
                let key =
                    PartitionKey::new(uses_topic_ids, topic.topic_id, &topic.topic, p.partition);
                (key, p.clone())
            })
        })
        .collect()
}

fn forgotten(version: i16, topics: &[ForgottenTopic]) -> Vec<PartitionKey> {
    let uses_topic_ids = version >= TOPIC_ID_VERSION;
    topics
        .iter()
        .flat_map(|topic| {
            topic.partitions.iter().map(move |partition| {
                PartitionKey::new(uses_topic_ids, topic.topic_id, &topic.topic, *partition)
            })
        })
        .collect()
}

impl FetchSessionCache {
    pub fn new(max_sessions: usize) -> FetchSessionCache {
        FetchSessionCache {
            max_sessions,
            sessions: Mutex::new(Sessions::default()),
        }
    }

    pub fn figures(&self) -> SessionFigures {
        let sessions = lock(&self.sessions);
        SessionFigures {
            sessions: sessions.by_id.len(),
            partitions: sessions
                .by_id
                .values()
                .map(|s| lock(s).partitions.len())
                .sum(),
            evictions: sessions.evictions,
            created: sessions.created,
            incremental_fetches: sessions.incremental_fetches,
        }
    }

    /// What a Fetch request of `version` with this session id and epoch is
    /// (Kafka's `FetchManager.newContext`); the error a request about an
    /// unknown session, a wrong epoch or the wrong kind of topic names
    /// gets as its top-level error.
    pub fn new_context(
        &self,
        version: i16,
        request: &FetchRequest,
        privileged: bool,
        now: Instant,
    ) -> Result<FetchContext, ResponseError> {
        let (session_id, epoch) = (request.session_id, request.session_epoch);
        let (topics, forgotten_topics) = (&request.topics, &request.forgotten_topics_data);
        if version < FIRST_SESSION_VERSION {
            return Ok(FetchContext::Sessionless);
        }
        if epoch == INITIAL_EPOCH || epoch == FINAL_EPOCH {
            // A sessionless client (librdkafka: id 0, epoch -1) never
            // takes the cache's lock.
            if session_id != INVALID_SESSION_ID {
                lock(&self.sessions).by_id.remove(&session_id);
            }
            return Ok(match epoch {
                FINAL_EPOCH => FetchContext::Sessionless,
                _ => FetchContext::Full {
                    privileged,
                    uses_topic_ids: version >= TOPIC_ID_VERSION,
                    requested: requested(version, topics),
                },
            });
        }
        let mut sessions = lock(&self.sessions);
        let session = sessions
            .by_id
            .get(&session_id)
            .cloned()
            .ok_or(ResponseError::FetchSessionIdNotFound)?;
        let mut guard = lock(&session);
        if guard.epoch != epoch {
            return Err(ResponseError::InvalidFetchSessionEpoch);
        }
        if guard.uses_topic_ids != (version >= TOPIC_ID_VERSION) {
            return Err(ResponseError::FetchSessionTopicIdError);
        }
        guard.update(
            requested(version, topics),
            &forgotten(version, forgotten_topics),
        );
        if guard.partitions.is_empty() {
            // Nothing left to fetch: the session ends.
            drop(guard);
            sessions.by_id.remove(&session_id);
            return Ok(FetchContext::Sessionless);
        }
        guard.last_used = now;
        guard.epoch = next_epoch(guard.epoch);
        let expected_epoch = guard.epoch;
        drop(guard);
        sessions.incremental_fetches += 1;
        Ok(FetchContext::Incremental {
            session,
            expected_epoch,
        })
    }

    /// Completes a response of `context`: creates the session of a full
    /// fetch (if there is room), or keeps only what an incremental one
    /// must carry. Returns the response's session id and top-level error.
    pub fn finish(
        &self,
        context: &FetchContext,
        topics: &mut Vec<FetchableTopicResponse>,
        now: Instant,
    ) -> (i32, Option<ResponseError>) {
        match context {
            FetchContext::Sessionless => (INVALID_SESSION_ID, None),
            FetchContext::Full {
                privileged,
                uses_topic_ids,
                requested,
            } => {
                let id = self.create(*privileged, *uses_topic_ids, requested, topics, now);
                (id, None)
            }
            FetchContext::Incremental {
                session,
                expected_epoch,
            } => {
                let mut session = lock(session);
                if session.epoch != *expected_epoch {
                    // Another request of the same epoch got there first.
                    topics.clear();
                    return (session.id, Some(ResponseError::InvalidFetchSessionEpoch));
                }
                let uses_topic_ids = session.uses_topic_ids;
                let mut with_records = Vec::new();
                for topic in topics.iter_mut() {
                    topic.partitions.retain(|data| {
                        let key = PartitionKey::new(
                            uses_topic_ids,
                            topic.topic_id,
                            &topic.topic,
                            data.partition_index,
                        );
                        let Some(cached) = session.partitions.get_mut(&key) else {
                            return true;
                        };
                        let must = cached.must_respond(data);
                        if data.records.as_ref().is_some_and(|r| !r.is_empty()) {
                            with_records.push(key);
                        }
                        must
                    });
                }
                topics.retain(|topic| !topic.partitions.is_empty());
                if !with_records.is_empty() {
                    session.order.retain(|key| !with_records.contains(key));
                    session.order.extend(with_records);
                }
                (session.id, None)
            }
        }
    }

    /// A new session with the response's partitions, or no session if the
    /// cache is full and nothing may be evicted for it.
    fn create(
        &self,
        privileged: bool,
        uses_topic_ids: bool,
        requested: &[(PartitionKey, FetchPartition)],
        topics: &[FetchableTopicResponse],
        now: Instant,
    ) -> i32 {
        let mut sessions = lock(&self.sessions);
        let size = requested.len();
        let room = sessions.by_id.len() < self.max_sessions
            || (self.max_sessions > 0 && try_evict(&mut sessions, privileged, size, now));
        if !room {
            return INVALID_SESSION_ID;
        }
        let mut session = FetchSession {
            id: INVALID_SESSION_ID,
            privileged,
            uses_topic_ids,
            created: now,
            last_used: now,
            epoch: next_epoch(INITIAL_EPOCH),
            order: Vec::with_capacity(size),
            partitions: HashMap::with_capacity(size),
        };
        session.update(requested.to_vec(), &[]);
        for topic in topics {
            for data in &topic.partitions {
                let key = PartitionKey::new(
                    uses_topic_ids,
                    topic.topic_id,
                    &topic.topic,
                    data.partition_index,
                );
                if let Some(cached) = session.partitions.get_mut(&key) {
                    cached.must_respond(data);
                }
            }
        }
        let id = loop {
            let id = (Uuid::new_v4().as_u128() as i32) & i32::MAX;
            if id != INVALID_SESSION_ID && !sessions.by_id.contains_key(&id) {
                break id;
            }
        };
        session.id = id;
        sessions.by_id.insert(id, Arc::new(Mutex::new(session)));
        sessions.created += 1;
        id
    }
}

/// Makes room for a new session of `size` partitions, as Kafka's
/// `tryEvict`: the least recently used session if it is stale; else the
/// smallest evictable one (consumers' sessions by a follower's; sessions
/// older than the eviction age by anyone), if the new one is bigger.
fn try_evict(sessions: &mut Sessions, privileged: bool, size: usize, now: Instant) -> bool {
    let stalest = sessions
        .by_id
        .values()
        .map(|s| {
            let s = lock(s);
            (s.last_used, s.id)
        })
        .min();
    let victim = match stalest {
        None => return false,
        Some((last_used, id)) if now.saturating_duration_since(last_used) > EVICTION_AGE => {
            Some(id)
        }
        Some(_) => {
            let old = |s: &FetchSession| now.saturating_duration_since(s.created) > EVICTION_AGE;
            sessions
                .by_id
                .values()
                .filter_map(|s| {
                    let s = lock(s);
                    let evictable = match privileged {
                        true => !s.privileged || old(&s),
                        false => old(&s),
                    };
                    evictable.then(|| ((s.privileged, s.partitions.len(), s.id), s.id))
                })
                .min()
                .filter(|((p, n, _), _)| (privileged, size) > (*p, *n))
                .map(|(_, id)| id)
        }
    };
    match victim {
        Some(id) => {
            sessions.by_id.remove(&id);
            sessions.evictions += 1;
            true
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use kafka_protocol::messages::BrokerId;

    use super::*;

    fn request(
        session_id: i32,
        epoch: i32,
        topics: &[FetchTopic],
        forgotten: &[ForgottenTopic],
    ) -> FetchRequest {
        FetchRequest::default()
            .with_session_id(session_id)
            .with_session_epoch(epoch)
            .with_topics(topics.to_vec())
            .with_forgotten_topics_data(forgotten.to_vec())
    }

    fn fetch_topic(topic: &'static str, partitions: &[(i32, i64)]) -> FetchTopic {
        FetchTopic::default()
            .with_topic(TopicName(topic.into()))
            .with_partitions(
                partitions
                    .iter()
                    .map(|(partition, offset)| {
                        FetchPartition::default()
                            .with_partition(*partition)
                            .with_fetch_offset(*offset)
                            .with_partition_max_bytes(1_000)
                    })
                    .collect(),
            )
    }

    fn answer(
        topic: &'static str,
        partitions: &[(i32, i64, &'static [u8])],
    ) -> Vec<FetchableTopicResponse> {
        vec![FetchableTopicResponse::default()
            .with_topic(TopicName(topic.into()))
            .with_partitions(
                partitions
                    .iter()
                    .map(|(partition, high_watermark, records)| {
                        PartitionData::default()
                            .with_partition_index(*partition)
                            .with_high_watermark(*high_watermark)
                            .with_log_start_offset(0)
                            .with_preferred_read_replica(BrokerId(-1))
                            .with_records(Some(Bytes::from_static(records)))
                    })
                    .collect(),
            )]
    }

    fn partitions_of(topics: &[FetchableTopicResponse]) -> Vec<i32> {
        topics
            .iter()
            .flat_map(|t| t.partitions.iter().map(|p| p.partition_index))
            .collect()
    }

    #[test]
    fn an_incremental_fetch_reads_the_session_and_answers_what_changed() {
        let cache = FetchSessionCache::new(10);
        let now = Instant::now();
        let full = [fetch_topic("t", &[(0, 0), (1, 0), (2, 0)])];
        let context = cache
            .new_context(12, &request(0, INITIAL_EPOCH, &full, &[]), false, now)
            .unwrap();
        assert!(context.topics().is_none());
        let mut response = answer("t", &[(0, 5, b"r"), (1, 0, b""), (2, 0, b"")]);
        let (id, error) = cache.finish(&context, &mut response, now);
        assert!(id > 0 && error.is_none());
        assert_eq!(
            partitions_of(&response),
            [0, 1, 2],
            "a full fetch answers all"
        );

        // Epoch 1 moves partition 0 on; the others are not named.
        let moved = [fetch_topic("t", &[(0, 5)])];
        let context = cache
            .new_context(12, &request(id, 1, &moved, &[]), false, now)
            .unwrap();
        let topics = context.topics().unwrap();
        let read: Vec<(i32, i64)> = topics[0]
            .partitions
            .iter()
            .map(|p| (p.partition, p.fetch_offset))
            .collect();
        assert_eq!(read, [(0, 5), (1, 0), (2, 0)]);
        let mut response = answer("t", &[(0, 5, b"r"), (1, 0, b""), (2, 3, b"")]);
        let (same, error) = cache.finish(&context, &mut response, now);
        assert_eq!((same, error), (id, None));
        assert_eq!(partitions_of(&response), [0, 2], "only what changed");
        // Partition 0 returned records, so it is read last from now on.
        let moved = [fetch_topic("t", &[(0, 6)])];
        let context = cache
            .new_context(12, &request(id, 2, &moved, &[]), false, now)
            .unwrap();
        let order: Vec<i32> = context.topics().unwrap()[0]
            .partitions
            .iter()
            .map(|p| p.partition)
            .collect();
        assert_eq!(order, [1, 2, 0]);
        let mut quiet = answer("t", &[(1, 0, b""), (2, 3, b""), (0, 5, b"")]);
        cache.finish(&context, &mut quiet, now);
        assert!(quiet.is_empty(), "nothing new: {quiet:?}");

        // A replayed epoch, an unknown session, the wrong kind of names.
        let replay = cache.new_context(12, &request(id, 2, &moved, &[]), false, now);
        assert_eq!(replay.err(), Some(ResponseError::InvalidFetchSessionEpoch));
        let unknown = cache.new_context(12, &request(id + 1, 1, &moved, &[]), false, now);
        assert_eq!(unknown.err(), Some(ResponseError::FetchSessionIdNotFound));
        let by_id = cache.new_context(13, &request(id, 3, &[], &[]), false, now);
        assert_eq!(by_id.err(), Some(ResponseError::FetchSessionTopicIdError));

        // Forgetting every partition ends the session.
        let forget = [ForgottenTopic::default()
            .with_topic(TopicName("t".into()))
            .with_partitions(vec![0, 1, 2])];
        let context = cache
            .new_context(12, &request(id, 3, &[], &forget), false, now)
            .unwrap();
        assert!(matches!(context, FetchContext::Sessionless));
        assert_eq!(cache.figures().sessions, 0);
    }

    #[test]
    fn errors_are_always_sent_and_the_high_watermark_again_after_them() {
        let cache = FetchSessionCache::new(10);
        let now = Instant::now();
        let full = [fetch_topic("t", &[(0, 0)])];
        let context = cache
            .new_context(12, &request(0, INITIAL_EPOCH, &full, &[]), false, now)
            .unwrap();
        let (id, _) = cache.finish(&context, &mut answer("t", &[(0, 7, b"")]), now);
        let mut epoch = 1;
        let mut fetch = |response: Vec<FetchableTopicResponse>| {
            let context = cache
                .new_context(12, &request(id, epoch, &[], &[]), false, now)
                .unwrap();
            epoch += 1;
            let mut response = response;
            cache.finish(&context, &mut response, now);
            partitions_of(&response)
        };
        assert!(fetch(answer("t", &[(0, 7, b"")])).is_empty());
        let mut failed = answer("t", &[(0, 7, b"")]);
        failed[0].partitions[0].error_code = ResponseError::NotLeaderOrFollower.code();
        assert_eq!(fetch(failed.clone()), [0]);
        assert_eq!(fetch(failed), [0]);
        assert_eq!(fetch(answer("t", &[(0, 7, b"")])), [0]);
        assert!(fetch(answer("t", &[(0, 7, b"")])).is_empty());
    }

    #[test]
    fn a_full_cache_evicts_as_kafka_does() {
        let cache = FetchSessionCache::new(1);
        let now = Instant::now();
        let create = |privileged: bool, partitions: &[(i32, i64)], at: Instant| {
            let full = [fetch_topic("t", partitions)];
            let context = cache
                .new_context(12, &request(0, INITIAL_EPOCH, &full, &[]), privileged, at)
                .unwrap();
            let mut response = answer("t", &[]);
            cache.finish(&context, &mut response, at).0
        };
        let consumer = create(false, &[(0, 0), (1, 0)], now);
        assert!(consumer > 0);
        // A young consumer session is safe from other consumers …
        assert_eq!(
            create(false, &[(0, 0), (1, 0), (2, 0)], now),
            INVALID_SESSION_ID
        );
        // … not from a follower's.
        let follower = create(true, &[(0, 0)], now);
        assert!(follower > 0);
        // Nobody evicts a young follower session; a stale one goes.
        assert_eq!(create(true, &[(0, 0), (1, 0)], now), INVALID_SESSION_ID);
        let later = now + EVICTION_AGE + Duration::from_secs(1);
        assert!(create(false, &[(0, 0)], later) > 0);
        assert_eq!(cache.figures().evictions, 2);
        // No slots, no sessions.
        let none = FetchSessionCache::new(0);
        let full = [fetch_topic("t", &[(0, 0)])];
        let context = none
            .new_context(12, &request(0, INITIAL_EPOCH, &full, &[]), true, now)
            .unwrap();
        assert_eq!(
            none.finish(&context, &mut Vec::new(), now).0,
            INVALID_SESSION_ID
        );
    }
}
