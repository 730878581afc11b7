//! Serves the transactional APIs for the transactional ids this broker
//! coordinates: every transition is written to `__transaction_state`
//! before it is answered, and the outcome of a transaction is written as
//! markers to each of its partitions (and handed to the group coordinator
//! for offsets committed in it) before the Complete state is recorded.
//!
//! One async lock per transactional id serialises its requests; a request
//! that arrives while markers are written waits for them instead of
//! getting CONCURRENT_TRANSACTIONS.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::Mutex as AsyncMutex;
use tracing::{info, warn};

use super::log_format;
use super::producer_ids::ProducerIds;
use super::state::{InitPlan, TxnError, TxnMetadata, TxnState};
use super::{partition_for, TxnConfig, TRANSACTION_STATE_TOPIC};
use crate::controller::Controller;
use crate::group::{GroupCoordinator, OFFSETS_TOPIC};
use crate::log::LogError;
use crate::partition::loaded::replay;
use crate::partition::{Partition, Partitions};
use crate::records::builder::BatchBuilder;
use crate::records::control::TxnMarker;
use crate::types::{now_ms, TopicPartition};

type Entry = Arc<AsyncMutex<Option<TxnMetadata>>>;

pub struct TransactionCoordinator {
    config: TxnConfig,
    partitions: Arc<Partitions>,
    groups: Arc<GroupCoordinator>,
    producer_ids: Arc<ProducerIds>,
    entries: Mutex<HashMap<String, Entry>>,
    /// Transactional id of each producer id handed out, for checking
    /// transactional produce requests.
    owners: Mutex<HashMap<i64, String>>,
    /// The `__transaction_state` partitions this broker leads and has
    /// loaded: it coordinates exactly the transactional ids hashing there.
    owned: crate::partition::loaded::LoadedPartitions,
    /// Where remote partitions' leaders are, for their markers.
    controller: Arc<Controller>,
    /// The latest transactions aborted for outliving their timeout
    /// (transactional id, timeout), for the client linter.
    timed_out: Mutex<std::collections::VecDeque<(String, i32)>>,
    /// Connections to other coordinators, for writes they must verify.
    links: super::verification::CoordinatorLinks,
}

fn not_in_txn(partition: &TopicPartition, producer_id: i64) -> TxnError {
    TxnError::InvalidTxnState(format!(
        "{partition} is not part of an open transaction of producer {producer_id}"
    ))
}

/// Timed-out transactions remembered for the linter.
const TIMED_OUT_KEPT: usize = 100;

/// Which transaction protocol a request speaks: the classic one, or
/// transactions V2 (KIP-890 part 2), chosen per request by its version as
/// Kafka does, so that a classic client is never treated as a V2 one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxnProtocol {
    Classic,
    V2,
}

/// What InitProducerId asks.
#[derive(Debug, Clone)]
pub struct InitRequest {
    pub transactional_id: String,
    pub timeout_ms: i32,
    /// The producer id and epoch a KIP-360 client already holds.
    pub expected: Option<(i64, i16)>,
}

impl TransactionCoordinator {
    pub fn new(
        config: TxnConfig,
        partitions: Arc<Partitions>,
        groups: Arc<GroupCoordinator>,
        producer_ids: Arc<ProducerIds>,
        controller: Arc<Controller>,
    ) -> Self {
        TransactionCoordinator {
            config,
            partitions,
            groups,
            producer_ids,
            entries: Mutex::new(HashMap::new()),
            owners: Mutex::new(HashMap::new()),
            owned: Default::default(),
            controller,
            timed_out: Mutex::new(std::collections::VecDeque::new()),
            links: Default::default(),
        }
    }

    /// The transactions most recently aborted for outliving
    /// `transaction.timeout.ms`: (transactional id, timeout in ms).
    pub fn timed_out(&self) -> Vec<(String, i32)> {
        let timed_out = self.timed_out.lock().unwrap_or_else(|p| p.into_inner());
        timed_out.iter().cloned().collect()
    }

    fn state_partition_index(&self, transactional_id: &str) -> i32 {
        partition_for(transactional_id, self.config.state_log_num_partitions)
    }

