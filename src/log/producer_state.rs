//! Idempotent-producer state of one partition: for each producer id, its
//! epoch and the last five batches it wrote (sequence range and offsets), as
//! Kafka's `ProducerStateManager` keeps them.
//!
//! The leader checks every idempotent batch against it before appending: an
//! older epoch is fenced, a sequence that does not follow the last one is out
//! of order, and a retry of one of the last five batches is answered with the
//! offsets it already has instead of being appended again.
//!
//! It also tracks each producer's open transaction in this partition (the
//! offset of its first record), which bounds the last stable offset, and
//! closes it when the coordinator's marker arrives.
//!
//! The state is rebuilt from batch headers (replay) and saved in
//! `<offset>.snapshot` files so that a restart replays only the tail.

use std::collections::{BTreeMap, VecDeque};
use std::io;
use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::records::batch::Batch;
use crate::records::control::TxnMarker;
use crate::types::Offset;

/// Kafka keeps this many batches per producer for duplicate detection.
pub const BATCHES_PER_PRODUCER: usize = 5;

/// What the producer state says about an incoming batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SequenceCheck {
    /// New data in sequence: append it.
    Append,
    /// A retry of a batch already in the log at these offsets.
    Duplicate(BatchMetadata),
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum ProducerStateError {
    #[error("producer {producer_id} has epoch {current}, batch has older epoch {epoch}")]
    InvalidProducerEpoch {
        producer_id: i64,
        epoch: i16,
        current: i16,
    },
    #[error("producer {producer_id} epoch {epoch}: sequence {sequence} does not follow {last}")]
    OutOfOrderSequence {
        producer_id: i64,
        epoch: i16,
        sequence: i32,
        last: i32,
    },
    #[error("marker from coordinator epoch {epoch}, producer {producer_id} saw epoch {current}")]
    CoordinatorFenced {
        producer_id: i64,
        epoch: i32,
        current: i32,
    },
}

/// One batch a producer wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchMetadata {
    pub first_sequence: i32,
    pub last_sequence: i32,
    pub first_offset: Offset,
    pub last_offset: Offset,
    pub max_timestamp: i64,
}

