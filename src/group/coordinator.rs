//! Routes group requests to each group's actor, starting actors on demand,
//! and rebuilds every group's state from `__consumer_offsets` at start-up.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use kafka_protocol::error::ResponseError;
use tokio::sync::{mpsc, oneshot};
use tracing::{info, warn};

use super::actor::{
    Command, GroupActor, GroupDescription, GroupStorage, PartitionResults, TxnProducer,
};
use super::consumer::records::{self, Image};
use super::consumer::{GroupError, Heartbeat, HeartbeatAnswer};
use super::log_format::{self, Key};
use super::state::{
    CommittedOffset, Group, GroupState, JoinRequest, JoinResult, SyncRequest, SyncResult,
};
use super::streams::{StreamsHeartbeat, StreamsHeartbeatAnswer};
use super::{partition_for, GroupConfig, OFFSETS_TOPIC};
use crate::log::LogError;
use crate::metadata::MetadataImage;
use crate::partition::{loaded, Partitions};
use crate::records::batch::Batch;
use crate::records::control::TxnMarker;
use crate::records::record::Record;
use crate::types::now_ms;
use crate::types::TopicPartition;

/// Commands queued per group before senders wait.
const GROUP_QUEUE: usize = 256;

pub struct GroupCoordinator {
    config: GroupConfig,
    partitions: Arc<Partitions>,
    running: Mutex<HashMap<String, mpsc::Sender<Command>>>,
    /// Groups restored from the log that no request has touched yet.
    restored: Mutex<HashMap<String, Restored>>,
    /// Groups holding offsets of each producer's open transaction, so that
    /// the transaction coordinator's outcome reaches them.
    txn_groups: Mutex<HashMap<i64, std::collections::BTreeSet<String>>>,
    /// The `__consumer_offsets` partitions this broker leads and has
    /// loaded: it coordinates exactly the groups that hash to them.
    owned: crate::partition::loaded::LoadedPartitions,
}

/// Records of open transactions met while loading a partition, by producer.
type PendingRecords = HashMap<i64, Vec<(Vec<u8>, Option<Vec<u8>>)>>;

/// A group as the load of its partition left it: the classic state with
/// the offsets, and the records of its KIP-848 consumer group, which its
/// actor folds back into the group when it starts.
struct Restored {
    group: Group,
    consumer: Image,
    streams: super::streams::records::Image,
    /// Whether the classic group's metadata record stands (not a
    /// tombstone): an empty classic group keeps its generation.
    classic_record: bool,
}

impl Restored {
    fn new(group_id: &str, config: &GroupConfig) -> Restored {
        Restored {
            group: Group::new(group_id, config.clone(), now_ms()),
            consumer: Image::new(),
            streams: Default::default(),
            classic_record: false,
        }
    }

    /// Whether anything of the group is left once its records are read.
    fn exists(&self) -> bool {
        self.classic_record
            || !self.consumer.is_empty()
            || !self.streams.is_empty()
            || !self.group.offsets.is_empty()
            || !self.group.pending_txn_offsets.is_empty()
    }
}

/// The answer when a group's actor is gone mid-request (shutdown).
const GONE: ResponseError = ResponseError::CoordinatorNotAvailable;

impl GroupCoordinator {
    pub fn new(config: GroupConfig, partitions: Arc<Partitions>) -> GroupCoordinator {
        GroupCoordinator {
            config,
            partitions,
            running: Mutex::new(HashMap::new()),
            restored: Mutex::new(HashMap::new()),
            txn_groups: Mutex::new(HashMap::new()),
            owned: Default::default(),
        }
    }

    fn offsets_partition(&self, group_id: &str) -> i32 {
        partition_for(group_id, self.config.offsets_topic_num_partitions)
    }

