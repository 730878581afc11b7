//! The producers whose open transaction has written to a partition led
//! here (Kafka's `Partition.hasOngoingTransaction`): a further write of
//! that transaction needs no verification with its coordinator, which on
//! another broker costs a round trip per produce.
//!
//! Only what this leadership appended is known: the set starts empty with
//! each leader epoch (so a producer's first write after a failover is
//! verified again), and a transaction marker ends a producer's entry.

use std::collections::HashMap;
use std::sync::Mutex;

#[derive(Debug, Default)]
pub struct OngoingTxns {
    /// Producer id → the epoch its open transaction writes with.
    producers: Mutex<HashMap<i64, i16>>,
}

impl OngoingTxns {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<i64, i16>> {
        self.producers
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Whether `producer_id` at `epoch` has an open transaction here.
    pub fn contains(&self, producer_id: i64, epoch: i16) -> bool {
        self.lock().get(&producer_id) == Some(&epoch)
    }

    /// A transactional batch of `producer_id` at `epoch` was appended.
    pub fn appended(&self, producer_id: i64, epoch: i16) {
        self.lock().insert(producer_id, epoch);
    }

    /// A marker ended `producer_id`'s transaction.
    pub fn ended(&self, producer_id: i64) {
        self.lock().remove(&producer_id);
    }

    /// Leadership changed: nothing is known any more.
    pub fn clear(&self) {
        self.lock().clear();
    }
}
