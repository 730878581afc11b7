//! One task per group: it owns the group's [`Group`] state (and the
//! KIP-848 consumer group or KIP-1071 streams group of its id, `streams.rs`),
//! answers the commands the coordinator forwards, parks JoinGroup and
//! SyncGroup replies until the rebalance gets there, wakes up for the
//! group's time-outs, and writes what must be durable to
//! `__consumer_offsets` before answering.

mod streams;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use kafka_protocol::error::ResponseError;
use tokio::sync::{mpsc, oneshot};
use tracing::{info, warn};

use super::consumer::group::ConsumerGroupDescription;
use super::consumer::records::{self, Image};
use super::consumer::{ConsumerGroup, GroupError, Heartbeat, HeartbeatAnswer};
use super::state::{
    CommittedOffset, Event, Group, GroupState, JoinRequest, JoinResult, Outcome, SyncRequest,
    SyncResult,
};
use super::{log_format, migration, GroupConfig};
use crate::error::KafkaError;
use crate::group::streams::group::StreamsGroupDescription;
use crate::group::streams::{StreamsGroup, StreamsHeartbeat, StreamsHeartbeatAnswer};
use crate::metadata::MetadataImage;
use crate::partition::Partitions;
use crate::records::builder::BatchBuilder;
use crate::records::primitives::{StringTooLong, MAX_STRING_LENGTH};
use crate::types::{now_ms, TopicPartition};

/// A per-partition outcome of an offset operation.
pub type PartitionResults = Vec<(TopicPartition, Option<ResponseError>)>;

/// A snapshot of a group for DescribeGroups and ListGroups.
#[derive(Debug, Clone)]
pub struct GroupDescription {
    pub group_id: String,
    pub state: GroupState,
    pub protocol_type: String,
    pub protocol_name: String,
    pub members: Vec<MemberDescription>,
    /// Set for KIP-848 consumer groups, whose classic part is then empty.
    pub consumer: Option<ConsumerGroupDescription>,
    /// Set for KIP-1071 streams groups, whose classic part is then empty.
    pub streams: Option<StreamsGroupDescription>,
}

#[derive(Debug, Clone)]
pub struct MemberDescription {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub metadata: Bytes,
    pub assignment: Bytes,
}

pub(super) enum Command {
    /// `image` resolves the topics of a consumer group's classic members.
    Join(JoinRequest, Arc<MetadataImage>, oneshot::Sender<JoinResult>),
    Sync(SyncRequest, Arc<MetadataImage>, oneshot::Sender<SyncResult>),
    ConsumerHeartbeat {
        request: Heartbeat,
        image: Arc<MetadataImage>,
        reply: oneshot::Sender<Result<HeartbeatAnswer, GroupError>>,
    },
    StreamsHeartbeat {
        request: StreamsHeartbeat,
        image: Arc<MetadataImage>,
        reply: oneshot::Sender<Result<StreamsHeartbeatAnswer, GroupError>>,
    },
    /// OffsetFetch v9's member check.
    ValidateOffsetFetch {
        member_id: Option<String>,
        member_epoch: i32,
        reply: oneshot::Sender<Result<(), ResponseError>>,
    },
    Heartbeat {
        member_id: String,
        generation_id: i32,
        group_instance_id: Option<String>,
        image: Arc<MetadataImage>,
        reply: oneshot::Sender<Option<ResponseError>>,
    },
    Leave {
        members: Vec<(String, Option<String>)>,
        reply: oneshot::Sender<Vec<Result<String, ResponseError>>>,
    },
    /// OffsetCommit, or TxnOffsetCommit when `producer` is given.
    Commit {
        producer: Option<TxnProducer>,
        member_id: String,
        generation_id: i32,
        group_instance_id: Option<String>,
        /// The request's version (consumer-group members need v9+).
        api_version: i16,
        offsets: Vec<(TopicPartition, CommittedOffset)>,
        reply: oneshot::Sender<Result<PartitionResults, ResponseError>>,
    },
    FetchOffsets {
        partitions: Option<Vec<TopicPartition>>,
        reply: oneshot::Sender<Vec<(TopicPartition, Option<CommittedOffset>)>>,
    },
    DeleteOffsets {
        partitions: Vec<TopicPartition>,
        reply: oneshot::Sender<Result<PartitionResults, ResponseError>>,
    },
    CompleteTxn {
        producer_id: i64,
        commit: bool,
        reply: oneshot::Sender<()>,
    },
    /// Partitions with offsets pending in an open transaction.
    UnstablePartitions(oneshot::Sender<Vec<TopicPartition>>),
    Describe(oneshot::Sender<GroupDescription>),
    Delete(oneshot::Sender<Result<(), ResponseError>>),
}

