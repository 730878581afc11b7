//! The internal partitions (`__consumer_offsets`, `__transaction_state`)
//! whose state a coordinator has loaded because this broker leads them:
//! it coordinates exactly the keys that hash to these.

use std::collections::HashSet;
use std::sync::Mutex;

#[derive(Default)]
pub struct LoadedPartitions {
    indexes: Mutex<HashSet<i32>>,
}

impl LoadedPartitions {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashSet<i32>> {
        self.indexes.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn insert(&self, index: i32) {
        self.lock().insert(index);
    }

    /// Whether `index` was loaded (and is no more).
    pub fn remove(&self, index: i32) -> bool {
        self.lock().remove(&index)
    }

    pub fn contains(&self, index: i32) -> bool {
        self.lock().contains(&index)
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }
}
