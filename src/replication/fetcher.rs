//! One leader's fetcher: a loop of Fetch requests (v12, with this
//! broker's replica id and each partition's last fetched epoch) over one
//! connection, in a fetch session (KIP-227: after the first, each fetch
//! names only the partitions whose position changed), appending what
//! comes back byte for byte. A diverging epoch
//! in the answer (KIP-320/KIP-595's check, the Fetch-borne form of
//! OffsetForLeaderEpoch) truncates the follower's log to where it agrees
//! with the leader before it fetches on.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use bytes::Bytes;
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::fetch_request::FetchPartition;
use kafka_protocol::messages::fetch_response::PartitionData;
use kafka_protocol::messages::{BrokerId, FetchRequest, FetchResponse};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::throttle::FollowerThrottle;
use super::Followed;
use crate::client::fetch_session::SessionHandler;
use crate::client::Connection;
use crate::config::broker::ReplicationConfig;
use crate::metadata::BrokerImage;
use crate::partition::Partition;
use crate::types::{LeaderEpoch, Offset, TopicPartition};

/// The Fetch version followers speak: topics by name, replica id in the
/// body, last fetched epoch and diverging epochs.
const FETCH_VERSION: i16 = 12;

pub(super) struct Fetcher {
    node_id: i32,
    leader: BrokerImage,
    config: ReplicationConfig,
    throttle: Arc<FollowerThrottle>,
    partitions: watch::Receiver<Followed>,
    stop: CancellationToken,
    /// The fetch session (KIP-227) the leader keeps for this fetcher.
    session: SessionHandler,
}

impl Fetcher {
    pub(super) fn new(
        node_id: i32,
        leader: BrokerImage,
        config: ReplicationConfig,
        throttle: Arc<FollowerThrottle>,
        partitions: watch::Receiver<Followed>,
        stop: CancellationToken,
    ) -> Fetcher {
        Fetcher {
            node_id,
            leader,
            config,
            throttle,
            partitions,
            stop,
            session: SessionHandler::default(),
        }
    }

    pub(super) async fn run(mut self) {
        let address = format!("{}:{}", self.leader.host, self.leader.port);
        info!(leader = self.leader.node_id, %address, "replica fetcher started");
        let mut connection: Option<Connection> = None;
        loop {
            if self.stop.is_cancelled() {
                break;
            }
            let followed = self.partitions.borrow_and_update().clone();
            if followed.is_empty() {
                tokio::select! {
                    _ = self.partitions.changed() => continue,
                    _ = self.stop.cancelled() => break,
                }
            }
            // A test's network partition (`network_faults`) cuts this
            // link as a refused connection would.
            if let Err(error) = crate::network_faults::check(Some(self.node_id), &address) {
                debug!(leader = self.leader.node_id, %error, "cannot reach leader");
                connection = None;
                self.session.failed();
                self.back_off().await;
                continue;
            }
            let mut open = match connection.take() {
                Some(open) => open,
                None => {
                    let client_id = format!("{}{}", super::REPLICA_CLIENT_ID_PREFIX, self.node_id);
                    match Connection::connect_with(
                        &address,
                        &client_id,
                        &self.config.inter_broker_security,
                    )
                    .await
                    {
                        Ok(open) => open,
                        Err(error) => {
                            debug!(leader = self.leader.node_id, %error, "cannot reach leader");
                            self.back_off().await;
                            continue;
                        }
                    }
                }
            };
            let plan = self.throttle.plan(&followed);
            if !plan.held_back.is_empty() && plan.held_back.len() == followed.len() {
                // Everything is held back: wait for the rate to fall.
                connection = Some(open);
                self.back_off().await;
                continue;
            }
            let (request, wanted, epochs) = self.request(&followed, &plan.held_back);
            // A fetch interrupted mid-flight leaves the connection unusable:
            // it is dropped, and the next round reconnects.
            let response = tokio::select! {
                response = open.request_at(request, FETCH_VERSION) => response,
                _ = self.stop.cancelled() => break,
            };
            let response = match response {
                Ok(response) => response,
                Err(error) => {
                    debug!(leader = self.leader.node_id, %error, "replica fetch failed");
                    self.session.failed();
                    self.back_off().await;
                    continue;
                }
            };
            connection = Some(open);
            let error = ResponseError::try_from_code(response.error_code);
            self.session.answered(&wanted, error, response.session_id);
            if let Some(error) = error {
                // A session error: the next fetch is a full one.
                debug!(
                    leader = self.leader.node_id,
                    ?error,
                    "replica fetch session refused"
                );
                continue;
            }
            if !self
                .apply(&followed, &epochs, &plan.metered, response)
                .await
            {
                self.back_off().await;
            }
        }
        info!(leader = self.leader.node_id, "replica fetcher stopped");
    }

    async fn back_off(&self) {
        tokio::select! {
            _ = tokio::time::sleep(self.config.fetch_backoff) => {}
            _ = self.stop.cancelled() => {}
        }
    }