/// The transactional producer an offset commit belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxnProducer {
    pub producer_id: i64,
    pub producer_epoch: i16,
}

/// Where a group's records go: its `__consumer_offsets` partition.
pub(super) struct GroupStorage {
    pub partitions: Arc<Partitions>,
    pub topic_partition: TopicPartition,
}

impl GroupStorage {
    /// Appends key/value records (a `None` value is a tombstone).
    async fn append(&self, records: &[(Vec<u8>, Option<Vec<u8>>)]) -> Result<(), ResponseError> {
        self.append_as(records, None).await
    }

    /// Appends records, as part of a producer's transaction if given: the
    /// log then fences older producer epochs, and the transaction's marker
    /// decides on replay whether the records count.
    async fn append_as(
        &self,
        records: &[(Vec<u8>, Option<Vec<u8>>)],
        producer: Option<TxnProducer>,
    ) -> Result<(), ResponseError> {
        if records.is_empty() {
            return Ok(());
        }
        let partition = self
            .partitions
            .get(&self.topic_partition)
            .ok_or(ResponseError::CoordinatorNotAvailable)?;
        let now = now_ms();
        let mut builder = BatchBuilder::new(now);
        if let Some(producer) = producer {
            builder = builder
                .idempotent(producer.producer_id, producer.producer_epoch, -1)
                .transactional();
        }
        for (key, value) in records {
            builder.push(now, Some(key), value.as_deref(), &[]);
        }
        partition
            .append_coordinator_records(builder.build())
            .await
            .map(|_| ())
            .map_err(|error| {
                warn!(partition = %self.topic_partition, %error, "writing group records failed");
                match error.kafka_error() {
                    ResponseError::InvalidProducerEpoch => ResponseError::ProducerFenced,
                    _ => ResponseError::CoordinatorNotAvailable,
                }
            })
    }
}

pub(super) struct GroupActor {
    group: Group,
    /// The KIP-848 group of this id, if it is one: a group id is either a
    /// classic group or a consumer group; offsets live in `group` for both.
    consumer: Option<ConsumerGroup>,
    /// The consumer group's records as `__consumer_offsets` has them; what
    /// `consumer` differs by is written before a request is answered.
    consumer_on_disk: Image,
    /// The KIP-1071 streams group of this id, if it is one (its offsets
    /// are in `group`).
    streams: Option<StreamsGroup>,
    /// The streams group's records as `__consumer_offsets` has them.
    streams_on_disk: crate::group::streams::records::Image,
    storage: GroupStorage,
    config: GroupConfig,
    join_waiters: HashMap<String, oneshot::Sender<JoinResult>>,
    sync_waiters: HashMap<String, oneshot::Sender<SyncResult>>,
    next_retention_check: Instant,
    /// The metadata the last member request came with: what a downgrade
    /// at a member's time-out names topics by.
    image: Option<Arc<MetadataImage>>,
}

impl GroupActor {
    /// `consumer_records` are the group's consumer-group records as the
    /// load of its partition found them (empty for none).
    pub fn new(
        group: Group,
        consumer_records: Image,
        streams_records: crate::group::streams::records::Image,
        storage: GroupStorage,
        config: GroupConfig,
    ) -> Self {
        let streams = StreamsGroup::restore(
            &group.group_id,
            config.streams.clone(),
            &streams_records,
            crate::clock::instant(),
        );
        if let Some(streams) = &streams {
            info!(
                group = %group.group_id,
                group_epoch = streams.group_epoch,
                members = streams.members().count(),
                "streams group restored from __consumer_offsets"
            );
        }
        let consumer = ConsumerGroup::restore(
            &group.group_id,
            config.clone(),
            &consumer_records,
            crate::clock::instant(),
        );
        if let Some(consumer) = &consumer {
            info!(
                group = %group.group_id,
                group_epoch = consumer.group_epoch,
                members = consumer.describe().members.len(),
                "consumer group restored from __consumer_offsets"
            );
        }
        GroupActor {
            group,
            consumer,
            consumer_on_disk: consumer_records,
            streams,
            streams_on_disk: streams_records,
            storage,
            next_retention_check: crate::clock::instant() + config.offsets_retention_check_interval,
            config,
            join_waiters: HashMap::new(),
            sync_waiters: HashMap::new(),
            image: None,
        }
    }

