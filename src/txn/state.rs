//! The transaction state machine of one transactional id, as Kafka's
//! coordinator runs it: Empty → Ongoing → PrepareCommit/PrepareAbort →
//! CompleteCommit/CompleteAbort → Ongoing again, with epochs that fence
//! older producers. Pure: the coordinator persists every transition before
//! it answers.

use std::collections::{BTreeMap, BTreeSet};

use thiserror::Error;

use crate::types::TopicPartition;

/// Kafka's `TransactionState`, with its byte codes in `__transaction_state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxnState {
    Empty = 0,
    Ongoing = 1,
    PrepareCommit = 2,
    PrepareAbort = 3,
    CompleteCommit = 4,
    CompleteAbort = 5,
    Dead = 6,
    PrepareEpochFence = 7,
}

impl TxnState {
    pub fn from_code(code: i8) -> Option<TxnState> {
        Some(match code {
            0 => TxnState::Empty,
            1 => TxnState::Ongoing,
            2 => TxnState::PrepareCommit,
            3 => TxnState::PrepareAbort,
            4 => TxnState::CompleteCommit,
            5 => TxnState::CompleteAbort,
            6 => TxnState::Dead,
            7 => TxnState::PrepareEpochFence,
            _ => return None,
        })
    }

    /// The names ListTransactions and DescribeTransactions use.
    pub fn name(self) -> &'static str {
        match self {
            TxnState::Empty => "Empty",
            TxnState::Ongoing => "Ongoing",
            TxnState::PrepareCommit => "PrepareCommit",
            TxnState::PrepareAbort => "PrepareAbort",
            TxnState::CompleteCommit => "CompleteCommit",
            TxnState::CompleteAbort => "CompleteAbort",
            TxnState::Dead => "Dead",
            TxnState::PrepareEpochFence => "PrepareEpochFence",
        }
    }

    /// Markers are being written: the transaction's outcome is decided.
    pub fn is_prepared(self) -> bool {
        matches!(self, TxnState::PrepareCommit | TxnState::PrepareAbort)
    }
}

/// Why the coordinator refuses a request; mapped once to Kafka's codes in
/// `error.rs`.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum TxnError {
    #[error("producer id {given} does not own transactional id (owner {owner})")]
    InvalidProducerIdMapping { given: i64, owner: i64 },
    #[error("producer epoch {given} is fenced by epoch {current}")]
    ProducerFenced { given: i16, current: i16 },
    #[error("a previous transaction is still completing")]
    ConcurrentTransactions,
    #[error("{0}")]
    InvalidTxnState(String),
    #[error("transaction timeout {given} ms is not in 1..={max} ms")]
    InvalidTransactionTimeout { given: i32, max: i64 },
    #[error("transaction coordinator not available: {0}")]
    CoordinatorNotAvailable(String),
    #[error("unknown transactional id")]
    UnknownTransactionalId,
    #[error("another broker coordinates this transactional id")]
    NotCoordinator,
    /// A transactional id or topic too long for `__transaction_state`'s
    /// record format (the handlers refuse those first).
    #[error(transparent)]
    Unstorable(#[from] crate::records::primitives::StringTooLong),
}

/// Producers give up an epoch this close to the top and take a new id.
const MAX_EPOCH: i16 = i16::MAX - 1;

/// What the coordinator knows of one transactional id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnMetadata {
    pub transactional_id: String,
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub timeout_ms: i32,
    pub state: TxnState,
    /// Partitions in the current transaction (markers go to all of them).
    pub partitions: BTreeSet<TopicPartition>,
    pub start_timestamp: i64,
    pub last_update_timestamp: i64,
}

/// What InitProducerId must do for a transactional id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InitPlan {
    /// An unknown id, or its epoch is exhausted: a new producer id, epoch 0.
    NewProducerId,
    /// Same producer id, next epoch.
    BumpEpoch,
    /// A transaction is open: abort it (fencing its producer) first.
    AbortOngoing,
    /// Markers of a decided transaction are still being written.
    WaitForCompletion,
}

impl TxnMetadata {
    pub fn new(transactional_id: &str, producer_id: i64, timeout_ms: i32, now_ms: i64) -> Self {
        TxnMetadata {
            transactional_id: transactional_id.to_string(),
            producer_id,
            producer_epoch: 0,
            timeout_ms,
            state: TxnState::Empty,
            partitions: BTreeSet::new(),
            start_timestamp: -1,
            last_update_timestamp: now_ms,
        }
    }

