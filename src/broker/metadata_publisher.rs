//! Bringing this broker in line with each metadata image (Kafka's
//! `BrokerMetadataPublisher`): which partitions it hosts and in which
//! role, stray logs removed, the group and transaction coordinators
//! following their internal partitions' leadership, and ISR changes
//! proposed to the controller (Kafka's `AlterPartitionManager`).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tracing::{debug, info, warn};

use super::{Broker, BrokerError};
use crate::group::OFFSETS_TOPIC;
use crate::log::LogError;
use crate::partition::role::{IsrProposal, Role};
use crate::partition::Partition;
use crate::txn::TRANSACTION_STATE_TOPIC;
use crate::types::{LeaderEpoch, TopicPartition};

impl Broker {
    /// Partition folders whose topic is gone from the metadata (a crash
    /// during deletion) are removed, as Kafka removes stray logs.
    pub(super) fn remove_stray_logs(&self) -> Result<(), BrokerError> {
        let image = self.controller.image();
        for found in self.logs.partitions_on_disk()? {
            let known = image
                .topic(&found.topic)
                .is_some_and(|topic| (found.partition as usize) < topic.partitions.len());
            if !known {
                warn!(partition = %found, "removing stray log of a deleted topic");
                self.logs.delete_partition(&found, Duration::ZERO)?;
            }
        }
        Ok(())
    }

    /// Brings the hosted partitions in line with the newest metadata image:
    /// drops those of deleted (or re-created) topics, opens the logs of
    /// every partition this broker is a replica of, gives each its role,
    /// and points the follower fetchers at the leaders. Idempotent;
    /// blocking.
    ///
    /// The image is read under the lock, never handed in: a caller holding
    /// an older image would re-open the log of a topic that a newer one
    /// deleted, while its folder is being renamed away.
    pub(super) fn reconcile(&self) -> Result<(), BrokerError> {
        let me = self.config.node_id;
        let _one_at_a_time = self.reconciling.lock().unwrap_or_else(|p| p.into_inner());
        let image = self.controller.image();
        for hosted in self.partitions.all() {
            let topic_partition = hosted.topic_partition();
            let wanted = image
                .topic(&topic_partition.topic)
                .filter(|topic| topic.id == hosted.topic_id())
                .and_then(|topic| topic.partitions.get(topic_partition.partition as usize))
                .is_some_and(|p| p.replicas.contains(&me));
            if !wanted {
                self.coordinators_lose(topic_partition);
                self.partitions.remove(topic_partition);
                hosted.become_follower(crate::metadata::NO_LEADER, hosted.leader_epoch());
                info!(partition = %topic_partition, "no longer a replica: removing the log");
                hosted.delete_log_blocking(&self.logs)?;
            }
        }
        let mut following = BTreeMap::new();
        for topic in image.topics.values() {
            let mut config = None;
            for assigned in topic.partitions.iter().filter(|p| p.replicas.contains(&me)) {
                let topic_partition = TopicPartition::new(&topic.name, assigned.partition);
                let partition = match self.partitions.get(&topic_partition) {
                    Some(partition) => partition,
                    None => {
                        let config = match &config {
                            Some(config) => config,
                            None => config.insert(self.log_config(topic)?),
                        };
                        let (log, dir) = match self.logs.open_log(&topic_partition, config.clone())
                        {
                            Ok(opened) => opened,
                            Err(error @ (LogError::LogDirOffline { .. } | LogError::Io(_))) => {
                                warn!(partition = %topic_partition, %error, "cannot host the partition: its log dir is offline");
                                continue;
                            }
                            Err(error) => return Err(error.into()),
                        };
                        let checkpointed = self.logs.checkpointed_high_watermark(&topic_partition);
                        self.partitions.insert(Partition::new(
                            topic_partition.clone(),
                            topic.id,
                            log,
                            dir,
                            LeaderEpoch(assigned.leader_epoch),
                            checkpointed,
                        ))
                    }
                };
                if partition.is_offline() {
                    // It serves nothing and follows no one until a restart.
                    continue;
                }
                let epoch = LeaderEpoch(assigned.leader_epoch);
                if assigned.leader == me {
                    let newly = !partition.is_leader() || partition.leader_epoch() != epoch;
                    partition.become_leader(
                        me,
                        epoch,
                        assigned.replicas.clone(),
                        assigned.isr.clone(),
                        assigned.partition_epoch,
                    );
                    if newly {
                        self.coordinators_gain(&topic_partition)?;
                    }
                } else {
                    if partition.is_leader() {
                        self.coordinators_lose(&topic_partition);
                    }
                    let changed = match partition.role() {
                        Role::Follower { leader } => {
                            leader != assigned.leader || partition.leader_epoch() != epoch
                        }
                        Role::Leader(_) => true,
                    };
                    if changed {
                        partition.become_follower(assigned.leader, epoch);
                    }
                    if let Some(leader) = image.broker(assigned.leader) {
                        following.insert(topic_partition, (leader.clone(), partition));
                    }
                }
            }
        }
        self.replication.follow(following);
        Ok(())
    }