    /// Runs until the group is deleted or the coordinator drops its handle;
    /// returns the group id so the coordinator can forget it.
    pub async fn run(mut self, mut commands: mpsc::Receiver<Command>) -> String {
        loop {
            let consumer_deadline = self
                .consumer
                .as_ref()
                .and_then(ConsumerGroup::next_deadline);
            let streams_deadline = self.streams.as_ref().and_then(StreamsGroup::next_deadline);
            let deadline = [
                self.group.next_deadline(),
                consumer_deadline,
                streams_deadline,
            ]
            .into_iter()
            .flatten()
            .fold(self.next_retention_check, Instant::min);
            tokio::select! {
                command = commands.recv() => match command {
                    Some(command) => self.handle(command).await,
                    None => break,
                },
                _ = tokio::time::sleep_until(tokio::time::Instant::from_std(
                    crate::clock::to_real(deadline),
                )) => {}
                // Time travel (a dev broker's test moved the clock): the
                // deadlines may have passed.
                _ = crate::clock::advanced() => {}
            }
            let now = crate::clock::instant();
            let events = self.group.poll(now, now_ms());
            self.apply(events).await;
            let image = self.image.clone();
            self.expire_consumer_members(now, image.as_deref()).await;
            self.expire_streams_members(now).await;
            if now >= self.next_retention_check {
                self.next_retention_check = now + self.config.offsets_retention_check_interval;
                self.expire_offsets().await;
            }
            if self.group.state == GroupState::Dead {
                break;
            }
        }
        self.group.group_id.clone()
    }