    /// Decides InitProducerId. `expected` is the (producer id, epoch) a
    /// KIP-360 client sends to keep its id across a retry; a mismatch means
    /// another producer took over.
    pub fn plan_init(&self, expected: Option<(i64, i16)>) -> Result<InitPlan, TxnError> {
        if let Some((producer_id, epoch)) = expected {
            self.check_producer(producer_id, epoch)?;
        }
        Ok(match self.state {
            TxnState::Ongoing => InitPlan::AbortOngoing,
            TxnState::PrepareCommit | TxnState::PrepareAbort | TxnState::PrepareEpochFence => {
                InitPlan::WaitForCompletion
            }
            _ if self.producer_epoch >= MAX_EPOCH => InitPlan::NewProducerId,
            TxnState::Dead => InitPlan::NewProducerId,
            _ => InitPlan::BumpEpoch,
        })
    }

    /// Starts afresh under a new producer id or the next epoch (after
    /// InitProducerId): nothing open.
    pub fn reset(&mut self, producer_id: i64, epoch: i16, timeout_ms: i32, now_ms: i64) {
        self.producer_id = producer_id;
        self.producer_epoch = epoch;
        self.timeout_ms = timeout_ms;
        self.state = TxnState::Empty;
        self.partitions.clear();
        self.start_timestamp = -1;
        self.last_update_timestamp = now_ms;
    }

    /// The producer of a request must be the current one.
    pub fn check_producer(&self, producer_id: i64, epoch: i16) -> Result<(), TxnError> {
        if producer_id != self.producer_id {
            return Err(TxnError::InvalidProducerIdMapping {
                given: producer_id,
                owner: self.producer_id,
            });
        }
        if epoch != self.producer_epoch {
            return Err(TxnError::ProducerFenced {
                given: epoch,
                current: self.producer_epoch,
            });
        }
        Ok(())
    }

    /// The state after adding partitions (AddPartitionsToTxn,
    /// AddOffsetsToTxn): the transaction is open.
    pub fn with_partitions(
        &self,
        partitions: impl IntoIterator<Item = TopicPartition>,
        now_ms: i64,
    ) -> Result<TxnMetadata, TxnError> {
        match self.state {
            TxnState::Empty | TxnState::Ongoing => {}
            TxnState::CompleteCommit | TxnState::CompleteAbort => {}
            TxnState::PrepareCommit | TxnState::PrepareAbort | TxnState::PrepareEpochFence => {
                return Err(TxnError::ConcurrentTransactions)
            }
            TxnState::Dead => {
                return Err(TxnError::InvalidTxnState(
                    "transactional id is dead".to_string(),
                ))
            }
        }
        let mut next = self.clone();
        if self.state != TxnState::Ongoing {
            next.partitions.clear();
            next.start_timestamp = now_ms;
        }
        next.partitions.extend(partitions);
        next.state = TxnState::Ongoing;
        next.last_update_timestamp = now_ms;
        Ok(next)
    }

    /// Decides EndTxn: `Some(next)` is the Prepare state to persist before
    /// writing markers; `None` means the same outcome is already complete
    /// (a retried EndTxn), and the answer is success.
    pub fn plan_end(&self, commit: bool, now_ms: i64) -> Result<Option<TxnMetadata>, TxnError> {
        let wrong = |what: &str| {
            Err(TxnError::InvalidTxnState(format!(
                "cannot {what} a transaction in state {}",
                self.state.name()
            )))
        };
        let what = if commit { "commit" } else { "abort" };
        match (self.state, commit) {
            (TxnState::Ongoing, _) => Ok(Some(self.prepared(commit, now_ms))),
            (TxnState::CompleteCommit, true) | (TxnState::CompleteAbort, false) => Ok(None),
            (TxnState::PrepareCommit, true) | (TxnState::PrepareAbort, false) => {
                Err(TxnError::ConcurrentTransactions)
            }
            (TxnState::PrepareEpochFence, _) => Err(TxnError::ConcurrentTransactions),
            _ => wrong(what),
        }
    }

