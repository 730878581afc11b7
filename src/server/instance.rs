//! A running broker: its listener bound, its data opened, its connection and
//! maintenance tasks started. The command line and the testkit both start
//! brokers through this.

use std::net::SocketAddr;
use std::sync::Arc;

use thiserror::Error;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::info;

use crate::broker::{Broker, BrokerError};
use crate::config::BrokerConfig;
use crate::log::LogError;

#[derive(Debug, Error)]
pub enum StartError {
    #[error("no listener configured (listeners=PLAINTEXT://host:port)")]
    NoListener,
    #[error("cannot listen on {address}: {source}")]
    Bind {
        address: String,
        source: std::io::Error,
    },
    #[error("cannot open the broker's data: {0}")]
    Open(#[from] BrokerError),
}

pub struct RunningBroker {
    broker: Arc<Broker>,
    address: SocketAddr,
    admin_address: Option<SocketAddr>,
    connections: CancellationToken,
    serving: JoinHandle<()>,
    maintenance: JoinHandle<()>,
}

fn blocking_failed(error: tokio::task::JoinError) -> StartError {
    StartError::Open(BrokerError::Log(LogError::Io(std::io::Error::other(
        error.to_string(),
    ))))
}

impl RunningBroker {
    /// Binds the client listener (port 0 picks a free one), opens and
    /// recovers the data, and starts serving.
    pub async fn start(config: BrokerConfig) -> Result<RunningBroker, StartError> {
        let listener_config = config
            .client_listener()
            .cloned()
            .ok_or(StartError::NoListener)?;
        let listener = TcpListener::bind(listener_config.bind_address())
            .await
            .map_err(|source| StartError::Bind {
                address: listener_config.bind_address(),
                source,
            })?;
        let address = listener.local_addr().map_err(|source| StartError::Bind {
            address: listener_config.bind_address(),
            source,
        })?;
        let advertised = config.advertised_listener();
        let advertised_port = match advertised.port {
            0 => address.port(),
            port if config.advertised_listeners.contains(advertised) => port,
            _ => address.port(),
        };
        // Bound before the data is opened, like the client listener: early
        // connections wait in the backlog rather than being refused.
        let admin_listener = match config.admin_listener.clone() {
            Some(admin) => {
                Some(
                    TcpListener::bind(&admin)
                        .await
                        .map_err(|source| StartError::Bind {
                            address: admin.clone(),
                            source,
                        })?,
                )
            }
            None => None,
        };
        let broker = tokio::task::spawn_blocking(move || Broker::open(config, advertised_port))
            .await
            .map_err(blocking_failed)??;
        info!(
            node_id = broker.config().node_id,
            address = %address,
            data_dir = %broker.config().data_dir().display(),
            "gregor broker started"
        );
        let connections = CancellationToken::new();
        let mut admin_address = None;
        if let Some(admin_listener) = admin_listener {
            admin_address = admin_listener.local_addr().ok();
            info!(address = ?admin_address, "admin listener (/metrics, /health) started");
            tokio::spawn(super::admin::run(
                Arc::clone(&broker),
                admin_listener,
                connections.clone(),
            ));
        }
        // Transactions decided before a restart get their markers now.
        let recovering = Arc::clone(&broker);
        tokio::spawn(async move { recovering.recover_transactions_if_due().await });
        broker.start_cluster_tasks();
        let maintenance = tokio::spawn(Arc::clone(&broker).run_log_maintenance());
        let serving = tokio::spawn(super::listener::run(
            Arc::clone(&broker),
            listener,
            connections.clone(),
        ));
        Ok(RunningBroker {
            broker,
            address,
            admin_address,
            connections,
            serving,
            maintenance,
        })
    }

    /// The address the listener is bound to.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The admin HTTP listener's address, if one is configured.
    pub fn admin_address(&self) -> Option<SocketAddr> {
        self.admin_address
    }

    pub fn broker(&self) -> &Arc<Broker> {
        &self.broker
    }

    /// Stops accepting, lets connections finish their current request, and
    /// stops the background tasks.
    async fn stop_serving(&mut self) {
        self.broker.begin_shutdown();
        self.connections.cancel();
        let _ = (&mut self.serving).await;
        self.maintenance.abort();
    }

    /// A clean shutdown: logs flushed, producer state snapshotted, the
    /// clean-shutdown marker written.
    pub async fn shutdown(mut self) -> Result<(), BrokerError> {
        self.broker.controlled_shutdown().await;
        self.stop_serving().await;
        let broker = Arc::clone(&self.broker);
        tokio::task::spawn_blocking(move || broker.shutdown())
            .await
            .map_err(|error| {
                BrokerError::Log(LogError::Io(std::io::Error::other(error.to_string())))
            })?
    }

    /// Stops without the clean shutdown: nothing is flushed or marked, so
    /// the next start runs crash recovery, as after `kill -9`.
    pub async fn abort(mut self) {
        self.stop_serving().await;
        // The metadata quorum's tasks stop too, as they would with the
        // process: a restart in the same process opens the log afresh.
        let broker = Arc::clone(&self.broker);
        let _ = tokio::task::spawn_blocking(move || broker.stop_metadata_quorum()).await;
    }
}