    async fn handle(&mut self, command: Command) {
        let now = crate::clock::instant();
        let now_ms = now_ms();
        match &command {
            Command::Join(_, image, _)
            | Command::Sync(_, image, _)
            | Command::ConsumerHeartbeat { image, .. }
            | Command::StreamsHeartbeat { image, .. }
            | Command::Heartbeat { image, .. } => self.image = Some(image.clone()),
            _ => {}
        }
        match command {
            Command::Join(request, image, reply) => {
                if self.streams_group_keeps_the_id() {
                    let _ = reply.send(JoinResult::error(
                        ResponseError::InconsistentGroupProtocol,
                        "",
                    ));
                    return;
                }
                if let Err(error) = self.persist_streams().await {
                    let _ = reply.send(JoinResult::error(error.code(), &request.member_id));
                    return;
                }
                // A consumer group with members takes classic members in.
                if let Some(consumer) = self.consumer.as_mut().filter(|c| !c.is_empty()) {
                    let member_id = request.member_id.clone();
                    // A classic static member taking over a consumer
                    // member's instance may leave classic members only.
                    let replaces_consumer = member_id.is_empty()
                        && request
                            .group_instance_id
                            .as_deref()
                            .and_then(|instance_id| consumer.member_of_instance(instance_id))
                            .is_some_and(|m| !m.uses_classic_protocol());
                    let result = consumer.classic_join(now, &image, request);
                    if replaces_consumer && result.error.is_none() {
                        // Kafka downgrades then and there, without a
                        // rebalance: the newcomer has the old one's partitions.
                        if let Some(Err(error)) = self.downgrade(now, &image, None).await {
                            let _ = reply.send(JoinResult::error(error.code(), &member_id));
                            return;
                        }
                    }
                    let result = match self.persist_consumer().await {
                        Ok(()) => result,
                        Err(error) => JoinResult::error(error.code(), &member_id),
                    };
                    let _ = reply.send(result);
                    return;
                }
                // The empty consumer group gives way to a classic one.
                self.consumer = None;
                if let Err(error) = self.persist_consumer().await {
                    let _ = reply.send(JoinResult::error(error.code(), &request.member_id));
                    return;
                }
                let (outcome, events) = self.group.join(now, now_ms, request);
                match outcome {
                    Outcome::Respond(result) => {
                        let _ = reply.send(result);
                    }
                    Outcome::Wait { member_id } => {
                        self.join_waiters.insert(member_id, reply);
                    }
                }
                self.apply(events).await;
            }
            Command::Sync(request, image, reply) => {
                if let Some(consumer) = self.consumer.as_mut() {
                    let result = consumer.classic_sync(now, &image, &request);
                    let _ = reply.send(result);
                    return;
                }
                let (outcome, events) = self.group.sync(now, now_ms, request);
                match outcome {
                    Outcome::Respond(result) => {
                        let _ = reply.send(result);
                    }
                    Outcome::Wait { member_id } => {
                        self.sync_waiters.insert(member_id, reply);
                    }
                }
                self.apply(events).await;
            }
            Command::ConsumerHeartbeat { reply, .. } if self.streams.is_some() => {
                let _ = reply.send(Err(GroupError::GroupIdNotFound(format!(
                    "Group {} is not a consumer group.",
                    self.group.group_id
                ))));
            }
            Command::StreamsHeartbeat {
                request,
                image,
                reply,
            } => {
                let result = self.streams_heartbeat(now, &image, request);
                // The answer waits for the group's records.
                let result = match self.persist_streams().await {
                    Ok(()) => result,
                    Err(error) => Err(error),
                };
                let _ = reply.send(result);
            }
            Command::ConsumerHeartbeat {
                request,
                image,
                reply,
            } => {
                let result = match self.downgrade_on_leave(now, &image, &request).await {
                    Some(result) => result,
                    None => self.consumer_heartbeat(now, &image, request).await,
                };
                // The answer waits for the group's records, whatever it is:
                // a refused heartbeat may have changed the group too.
                let result = match self.persist_consumer().await {
                    Ok(()) => result,
                    Err(error) => Err(error),
                };
                let _ = reply.send(result);
            }
            Command::ValidateOffsetFetch {
                member_id,
                member_epoch,
                reply,
            } => {
                let result = match (&self.consumer, &self.streams, member_id) {
                    (Some(consumer), _, member_id) => consumer
                        .validate_offset_fetch(member_id.as_deref(), member_epoch)
                        .map_err(|e| e.code()),
                    (_, Some(streams), Some(member_id)) if member_epoch >= 0 => streams
                        .validate_offset_fetch(&member_id, member_epoch)
                        .map_err(|e| e.code()),
                    _ => Ok(()),
                };
                let _ = reply.send(result);
            }
            Command::Heartbeat {
                member_id,
                generation_id,
                group_instance_id,
                image: _,
                reply,
            } => {
                let error = match self.consumer.as_mut() {
                    Some(consumer) => consumer.classic_heartbeat(
                        now,
                        &member_id,
                        generation_id,
                        group_instance_id.as_deref(),
                    ),
                    None => self.group.heartbeat(
                        now,
                        &member_id,
                        generation_id,
                        group_instance_id.as_deref(),
                    ),
                };
                let _ = reply.send(error);
            }
            Command::Leave { members, reply } if self.consumer.is_some() => {
                let results = members
                    .iter()
                    .map(|(member_id, instance_id)| match self.consumer.as_mut() {
                        Some(consumer) => consumer.classic_leave(member_id, instance_id.as_deref()),
                        None => Err(ResponseError::UnknownMemberId),
                    })
                    .collect();
                let results = match self.persist_consumer().await {
                    Ok(()) => results,
                    Err(error) => vec![Err(error.code()); members.len()],
                };
                let _ = reply.send(results);
            }
            Command::Leave { members, reply } => {
                let mut events = Vec::new();
                let results = members
                    .iter()
                    .map(|(member_id, instance_id)| {
                        self.group.leave(
                            now,
                            now_ms,
                            member_id,
                            instance_id.as_deref(),
                            &mut events,
                        )
                    })
                    .collect();
                self.apply(events).await;
                let _ = reply.send(results);
            }
            Command::Commit {
                producer,
                member_id,
                generation_id,
                group_instance_id,
                api_version,
                offsets,
                reply,
            } => {
                let result = self
                    .commit(
                        producer,
                        (&member_id, generation_id, group_instance_id.as_deref()),
                        api_version,
                        offsets,
                    )
                    .await;
                let _ = reply.send(result);
            }
            Command::CompleteTxn {
                producer_id,
                commit,
                reply,
            } => {
                self.group.complete_txn(producer_id, commit);
                let _ = reply.send(());
            }
            Command::UnstablePartitions(reply) => {
                let mut partitions: Vec<TopicPartition> = self
                    .group
                    .pending_txn_offsets
                    .values()
                    .flat_map(|offsets| offsets.keys().cloned())
                    .collect();
                partitions.sort();
                partitions.dedup();
                let _ = reply.send(partitions);
            }
            Command::FetchOffsets { partitions, reply } => {
                let offsets = match partitions {
                    Some(partitions) => partitions
                        .into_iter()
                        .map(|p| {
                            let offset = self.group.offsets.get(&p).cloned();
                            (p, offset)
                        })
                        .collect(),
                    None => {
                        let mut all: Vec<_> = self
                            .group
                            .offsets
                            .iter()
                            .map(|(p, o)| (p.clone(), Some(o.clone())))
                            .collect();
                        all.sort_by(|a, b| a.0.cmp(&b.0));
                        all
                    }
                };
                let _ = reply.send(offsets);
            }
            Command::DeleteOffsets { partitions, reply } => {
                let result = self.delete_offsets(partitions).await;
                let _ = reply.send(result);
            }
            Command::Describe(reply) => {
                let _ = reply.send(self.describe());
            }
            Command::Delete(reply) => {
                let result = self.delete(now_ms).await;
                let _ = reply.send(result);
            }
        }
    }

