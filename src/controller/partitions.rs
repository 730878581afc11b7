//! Leaders and ISRs (Kafka's `ReplicationControlManager`, for what
//! brokers ask): AlterPartition, leader elections, replicas going offline.
//! Each change applies only to the partition epoch it was decided on.

use kafka_protocol::error::ResponseError;
use tracing::info;

use super::election;
use super::quorum::{self, MetadataRecord, MetadataResponse, PartitionChange};
use super::{Controller, ControllerError};
use crate::metadata::{PartitionImage, TopicImage};

impl Controller {
    /// Writes partition changes decided by `election`; how many applied
    /// (the others were decided on a partition that changed meanwhile).
    /// Changes this node decided as the leader in `leader_term` are written
    /// in that term or not at all; those asked for by a client or a broker
    /// (`None`) go to whichever node leads.
    pub(super) async fn write_changes(
        &self,
        changes: Vec<PartitionChange>,
        leader_term: Option<u64>,
    ) -> Result<usize, ControllerError> {
        let mut applied = 0;
        for change in changes {
            let (topic, partition) = (change.topic.clone(), change.partition.clone());
            let record = MetadataRecord::ChangePartition(change);
            let response = match leader_term {
                Some(term) => self.quorum.propose_as_leader(record, term).await?,
                None => self.quorum.propose_async(record).await?,
            };
            if response == MetadataResponse::Applied {
                applied += 1;
                info!(%topic, partition = partition.partition, leader = partition.leader,
                      leader_epoch = partition.leader_epoch, isr = ?partition.isr,
                      "partition changed");
            }
        }
        self.refresh();
        Ok(applied)
    }

    /// This broker, leading `topic`-`partition` at `leader_epoch`, asks
    /// for a new ISR (AlterPartition); the partition as it now is.
    pub async fn alter_isr(
        &self,
        topic: &str,
        partition: i32,
        leader_epoch: i32,
        partition_epoch: i32,
        isr: Vec<i32>,
    ) -> Result<PartitionImage, ResponseError> {
        let state = self.quorum.state();
        let (topic, old) = find_partition(&state, topic, partition)?;
        let change = election::alter_isr(
            &state,
            topic,
            old,
            self.node_id,
            leader_epoch,
            partition_epoch,
            isr,
        )?;
        let wanted = change.partition.clone();
        match self.write_changes(vec![change], None).await {
            Ok(1) => Ok(wanted),
            Ok(_) => Err(ResponseError::InvalidUpdateVersion),
            Err(_) => Err(ResponseError::RequestTimedOut),
        }
    }

    /// Leader election of one partition (ElectLeaders): preferred, or
    /// unclean; whether the leader moved (`Ok(false)`: no election needed).
    pub async fn elect_leader(
        &self,
        topic: &str,
        partition: i32,
        unclean: bool,
    ) -> Result<bool, ResponseError> {
        let state = self.quorum.state();
        let (topic, old) = find_partition(&state, topic, partition)?;
        let decided = match unclean {
            false => election::preferred(&state, topic, old)?,
            true => election::unclean(&state, topic, old)?,
        };
        let Some(change) = decided else {
            return Ok(false);
        };
        match self.write_changes(vec![change], None).await {
            Ok(1) => Ok(true),
            Ok(_) => Err(ResponseError::EligibleLeadersNotAvailable),
            Err(_) => Err(ResponseError::RequestTimedOut),
        }
    }

    /// This broker's replicas of `partitions` are offline (their log dir
    /// failed): it leaves their ISRs and their leaderships move. Returns
    /// how many partitions changed.
    pub async fn replicas_offline(
        &self,
        node: i32,
        partitions: Vec<crate::types::TopicPartition>,
        unclean_leader_election: bool,
    ) -> Result<usize, ControllerError> {
        let partitions: Vec<(String, i32)> = partitions
            .into_iter()
            .map(|tp| (tp.topic, tp.partition))
            .collect();
        let state = self.quorum.state();
        let changes =
            election::on_replicas_offline(&state, node, &partitions, unclean_leader_election);
        self.write_changes(changes, None).await
    }
}

pub(super) fn find_partition<'a>(
    state: &'a quorum::MetadataState,
    topic: &str,
    partition: i32,
) -> Result<(&'a TopicImage, &'a PartitionImage), ResponseError> {
    let topic = state
        .topics
        .get(topic)
        .ok_or(ResponseError::UnknownTopicOrPartition)?;
    let partition = topic
        .partitions
        .get(partition.max(0) as usize)
        .ok_or(ResponseError::UnknownTopicOrPartition)?;
    Ok((topic, partition))
}