    /// Decides EndTxn under transactions V2 (KIP-890, EndTxn v5+), where
    /// every transaction ends with an epoch bump that fences its late
    /// writes. The request's epoch is the current one, or the one before it
    /// for a retry of an EndTxn that already completed; an abort may also
    /// end a transaction that never started (clients abort when unsure).
    /// `Some(next)` is the Prepare state (with the bumped epoch) to persist;
    /// `None` means the outcome is already complete.
    pub fn plan_end_v2(
        &self,
        producer_id: i64,
        epoch: i16,
        commit: bool,
        now_ms: i64,
    ) -> Result<Option<TxnMetadata>, TxnError> {
        if producer_id != self.producer_id {
            return Err(TxnError::InvalidProducerIdMapping {
                given: producer_id,
                owner: self.producer_id,
            });
        }
        let current = epoch == self.producer_epoch;
        let retry = i32::from(epoch) == i32::from(self.producer_epoch) - 1;
        let fenced = || TxnError::ProducerFenced {
            given: epoch,
            current: self.producer_epoch,
        };
        let invalid = || {
            TxnError::InvalidTxnState(format!(
                "cannot {} a transaction in state {}",
                if commit { "commit" } else { "abort" },
                self.state.name()
            ))
        };
        let bumped = |mut next: TxnMetadata| {
            if next.producer_epoch < MAX_EPOCH {
                next.producer_epoch += 1;
            }
            next
        };
        match self.state {
            TxnState::Ongoing if current => Ok(Some(bumped(self.prepared(commit, now_ms)))),
            TxnState::Empty | TxnState::CompleteCommit | TxnState::CompleteAbort
                if current && !commit =>
            {
                let mut next = bumped(self.prepared(false, now_ms));
                next.partitions.clear();
                Ok(Some(next))
            }
            TxnState::CompleteCommit if retry && commit => Ok(None),
            TxnState::CompleteAbort if retry && !commit => Ok(None),
            TxnState::CompleteCommit | TxnState::CompleteAbort if retry => Err(invalid()),
            TxnState::Empty | TxnState::CompleteCommit | TxnState::CompleteAbort if current => {
                Err(invalid())
            }
            TxnState::PrepareCommit | TxnState::PrepareAbort | TxnState::PrepareEpochFence
                if retry || current =>
            {
                Err(TxnError::ConcurrentTransactions)
            }
            TxnState::Dead => Err(invalid()),
            _ => Err(fenced()),
        }
    }

    /// Whether the epoch ran out: the transaction's producer continues
    /// under a new producer id.
    pub fn epoch_exhausted(&self) -> bool {
        self.producer_epoch >= MAX_EPOCH
    }

    /// The Prepare state for an outcome.
    pub fn prepared(&self, commit: bool, now_ms: i64) -> TxnMetadata {
        let mut next = self.clone();
        next.state = if commit {
            TxnState::PrepareCommit
        } else {
            TxnState::PrepareAbort
        };
        next.last_update_timestamp = now_ms;
        next
    }

    /// The Complete state once every marker is written.
    pub fn completed(&self, now_ms: i64) -> TxnMetadata {
        let mut next = self.clone();
        next.state = match self.state {
            TxnState::PrepareCommit => TxnState::CompleteCommit,
            _ => TxnState::CompleteAbort,
        };
        next.partitions.clear();
        next.last_update_timestamp = now_ms;
        next
    }

    /// The fencing abort of an open transaction that timed out or that a
    /// new producer instance takes over: the epoch goes up so that the old
    /// producer's next request is fenced.
    pub fn fenced_abort(&self, now_ms: i64) -> TxnMetadata {
        let mut next = self.prepared(false, now_ms);
        if next.producer_epoch < MAX_EPOCH {
            next.producer_epoch += 1;
        }
        next
    }

    /// The transaction's partitions by topic, in name order.
    pub fn partitions_by_topic(&self) -> BTreeMap<&str, Vec<i32>> {
        let mut by_topic: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
        for partition in &self.partitions {
            by_topic
                .entry(&partition.topic)
                .or_default()
                .push(partition.partition);
        }
        by_topic
    }