    /// Persists first, then answers the members that waited: a SyncGroup
    /// answer means the assignment is on disk.
    async fn apply(&mut self, events: Vec<Event>) {
        let mut persisted = true;
        if events.contains(&Event::PersistGroup) {
            let stored = match group_record(&self.group) {
                Ok(record) => self.storage.append(&[record]).await,
                Err(error) => Err(unstorable(&self.group.group_id, error)),
            };
            if let Err(error) = stored {
                warn!(group = %self.group.group_id, ?error, "persisting group metadata failed");
                persisted = false;
            }
        }
        for event in events {
            match event {
                Event::Joined { member_id, result } => {
                    if let Some(reply) = self.join_waiters.remove(&member_id) {
                        let _ = reply.send(result);
                    }
                }
                Event::Synced { member_id, result } => {
                    // An assignment that is not on disk is not handed out:
                    // members retry, as Kafka's would.
                    let result = match persisted || result.error.is_some() {
                        true => result,
                        false => SyncResult::error(ResponseError::CoordinatorNotAvailable),
                    };
                    if let Some(reply) = self.sync_waiters.remove(&member_id) {
                        let _ = reply.send(result);
                    }
                }
                Event::PersistGroup => {}
            }
        }
    }

    /// OffsetCommit, checked against the group's membership; or, with a
    /// producer, TxnOffsetCommit: written now in the producer's
    /// transaction, counting once its commit marker is written.
    async fn commit(
        &mut self,
        producer: Option<TxnProducer>,
        (member_id, generation_id, group_instance_id): (&str, i32, Option<&str>),
        api_version: i16,
        offsets: Vec<(TopicPartition, CommittedOffset)>,
    ) -> Result<PartitionResults, ResponseError> {
        if let Some(streams) = &self.streams {
            let anonymous = producer.is_some()
                && generation_id == -1
                && member_id.is_empty()
                && group_instance_id.is_none();
            if !anonymous {
                let partitions: Vec<(String, i32)> = offsets
                    .iter()
                    .map(|(p, _)| (p.topic.clone(), p.partition))
                    .collect();
                streams
                    .validate_offset_commit(
                        member_id,
                        generation_id,
                        &partitions,
                        producer.is_none().then_some(api_version),
                    )
                    .map_err(|e| e.code())?;
            }
            return self.store_offsets(offsets, producer).await;
        }
        if let Some(consumer) = &self.consumer {
            // TxnOffsetCommit need not name a member: one that names
            // none is not checked (Kafka's ConsumerGroup does the same).
            let anonymous = producer.is_some()
                && generation_id == -1
                && member_id.is_empty()
                && group_instance_id.is_none();
            if !anonymous {
                consumer
                    .validate_offset_commit(
                        member_id,
                        generation_id,
                        producer.is_some(),
                        api_version,
                    )
                    .map_err(|e| e.code())?;
            }
            return self.store_offsets(offsets, producer).await;
        }
        match producer {
            None => self
                .group
                .validate_commit(member_id, generation_id, group_instance_id)?,
            Some(_) => {
                self.group
                    .validate_txn_commit(member_id, generation_id, group_instance_id)?
            }
        }
        self.store_offsets(offsets, producer).await
    }

    /// Writes offsets (in a transaction if `producer` is given), then
    /// applies them: committed, or pending the transaction's outcome.
    async fn store_offsets(
        &mut self,
        offsets: Vec<(TopicPartition, CommittedOffset)>,
        producer: Option<TxnProducer>,
    ) -> Result<PartitionResults, ResponseError> {
        // Kafka's offset.metadata.max.bytes, within what its record's
        // i16-length string can hold whatever the setting.
        let max_metadata = self.config.offset_metadata_max_bytes.min(MAX_STRING_LENGTH);
        let mut results = Vec::with_capacity(offsets.len());
        let mut accepted = Vec::new();
        let mut records = Vec::new();
        for (partition, offset) in offsets {
            if offset.metadata.len() > max_metadata {
                results.push((partition, Some(ResponseError::OffsetMetadataTooLarge)));
                continue;
            }
            let record = log_format::offset_key(&self.group.group_id, &partition)
                .and_then(|key| Ok((key, Some(log_format::offset_value(&offset)?))));
            match record {
                Ok(record) => {
                    records.push(record);
                    accepted.push((partition, offset));
                }
                Err(error) => {
                    let error = unstorable(&self.group.group_id, error);
                    results.push((partition, Some(error)));
                }
            }
        }
        let stored = self.storage.append_as(&records, producer).await;
        for (partition, offset) in accepted {
            match stored {
                Ok(()) => {
                    let target = match producer {
                        Some(producer) => self
                            .group
                            .pending_txn_offsets
                            .entry(producer.producer_id)
                            .or_default(),
                        None => &mut self.group.offsets,
                    };
                    target.insert(partition.clone(), offset);
                    results.push((partition, None));
                }
                Err(error) => results.push((partition, Some(error))),
            }
        }
        Ok(results)
    }

