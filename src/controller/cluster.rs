//! The brokers of the cluster (Kafka's `ClusterControlManager`):
//! heartbeats, fencing the silent and unfencing the heard, controlled
//! shutdown.

use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use tracing::{info, warn};

use super::election;
use super::quorum::{self, MetadataRecord};
use super::{Controller, ControllerError};
use crate::config::broker::ReplicationConfig;

impl Controller {
    /// The metadata quorum as its leader sees it (DescribeQuorum).
    pub async fn describe_quorum(
        &self,
    ) -> Result<quorum::describe::QuorumDescription, ControllerError> {
        Ok(self.quorum.describe().await?)
    }

    /// The controllers, as Kafka's DescribeCluster names them to clients
    /// that bootstrap from the controller listener: each voter's id and
    /// controller address, and the active controller's id (if known).
    pub fn controllers(&self) -> (Vec<(u64, String)>, Option<u64>) {
        let leader = self.quorum.leader().map(|(id, _)| id);
        (self.quorum.voters(), leader)
    }

    /// Serves the Kafka clients of the controller listener with `clients`
    /// (the server layer's connection handling); false if some were
    /// installed already.
    pub fn serve_kafka_clients(
        &self,
        clients: Arc<dyn quorum::kafka_clients::KafkaClients>,
    ) -> bool {
        self.quorum.serve_kafka_clients(clients)
    }

    /// AddRaftVoter / RemoveRaftVoter, carried out by the quorum's leader
    /// (`quorum/membership.rs`).
    pub async fn change_voters(
        &self,
        change: quorum::membership::VoterChange,
    ) -> Result<(), quorum::membership::MembershipError> {
        self.quorum.change_voters(change).await
    }

    /// Sends this broker's heartbeats and, while this node leads the
    /// quorum, fences brokers that went silent and unfences those that
    /// came back, moving leaderships accordingly. Runs until the quorum
    /// stops.
    pub async fn run_liveness(self: Arc<Self>, config: ReplicationConfig) {
        let stopped = self.quorum.stopped();
        let mut ticks = tokio::time::interval(
            config
                .heartbeat_interval
                .max(std::time::Duration::from_millis(50)),
        );
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut leading_term = None;
        loop {
            tokio::select! {
                _ = ticks.tick() => {}
                _ = stopped.cancelled() => return,
            }
            let leaving = self.leaving.load(std::sync::atomic::Ordering::Acquire);
            if let Err(error) = self
                .quorum
                .heartbeat(self.node_id, leaving, config.heartbeat_interval)
                .await
            {
                tracing::debug!(%error, "broker heartbeat not delivered");
            }
            let Some(term) = self.quorum.leader_term() else {
                leading_term = None;
                continue;
            };
            if leading_term != Some(term) {
                leading_term = Some(term);
                info!(term, "this node is now the active controller");
                let brokers = self
                    .quorum
                    .state()
                    .brokers
                    .keys()
                    .copied()
                    .collect::<Vec<_>>();
                self.quorum.liveness().restart_clocks(brokers);
                continue;
            }
            if let Err(error) = self.check_brokers(&config, term).await {
                tracing::warn!(%error, "broker liveness check failed");
            }
        }
    }

    /// One pass of the active controller, leading in `term`, over the
    /// registered brokers. Its decisions are written in that term or not
    /// at all.
    async fn check_brokers(
        &self,
        config: &ReplicationConfig,
        term: u64,
    ) -> Result<(), ControllerError> {
        let state = self.quorum.state();
        let liveness = self.quorum.liveness();
        for &node in state.brokers.keys() {
            liveness.start_clock_if_unknown(node);
            let alive = node == self.node_id || liveness.is_alive(node, config.session_timeout);
            let fenced = state.fenced.contains(&node);
            if !alive && !fenced {
                self.quorum
                    .propose_as_leader(MetadataRecord::FenceBroker { node_id: node }, term)
                    .await?;
                tracing::warn!(node, timeout = ?config.session_timeout, "no heartbeat: fenced broker");
            } else if alive && fenced && !liveness.is_leaving(node) {
                if let Some(image) = state.brokers.get(&node) {
                    self.quorum
                        .propose_as_leader(MetadataRecord::RegisterBroker(image.clone()), term)
                        .await?;
                    info!(node, "broker heard again: unfenced");
                }
            }
        }
        // Leaderships of fenced brokers move; leaderless partitions take
        // a live broker that may lead them. Both are no-ops once done.
        let state = self.quorum.state();
        let unclean = config.unclean_leader_election;
        let mut changes = Vec::new();
        for &node in state.brokers.keys() {
            if state.fenced.contains(&node) {
                changes.extend(election::on_fenced(&state, node, unclean));
            }
        }
        if changes.is_empty() {
            for &node in state.brokers.keys() {
                if !state.fenced.contains(&node) {
                    changes.extend(election::on_unfenced(&state, node, unclean));
                }
            }
        }
        if !changes.is_empty() {
            self.write_changes(changes, Some(term)).await?;
        }
        Ok(())
    }

    /// Kafka's controlled shutdown: this broker says it is leaving and
    /// fences itself, so that its leaderships move to in-sync replicas
    /// now rather than after its session times out. Best effort within
    /// `timeout` (the quorum may be gone too).
    pub async fn controlled_shutdown(
        &self,
        config: &ReplicationConfig,
        timeout: std::time::Duration,
    ) {
        self.leaving
            .store(true, std::sync::atomic::Ordering::Release);
        let node = self.node_id;
        let work = async {
            self.quorum
                .heartbeat(node, true, config.heartbeat_interval)
                .await
                .map_err(quorum::QuorumError::Raft)?;
            self.quorum
                .propose_async(MetadataRecord::FenceBroker { node_id: node })
                .await?;
            let state = self.quorum.state();
            let changes = election::on_fenced(&state, node, config.unclean_leader_election);
            self.write_changes(changes, None).await
        };
        match tokio::time::timeout(timeout, work).await {
            Ok(Ok(moved)) => info!(partitions = moved, "controlled shutdown: leaderships moved"),
            Ok(Err(error)) => warn!(%error, "controlled shutdown incomplete"),
            Err(_) => warn!(?timeout, "controlled shutdown timed out"),
        }
    }

    /// UnregisterBroker (`kafka-cluster.sh unregister`): the broker's
    /// registration goes, its leaderships and ISR memberships first, as
    /// when it is fenced. A broker that still runs is heard no more (its
    /// heartbeats name an unregistered node) until it restarts and
    /// registers again; Kafka's would re-register at once.
    pub async fn unregister_broker(
        &self,
        node: i32,
        unclean_default: bool,
    ) -> Result<(), (ResponseError, String)> {
        let state = self.quorum.state();
        if !state.brokers.contains_key(&node) {
            return Err((
                ResponseError::BrokerIdNotRegistered,
                format!("Broker ID {node} is not currently registered"),
            ));
        }
        let failed =
            |error: &dyn std::fmt::Display| (ResponseError::RequestTimedOut, error.to_string());
        let changes = election::on_fenced(&state, node, unclean_default);
        self.write_changes(changes, None)
            .await
            .map_err(|e| failed(&e))?;
        self.quorum
            .propose_async(MetadataRecord::UnregisterBroker { node_id: node })
            .await
            .map_err(|e| failed(&e))?;
        self.refresh();
        info!(node, "broker unregistered");
        Ok(())
    }
}