    /// Asks the controller for an ISR change of a partition this broker
    /// leads (a follower caught up, or some lag too far behind). The
    /// partition holds one such proposal at a time, and the new ISR takes
    /// effect when the controller has written it.
    pub fn propose_isr(self: &Arc<Self>, partition: Arc<Partition>, proposal: IsrProposal) {
        let broker = Arc::clone(self);
        let epoch = partition.leader_epoch();
        tokio::spawn(async move {
            let topic_partition = partition.topic_partition().clone();
            let outcome = broker
                .controller
                .alter_isr(
                    &topic_partition.topic,
                    topic_partition.partition,
                    epoch.value(),
                    proposal.partition_epoch,
                    proposal.isr.clone(),
                )
                .await;
            let me = broker.config.node_id;
            let applied = match outcome {
                // A change that also moved leadership or began a new epoch
                // (a reassignment it completed) takes effect through the
                // metadata image, as any other leadership change does.
                Ok(applied) if applied.leader != me || applied.leader_epoch != epoch.value() => {
                    None
                }
                Ok(applied) => Some((applied.replicas, applied.isr, applied.partition_epoch)),
                Err(error) => {
                    debug!(partition = %topic_partition, isr = ?proposal.isr, ?error,
                           "ISR change refused");
                    None
                }
            };
            // Unless leadership moved on meanwhile (the image then says
            // what this broker is).
            partition.isr_proposal_answered(epoch, proposal.partition_epoch, applied);
        });
    }

    /// The group and transaction coordinators follow the leadership of
    /// their internal partitions: a new leader loads the partition's
    /// groups or transactional ids and serves them from then on.
    pub(super) fn coordinators_gain(
        &self,
        topic_partition: &TopicPartition,
    ) -> Result<(), BrokerError> {
        match topic_partition.topic.as_str() {
            OFFSETS_TOPIC => self.groups.load_partition(topic_partition.partition)?,
            TRANSACTION_STATE_TOPIC => {
                self.txn.load_partition(topic_partition.partition)?;
                self.txn_recovery_due
                    .store(true, std::sync::atomic::Ordering::Release);
            }
            _ => {}
        }
        Ok(())
    }

    pub(super) fn coordinators_lose(&self, topic_partition: &TopicPartition) {
        match topic_partition.topic.as_str() {
            OFFSETS_TOPIC => self.groups.unload_partition(topic_partition.partition),
            TRANSACTION_STATE_TOPIC => self.txn.unload_partition(topic_partition.partition),
            _ => {}
        }
    }

    /// Completes the transactions decided but not completed under the
    /// previous coordinator of partitions this broker just took over.
    pub async fn recover_transactions_if_due(&self) {
        if self
            .txn_recovery_due
            .swap(false, std::sync::atomic::Ordering::AcqRel)
        {
            self.txn.recover().await;
        }
    }

    /// Reconciles every new metadata image until the broker stops.
    pub async fn follow_metadata(self: Arc<Self>) {
        let mut images = self.controller.subscribe_images();
        loop {
            tokio::select! {
                changed = images.changed() => {
                    if changed.is_err() {
                        return;
                    }
                }
                _ = self.shutting_down() => return,
            }
            images.borrow_and_update();
            let broker = Arc::clone(&self);
            let outcome = tokio::task::spawn_blocking(move || {
                broker.reconcile()?;
                broker.resume_replica_moves();
                Ok::<(), BrokerError>(())
            })
            .await;
            match outcome {
                Ok(Ok(())) => {}
                Ok(Err(error)) => warn!(%error, "applying the metadata image failed"),
                Err(error) => warn!(%error, "applying the metadata image failed"),
            }
            self.recover_transactions_if_due().await;
        }
    }
}