    /// Whether this broker coordinates `group_id` (it leads the group's
    /// `__consumer_offsets` partition and has loaded it); others answer
    /// NOT_COORDINATOR, as Kafka's do.
    pub fn coordinates(&self, group_id: &str) -> bool {
        self.owned.contains(self.offsets_partition(group_id))
    }

    /// This broker stopped leading `__consumer_offsets-<index>`: its groups
    /// go (their actors stop once in-flight requests are answered).
    pub fn unload_partition(&self, index: i32) {
        if !self.owned.remove(index) {
            return;
        }
        let of_partition = |group_id: &String| self.offsets_partition(group_id) == index;
        self.running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|group_id, _| !of_partition(group_id));
        self.restored
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|group_id, _| !of_partition(group_id));
        info!(
            partition = index,
            "no longer coordinating the groups of this partition"
        );
    }

    pub fn config(&self) -> &GroupConfig {
        &self.config
    }

    /// This broker now leads `__consumer_offsets-<index>`: replays it
    /// (the last record per key wins, tombstones delete; offsets written in
    /// a transaction count once its commit marker is read, and stay pending
    /// if no marker came yet) and coordinates its groups from then on.
    /// Blocking: called while the metadata image is applied.
    pub fn load_partition(&self, index: i32) -> Result<(), LogError> {
        let mut groups: HashMap<String, Restored> = HashMap::new();
        let mut records = 0usize;
        let skipped;
        {
            let topic_partition = TopicPartition::new(OFFSETS_TOPIC, index);
            let Some(partition) = self.partitions.get(&topic_partition) else {
                return Ok(());
            };
            let mut pending = PendingRecords::new();
            skipped = loaded::replay(&partition, |batch, batch_records| {
                records += self.load_batch(batch, batch_records, &mut groups, &mut pending);
            })?;
            self.restore_pending(&mut groups, pending);
        }
        groups.retain(|_, restored| restored.exists());
        if !groups.is_empty() || records > 0 || skipped > 0 {
            info!(
                partition = index,
                groups = groups.len(),
                consumer_groups = groups.values().filter(|g| !g.consumer.is_empty()).count(),
                records,
                skipped,
                "group coordinator loaded a __consumer_offsets partition"
            );
        }
        // Groups of this partition from an earlier leadership are stale.
        let of_partition = |group_id: &String| self.offsets_partition(group_id) == index;
        self.running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|group_id, _| !of_partition(group_id));
        let mut restored = self.restored.lock().unwrap_or_else(|p| p.into_inner());
        restored.retain(|group_id, _| !of_partition(group_id));
        restored.extend(groups);
        self.owned.insert(index);
        Ok(())
    }

    /// Applies one batch of `__consumer_offsets`; returns the records read.
    fn load_batch(
        &self,
        batch: &Batch<'_>,
        records: &[Record<'_>],
        groups: &mut HashMap<String, Restored>,
        pending: &mut PendingRecords,
    ) -> usize {
        if let Some(marker) = TxnMarker::of(batch) {
            if let Some(records) = pending.remove(&marker.producer_id) {
                if marker.commit {
                    for (key, value) in &records {
                        self.replay(groups, Some(key), value.as_deref());
                    }
                }
            }
            return 0;
        }
        if batch.is_control() {
            return 0;
        }
        if batch.is_transactional() {
            let open = pending.entry(batch.producer_id()).or_default();
            open.extend(records.iter().map(|r| {
                (
                    r.key.unwrap_or_default().to_vec(),
                    r.value.map(<[u8]>::to_vec),
                )
            }));
            return records.len();
        }
        for record in records {
            self.replay(groups, record.key, record.value);
        }
        records.len()
    }

    /// Offsets of transactions still open at the end of the log wait in
    /// their groups for the coordinator's outcome.
    fn restore_pending(&self, groups: &mut HashMap<String, Restored>, pending: PendingRecords) {
        let mut txn_groups = self.txn_groups.lock().unwrap_or_else(|p| p.into_inner());
        for (producer_id, records) in pending {
            for (key, value) in records {
                let Some(Key::Offset { group, partition }) = log_format::decode_key(&key) else {
                    continue;
                };
                let Some(offset) = value.as_deref().and_then(log_format::decode_offset_value)
                else {
                    continue;
                };
                groups
                    .entry(group.clone())
                    .or_insert_with(|| Restored::new(&group, &self.config))
                    .group
                    .pending_txn_offsets
                    .entry(producer_id)
                    .or_default()
                    .insert(partition, offset);
                txn_groups.entry(producer_id).or_default().insert(group);
            }
        }
    }

    fn replay(
        &self,
        groups: &mut HashMap<String, Restored>,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
    ) {
        let Some(key) = key.and_then(log_format::decode_key) else {
            warn!("skipping unreadable __consumer_offsets record");
            return;
        };
        let group_id = match &key {
            Key::Offset { group, .. }
            | Key::Group { group }
            | Key::Consumer { group, .. }
            | Key::Streams { group, .. } => group.clone(),
        };
        let restored = groups
            .entry(group_id.clone())
            .or_insert_with(|| Restored::new(&group_id, &self.config));
        let group = &mut restored.group;
        match (key, value) {
            (Key::Offset { partition, .. }, Some(value)) => {
                if let Some(offset) = log_format::decode_offset_value(value) {
                    group.offsets.insert(partition, offset);
                }
            }
            (Key::Offset { partition, .. }, None) => {
                group.offsets.remove(&partition);
            }
            (Key::Group { .. }, Some(value)) => {
                if let Some(metadata) = log_format::decode_group_value(value) {
                    group.restore(metadata, crate::clock::instant());
                    restored.classic_record = true;
                }
            }
            (Key::Group { .. }, None) => {
                // The classic group is gone: deleted (its offsets and
                // consumer records have tombstones of their own) or
                // upgraded to a consumer group, whose records follow.
                let mut fresh = Group::new(&group_id, self.config.clone(), now_ms());
                fresh.offsets = std::mem::take(&mut group.offsets);
                fresh.pending_txn_offsets = std::mem::take(&mut group.pending_txn_offsets);
                *group = fresh;
                restored.classic_record = false;
            }
            (Key::Consumer { record, .. }, Some(value)) => {
                match records::decode_value(&record, value) {
                    Some(value) => {
                        restored.consumer.insert(record, value);
                    }
                    None => {
                        warn!(group = %group_id, ?record, "skipping unreadable consumer group record")
                    }
                }
            }
            (Key::Consumer { record, .. }, None) => {
                restored.consumer.remove(&record);
            }
            (Key::Streams { record, .. }, Some(value)) => {
                match super::streams::records::decode_value(&record, value) {
                    Some(value) => {
                        restored.streams.insert(record, value);
                    }
                    None => {
                        warn!(group = %group_id, ?record, "skipping unreadable streams group record")
                    }
                }
            }
            (Key::Streams { record, .. }, None) => {
                restored.streams.remove(&record);
            }
        }
    }

    /// The actor of a group, started if needed. Without `create`, unknown
    /// groups give `None`.
    fn handle(&self, group_id: &str, create: bool) -> Option<mpsc::Sender<Command>> {
        if !self.coordinates(group_id) {
            return None;
        }
        let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(sender) = running.get(group_id) {
            if !sender.is_closed() {
                return Some(sender.clone());
            }
            running.remove(group_id);
        }
        let restored = self
            .restored
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(group_id);
        let restored = match restored {
            Some(restored) => restored,
            None if create => Restored::new(group_id, &self.config),
            None => return None,
        };
        let storage = GroupStorage {
            partitions: Arc::clone(&self.partitions),
            topic_partition: TopicPartition::new(OFFSETS_TOPIC, self.offsets_partition(group_id)),
        };
        let (sender, receiver) = mpsc::channel(GROUP_QUEUE);
        let actor = GroupActor::new(
            restored.group,
            restored.consumer,
            restored.streams,
            storage,
            self.config.clone(),
        );
        tokio::spawn(actor.run(receiver));
        running.insert(group_id.to_string(), sender.clone());
        Some(sender)
    }

    /// Sends a command built around a reply channel and waits for the reply.
    async fn ask<T>(
        &self,
        group_id: &str,
        create: bool,
        command: impl FnOnce(oneshot::Sender<T>) -> Command,
    ) -> Option<T> {
        let sender = self.handle(group_id, create)?;
        let (reply, response) = oneshot::channel();
        sender.send(command(reply)).await.ok()?;
        response.await.ok()
    }

    /// JoinGroup; `image` is the metadata a consumer group's classic
    /// members' subscriptions are resolved in.
    pub async fn join(
        &self,
        group_id: &str,
        request: JoinRequest,
        image: Arc<MetadataImage>,
    ) -> JoinResult {
        let member_id = request.member_id.clone();
        self.ask(group_id, true, |reply| Command::Join(request, image, reply))
            .await
            .unwrap_or_else(|| JoinResult {
                error: Some(GONE),
                generation_id: -1,
                protocol_type: None,
                protocol_name: None,
                leader: String::new(),
                member_id,
                members: Vec::new(),
                skip_assignment: false,
            })
    }

    /// ConsumerGroupHeartbeat (KIP-848): a join (epoch 0) may create the
    /// group; `image` is the metadata its subscriptions are resolved in.
    pub async fn consumer_heartbeat(
        &self,
        group_id: &str,
        request: Heartbeat,
        image: Arc<MetadataImage>,
    ) -> Result<HeartbeatAnswer, GroupError> {
        let joining = request.member_epoch == super::consumer::JOIN_GROUP_MEMBER_EPOCH;
        let member_id = request.member_id.clone();
        let command = |reply| Command::ConsumerHeartbeat {
            request,
            image,
            reply,
        };
        match self.ask(group_id, joining, command).await {
            Some(result) => result,
            None => Err(GroupError::UnknownMemberId(format!(
                "Member {member_id} is not a member of group {group_id}."
            ))),
        }
    }

    /// StreamsGroupHeartbeat (KIP-1071): a join (epoch 0) may create the
    /// group; `image` is the metadata its topology is configured with.
    pub async fn streams_heartbeat(
        &self,
        group_id: &str,
        request: StreamsHeartbeat,
        image: Arc<MetadataImage>,
    ) -> Result<StreamsHeartbeatAnswer, GroupError> {
        let joining = request.member_epoch == super::streams::JOIN_GROUP_MEMBER_EPOCH;
        let command = |reply| Command::StreamsHeartbeat {
            request,
            image,
            reply,
        };
        match self.ask(group_id, joining, command).await {
            Some(result) => result,
            None => Err(GroupError::GroupIdNotFound(format!(
                "Streams group {group_id} not found."
            ))),
        }
    }

    /// OffsetFetch v9 from a member: its epoch must be current.
    pub async fn validate_offset_fetch(
        &self,
        group_id: &str,
        member_id: Option<String>,
        member_epoch: i32,
    ) -> Result<(), ResponseError> {
        let command = |reply| Command::ValidateOffsetFetch {
            member_id,
            member_epoch,
            reply,
        };
        self.ask(group_id, false, command).await.unwrap_or(Ok(()))
    }

    pub async fn sync(
        &self,
        group_id: &str,
        request: SyncRequest,
        image: Arc<MetadataImage>,
    ) -> SyncResult {
        self.ask(group_id, false, |reply| {
            Command::Sync(request, image, reply)
        })
        .await
        .unwrap_or(SyncResult {
            error: Some(ResponseError::UnknownMemberId),
            protocol_type: None,
            protocol_name: None,
            assignment: Bytes::new(),
        })
    }

    pub async fn heartbeat(
        &self,
        group_id: &str,
        member_id: String,
        generation_id: i32,
        group_instance_id: Option<String>,
        image: Arc<MetadataImage>,
    ) -> Option<ResponseError> {
        let command = |reply| Command::Heartbeat {
            member_id,
            generation_id,
            group_instance_id,
            image,
            reply,
        };
        self.ask(group_id, false, command)
            .await
            .unwrap_or(Some(ResponseError::UnknownMemberId))
    }

    /// Removes members by id or instance id; per member the resolved id or
    /// an error.
    pub async fn leave(
        &self,
        group_id: &str,
        members: Vec<(String, Option<String>)>,
    ) -> Result<Vec<Result<String, ResponseError>>, ResponseError> {
        self.ask(group_id, false, |reply| Command::Leave { members, reply })
            .await
            .ok_or(ResponseError::UnknownMemberId)
    }

    pub async fn commit_offsets(
        &self,
        group_id: &str,
        member_id: String,
        generation_id: i32,
        group_instance_id: Option<String>,
        api_version: i16,
        offsets: Vec<(TopicPartition, CommittedOffset)>,
    ) -> Result<PartitionResults, ResponseError> {
        let command = |reply| Command::Commit {
            producer: None,
            member_id,
            generation_id,
            group_instance_id,
            api_version,
            offsets,
            reply,
        };
        // Commits from outside group management create the group.
        self.ask(group_id, true, command).await.unwrap_or(Err(GONE))
    }

    /// TxnOffsetCommit: stores offsets in the producer's transaction.
    pub async fn txn_commit_offsets(
        &self,
        group_id: &str,
        producer: TxnProducer,
        member: (String, i32, Option<String>),
        offsets: Vec<(TopicPartition, CommittedOffset)>,
    ) -> Result<PartitionResults, ResponseError> {
        let (member_id, generation_id, group_instance_id) = member;
        // As Kafka: only a commit from outside group management (no
        // generation) creates a (simple) group.
        let create = generation_id < 0;
        let command = |reply| Command::Commit {
            producer: Some(producer),
            member_id,
            generation_id,
            group_instance_id,
            api_version: -1,
            offsets,
            reply,
        };
        let result = self
            .ask(group_id, create, command)
            .await
            .unwrap_or(Err(match create {
                true => GONE,
                false => ResponseError::GroupIdNotFound,
            }));
        if result.is_ok() {
            self.txn_groups
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .entry(producer.producer_id)
                .or_default()
                .insert(group_id.to_string());
        }
        result
    }

    /// A producer's transaction ended (its marker is written to the offsets
    /// partitions): every group holding its offsets applies or drops them.
    pub async fn complete_txn(&self, producer_id: i64, commit: bool) {
        let groups = self
            .txn_groups
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&producer_id)
            .unwrap_or_default();
        for group_id in groups {
            let command = |reply| Command::CompleteTxn {
                producer_id,
                commit,
                reply,
            };
            self.ask(&group_id, false, command).await;
        }
    }

    /// Partitions whose offsets wait on an open transaction (OffsetFetch
    /// with require_stable answers them UNSTABLE_OFFSET_COMMIT).
    pub async fn unstable_partitions(&self, group_id: &str) -> Vec<TopicPartition> {
        self.ask(group_id, false, Command::UnstablePartitions)
            .await
            .unwrap_or_default()
    }

    /// Committed offsets; `None` partitions means all of the group's.
    pub async fn fetch_offsets(
        &self,
        group_id: &str,
        partitions: Option<Vec<TopicPartition>>,
    ) -> Vec<(TopicPartition, Option<CommittedOffset>)> {
        let requested = partitions.clone();
        match self
            .ask(group_id, false, |reply| Command::FetchOffsets {
                partitions,
                reply,
            })
            .await
        {
            Some(offsets) => offsets,
            None => requested
                .unwrap_or_default()
                .into_iter()
                .map(|p| (p, None))
                .collect(),
        }
    }

    pub async fn delete_offsets(
        &self,
        group_id: &str,
        partitions: Vec<TopicPartition>,
    ) -> Result<PartitionResults, ResponseError> {
        self.ask(group_id, false, |reply| Command::DeleteOffsets {
            partitions,
            reply,
        })
        .await
        .unwrap_or(Err(ResponseError::GroupIdNotFound))
    }

    pub async fn describe(&self, group_id: &str) -> Option<GroupDescription> {
        self.ask(group_id, false, Command::Describe).await
    }

    pub async fn delete(&self, group_id: &str) -> Result<(), ResponseError> {
        let result = self
            .ask(group_id, false, Command::Delete)
            .await
            .unwrap_or(Err(ResponseError::GroupIdNotFound));
        if result.is_ok() {
            self.running
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(group_id);
        }
        result
    }

    /// Every group this coordinator knows.
    pub async fn list(&self) -> Vec<GroupDescription> {
        let mut ids: Vec<String> = self
            .running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .keys()
            .cloned()
            .collect();
        ids.extend(
            self.restored
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .keys()
                .cloned(),
        );
        ids.sort();
        ids.dedup();
        let mut groups = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(description) = self.describe(&id).await {
                if description.state != GroupState::Dead {
                    groups.push(description);
                }
            }
        }
        groups
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::partition::loaded::testing::{batch, overwrite, partition_of, terminates};
    use crate::records::batch::HEADER_SIZE;

    fn commit(group: &str, offset: i64) -> (Vec<u8>, Option<Vec<u8>>) {
        let partition = TopicPartition::new("orders", 0);
        let value = CommittedOffset {
            offset,
            leader_epoch: -1,
            metadata: String::new(),
            commit_timestamp: 1_000,
        };
        (
            log_format::offset_key(group, &partition).unwrap(),
            Some(log_format::offset_value(&value).unwrap()),
        )
    }

    #[test]
    fn the_load_skips_unreadable_batches_and_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        let batches: Vec<Vec<u8>> = [("g1", 10), ("g2", 20), ("g3", 30), ("g4", 40)]
            .iter()
            .map(|(group, offset)| batch(&[commit(group, *offset)]))
            .collect();
        let topic_partition = TopicPartition::new(OFFSETS_TOPIC, 0);
        let (partition, segment, positions) = partition_of(dir.path(), topic_partition, &batches);
        // g2's record is corrupt (its CRC no longer matches); the last batch,
        // g4's, claims offset 0, which sent the load back to offset 1 for ever.
        overwrite(&segment, positions[1] + HEADER_SIZE as u64 + 8, &[0xff; 4]);
        overwrite(&segment, positions[3], &0i64.to_be_bytes());
        let partitions = Arc::new(Partitions::default());
        partitions.insert(partition);
        let coordinator = Arc::new(GroupCoordinator::new(GroupConfig::default(), partitions));
        let loading = Arc::clone(&coordinator);
        terminates(move || loading.load_partition(0)).unwrap();
        let restored = coordinator.restored.lock().unwrap();
        let offsets = |group: &str| {
            restored
                .get(group)
                .map(|g| g.group.offsets[&TopicPartition::new("orders", 0)].offset)
        };
        assert_eq!(offsets("g1"), Some(10));
        assert_eq!(offsets("g2"), None);
        assert_eq!(offsets("g3"), Some(30));
        assert_eq!(offsets("g4"), None);
    }

    fn consumer_image(epoch: i32, members: &[&str]) -> Image {
        use crate::group::consumer::records::{RecordKey, RecordValue};
        let mut image = Image::from([
            (
                RecordKey::GroupMetadata,
                RecordValue::GroupMetadata { epoch },
            ),
            (
                RecordKey::TargetAssignmentMetadata,
                RecordValue::TargetAssignmentMetadata {
                    assignment_epoch: epoch,
                },
            ),
        ]);
        for member_id in members {
            let target: crate::group::consumer::Assignment =
                [(uuid::Uuid::from_u128(7), [0].into())].into();
            image.insert(
                RecordKey::TargetAssignmentMember(member_id.to_string()),
                RecordValue::TargetAssignmentMember(target),
            );
        }
        image
    }

    #[test]
    fn the_load_folds_consumer_group_records_and_their_tombstones() {
        let dir = tempfile::tempdir().unwrap();
        let two = consumer_image(3, &["m-1", "m-2"]);
        let one = consumer_image(4, &["m-1"]);
        let mut deleted = records::changes("c2", &Image::new(), &two).unwrap();
        deleted.extend(records::changes("c2", &two, &Image::new()).unwrap());
        deleted.push((log_format::group_key("c2").unwrap(), None));
        let batches = [
            batch(&records::changes("c1", &Image::new(), &two).unwrap()),
            batch(&records::changes("c1", &two, &one).unwrap()),
            batch(&deleted),
        ];
        let coordinator = loaded(dir.path(), &batches);
        let restored = coordinator.restored.lock().unwrap();
        assert_eq!(restored.get("c1").map(|g| &g.consumer), Some(&one));
        assert!(!restored.contains_key("c2"));
    }

    /// An online upgrade writes the classic group's tombstone and the
    /// consumer group's records; a downgrade the reverse. Offsets committed
    /// on either side of either stay.
    #[test]
    fn the_load_keeps_offsets_across_a_migration() {
        let dir = tempfile::tempdir().unwrap();
        let classic = |group: &str| {
            let mut group = Group::new(group, GroupConfig::default(), 0);
            group.generation_id = 4;
            group.protocol_type = Some("consumer".into());
            group_record_of(&group)
        };
        let two = consumer_image(5, &["m-1", "m-2"]);
        let mut upgraded = vec![(log_format::group_key("up").unwrap(), None)];
        upgraded.extend(records::changes("up", &Image::new(), &two).unwrap());
        let mut downgraded = records::changes("down", &Image::new(), &two).unwrap();
        let mut back = records::changes("down", &two, &Image::new()).unwrap();
        back.push(classic("down"));
        downgraded.extend(back);
        let batches = [
            batch(&[classic("up"), commit("up", 10)]),
            batch(&upgraded),
            batch(&downgraded),
            batch(&[commit("down", 20)]),
        ];
        let coordinator = loaded(dir.path(), &batches);
        let restored = coordinator.restored.lock().unwrap();
        let orders = TopicPartition::new("orders", 0);
        let up = &restored["up"];
        assert_eq!(up.consumer, two);
        assert_eq!(up.group.offsets[&orders].offset, 10);
        assert_eq!(up.group.generation_id, 0, "the classic group is gone");
        let down = &restored["down"];
        assert!(down.consumer.is_empty());
        assert_eq!(down.group.generation_id, 4);
        assert_eq!(down.group.offsets[&orders].offset, 20);
    }

    /// A coordinator that loaded `__consumer_offsets-0` made of `batches`.
    fn loaded(dir: &std::path::Path, batches: &[Vec<u8>]) -> Arc<GroupCoordinator> {
        let topic_partition = TopicPartition::new(OFFSETS_TOPIC, 0);
        let (partition, _, _) = partition_of(dir, topic_partition, batches);
        let partitions = Arc::new(Partitions::default());
        partitions.insert(partition);
        let coordinator = Arc::new(GroupCoordinator::new(GroupConfig::default(), partitions));
        let loading = Arc::clone(&coordinator);
        terminates(move || loading.load_partition(0)).unwrap();
        coordinator
    }

    fn group_record_of(group: &Group) -> (Vec<u8>, Option<Vec<u8>>) {
        (
            log_format::group_key(&group.group_id).unwrap(),
            Some(log_format::group_value(group).unwrap()),
        )
    }
}
