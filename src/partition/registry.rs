//! The partitions this broker hosts, by topic-partition.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use super::Partition;
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
}