    /// Whether this broker coordinates `transactional_id` (it leads the
    /// id's `__transaction_state` partition and has loaded it).
    pub fn coordinates(&self, transactional_id: &str) -> bool {
        self.owned
            .contains(self.state_partition_index(transactional_id))
    }

    /// NOT_COORDINATOR for ids another broker coordinates.
    fn check_coordinator(&self, transactional_id: &str) -> Result<(), TxnError> {
        match self.coordinates(transactional_id) {
            true => Ok(()),
            false => Err(TxnError::NotCoordinator),
        }
    }

    /// This broker stopped leading `__transaction_state-<index>`: its
    /// transactional ids go to the new leader.
    pub fn unload_partition(&self, index: i32) {
        if !self.owned.remove(index) {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let gone: Vec<String> = entries
            .keys()
            .filter(|id| self.state_partition_index(id) == index)
            .cloned()
            .collect();
        let mut owners = self.owners.lock().unwrap_or_else(|p| p.into_inner());
        for id in &gone {
            entries.remove(id);
        }
        owners.retain(|_, id| !gone.contains(id));
        info!(
            partition = index,
            "no longer coordinating the transactions of this partition"
        );
    }

    pub fn config(&self) -> &TxnConfig {
        &self.config
    }

    fn state_partition(&self, transactional_id: &str) -> TopicPartition {
        TopicPartition::new(
            TRANSACTION_STATE_TOPIC,
            partition_for(transactional_id, self.config.state_log_num_partitions),
        )
    }

    fn entry(&self, transactional_id: &str) -> Entry {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        Arc::clone(entries.entry(transactional_id.to_string()).or_default())
    }

    fn existing(&self, transactional_id: &str) -> Option<Entry> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.get(transactional_id).cloned()
    }

    fn set_owner(&self, producer_id: i64, transactional_id: &str) {
        self.owners
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(producer_id, transactional_id.to_string());
    }

    /// This broker now leads `__transaction_state-<index>`: replays it
    /// (the last record per id wins; tombstones remove) and coordinates its
    /// ids from then on; `recover` finishes what was decided but not
    /// completed. Blocking: called while the metadata image is applied.
    pub fn load_partition(&self, index: i32) -> Result<(), LogError> {
        let topic_partition = TopicPartition::new(TRANSACTION_STATE_TOPIC, index);
        let Some(partition) = self.partitions.get(&topic_partition) else {
            return Ok(());
        };
        let (loaded, skipped) = read_state(&partition)?;
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let mut owners = self.owners.lock().unwrap_or_else(|p| p.into_inner());
        let mut count = 0;
        for (id, meta) in loaded.into_iter() {
            if let Some(meta) = meta {
                owners.insert(meta.producer_id, id.clone());
                entries.insert(id, Arc::new(AsyncMutex::new(Some(meta))));
                count += 1;
            }
        }
        if count > 0 || skipped > 0 {
            info!(
                partition = index,
                transactional_ids = count,
                skipped,
                "transaction coordinator loaded a __transaction_state partition"
            );
        }
        self.owned.insert(index);
        Ok(())
    }

    /// Completes transactions whose outcome was recorded before a restart
    /// but whose markers may not all be written.
    pub async fn recover(&self) {
        for (id, entry) in self.all_entries() {
            let mut guard = entry.lock().await;
            let Some(meta) = guard.clone() else { continue };
            if meta.state.is_prepared() {
                info!(transactional_id = %id, state = meta.state.name(), "completing a transaction decided before restart");
                if let Err(error) = self.write_outcome(&mut guard, meta).await {
                    warn!(transactional_id = %id, %error, "completing transaction failed; will retry");
                }
            }
        }
    }