    async fn delete_offsets(
        &mut self,
        partitions: Vec<TopicPartition>,
    ) -> Result<PartitionResults, ResponseError> {
        if self.group.state == GroupState::Dead {
            return Err(ResponseError::GroupIdNotFound);
        }
        let mut results = Vec::with_capacity(partitions.len());
        let mut tombstones = Vec::new();
        for partition in partitions {
            let consumer_subscribed = self
                .consumer
                .as_ref()
                .is_some_and(|c| c.is_subscribed_to(&partition.topic))
                || self
                    .streams
                    .as_ref()
                    .is_some_and(|s| !s.is_empty() && s.reads_topic(&partition.topic));
            if consumer_subscribed
                || (self.group.state != GroupState::Empty
                    && self.group.is_subscribed_to(&partition.topic))
            {
                results.push((partition, Some(ResponseError::GroupSubscribedToTopic)));
                continue;
            }
            if self.group.offsets.remove(&partition).is_some() {
                let key = log_format::offset_key(&self.group.group_id, &partition)
                    .map_err(|error| unstorable(&self.group.group_id, error))?;
                tombstones.push((key, None));
            }
            results.push((partition, None));
        }
        self.storage.append(&tombstones).await?;
        Ok(results)
    }

    async fn delete(&mut self, now_ms: i64) -> Result<(), ResponseError> {
        if self.consumer.as_ref().is_some_and(|c| !c.is_empty())
            || self.streams.as_ref().is_some_and(|s| !s.is_empty())
        {
            return Err(ResponseError::NonEmptyGroup);
        }
        self.streams = None;
        let partitions: Vec<TopicPartition> = self.group.offsets.keys().cloned().collect();
        self.group.delete(now_ms)?;
        self.consumer = None;
        let group_id = &self.group.group_id;
        // The consumer group's tombstones first, as Kafka writes them.
        let mut tombstones = records::changes(group_id, &self.consumer_on_disk, &Image::new())
            .map_err(|error| unstorable(group_id, error))?;
        for partition in &partitions {
            let key = log_format::offset_key(group_id, partition)
                .map_err(|error| unstorable(group_id, error))?;
            tombstones.push((key, None));
        }
        tombstones.extend(
            crate::group::streams::records::changes(
                group_id,
                &self.streams_on_disk,
                &Default::default(),
            )
            .map_err(|error| unstorable(group_id, error))?,
        );
        let group_key =
            log_format::group_key(group_id).map_err(|error| unstorable(group_id, error))?;
        tombstones.push((group_key, None));
        self.storage.append(&tombstones).await?;
        self.consumer_on_disk.clear();
        self.streams_on_disk.clear();
        info!(group = %self.group.group_id, "deleted group");
        Ok(())
    }

    /// Writes the consumer group's records that changed since the last
    /// write (tombstones for what went), and waits for them. If they cannot
    /// be written the group goes back to what is on disk, as Kafka's
    /// coordinator reverts a change whose records failed; the members then
    /// retry.
    async fn persist_consumer(&mut self) -> Result<(), GroupError> {
        let image = self
            .consumer
            .as_ref()
            .map(ConsumerGroup::image)
            .unwrap_or_default();
        if image == self.consumer_on_disk {
            return Ok(());
        }
        let group_id = &self.group.group_id;
        let stored = match records::changes(group_id, &self.consumer_on_disk, &image) {
            Ok(records) => self.storage.append(&records).await,
            Err(error) => Err(unstorable(group_id, error)),
        };
        match stored {
            Ok(()) => {
                self.consumer_on_disk = image;
                Ok(())
            }
            Err(error) => {
                warn!(group = %group_id, ?error, "persisting the consumer group failed; undoing the change");
                self.consumer = ConsumerGroup::restore(
                    group_id,
                    self.config.clone(),
                    &self.consumer_on_disk,
                    crate::clock::instant(),
                );
                Err(GroupError::CoordinatorNotAvailable(format!(
                    "The records of group {group_id} could not be written: {error:?}."
                )))
            }
        }
    }