impl BatchMetadata {
    pub fn new(
        producer: &ProducerBatch,
        first_offset: Offset,
        last_offset: Offset,
        max_timestamp: i64,
    ) -> Self {
        BatchMetadata {
            first_sequence: producer.first_sequence,
            last_sequence: producer.last_sequence,
            first_offset,
            last_offset,
            max_timestamp,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct ProducerEntry {
    epoch: i16,
    batches: VecDeque<BatchMetadata>,
    /// Offset of the first record of the producer's open transaction here.
    current_txn_first_offset: Option<Offset>,
    /// Epoch of the coordinator that wrote the producer's last marker.
    coordinator_epoch: i32,
    /// Time of the producer's last write (batch or marker), for expiry.
    last_timestamp: i64,
}

impl ProducerEntry {
    fn new(epoch: i16) -> Self {
        ProducerEntry {
            epoch,
            batches: VecDeque::with_capacity(BATCHES_PER_PRODUCER),
            current_txn_first_offset: None,
            coordinator_epoch: -1,
            last_timestamp: -1,
        }
    }
}

/// A transaction a marker closed in this partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompletedTxn {
    pub producer_id: i64,
    /// `None` when the producer wrote nothing here in that transaction.
    pub first_offset: Option<Offset>,
    /// The marker's offset.
    pub last_offset: Offset,
    pub committed: bool,
}

/// What DescribeProducers reports of one producer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProducerSummary {
    pub producer_id: i64,
    pub epoch: i16,
    pub last_sequence: i32,
    pub last_timestamp: i64,
    pub coordinator_epoch: i32,
    pub current_txn_start_offset: Option<Offset>,
}

/// The idempotence fields of a batch header.
#[derive(Debug, Clone, Copy)]
pub struct ProducerBatch {
    pub producer_id: i64,
    pub epoch: i16,
    pub first_sequence: i32,
    pub last_sequence: i32,
    pub transactional: bool,
}

impl ProducerBatch {
    /// `None` for batches without a producer id (not idempotent).
    pub fn of(batch: &Batch<'_>) -> Option<ProducerBatch> {
        if batch.producer_id() < 0 || batch.is_control() {
            return None;
        }
        let first_sequence = batch.base_sequence();
        // Sequences wrap at i32::MAX, as in Kafka.
        let last_sequence = ((i64::from(first_sequence) + i64::from(batch.last_offset_delta()))
            % (i64::from(i32::MAX) + 1)) as i32;
        Some(ProducerBatch {
            producer_id: batch.producer_id(),
            epoch: batch.producer_epoch(),
            first_sequence,
            last_sequence,
            transactional: batch.is_transactional(),
        })
    }
}

fn in_sequence(last: i32, next: i32) -> bool {
    i64::from(next) == i64::from(last) + 1 || (next == 0 && last == i32::MAX)
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ProducerState {
    producers: BTreeMap<i64, ProducerEntry>,
    /// Open transactions by first offset: the smallest bounds the LSO.
    ongoing: BTreeMap<Offset, i64>,
}

impl ProducerState {
    pub fn len(&self) -> usize {
        self.producers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.producers.is_empty()
    }

    /// Checks a batch the leader is about to append.
    pub fn check(&self, batch: &ProducerBatch) -> Result<SequenceCheck, ProducerStateError> {
        let Some(entry) = self.producers.get(&batch.producer_id) else {
            // An unknown producer (new, or expired) may start anywhere, as
            // Kafka accepts since KIP-360.
            return Ok(SequenceCheck::Append);
        };
        if batch.epoch < entry.epoch {
            return Err(ProducerStateError::InvalidProducerEpoch {
                producer_id: batch.producer_id,
                epoch: batch.epoch,
                current: entry.epoch,
            });
        }
        if batch.epoch > entry.epoch {
            if batch.first_sequence != 0 {
                return Err(ProducerStateError::OutOfOrderSequence {
                    producer_id: batch.producer_id,
                    epoch: batch.epoch,
                    sequence: batch.first_sequence,
                    last: -1,
                });
            }
            return Ok(SequenceCheck::Append);
        }
        if let Some(duplicate) = entry.batches.iter().find(|b| {
            b.first_sequence == batch.first_sequence && b.last_sequence == batch.last_sequence
        }) {
            return Ok(SequenceCheck::Duplicate(*duplicate));
        }
        let last = entry.batches.back().map_or(-1, |b| b.last_sequence);
        if entry.batches.is_empty() || in_sequence(last, batch.first_sequence) {
            return Ok(SequenceCheck::Append);
        }
        Err(ProducerStateError::OutOfOrderSequence {
            producer_id: batch.producer_id,
            epoch: batch.epoch,
            sequence: batch.first_sequence,
            last,
        })
    }

    /// Checks only the epoch of a batch the broker's own coordinator writes
    /// for a producer (no sequence: offsets committed in a transaction).
    pub fn check_epoch(&self, batch: &ProducerBatch) -> Result<SequenceCheck, ProducerStateError> {
        match self.producers.get(&batch.producer_id) {
            Some(entry) if batch.epoch < entry.epoch => {
                Err(ProducerStateError::InvalidProducerEpoch {
                    producer_id: batch.producer_id,
                    epoch: batch.epoch,
                    current: entry.epoch,
                })
            }
            _ => Ok(SequenceCheck::Append),
        }
    }

    /// Records an appended (or replayed) batch; a transactional batch opens
    /// its producer's transaction here if none is open.
    pub fn update(&mut self, batch: &ProducerBatch, metadata: BatchMetadata) {
        let entry = self
            .producers
            .entry(batch.producer_id)
            .or_insert_with(|| ProducerEntry::new(batch.epoch));
        if batch.epoch != entry.epoch {
            entry.epoch = batch.epoch;
            entry.batches.clear();
        }
        if entry.batches.len() == BATCHES_PER_PRODUCER {
            entry.batches.pop_front();
        }
        entry.batches.push_back(metadata);
        entry.last_timestamp = entry.last_timestamp.max(metadata.max_timestamp);
        if batch.transactional && entry.current_txn_first_offset.is_none() {
            entry.current_txn_first_offset = Some(metadata.first_offset);
            self.ongoing
                .insert(metadata.first_offset, batch.producer_id);
        }
    }

    /// Checks a transaction marker against the producer's epoch and the
    /// coordinator epoch of its last marker (a zombie coordinator is fenced).
    pub fn check_marker(&self, marker: &TxnMarker) -> Result<(), ProducerStateError> {
        let Some(entry) = self.producers.get(&marker.producer_id) else {
            return Ok(());
        };
        if marker.producer_epoch < entry.epoch {
            return Err(ProducerStateError::InvalidProducerEpoch {
                producer_id: marker.producer_id,
                epoch: marker.producer_epoch,
                current: entry.epoch,
            });
        }
        if marker.coordinator_epoch < entry.coordinator_epoch {
            return Err(ProducerStateError::CoordinatorFenced {
                producer_id: marker.producer_id,
                epoch: marker.coordinator_epoch,
                current: entry.coordinator_epoch,
            });
        }
        Ok(())
    }

    /// Applies a marker written (or replayed) at `offset`: closes the
    /// producer's open transaction here.
    pub fn complete_txn(
        &mut self,
        marker: &TxnMarker,
        offset: Offset,
        timestamp: i64,
    ) -> CompletedTxn {
        let entry = self
            .producers
            .entry(marker.producer_id)
            .or_insert_with(|| ProducerEntry::new(marker.producer_epoch));
        if marker.producer_epoch > entry.epoch {
            // A bumped epoch (fencing, or transactions V2) restarts sequences.
            entry.epoch = marker.producer_epoch;
            entry.batches.clear();
        }
        entry.coordinator_epoch = marker.coordinator_epoch;
        entry.last_timestamp = entry.last_timestamp.max(timestamp);
        let first_offset = entry.current_txn_first_offset.take();
        if let Some(first) = first_offset {
            self.ongoing.remove(&first);
        }
        CompletedTxn {
            producer_id: marker.producer_id,
            first_offset,
            last_offset: offset,
            committed: marker.commit,
        }
    }

    /// The first offset of the oldest open transaction: nothing at or past
    /// it is stable yet.
    pub fn first_unstable_offset(&self) -> Option<Offset> {
        self.ongoing.keys().next().copied()
    }

    /// Every producer, for DescribeProducers.
    pub fn summaries(&self) -> Vec<ProducerSummary> {
        self.producers
            .iter()
            .map(|(producer_id, entry)| ProducerSummary {
                producer_id: *producer_id,
                epoch: entry.epoch,
                last_sequence: entry.batches.back().map_or(-1, |b| b.last_sequence),
                last_timestamp: entry.last_timestamp,
                coordinator_epoch: entry.coordinator_epoch,
                current_txn_start_offset: entry.current_txn_first_offset,
            })
            .collect()
    }

    /// Forgets producers whose last write is older than `expiration_ms`
    /// (`producer.id.expiration.ms`), unless a transaction of theirs is open.
    pub fn expire(&mut self, now_ms: i64, expiration_ms: i64) -> usize {
        let before = self.producers.len();
        self.producers.retain(|_, entry| {
            entry.current_txn_first_offset.is_some()
                || now_ms.saturating_sub(entry.last_timestamp) < expiration_ms
        });
        before - self.producers.len()
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut body = Vec::new();
        body.extend_from_slice(&(self.producers.len() as i32).to_be_bytes());
        for (producer_id, entry) in &self.producers {
            body.extend_from_slice(&producer_id.to_be_bytes());
            body.extend_from_slice(&entry.epoch.to_be_bytes());
            let txn_first = entry.current_txn_first_offset.map_or(-1, |o| o.0);
            body.extend_from_slice(&txn_first.to_be_bytes());
            body.extend_from_slice(&entry.coordinator_epoch.to_be_bytes());
            body.extend_from_slice(&entry.last_timestamp.to_be_bytes());
            body.push(entry.batches.len() as u8);
            for b in &entry.batches {
                body.extend_from_slice(&b.first_sequence.to_be_bytes());
                body.extend_from_slice(&b.last_sequence.to_be_bytes());
                body.extend_from_slice(&b.first_offset.0.to_be_bytes());
                body.extend_from_slice(&b.last_offset.0.to_be_bytes());
                body.extend_from_slice(&b.max_timestamp.to_be_bytes());
            }
        }
        let mut out = SNAPSHOT_VERSION.to_be_bytes().to_vec();
        out.extend_from_slice(&crc32c::crc32c(&body).to_be_bytes());
        out.extend_from_slice(&body);
        out
    }

    fn decode(bytes: &[u8]) -> Option<ProducerState> {
        let version = i16::from_be_bytes(bytes.get(..2)?.try_into().ok()?);
        let crc = u32::from_be_bytes(bytes.get(2..6)?.try_into().ok()?);
        let body = bytes.get(6..)?;
        // Version 1 (before transactions) lacks the transaction fields.
        if !(1..=SNAPSHOT_VERSION).contains(&version) || crc32c::crc32c(body) != crc {
            return None;
        }
        let mut input = body;
        let mut take = |n: usize| -> Option<&[u8]> {
            let (head, tail) = (input.get(..n)?, input.get(n..)?);
            input = tail;
            Some(head)
        };
        let count = i32::from_be_bytes(take(4)?.try_into().ok()?);
        let mut state = ProducerState::default();
        for _ in 0..count {
            let producer_id = i64::from_be_bytes(take(8)?.try_into().ok()?);
            let epoch = i16::from_be_bytes(take(2)?.try_into().ok()?);
            let mut entry = ProducerEntry::new(epoch);
            if version >= 2 {
                let txn_first = i64::from_be_bytes(take(8)?.try_into().ok()?);
                entry.current_txn_first_offset = (txn_first >= 0).then_some(Offset(txn_first));
                entry.coordinator_epoch = i32::from_be_bytes(take(4)?.try_into().ok()?);
                entry.last_timestamp = i64::from_be_bytes(take(8)?.try_into().ok()?);
            }
            let batches = take(1)?[0] as usize;
            for _ in 0..batches.min(BATCHES_PER_PRODUCER) {
                entry.batches.push_back(BatchMetadata {
                    first_sequence: i32::from_be_bytes(take(4)?.try_into().ok()?),
                    last_sequence: i32::from_be_bytes(take(4)?.try_into().ok()?),
                    first_offset: Offset(i64::from_be_bytes(take(8)?.try_into().ok()?)),
                    last_offset: Offset(i64::from_be_bytes(take(8)?.try_into().ok()?)),
                    max_timestamp: i64::from_be_bytes(take(8)?.try_into().ok()?),
                });
            }
            if version == 1 {
                entry.last_timestamp = entry.batches.back().map_or(-1, |b| b.max_timestamp);
            }
            // A producer appears once in a snapshot, and no two open
            // transactions start at one offset: anything else is corrupt
            // (and would leave an open transaction no producer owns, which
            // holds the last stable offset back for good).
            if let Some(first) = entry.current_txn_first_offset {
                if state.ongoing.insert(first, producer_id).is_some() {
                    return None;
                }
            }
            if state.producers.insert(producer_id, entry).is_some() {
                return None;
            }
        }
        Some(state)
    }
}

const SNAPSHOT_VERSION: i16 = 2;
const SNAPSHOT_SUFFIX: &str = ".snapshot";

pub fn snapshot_path(dir: &Path, offset: Offset) -> PathBuf {
    dir.join(format!("{:020}{SNAPSHOT_SUFFIX}", offset.0))
}

/// Writes the state as of `offset` (everything before it applied), keeping
/// only the two newest snapshots.
pub fn write_snapshot(dir: &Path, offset: Offset, state: &ProducerState) -> io::Result<()> {
    write_snapshot_bytes(dir, offset, &state.encode())
}

/// [`write_snapshot`] of a state encoded earlier (at a roll, under the
/// log's lock; written after the rolled segment's sync).
pub fn write_snapshot_bytes(dir: &Path, offset: Offset, encoded: &[u8]) -> io::Result<()> {
    crate::durable::write_atomically(&snapshot_path(dir, offset), encoded)?;
    let mut snapshots = list_snapshots(dir)?;
    snapshots.sort();
    while snapshots.len() > 2 {
        match std::fs::remove_file(snapshot_path(dir, snapshots.remove(0))) {
            // Already pruned by another writer of this folder's snapshots.
            Err(error) if error.kind() == io::ErrorKind::NotFound => {}
            outcome => outcome?,
        }
    }
    Ok(())
}

/// Deletes every snapshot (the log was emptied and starts anew).
pub fn delete_snapshots(dir: &Path) -> io::Result<()> {
    for offset in list_snapshots(dir)? {
        std::fs::remove_file(snapshot_path(dir, offset))?;
    }
    Ok(())
}

fn list_snapshots(dir: &Path) -> io::Result<Vec<Offset>> {
    let mut offsets = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let name = entry?.file_name();
        let Some(stem) = name.to_str().and_then(|n| n.strip_suffix(SNAPSHOT_SUFFIX)) else {
            continue;
        };
        if let Ok(offset) = stem.parse::<i64>() {
            offsets.push(Offset(offset));
        }
    }
    Ok(offsets)
}

/// The newest readable snapshot at or before `max_offset`, with its offset.
/// Unreadable or newer ones (after a truncation) are deleted.
pub fn load_latest_snapshot(
    dir: &Path,
    max_offset: Offset,
) -> io::Result<Option<(Offset, ProducerState)>> {
    let mut snapshots = list_snapshots(dir)?;
    snapshots.sort_by(|a, b| b.cmp(a));
    for offset in snapshots {
        let path = snapshot_path(dir, offset);
        if offset <= max_offset {
            if let Some(state) = std::fs::read(&path)
                .ok()
                .and_then(|b| ProducerState::decode(&b))
            {
                return Ok(Some((offset, state)));
            }
        }
        std::fs::remove_file(&path)?;
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(producer_id: i64, epoch: i16, first: i32, count: i32) -> ProducerBatch {
        ProducerBatch {
            producer_id,
            epoch,
            first_sequence: first,
            last_sequence: first + (count - 1),
            transactional: false,
        }
    }

    fn meta(b: &ProducerBatch, first_offset: i64) -> BatchMetadata {
        BatchMetadata {
            first_sequence: b.first_sequence,
            last_sequence: b.last_sequence,
            first_offset: Offset(first_offset),
            last_offset: Offset(first_offset + i64::from(b.last_sequence - b.first_sequence)),
            max_timestamp: 1_000,
        }
    }

    #[test]
    fn sequences_must_follow_and_retries_of_the_last_five_are_duplicates() {
        let mut state = ProducerState::default();
        let mut offset = 0;
        let mut sent = Vec::new();
        for i in 0..7 {
            let b = batch(7, 0, i * 3, 3);
            assert_eq!(state.check(&b), Ok(SequenceCheck::Append));
            state.update(&b, meta(&b, offset));
            sent.push((b, offset));
            offset += 3;
        }
        // The last five are remembered with their offsets.
        for (b, first_offset) in &sent[2..] {
            assert_eq!(
                state.check(b),
                Ok(SequenceCheck::Duplicate(meta(b, *first_offset)))
            );
        }
        // Older ones are no longer known and do not follow: out of order.
        assert!(matches!(
            state.check(&sent[0].0),
            Err(ProducerStateError::OutOfOrderSequence { .. })
        ));
        // A gap is out of order; the next sequence is fine.
        assert!(matches!(
            state.check(&batch(7, 0, 22, 1)),
            Err(ProducerStateError::OutOfOrderSequence { last: 20, .. })
        ));
        assert_eq!(state.check(&batch(7, 0, 21, 1)), Ok(SequenceCheck::Append));
    }

    #[test]
    fn epochs_fence_older_producers_and_a_new_epoch_restarts_at_zero() {
        let mut state = ProducerState::default();
        let b = batch(1, 3, 0, 2);
        state.update(&b, meta(&b, 0));
        assert!(matches!(
            state.check(&batch(1, 2, 2, 1)),
            Err(ProducerStateError::InvalidProducerEpoch { current: 3, .. })
        ));
        assert!(matches!(
            state.check(&batch(1, 4, 5, 1)),
            Err(ProducerStateError::OutOfOrderSequence { .. })
        ));
        assert_eq!(state.check(&batch(1, 4, 0, 1)), Ok(SequenceCheck::Append));
        assert_eq!(
            state.check(&batch(99, 0, 42, 1)),
            Ok(SequenceCheck::Append),
            "unknown producers start anywhere"
        );
    }

    #[test]
    fn sequences_wrap_at_i32_max() {
        let mut state = ProducerState::default();
        let b = batch(1, 0, i32::MAX, 1);
        state.update(&b, meta(&b, 0));
        assert_eq!(state.check(&batch(1, 0, 0, 1)), Ok(SequenceCheck::Append));
    }

    #[test]
    fn snapshots_round_trip_and_expired_producers_go() {
        let dir = tempfile::tempdir().unwrap();
        let mut state = ProducerState::default();
        for producer in 0..3 {
            let b = batch(producer, 1, 0, 2);
            state.update(&b, meta(&b, producer * 2));
        }
        for offset in [6, 10, 20] {
            write_snapshot(dir.path(), Offset(offset), &state).unwrap();
        }
        assert_eq!(list_snapshots(dir.path()).unwrap().len(), 2);
        let (offset, loaded) = load_latest_snapshot(dir.path(), Offset(15))
            .unwrap()
            .unwrap();
        assert_eq!(offset, Offset(10));
        assert_eq!(loaded, state);
        assert!(
            list_snapshots(dir.path())
                .unwrap()
                .iter()
                .all(|o| *o <= Offset(15)),
            "newer snapshot dropped"
        );
        std::fs::write(snapshot_path(dir.path(), Offset(10)), b"garbage").unwrap();
        assert!(load_latest_snapshot(dir.path(), Offset(15))
            .unwrap()
            .is_none());

        assert_eq!(state.expire(1_000 + 500, 1_000), 0);
        assert_eq!(state.expire(1_000 + 1_000, 1_000), 3);
        assert!(state.is_empty());
    }

    /// A snapshot body (version 2) holding `producers` as (producer id,
    /// first offset of its open transaction or -1), each without batches and
    /// last written at `last_timestamp`.
    fn snapshot_bytes(producers: &[(i64, i64)], last_timestamp: i64) -> Vec<u8> {
        let mut body = (producers.len() as i32).to_be_bytes().to_vec();
        for &(producer_id, txn_first_offset) in producers {
            body.extend_from_slice(&producer_id.to_be_bytes());
            body.extend_from_slice(&0i16.to_be_bytes()); // epoch
            body.extend_from_slice(&txn_first_offset.to_be_bytes());
            body.extend_from_slice(&0i32.to_be_bytes()); // coordinator epoch
            body.extend_from_slice(&last_timestamp.to_be_bytes());
            body.push(0); // no batches
        }
        let mut out = 2i16.to_be_bytes().to_vec();
        out.extend_from_slice(&crc32c::crc32c(&body).to_be_bytes());
        out.extend_from_slice(&body);
        out
    }

    /// Found by the producer_snapshot fuzz target: a producer listed twice
    /// left its first entry's open transaction in the state with no producer
    /// owning it, so the last stable offset could never pass it.
    #[test]
    fn a_snapshot_naming_a_producer_or_a_transaction_start_twice_is_not_trusted() {
        let open = snapshot_bytes(&[(7, 5), (8, 9)], 1_000);
        let state = ProducerState::decode(&open).expect("a well-formed snapshot decodes");
        assert_eq!(state.first_unstable_offset(), Some(Offset(5)));
        assert_eq!(
            ProducerState::decode(&snapshot_bytes(&[(7, 5), (7, -1)], 1_000)),
            None
        );
        assert_eq!(
            ProducerState::decode(&snapshot_bytes(&[(7, 5), (8, 5)], 1_000)),
            None
        );
    }

    /// A snapshot may carry any timestamp (a producer's clock is not the
    /// broker's): expiry must not overflow on one from the far past or future.
    #[test]
    fn expiry_copes_with_any_stored_timestamp() {
        for last_timestamp in [i64::MIN, i64::MAX] {
            let mut state = ProducerState::decode(&snapshot_bytes(&[(7, -1)], last_timestamp))
                .expect("a well-formed snapshot decodes");
            state.expire(1_700_000_000_000, 86_400_000);
        }
        let mut past = ProducerState::decode(&snapshot_bytes(&[(7, -1)], i64::MIN)).unwrap();
        assert_eq!(
            past.expire(1_700_000_000_000, 86_400_000),
            1,
            "long expired"
        );
        let mut future = ProducerState::decode(&snapshot_bytes(&[(7, -1)], i64::MAX)).unwrap();
        assert_eq!(
            future.expire(1_700_000_000_000, 86_400_000),
            0,
            "not yet expired"
        );
    }
}