    fn all_entries(&self) -> Vec<(String, Entry)> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries
            .iter()
            .map(|(id, entry)| (id.clone(), Arc::clone(entry)))
            .collect()
    }

    /// Writes a transactional id's state to `__transaction_state` (a
    /// tombstone for `None`).
    async fn persist(
        &self,
        transactional_id: &str,
        meta: Option<&TxnMetadata>,
    ) -> Result<(), TxnError> {
        let topic_partition = self.state_partition(transactional_id);
        let partition = self.partitions.get(&topic_partition).ok_or_else(|| {
            TxnError::CoordinatorNotAvailable(format!("{topic_partition} is not hosted here"))
        })?;
        let now = now_ms();
        let mut builder = BatchBuilder::new(now);
        let key = log_format::key(transactional_id)?;
        let value = meta.map(log_format::value).transpose()?;
        builder.push(now, Some(&key), value.as_deref(), &[]);
        partition
            .append_coordinator_records(builder.build())
            .await
            .map(|_| ())
            .map_err(|error| {
                warn!(partition = %topic_partition, %error, "writing transaction state failed");
                TxnError::CoordinatorNotAvailable(error.to_string())
            })
    }

    /// Persists a new state, then makes it the current one.
    async fn transition(
        &self,
        current: &mut Option<TxnMetadata>,
        next: TxnMetadata,
    ) -> Result<(), TxnError> {
        self.persist(&next.transactional_id, Some(&next)).await?;
        *current = Some(next);
        Ok(())
    }

    /// The coordinator epoch stamped on markers: the leader epoch of the
    /// state partition, so that a deposed coordinator's markers are fenced.
    fn coordinator_epoch(&self, transactional_id: &str) -> i32 {
        self.partitions
            .get(&self.state_partition(transactional_id))
            .map_or(0, |p| p.leader_epoch().value())
    }

    /// InitProducerId for a transactional id: a producer id and a new epoch
    /// that fences every earlier instance; an open transaction is aborted.
    pub async fn init_producer_id(&self, request: InitRequest) -> Result<(i64, i16), TxnError> {
        if request.timeout_ms <= 0 || i64::from(request.timeout_ms) > self.config.max_timeout_ms {
            return Err(TxnError::InvalidTransactionTimeout {
                given: request.timeout_ms,
                max: self.config.max_timeout_ms,
            });
        }
        let id = &request.transactional_id;
        self.check_coordinator(id)?;
        let entry = self.entry(id);
        let mut guard = entry.lock().await;
        let mut expected = request.expected;
        loop {
            let now = now_ms();
            let Some(meta) = guard.clone() else {
                let producer_id = self.new_producer_id().await?;
                let meta = TxnMetadata::new(id, producer_id, request.timeout_ms, now);
                self.transition(&mut guard, meta).await?;
                self.set_owner(producer_id, id);
                return Ok((producer_id, 0));
            };
            let (producer_id, epoch) = match meta.plan_init(expected)? {
                InitPlan::AbortOngoing => {
                    info!(transactional_id = %id, "new producer instance: aborting the open transaction");
                    self.write_outcome(&mut guard, meta.fenced_abort(now))
                        .await?;
                    // The fencing bumped the epoch the caller may have named.
                    expected = None;
                    continue;
                }
                InitPlan::WaitForCompletion => {
                    self.write_outcome(&mut guard, meta).await?;
                    continue;
                }
                InitPlan::NewProducerId => (self.new_producer_id().await?, 0),
                InitPlan::BumpEpoch => (meta.producer_id, meta.producer_epoch + 1),
            };
            let mut next = meta.clone();
            next.reset(producer_id, epoch, request.timeout_ms, now);
            self.transition(&mut guard, next).await?;
            self.set_owner(producer_id, id);
            return Ok((producer_id, epoch));
        }
    }

    async fn new_producer_id(&self) -> Result<i64, TxnError> {
        self.producer_ids
            .next()
            .await
            .map_err(|error| TxnError::CoordinatorNotAvailable(error.to_string()))
    }

    /// Locks the entry of a transactional id and checks the producer.
    async fn producer_entry(
        &self,
        transactional_id: &str,
        producer_id: i64,
        epoch: i16,
    ) -> Result<(Entry, TxnMetadata), TxnError> {
        let entry = self
            .existing(transactional_id)
            .ok_or(TxnError::InvalidProducerIdMapping {
                given: producer_id,
                owner: -1,
            })?;
        let meta = entry
            .lock()
            .await
            .clone()
            .ok_or(TxnError::InvalidProducerIdMapping {
                given: producer_id,
                owner: -1,
            })?;
        meta.check_producer(producer_id, epoch)?;
        Ok((entry, meta))
    }

    /// AddPartitionsToTxn (and AddOffsetsToTxn, through the group's offsets
    /// partition): the partitions join the open transaction.
    pub async fn add_partitions(
        &self,
        transactional_id: &str,
        producer_id: i64,
        epoch: i16,
        partitions: Vec<TopicPartition>,
    ) -> Result<(), TxnError> {
        self.check_coordinator(transactional_id)?;
        let (entry, _) = self
            .producer_entry(transactional_id, producer_id, epoch)
            .await?;
        let mut guard = entry.lock().await;
        let Some(meta) = guard.clone() else {
            return Err(TxnError::UnknownTransactionalId);
        };
        // Checked again under the lock: the state may have moved meanwhile.
        meta.check_producer(producer_id, epoch)?;
        let already = meta.state == TxnState::Ongoing
            && partitions.iter().all(|p| meta.partitions.contains(p));
        if already {
            return Ok(());
        }
        let next = meta.with_partitions(partitions, now_ms())?;
        self.transition(&mut guard, next).await
    }

    /// The `__consumer_offsets` partition a group's offsets go to.
    pub fn offsets_partition(&self, group_id: &str) -> TopicPartition {
        TopicPartition::new(
            OFFSETS_TOPIC,
            crate::group::partition_for(
                group_id,
                self.groups.config().offsets_topic_num_partitions,
            ),
        )
    }

    /// EndTxn: records the decision, writes the markers, records
    /// completion. Returns the producer id and epoch the producer goes on
    /// with: unchanged in the classic protocol, bumped under V2.
    pub async fn end_txn(
        &self,
        transactional_id: &str,
        producer_id: i64,
        epoch: i16,
        commit: bool,
        protocol: TxnProtocol,
    ) -> Result<(i64, i16), TxnError> {
        self.check_coordinator(transactional_id)?;
        let unknown = TxnError::InvalidProducerIdMapping {
            given: producer_id,
            owner: -1,
        };
        let entry = self.existing(transactional_id).ok_or(unknown.clone())?;
        let mut guard = entry.lock().await;
        let meta = guard.clone().ok_or(unknown)?;
        let plan = match protocol {
            TxnProtocol::Classic => {
                meta.check_producer(producer_id, epoch)?;
                meta.plan_end(commit, now_ms())?
            }
            TxnProtocol::V2 => meta.plan_end_v2(producer_id, epoch, commit, now_ms())?,
        };
        if let Some(prepared) = plan {
            self.write_outcome(&mut guard, prepared).await?;
        }
        let Some(done) = guard.clone() else {
            return Err(TxnError::UnknownTransactionalId);
        };
        if protocol == TxnProtocol::V2 && done.epoch_exhausted() {
            // The producer carries on under a fresh producer id.
            let new_id = self.new_producer_id().await?;
            let mut next = done.clone();
            next.reset(new_id, 0, done.timeout_ms, now_ms());
            next.state = done.state;
            self.transition(&mut guard, next).await?;
            self.set_owner(new_id, transactional_id);
            return Ok((new_id, 0));
        }
        Ok((done.producer_id, done.producer_epoch))
    }

    /// Persists a Prepare state (if not yet), writes its markers, and
    /// persists the Complete state.
    async fn write_outcome(
        &self,
        current: &mut Option<TxnMetadata>,
        prepared: TxnMetadata,
    ) -> Result<(), TxnError> {
        if current.as_ref() != Some(&prepared) {
            self.transition(current, prepared.clone()).await?;
        }
        let commit = prepared.state == TxnState::PrepareCommit;
        let marker = TxnMarker {
            producer_id: prepared.producer_id,
            producer_epoch: prepared.producer_epoch,
            commit,
            coordinator_epoch: self.coordinator_epoch(&prepared.transactional_id),
        };
        let image = self.controller.image();
        let written = super::markers::write(
            &self.partitions,
            &image,
            marker,
            &prepared.partitions,
            &self.config.inter_broker_security,
        )
        .await?;
        let offsets_touched = written.local.iter().any(|tp| tp.topic == OFFSETS_TOPIC);
        if offsets_touched {
            self.groups.complete_txn(prepared.producer_id, commit).await;
        }
        self.transition(current, prepared.completed(now_ms())).await
    }

    /// KIP-890's verification of a transactional write to `partition` on
    /// this broker, its leader: the partition must be in the producer's
    /// open transaction (transactions V1), or joins it (V2). The id's
    /// coordinator decides; when it is another broker, it is asked with
    /// AddPartitionsToTxn v5, as Kafka's partition leaders ask. A write
    /// that does not name its transactional id (Produce below v3 cannot)
    /// is checked by the producer id when this broker coordinates it, and
    /// let through otherwise.
    pub async fn verify(
        &self,
        transactional_id: Option<&str>,
        producer_id: i64,
        epoch: i16,
        partition: &TopicPartition,
        protocol: TxnProtocol,
    ) -> Result<(), TxnError> {
        if protocol == TxnProtocol::Classic && !self.config.partition_verification {
            return Ok(());
        }
        let id = match transactional_id {
            Some(id) => id.to_string(),
            None => {
                let owner = self
                    .owners
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .get(&producer_id)
                    .cloned();
                let all_coordinated_here =
                    self.owned.len() >= self.config.state_log_num_partitions as usize;
                match owner {
                    Some(id) => id,
                    None if !all_coordinated_here => return Ok(()),
                    None => return Err(not_in_txn(partition, producer_id)),
                }
            }
        };
        if !self.coordinates(&id) {
            return self
                .links
                .verify(
                    &self.controller.image(),
                    &self.config.inter_broker_security,
                    &self.state_partition(&id),
                    &id,
                    producer_id,
                    epoch,
                    partition,
                    protocol,
                )
                .await;
        }
        self.verify_here(&id, producer_id, epoch, partition, protocol)
            .await
    }

    /// The coordinator's side of a verification (AddPartitionsToTxn v4+
    /// from a partition leader, or a write to a partition this broker
    /// leads): checks that `partition` is in the open transaction, or adds
    /// it under transactions V2.
    pub async fn verify_here(
        &self,
        transactional_id: &str,
        producer_id: i64,
        epoch: i16,
        partition: &TopicPartition,
        protocol: TxnProtocol,
    ) -> Result<(), TxnError> {
        self.check_coordinator(transactional_id)?;
        let entry = self
            .existing(transactional_id)
            .ok_or_else(|| not_in_txn(partition, producer_id))?;
        let mut guard = entry.lock().await;
        let meta = guard
            .clone()
            .ok_or_else(|| not_in_txn(partition, producer_id))?;
        meta.check_producer(producer_id, epoch)?;
        if meta.state == TxnState::Ongoing && meta.partitions.contains(partition) {
            return Ok(());
        }
        match protocol {
            TxnProtocol::Classic => Err(not_in_txn(partition, producer_id)),
            TxnProtocol::V2 => {
                let next = meta.with_partitions([partition.clone()], now_ms())?;
                self.transition(&mut guard, next).await
            }
        }
    }

    /// Aborts open transactions that outlived `transaction.timeout.ms`,
    /// bumping the epoch so that their producer is fenced.
    pub async fn abort_timed_out(&self) {
        for (id, entry) in self.all_entries() {
            // A busy id is being worked on by its producer; look next time.
            let Ok(mut guard) = entry.try_lock() else {
                continue;
            };
            let Some(meta) = guard.clone() else { continue };
            let now = now_ms();
            if meta.timed_out(now) {
                info!(transactional_id = %id, timeout_ms = meta.timeout_ms, "aborting a timed-out transaction");
                {
                    let mut timed_out = self.timed_out.lock().unwrap_or_else(|p| p.into_inner());
                    if timed_out.len() == TIMED_OUT_KEPT {
                        timed_out.pop_front();
                    }
                    timed_out.push_back((id.clone(), meta.timeout_ms));
                }
                if let Err(error) = self.write_outcome(&mut guard, meta.fenced_abort(now)).await {
                    warn!(transactional_id = %id, %error, "aborting timed-out transaction failed");
                }
            } else if meta.state.is_prepared() {
                if let Err(error) = self.write_outcome(&mut guard, meta).await {
                    warn!(transactional_id = %id, %error, "completing transaction failed");
                }
            }
        }
    }

    /// Forgets transactional ids idle for `transactional.id.expiration.ms`
    /// with no transaction open (a tombstone in `__transaction_state`).
    pub async fn expire_transactional_ids(&self) {
        for (id, entry) in self.all_entries() {
            let Ok(mut guard) = entry.try_lock() else {
                continue;
            };
            let Some(meta) = guard.clone() else { continue };
            let idle = now_ms().saturating_sub(meta.last_update_timestamp);
            let settled = matches!(
                meta.state,
                TxnState::Empty | TxnState::CompleteCommit | TxnState::CompleteAbort
            );
            if settled
                && idle >= self.config.id_expiration_ms
                && self.persist(&id, None).await.is_ok()
            {
                info!(transactional_id = %id, "transactional id expired");
                *guard = None;
                self.owners
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(&meta.producer_id);
            }
        }
    }

    /// A transactional id's state, for DescribeTransactions.
    pub async fn describe(&self, transactional_id: &str) -> Option<TxnMetadata> {
        let entry = self.existing(transactional_id)?;
        let meta = entry.lock().await.clone();
        meta
    }

    /// Every transactional id with its state, for ListTransactions.
    pub async fn list(&self) -> Vec<TxnMetadata> {
        let mut all = Vec::new();
        for (_, entry) in self.all_entries() {
            if let Some(meta) = entry.lock().await.clone() {
                all.push(meta);
            }
        }
        all.sort_by(|a, b| a.transactional_id.cmp(&b.transactional_id));
        all
    }
}

