//! Topics and their partitions' placement (Kafka's
//! `ReplicationControlManager`, for what admins ask): create, grow,
//! reconfigure, delete.

use std::collections::BTreeMap;

use tracing::info;

use super::placement::{self, manual_partitions, validate_manual};
use super::quorum::{MetadataRecord, MetadataResponse};
use super::{validate_topic_name, Controller, ControllerError, NewTopic};
use crate::metadata::{MetadataImage, PartitionImage, TopicImage, NO_LEADER};

impl Controller {
    /// Validates a new topic; with `validate_only`, stops there.
    pub fn create_topic(
        &self,
        topic: &NewTopic,
        validate_only: bool,
    ) -> Result<TopicImage, ControllerError> {
        let _writer = self.write_lock.lock().unwrap_or_else(|p| p.into_inner());
        let image = self.image();
        validate_topic_name(&topic.name).map_err(ControllerError::InvalidTopicName)?;
        if image.topic(&topic.name).is_some() {
            return Err(ControllerError::TopicAlreadyExists(topic.name.clone()));
        }
        let partitions = match &topic.assignments {
            Some(assignments) => {
                let state = self.quorum.state();
                let factor = assignments.first().map(Vec::len);
                for replicas in assignments {
                    validate_manual(|id| state.brokers.contains_key(&id), replicas, factor)
                        .map_err(ControllerError::InvalidReplicaAssignment)?;
                }
                if assignments.is_empty() {
                    return Err(ControllerError::InvalidPartitions(0));
                }
                manual_partitions(0, assignments, |id| image.broker(id).is_some())
                    .map_err(ControllerError::InvalidReplicaAssignment)?
            }
            None => {
                if topic.num_partitions < 1 {
                    return Err(ControllerError::InvalidPartitions(topic.num_partitions));
                }
                if topic.replication_factor < 1
                    || topic.replication_factor as usize > image.brokers.len()
                {
                    return Err(ControllerError::InvalidReplicationFactor {
                        requested: topic.replication_factor,
                        available: image.brokers.len(),
                    });
                }
                new_partitions(
                    &image,
                    &topic.name,
                    0,
                    topic.num_partitions,
                    topic.replication_factor as usize,
                )
            }
        };
        self.log_defaults.with_overrides(&topic.configs)?;
        let created = TopicImage {
            name: topic.name.clone(),
            id: crate::kafka_uuid::random(),
            partitions,
            configs: topic.configs.clone(),
        };
        if validate_only {
            return Ok(created);
        }
        let responses = self.commit(vec![MetadataRecord::PutTopic(created.clone())])?;
        if responses.contains(&MetadataResponse::TopicExists) {
            return Err(ControllerError::TopicAlreadyExists(created.name));
        }
        info!(topic = %created.name, id = %created.id, partitions = created.partitions.len(), "created topic");
        Ok(created)
    }

    /// Changes one topic under the write lock and, unless `validate_only`,
    /// publishes the result.
    fn update_topic(
        &self,
        name: &str,
        validate_only: bool,
        change: impl FnOnce(&mut TopicImage) -> Result<(), ControllerError>,
    ) -> Result<TopicImage, ControllerError> {
        let _writer = self.write_lock.lock().unwrap_or_else(|p| p.into_inner());
        let image = self.image();
        let mut topic = image
            .topic(name)
            .cloned()
            .ok_or_else(|| ControllerError::UnknownTopic(name.to_string()))?;
        change(&mut topic)?;
        if !validate_only {
            self.commit(vec![MetadataRecord::PutTopic(topic.clone())])?;
        }
        Ok(topic)
    }

    /// Replaces a topic's config overrides (validated first).
    pub fn alter_topic_configs(
        &self,
        name: &str,
        configs: BTreeMap<String, String>,
        validate_only: bool,
    ) -> Result<TopicImage, ControllerError> {
        let topic = self.update_topic(name, validate_only, |topic| {
            self.log_defaults.with_overrides(&configs)?;
            topic.configs = configs;
            Ok(())
        })?;
        if !validate_only {
            info!(topic = %name, "altered topic configs");
        }
        Ok(topic)
    }

    /// Grows a topic to `count` partitions, on the replicas `assignments`
    /// names for each new one, else placed.
    pub fn create_partitions(
        &self,
        name: &str,
        count: i32,
        assignments: Option<&[Vec<i32>]>,
        validate_only: bool,
    ) -> Result<TopicImage, ControllerError> {
        let image = self.image();
        let state = self.quorum.state();
        let mut current = 0;
        let topic = self.update_topic(name, validate_only, |topic| {
            current = topic.partitions.len() as i32;
            if count <= current {
                return Err(ControllerError::PartitionCountNotIncreased {
                    current,
                    requested: count,
                });
            }
            // The replicas before any reassignment in progress.
            let replication_factor = topic
                .partitions
                .first()
                .map_or(1, |p| super::reassignment::original_replicas(p).len());
            let added = match assignments {
                Some(assignments) => {
                    let adding = (count - current) as usize;
                    if assignments.len() != adding {
                        return Err(ControllerError::InvalidReplicaAssignment(format!(
                            "Attempted to add {adding} additional partition(s), but only {} assignment(s) were specified.",
                            assignments.len()
                        )));
                    }
                    for replicas in assignments {
                        validate_manual(
                            |id| state.brokers.contains_key(&id),
                            replicas,
                            Some(replication_factor),
                        )
                        .map_err(ControllerError::InvalidReplicaAssignment)?;
                    }
                    manual_partitions(current, assignments, |id| image.broker(id).is_some())
                        .map_err(ControllerError::InvalidReplicaAssignment)?
                }
                None => {
                    if replication_factor > image.brokers.len() {
                        return Err(ControllerError::InvalidReplicationFactor {
                            requested: replication_factor as i16,
                            available: image.brokers.len(),
                        });
                    }
                    new_partitions(
                        &image,
                        &topic.name,
                        current,
                        count - current,
                        replication_factor,
                    )
                }
            };
            topic.partitions.extend(added);
            Ok(())
        })?;
        if !validate_only {
            info!(topic = %name, from = current, to = count, "created partitions");
        }
        Ok(topic)
    }

    /// Removes a topic from the metadata; its logs go when the image is applied.
    pub fn delete_topic(&self, name: &str) -> Result<TopicImage, ControllerError> {
        let _writer = self.write_lock.lock().unwrap_or_else(|p| p.into_inner());
        let removed = self
            .image()
            .topic(name)
            .cloned()
            .ok_or_else(|| ControllerError::UnknownTopic(name.to_string()))?;
        self.commit(vec![MetadataRecord::RemoveTopic {
            name: name.to_string(),
        }])?;
        info!(topic = %name, "deleted topic");
        Ok(removed)
    }
}

/// Partitions `first..first + count` of a topic, placed on the live
/// brokers, each led by its first replica.
fn new_partitions(
    image: &MetadataImage,
    topic: &str,
    first: i32,
    count: i32,
    replication_factor: usize,
) -> Vec<PartitionImage> {
    let brokers: Vec<placement::Candidate> = image.brokers.iter().map(Into::into).collect();
    placement::place(
        &brokers,
        first,
        count,
        replication_factor,
        placement::topic_seed(topic),
    )
    .into_iter()
    .zip(first..)
    .map(|(replicas, partition)| PartitionImage {
        partition,
        leader: replicas.first().copied().unwrap_or(NO_LEADER),
        leader_epoch: 0,
        isr: replicas.clone(),
        replicas,
        partition_epoch: 0,
        adding_replicas: Vec::new(),
        removing_replicas: Vec::new(),
    })
    .collect()
}