    /// Offsets of a group left empty for `offsets.retention.minutes` expire,
    /// and with them the group.
    async fn expire_offsets(&mut self) {
        let retention = self.config.offsets_retention;
        let now_ms = now_ms();
        let expired = self.group.state == GroupState::Empty
            && self.consumer.as_ref().is_none_or(ConsumerGroup::is_empty)
            && self.streams.as_ref().is_none_or(StreamsGroup::is_empty)
            && !self.group.offsets.is_empty()
            && now_ms - self.group.state_timestamp >= retention.as_millis() as i64;
        if expired {
            info!(group = %self.group.group_id, "offsets expired after offsets.retention.minutes");
            if let Err(error) = self.delete(now_ms).await {
                warn!(group = %self.group.group_id, ?error, "expiring offsets failed");
            }
        }
    }

    fn describe(&self) -> GroupDescription {
        let stable = self.group.state == GroupState::Stable;
        let protocol = self.group.protocol_name.clone().unwrap_or_default();
        GroupDescription {
            group_id: self.group.group_id.clone(),
            state: self.group.state,
            protocol_type: self.group.protocol_type.clone().unwrap_or_default(),
            protocol_name: if stable {
                protocol.clone()
            } else {
                String::new()
            },
            members: self
                .group
                .members()
                .map(|m| MemberDescription {
                    member_id: m.member_id.clone(),
                    group_instance_id: m.group_instance_id.clone(),
                    client_id: m.client_id.clone(),
                    client_host: m.client_host.clone(),
                    metadata: if stable {
                        m.protocols
                            .iter()
                            .find(|(name, _)| *name == protocol)
                            .map(|(_, meta)| meta.clone())
                            .unwrap_or_default()
                    } else {
                        Bytes::new()
                    },
                    assignment: if stable {
                        m.assignment.clone()
                    } else {
                        Bytes::new()
                    },
                })
                .collect(),
            consumer: self.consumer.as_ref().map(ConsumerGroup::describe),
            streams: self.streams.as_ref().map(StreamsGroup::describe),
        }
    }

    /// The online upgrade: the classic group's members move into a new
    /// consumer group. Its records (and the classic group's tombstone) are
    /// written first; if they cannot be, nothing changes.
    async fn upgrade(&mut self, now: Instant, image: &MetadataImage) -> Result<(), GroupError> {
        let consumer = migration::upgrade(&self.group, &self.config, image, now)?;
        let group_id = &self.group.group_id;
        let image_after = consumer.image();
        let records = log_format::group_key(group_id)
            .and_then(|key| {
                let mut records = vec![(key, None)];
                records.extend(records::changes(
                    group_id,
                    &self.consumer_on_disk,
                    &image_after,
                )?);
                Ok(records)
            })
            .map_err(|error| unstorable(group_id, error));
        if let Err(error) = match records {
            Ok(records) => self.storage.append(&records).await,
            Err(error) => Err(error),
        } {
            warn!(group = %group_id, ?error, "writing the upgraded group failed");
            return Err(GroupError::CoordinatorNotAvailable(format!(
                "The records of group {group_id} could not be written: {error:?}."
            )));
        }
        self.consumer_on_disk = image_after;
        self.consumer = Some(consumer);
        let events = self.group.hand_over_members(now_ms());
        self.apply(events).await;
        Ok(())
    }

    /// A consumer-protocol member leaving a group in which only classic
    /// members would remain: the online downgrade, if the policy allows
    /// it. `None` when this is not such a leave.
    async fn downgrade_on_leave(
        &mut self,
        now: Instant,
        image: &MetadataImage,
        request: &Heartbeat,
    ) -> Option<Result<HeartbeatAnswer, GroupError>> {
        if request.member_epoch != super::consumer::LEAVE_GROUP_MEMBER_EPOCH {
            return None;
        }
        let leaving = request.member_id.clone();
        let result = self.downgrade(now, image, Some(&leaving)).await?;
        Some(result.map(|()| HeartbeatAnswer {
            member_id: leaving,
            member_epoch: super::consumer::LEAVE_GROUP_MEMBER_EPOCH,
            heartbeat_interval_ms: 0,
            assignment: None,
        }))
    }