/// The last state of every transactional id in a `__transaction_state`
/// partition (`None`: expired), and how many unreadable batches were
/// skipped on the way.
fn read_state(
    partition: &Partition,
) -> Result<(HashMap<String, Option<TxnMetadata>>, usize), LogError> {
    let mut loaded = HashMap::new();
    let skipped = replay(partition, |batch, records| {
        if batch.is_control() {
            return;
        }
        for record in records {
            let Some(id) = record.key.and_then(log_format::decode_key) else {
                warn!("skipping unreadable __transaction_state record");
                continue;
            };
            let meta = record.value.and_then(|v| log_format::decode_value(&id, v));
            loaded.insert(id, meta);
        }
    })?;
    Ok((loaded, skipped))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::partition::loaded::testing::{batch, overwrite, partition_of, terminates};
    use crate::records::batch::HEADER_SIZE;

    fn state(id: &str, producer_id: i64) -> (Vec<u8>, Option<Vec<u8>>) {
        let meta = TxnMetadata::new(id, producer_id, 60_000, 1_000);
        (
            log_format::key(id).unwrap(),
            Some(log_format::value(&meta).unwrap()),
        )
    }

    #[test]
    fn the_load_skips_unreadable_batches_and_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        let batches: Vec<Vec<u8>> = [("t1", 1), ("t2", 2), ("t3", 3), ("t4", 4)]
            .iter()
            .map(|(id, producer_id)| batch(&[state(id, *producer_id)]))
            .collect();
        let topic_partition = TopicPartition::new(TRANSACTION_STATE_TOPIC, 0);
        let (partition, segment, positions) = partition_of(dir.path(), topic_partition, &batches);
        // t2's record is corrupt (its CRC no longer matches); the last batch,
        // t4's, claims offset 0, which sent the load back to offset 1 for ever.
        overwrite(&segment, positions[1] + HEADER_SIZE as u64 + 8, &[0xff; 4]);
        overwrite(&segment, positions[3], &0i64.to_be_bytes());
        let (loaded, skipped) = terminates(move || read_state(&partition)).unwrap();
        let producer = |id: &str| loaded.get(id).cloned().flatten().map(|m| m.producer_id);
        assert_eq!(producer("t1"), Some(1));
        assert_eq!(producer("t2"), None);
        assert_eq!(producer("t3"), Some(3));
        assert_eq!(producer("t4"), None);
        assert_eq!(skipped, 2);
    }
}