    /// The next Fetch (in the fetch session: only what changed since the
    /// last one), every partition as it wants it, and the leader epoch
    /// each partition was at: an answer for a partition whose epoch moved
    /// since is dropped.
    fn request(
        &self,
        followed: &Followed,
        held_back: &BTreeSet<TopicPartition>,
    ) -> (
        FetchRequest,
        BTreeMap<TopicPartition, FetchPartition>,
        BTreeMap<TopicPartition, LeaderEpoch>,
    ) {
        let mut wanted = BTreeMap::new();
        let mut epochs = BTreeMap::new();
        for (topic_partition, partition) in followed.iter() {
            if held_back.contains(topic_partition) {
                continue;
            }
            let epoch = partition.leader_epoch();
            epochs.insert(topic_partition.clone(), epoch);
            let fetch = FetchPartition::default()
                .with_partition(topic_partition.partition)
                .with_current_leader_epoch(epoch.value())
                .with_fetch_offset(partition.log_end_offset().value())
                .with_last_fetched_epoch(partition.latest_epoch().map_or(-1, |e| e.value()))
                .with_log_start_offset(partition.log_start_offset().value())
                .with_partition_max_bytes(self.config.fetch_max_bytes);
            wanted.insert(topic_partition.clone(), fetch);
        }
        let fetch = self.session.next(&wanted);
        let request = FetchRequest::default()
            .with_replica_id(BrokerId(self.node_id))
            .with_max_wait_ms(self.config.fetch_wait_max.as_millis() as i32)
            .with_min_bytes(1)
            .with_max_bytes(self.config.fetch_response_max_bytes)
            .with_session_id(fetch.session_id)
            .with_session_epoch(fetch.epoch)
            .with_topics(fetch.topics)
            .with_forgotten_topics_data(fetch.forgotten);
        (request, wanted, epochs)
    }

    /// Applies one response; false if every partition failed (back off).
    async fn apply(
        &self,
        followed: &Followed,
        epochs: &BTreeMap<TopicPartition, LeaderEpoch>,
        metered: &BTreeSet<TopicPartition>,
        response: FetchResponse,
    ) -> bool {
        let by_name: BTreeMap<&str, _> = response
            .responses
            .iter()
            .map(|topic| (topic.topic.as_str(), topic))
            .collect();
        // A partition an incremental answer leaves out had nothing new: it
        // is fine. Back off only when every partition failed.
        let mut fine = false;
        for (topic_partition, partition) in followed.iter() {
            // Held back from this fetch, or its epoch moved since.
            let Some(&fetched_at) = epochs.get(topic_partition) else {
                continue;
            };
            if fetched_at != partition.leader_epoch() {
                continue;
            }
            let Some(data) = by_name
                .get(topic_partition.topic.as_str())
                .and_then(|topic| {
                    topic
                        .partitions
                        .iter()
                        .find(|p| p.partition_index == topic_partition.partition)
                })
            else {
                fine = true;
                continue;
            };
            if metered.contains(topic_partition) {
                let bytes = data.records.as_ref().map_or(0, |records| records.len());
                self.throttle.record(bytes);
            }
            match self
                .apply_partition(topic_partition, partition, fetched_at, data)
                .await
            {
                Ok(()) => fine = true,
                Err(error) => {
                    debug!(partition = %topic_partition, leader = self.leader.node_id, %error,
                           "replica fetch of partition failed")
                }
            }
        }
        fine
    }

    async fn apply_partition(
        &self,
        topic_partition: &TopicPartition,
        partition: &Arc<Partition>,
        fetched_at: LeaderEpoch,
        data: &PartitionData,
    ) -> Result<(), String> {
        let error = ResponseError::try_from_code(data.error_code);
        match error {
            None => {}
            Some(ResponseError::OffsetOutOfRange) => {
                // The whole local log lies before the leader's start
                // (retention moved it): start over there.
                let leader_start = Offset(data.log_start_offset);
                if leader_start > partition.log_end_offset() {
                    warn!(partition = %topic_partition, start = %leader_start,
                          "follower behind the leader's log start: starting over there");
                    return partition
                        .truncate_fully_and_start_at(leader_start, fetched_at)
                        .await
                        .map_err(|e| e.to_string());
                }
                return Err("offset out of range".to_string());
            }
            Some(other) => return Err(format!("{other:?}")),
        }
        if data.diverging_epoch.epoch >= 0 || data.diverging_epoch.end_offset >= 0 {
            let epoch = data.diverging_epoch.epoch;
            // Where both logs agree: up to the leader's end of that epoch,
            // and no further than this log's own end of it.
            let mut target =
                Offset(data.diverging_epoch.end_offset).min(partition.log_end_offset());
            let (own_epoch, own_end) = partition
                .end_offset_for_epoch(epoch)
                .await
                .map_err(|e| e.to_string())?;
            if own_epoch >= 0 {
                target = target.min(own_end);
            }
            info!(partition = %topic_partition, epoch, end_offset = %target,
                  "log diverges from the leader's: truncating");
            return partition
                .truncate_to(target, fetched_at)
                .await
                .map_err(|e| e.to_string());
        }
        let records = data.records.clone().unwrap_or_default();
        if !records.is_empty() {
            append(partition, records, fetched_at).await?;
        }
        partition.set_leader_high_watermark(Offset(data.high_watermark));
        Ok(())
    }
}

async fn append(
    partition: &Arc<Partition>,
    records: Bytes,
    epoch: LeaderEpoch,
) -> Result<(), String> {
    partition
        .append_as_follower(records, epoch)
        .await
        .map_err(|error| error.to_string())
}
