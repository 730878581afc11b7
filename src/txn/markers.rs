//! Where a decided transaction's markers go: partitions this broker leads
//! get them directly; every other partition through a WriteTxnMarkers
//! request to its leader (one request per leader broker), as Kafka's
//! coordinator sends them. The partition leader settles transactional
//! offsets of `__consumer_offsets` itself when its marker arrives.

use crate::config::client_security::ClientSecurityConfig;
use std::collections::{BTreeMap, BTreeSet};

use kafka_protocol::messages::write_txn_markers_request::{
    WritableTxnMarker, WritableTxnMarkerTopic,
};
use kafka_protocol::messages::{ProducerId, TopicName, WriteTxnMarkersRequest};
use kafka_protocol::protocol::StrBytes;
use tracing::warn;

use super::state::TxnError;
use crate::client::Connection;
use crate::metadata::{BrokerImage, MetadataImage};
use crate::partition::Partitions;
use crate::records::control::TxnMarker;
use crate::types::TopicPartition;

/// What was written where: the partitions marked on this broker.
pub struct Written {
    pub local: Vec<TopicPartition>,
}

/// Writes `marker` to every partition of `targets`; fails (for a later
/// retry) if any partition could not be marked.
pub async fn write(
    partitions: &Partitions,
    image: &MetadataImage,
    marker: TxnMarker,
    targets: &BTreeSet<TopicPartition>,
    security: &ClientSecurityConfig,
) -> Result<Written, TxnError> {
    let mut local = Vec::new();
    let mut remote: BTreeMap<i32, (BrokerImage, Vec<TopicPartition>)> = BTreeMap::new();
    for topic_partition in targets {
        if let Some(partition) = partitions.get(topic_partition).filter(|p| p.is_leader()) {
            partition.append_marker(marker).await.map_err(|error| {
                warn!(partition = %topic_partition, %error, "writing transaction marker failed");
                TxnError::CoordinatorNotAvailable(error.to_string())
            })?;
            local.push(topic_partition.clone());
            continue;
        }
        let Some(topic) = image.topic(&topic_partition.topic) else {
            // The topic was deleted meanwhile: nothing left to mark.
            warn!(partition = %topic_partition, "no partition for a transaction marker");
            continue;
        };
        let leader = topic
            .partitions
            .get(topic_partition.partition.max(0) as usize)
            .and_then(|p| image.broker(p.leader))
            .ok_or_else(|| {
                TxnError::CoordinatorNotAvailable(format!("{topic_partition} has no leader"))
            })?;
        remote
            .entry(leader.node_id)
            .or_insert_with(|| (leader.clone(), Vec::new()))
            .1
            .push(topic_partition.clone());
    }
    for (leader, partitions) in remote.into_values() {
        send(&leader, marker, &partitions, security).await?;
    }
    Ok(Written { local })
}

async fn send(
    leader: &BrokerImage,
    marker: TxnMarker,
    partitions: &[TopicPartition],
    security: &ClientSecurityConfig,
) -> Result<(), TxnError> {
    let unavailable = |why: String| {
        warn!(leader = leader.node_id, %why, "transaction markers not delivered");
        TxnError::CoordinatorNotAvailable(why)
    };
    let mut topics: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
    for topic_partition in partitions {
        topics
            .entry(topic_partition.topic.as_str())
            .or_default()
            .push(topic_partition.partition);
    }
    let request =
        WriteTxnMarkersRequest::default().with_markers(vec![WritableTxnMarker::default()
            .with_producer_id(ProducerId(marker.producer_id))
            .with_producer_epoch(marker.producer_epoch)
            .with_transaction_result(marker.commit)
            .with_coordinator_epoch(marker.coordinator_epoch)
            .with_topics(
                topics
                    .into_iter()
                    .map(|(name, indexes)| {
                        WritableTxnMarkerTopic::default()
                            .with_name(TopicName(StrBytes::from_string(name.to_string())))
                            .with_partition_indexes(indexes)
                    })
                    .collect(),
            )]);
    let address = format!("{}:{}", leader.host, leader.port);
    let mut connection = Connection::connect_with(&address, "gregor-txn-coordinator", security)
        .await
        .map_err(|e| unavailable(e.to_string()))?;
    let response = connection
        .request_at(request, 1)
        .await
        .map_err(|e| unavailable(e.to_string()))?;
    let failed: Vec<String> = response
        .markers
        .iter()
        .flat_map(|m| m.topics.iter())
        .flat_map(|t| {
            t.partitions
                .iter()
                .filter(|p| p.error_code != 0)
                .map(move |p| {
                    format!(
                        "{}-{}: error {}",
                        t.name.as_str(),
                        p.partition_index,
                        p.error_code
                    )
                })
        })
        .collect();
    if failed.is_empty() {
        Ok(())
    } else {
        Err(unavailable(failed.join(", ")))
    }
}