    /// Whether an open transaction outlived its timeout.
    pub fn timed_out(&self, now_ms: i64) -> bool {
        self.state == TxnState::Ongoing
            && now_ms.saturating_sub(self.start_timestamp) > i64::from(self.timeout_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tp(partition: i32) -> TopicPartition {
        TopicPartition::new("t", partition)
    }

    #[test]
    fn a_transaction_goes_through_prepare_to_complete_and_retries_are_answered() {
        let meta = TxnMetadata::new("tx", 10, 60_000, 0);
        assert_eq!(meta.plan_init(None), Ok(InitPlan::BumpEpoch));
        assert!(matches!(
            meta.plan_end(true, 1),
            Err(TxnError::InvalidTxnState(_))
        ));
        let open = meta.with_partitions([tp(0)], 5).unwrap();
        assert_eq!((open.state, open.start_timestamp), (TxnState::Ongoing, 5));
        let open = open.with_partitions([tp(1)], 6).unwrap();
        assert_eq!(open.partitions.len(), 2);
        assert_eq!(open.start_timestamp, 5, "adding more keeps the start");
        assert_eq!(open.plan_init(None), Ok(InitPlan::AbortOngoing));

        let prepared = open.plan_end(true, 7).unwrap().unwrap();
        assert_eq!(prepared.state, TxnState::PrepareCommit);
        assert_eq!(
            prepared.with_partitions([tp(2)], 8),
            Err(TxnError::ConcurrentTransactions)
        );
        assert_eq!(prepared.plan_init(None), Ok(InitPlan::WaitForCompletion));
        let done = prepared.completed(9);
        assert_eq!(done.state, TxnState::CompleteCommit);
        assert!(done.partitions.is_empty());
        assert_eq!(done.plan_end(true, 10), Ok(None), "a retried commit");
        assert!(matches!(
            done.plan_end(false, 10),
            Err(TxnError::InvalidTxnState(_))
        ));
        let next = done.with_partitions([tp(3)], 11).unwrap();
        assert_eq!(next.partitions, [tp(3)].into_iter().collect());
        assert_eq!(next.start_timestamp, 11);
    }

    #[test]
    fn other_producers_and_older_epochs_are_refused() {
        let mut meta = TxnMetadata::new("tx", 10, 60_000, 0);
        meta.producer_epoch = 4;
        assert_eq!(meta.check_producer(10, 4), Ok(()));
        assert!(matches!(
            meta.check_producer(10, 3),
            Err(TxnError::ProducerFenced { current: 4, .. })
        ));
        assert!(matches!(
            meta.check_producer(11, 4),
            Err(TxnError::InvalidProducerIdMapping { owner: 10, .. })
        ));
        assert!(matches!(
            meta.plan_init(Some((10, 2))),
            Err(TxnError::ProducerFenced { .. })
        ));
        assert_eq!(meta.plan_init(Some((10, 4))), Ok(InitPlan::BumpEpoch));
        meta.producer_epoch = MAX_EPOCH;
        assert_eq!(meta.plan_init(None), Ok(InitPlan::NewProducerId));
    }

    #[test]
    fn transactions_v2_bump_the_epoch_at_every_end_and_accept_retries() {
        let open = TxnMetadata::new("tx", 10, 60_000, 0)
            .with_partitions([tp(0)], 1)
            .unwrap();
        let prepared = open.plan_end_v2(10, 0, true, 2).unwrap().unwrap();
        assert_eq!(
            (prepared.state, prepared.producer_epoch),
            (TxnState::PrepareCommit, 1)
        );
        let done = prepared.completed(3);
        assert_eq!(done.plan_end_v2(10, 0, true, 4), Ok(None), "a retry");
        assert!(matches!(
            done.plan_end_v2(10, 0, false, 4),
            Err(TxnError::InvalidTxnState(_))
        ));
        assert!(matches!(
            done.plan_end_v2(10, 1, true, 4),
            Err(TxnError::InvalidTxnState(_))
        ));
        // Aborting when unsure is fine, and bumps again.
        let aborted = done.plan_end_v2(10, 1, false, 4).unwrap().unwrap();
        assert_eq!(
            (aborted.state, aborted.producer_epoch),
            (TxnState::PrepareAbort, 2)
        );
        assert!(aborted.partitions.is_empty());
        assert!(matches!(
            open.plan_end_v2(10, 5, true, 2),
            Err(TxnError::ProducerFenced { .. })
        ));
        assert!(matches!(
            open.plan_end_v2(11, 0, true, 2),
            Err(TxnError::InvalidProducerIdMapping { .. })
        ));
    }

    #[test]
    fn a_timed_out_transaction_is_aborted_under_a_bumped_epoch() {
        let meta = TxnMetadata::new("tx", 10, 1_000, 0)
            .with_partitions([tp(0)], 100)
            .unwrap();
        assert!(!meta.timed_out(1_100));
        assert!(meta.timed_out(1_101));
        let fenced = meta.fenced_abort(1_101);
        assert_eq!(
            (fenced.state, fenced.producer_epoch),
            (TxnState::PrepareAbort, 1)
        );
        assert!(matches!(
            fenced.completed(1_102).check_producer(10, 0),
            Err(TxnError::ProducerFenced { .. })
        ));
    }
}