    /// Turns the consumer group into a classic group without `leaving`
    /// (`None`: with every member, all classic now), if Kafka would
    /// ([`migration::downgrade`]): the consumer group's tombstones and the
    /// classic group's record go in one batch; then, if a member left, the
    /// classic members rebalance. `None` if the group stays as it is.
    async fn downgrade(
        &mut self,
        now: Instant,
        image: &MetadataImage,
        leaving: Option<&str>,
    ) -> Option<Result<(), GroupError>> {
        let now_ms = now_ms();
        let consumer = self.consumer.as_ref()?;
        let metadata = migration::downgrade(consumer, leaving, &self.config, image, now_ms)?;
        let group_id = self.group.group_id.clone();
        let mut classic = Group::new(&group_id, self.config.clone(), now_ms);
        classic.restore(metadata.clone(), now);
        let records = records::changes(&group_id, &self.consumer_on_disk, &Image::new())
            .and_then(|mut records| {
                records.push(group_record(&classic)?);
                Ok(records)
            })
            .map_err(|error| unstorable(&group_id, error));
        let stored = match records {
            Ok(records) => self.storage.append(&records).await,
            Err(error) => Err(error),
        };
        if let Err(error) = stored {
            warn!(group = %group_id, ?error, "writing the downgraded group failed");
            return Some(Err(GroupError::CoordinatorNotAvailable(format!(
                "The records of group {group_id} could not be written: {error:?}."
            ))));
        }
        self.consumer = None;
        self.consumer_on_disk.clear();
        self.group.restore(metadata, now);
        match leaving {
            Some(leaving) => {
                info!(group = %group_id, member = %leaving, "the last consumer-protocol member left: the group is a classic group again");
                let events = self.group.rebalance(now, now_ms);
                self.apply(events).await;
            }
            None => {
                info!(group = %group_id, "a classic member took over the last consumer-protocol member's instance: the group is a classic group again");
            }
        }
        Some(Ok(()))
    }

    /// Removes the consumer group's members whose time ran out; the last
    /// consumer-protocol member among classic ones downgrades the group.
    async fn expire_consumer_members(&mut self, now: Instant, image: Option<&MetadataImage>) {
        let Some(consumer) = self.consumer.as_ref() else {
            return;
        };
        let expired = consumer.expired_members(now);
        if expired.is_empty() {
            return;
        }
        for member_id in &expired {
            if let Some(image) = image {
                if let Some(result) = self.downgrade(now, image, Some(member_id)).await {
                    match result {
                        Ok(()) => return,
                        Err(error) => {
                            warn!(group = %self.group.group_id, %error, "downgrading the group failed; removing the member")
                        }
                    }
                }
            }
            let Some(consumer) = self.consumer.as_mut() else {
                return;
            };
            info!(group = %self.group.group_id, member = %member_id, "consumer group member removed: session or rebalance timeout");
            consumer.fence(member_id);
        }
        // On failure the members are back, with new sessions.
        let _ = self.persist_consumer().await;
    }

    /// A ConsumerGroupHeartbeat: the group becomes a consumer group on a
    /// join, holding the classic group's members if it had any (an online
    /// upgrade, if the migration policy allows it).
    async fn consumer_heartbeat(
        &mut self,
        now: Instant,
        image: &MetadataImage,
        request: Heartbeat,
    ) -> Result<HeartbeatAnswer, GroupError> {
        let joining = request.member_epoch == super::consumer::JOIN_GROUP_MEMBER_EPOCH;
        if self.consumer.is_none() && !self.group.is_empty() {
            if !joining {
                return Err(GroupError::GroupIdNotFound(format!(
                    "Group {} is not a consumer group.",
                    self.group.group_id
                )));
            }
            self.upgrade(now, image).await?;
        }
        if self.consumer.is_none() {
            // No consumer group of this id, in memory or on disk: only a
            // join makes one.
            if !joining {
                return Err(GroupError::UnknownMemberId(format!(
                    "Member {} is not a member of group {}.",
                    request.member_id, self.group.group_id
                )));
            }
            self.consumer = Some(ConsumerGroup::new(
                &self.group.group_id,
                self.config.clone(),
            ));
        }
        let consumer = self
            .consumer
            .as_mut()
            .ok_or_else(|| GroupError::GroupIdNotFound(self.group.group_id.clone()))?;
        consumer.heartbeat(now, image, request)
    }
}

/// The group metadata record of `group`.
fn group_record(group: &Group) -> Result<(Vec<u8>, Option<Vec<u8>>), StringTooLong> {
    Ok((
        log_format::group_key(&group.group_id)?,
        Some(log_format::group_value(group)?),
    ))
}

/// A record that cannot be written because a string in it is longer than
/// Kafka's record format holds. The handlers refuse such strings first;
/// this is what answers if one gets through.
fn unstorable(group_id: &str, error: StringTooLong) -> ResponseError {
    warn!(group = %group_id, %error, "refusing to write a __consumer_offsets record");
    ResponseError::InvalidRequest
}
