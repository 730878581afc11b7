//! The partitions this broker hosts, by topic-partition.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use super::Partition;
use crate::log::LogError;
use crate::types::TopicPartition;

#[derive(Default)]
pub struct Partitions {
    by_name: RwLock<HashMap<TopicPartition, Arc<Partition>>>,
}

impl Partitions {
    pub fn get(&self, topic_partition: &TopicPartition) -> Option<Arc<Partition>> {
        let map = self.by_name.read().unwrap_or_else(|p| p.into_inner());
        map.get(topic_partition).cloned()
    }

    pub fn insert(&self, partition: Partition) -> Arc<Partition> {
        let partition = Arc::new(partition);
        let mut map = self.by_name.write().unwrap_or_else(|p| p.into_inner());
        map.insert(partition.topic_partition().clone(), Arc::clone(&partition));
        partition
    }

    pub fn remove(&self, topic_partition: &TopicPartition) -> Option<Arc<Partition>> {
        let mut map = self.by_name.write().unwrap_or_else(|p| p.into_inner());
        map.remove(topic_partition)
    }

    pub fn all(&self) -> Vec<Arc<Partition>> {
        let map = self.by_name.read().unwrap_or_else(|p| p.into_inner());
        map.values().cloned().collect()
    }

    /// The partitions whose log dir serves: what background work visits.
    pub fn online(&self) -> Vec<Arc<Partition>> {
        let map = self.by_name.read().unwrap_or_else(|p| p.into_inner());
        map.values().filter(|p| !p.is_offline()).cloned().collect()
    }

    pub fn contains(&self, topic_partition: &TopicPartition) -> bool {
        let map = self.by_name.read().unwrap_or_else(|p| p.into_inner());
        map.contains_key(topic_partition)
    }

    /// Flushes and checkpoints every online partition's log for a clean
    /// shutdown, on `threads` threads, as Kafka closes its logs with
    /// `num.recovery.threads.per.data.dir` threads per log dir: each log
    /// costs a few `fsync`s, and ten thousand of them one after another
    /// took longer than a supervisor's stop timeout. The first error, if
    /// any, once every log has been tried.
    pub fn checkpoint_online(&self, threads: usize) -> Result<(), LogError> {
        let partitions = self.online();
        let next = AtomicUsize::new(0);
        let first_error = Mutex::new(None);
        std::thread::scope(|scope| {
            for _ in 0..threads.clamp(1, partitions.len().max(1)) {
                scope.spawn(|| {
                    while let Some(partition) = partitions.get(next.fetch_add(1, Ordering::Relaxed))
                    {
                        if let Err(error) = partition.checkpoint_blocking() {
                            let mut first = first_error.lock().unwrap_or_else(|p| p.into_inner());
                            first.get_or_insert(error);
                        }
                    }
                });
            }
        });
        match first_error.into_inner().unwrap_or_else(|p| p.into_inner()) {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }
}
