//! A broker that is not a voter (`process.roles=broker`) follows the
//! metadata from the voters instead of taking part in Raft, as Kafka's
//! brokers fetch the metadata log from the controller quorum: it
//! long-polls a voter for the applied state whenever it moves, and sends
//! its proposals and heartbeats to the voters, which pass them on to the
//! quorum's leader.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info};

use super::network;
use super::{MetadataRecord, MetadataResponse, MetadataState, QuorumError};

/// How long one metadata poll may wait at a voter for something new.
pub const POLL_WAIT: Duration = Duration::from_secs(2);

pub struct Observer {
    /// The voters' controller addresses.
    voters: Vec<String>,
    transport: network::Transport,
    state: watch::Sender<Arc<MetadataState>>,
    /// The metadata log index `state` reflects (0: nothing yet).
    index: watch::Sender<u64>,
}

impl Observer {
    /// Starts following the voters; the state fills in at the first poll.
    pub fn start(
        voters: Vec<String>,
        transport: network::Transport,
        runtime: &tokio::runtime::Handle,
        stop: CancellationToken,
    ) -> Arc<Observer> {
        let observer = Arc::new(Observer {
            voters,
            transport,
            state: watch::Sender::new(Arc::new(MetadataState::default())),
            index: watch::Sender::new(0),
        });
        runtime.spawn(Arc::clone(&observer).follow(stop));
        observer
    }

    async fn follow(self: Arc<Self>, stop: CancellationToken) {
        let mut voter = 0;
        loop {
            let known = *self.index.borrow();
            let address = &self.voters[voter % self.voters.len()];
            let polled = tokio::select! {
                polled = network::fetch_state(&self.transport, address, known, POLL_WAIT * 2) => polled,
                _ = stop.cancelled() => return,
            };
            match polled {
                Ok(Some((index, state))) => {
                    if known == 0 {
                        info!(%address, index, "metadata received from the quorum");
                    }
                    self.state.send_replace(Arc::new(state));
                    self.index.send_replace(index);
                }
                Ok(None) => {}
                Err(error) => {
                    debug!(%address, %error, "metadata poll failed; trying the next voter");
                    voter += 1;
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_millis(200)) => {}
                        _ = stop.cancelled() => return,
                    }
                }
            }
        }
    }

    /// The voters' controller addresses, as configured.
    pub fn voters(&self) -> &[String] {
        &self.voters
    }

    pub fn state(&self) -> Arc<MetadataState> {
        self.state.borrow().clone()
    }

    pub fn subscribe(&self) -> watch::Receiver<Arc<MetadataState>> {
        self.state.subscribe()
    }

    /// Waits until the state reflects the metadata log up to `index`.
    pub async fn caught_up_to(&self, index: u64, timeout: Duration) -> Result<(), QuorumError> {
        let mut seen = self.index.subscribe();
        let reached = tokio::time::timeout(timeout, seen.wait_for(|at| *at >= index))
            .await
            .is_ok_and(|waited| waited.is_ok());
        match reached {
            true => Ok(()),
            false => Err(QuorumError::Raft(format!(
                "metadata not received up to index {index} within {timeout:?}"
            ))),
        }
    }

    /// Has a voter write `record` (it forwards to the quorum's leader),
    /// then waits until this observer's state includes it.
    pub async fn propose(
        &self,
        record: MetadataRecord,
        timeout: Duration,
    ) -> Result<MetadataResponse, QuorumError> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut failure = String::from("no voter reachable");
        loop {
            for address in &self.voters {
                match network::forward(&self.transport, address, record.clone(), timeout).await {
                    Ok((response, index)) => {
                        self.caught_up_to(index, timeout).await?;
                        return Ok(response);
                    }
                    Err(error) => failure = error,
                }
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(QuorumError::Raft(failure));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Tells every voter this broker is alive: whichever leads counts it.
    /// The quorum's description, from the first voter that gives it.
    pub async fn describe(
        &self,
        ttl: Duration,
    ) -> Result<super::describe::QuorumDescription, String> {
        let mut failure = "no voters".to_string();
        for address in &self.voters {
            match network::describe(&self.transport, address, false, ttl).await {
                Ok(description) => return Ok(description),
                Err(error) => failure = error,
            }
        }
        Err(failure)
    }

    pub async fn heartbeat(
        &self,
        node_id: i32,
        leaving: bool,
        ttl: Duration,
    ) -> Result<(), String> {
        let mut delivered = false;
        let mut failure = String::new();
        for address in &self.voters {
            match network::heartbeat(&self.transport, address, node_id, leaving, ttl).await {
                Ok(()) => delivered = true,
                Err(error) => failure = error,
            }
        }
        match delivered {
            true => Ok(()),
            false => Err(failure),
        }
    }
}
