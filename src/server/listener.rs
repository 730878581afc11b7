//! Accepting connections until shutdown, within the connection limits,
//! then waiting for them to finish.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{info, warn};

use super::connection;
use super::connection_quotas::{ConnectionLimits, ConnectionQuotas, TooManyConnections};
use super::context::ListenerContext;
use super::memory_pool::MemoryPool;
use crate::broker::Broker;
use crate::config::broker::SocketServerConfig;
use crate::controller::quorum::kafka_clients::{KafkaClients, KafkaConnection};

/// How long connections get to finish their current request on shutdown.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// How often a listener held at `max.connections` looks again at the
/// limit, which may be raised at run time.
const LIMIT_RECHECK: Duration = Duration::from_secs(1);

/// What every listener shares: the connection counts and the pool of
/// queued request bytes are broker-wide, as in Kafka.
#[derive(Clone)]
pub struct Budgets {
    quotas: Arc<ConnectionQuotas>,
    memory: MemoryPool,
}

impl Budgets {
    pub fn new(broker: &Broker) -> Budgets {
        Budgets {
            quotas: Arc::new(ConnectionQuotas::default()),
            memory: MemoryPool::new(broker.config().socket.queued_request_bytes()),
        }
    }
}

/// How a listener stops: `shutdown` stops accepting and lets each
/// connection finish its request; `killed` ends them at once, mid-request,
/// as a killed process does.
#[derive(Clone)]
pub struct Stopping {
    pub shutdown: CancellationToken,
    pub killed: CancellationToken,
}

pub async fn run(
    broker: Arc<Broker>,
    listener: TcpListener,
    context: Arc<ListenerContext>,
    budgets: Budgets,
    stopping: Stopping,
) {
    let Stopping { shutdown, killed } = stopping;
    let connections = TaskTracker::new();
    let Budgets { quotas, memory } = budgets;
    let mut limits = CurrentLimits::default();
    loop {
        let Some(current) = wait_for_slot(&broker, &quotas, &mut limits, &shutdown).await else {
            break;
        };
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = shutdown.cancelled() => break,
        };
        let throttle = match &accepted {
            Ok((_, peer)) => creation_throttle(&broker, *peer).await,
            Err(_) => None,
        };
        match accepted {
            // Over its address's connection_creation_rate (KIP-612):
            // accepted, never read, closed once the throttle is over.
            Ok((stream, peer)) if let Some(delay) = throttle => {
                info!(
                    "Delaying closing of connection from {} for {} ms",
                    peer.ip(),
                    delay.as_millis()
                );
                let shutdown = shutdown.clone();
                connections.spawn(async move {
                    tokio::select! {
                        _ = tokio::time::sleep(delay) => {}
                        _ = shutdown.cancelled() => {}
                    }
                    drop(stream);
                });
            }
            Ok((stream, peer)) => match quotas.open(peer.ip(), &current) {
                Ok(slot) => {
                    let serving = connection::serve(
                        Arc::clone(&broker),
                        stream,
                        peer,
                        Arc::clone(&context),
                        connection::Shared {
                            slot,
                            memory: memory.clone(),
                            shutdown: shutdown.clone(),
                        },
                    );
                    let killed = killed.clone();
                    connections.spawn(async move {
                        tokio::select! {
                            _ = serving => {}
                            _ = killed.cancelled() => {}
                        }
                    });
                }
                Err(TooManyConnections { address, max }) => {
                    // Kafka's words for it.
                    info!("Rejected connection from {address}, address already has the configured maximum of {max} connections.");
                    drop(stream);
                }
            },
            Err(error) => {
                // Typically EMFILE: back off instead of spinning.
                warn!(%error, "accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    connections.close();
    info!(
        listener = %context.name,
        open = connections.len(),
        "listener stopped; draining connections"
    );
    tokio::select! {
        drained = tokio::time::timeout(DRAIN_TIMEOUT, connections.wait()) => {
            if drained.is_err() {
                warn!("connections still busy after drain timeout");
            }
        }
        _ = killed.cancelled() => {}
    }
}

/// How long a new connection from `peer` waits to be closed unserved, if
/// it is over its address's `connection_creation_rate`.
async fn creation_throttle(broker: &Broker, peer: std::net::SocketAddr) -> Option<Duration> {
    let image = broker.metadata();
    if image.client_quotas.is_empty() {
        return None;
    }
    let rates = broker.quotas().ip_rates(&image.client_quotas).await;
    broker.quotas().connection_throttle(&rates, peer.ip())
}

/// Waits while the broker holds `max.connections` (Kafka blocks its
/// acceptor the same way), then gives the limits to accept under; `None`
/// on shutdown.
async fn wait_for_slot(
    broker: &Broker,
    quotas: &ConnectionQuotas,
    limits: &mut CurrentLimits,
    shutdown: &CancellationToken,
) -> Option<Arc<ConnectionLimits>> {
    let mut reported = false;
    loop {
        let current = limits.get(broker).await;
        let max = current.max_connections;
        if quotas.total() < max {
            return Some(current);
        }
        if !reported {
            warn!(
                max_connections = max,
                "max.connections reached: new connections wait until one closes"
            );
            reported = true;
        }
        tokio::select! {
            _ = quotas.wait_for_slot(max) => {}
            _ = tokio::time::sleep(LIMIT_RECHECK) => {}
            _ = shutdown.cancelled() => return None,
        }
    }
}

/// The connection limits as last resolved. `max.connections*` may change
/// at run time (dynamic broker configs), so they are read again before
/// each accept; host names are resolved again only when they change.
#[derive(Default)]
struct CurrentLimits {
    resolved: Option<(SocketServerConfig, Arc<ConnectionLimits>)>,
}

impl CurrentLimits {
    async fn get(&mut self, broker: &Broker) -> Arc<ConnectionLimits> {
        let config = broker
            .config_layers()
            .map(|layers| layers.effective.socket)
            .unwrap_or_else(|_| broker.config().socket.clone());
        if let Some((seen, limits)) = &self.resolved {
            if *seen == config {
                return Arc::clone(limits);
            }
        }
        let limits = Arc::new(ConnectionLimits::resolve(&config).await);
        self.resolved = Some((config, Arc::clone(&limits)));
        limits
    }
}

/// The controller listener's Kafka clients, handed over by the quorum
/// (which accepts them, next to its Raft peers): served as a client
/// listener's connections are, within the same connection limits and
/// budgets, and stopped with them.
pub struct ControllerClients {
    broker: Arc<Broker>,
    context: Arc<ListenerContext>,
    budgets: Budgets,
    stopping: Stopping,
    limits: Arc<tokio::sync::Mutex<CurrentLimits>>,
}

impl ControllerClients {
    pub fn new(
        broker: Arc<Broker>,
        context: Arc<ListenerContext>,
        budgets: Budgets,
        stopping: Stopping,
    ) -> ControllerClients {
        ControllerClients {
            broker,
            context,
            budgets,
            stopping,
            limits: Default::default(),
        }
    }
}

impl KafkaClients for ControllerClients {
    fn serve(&self, connection: KafkaConnection) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        let broker = Arc::clone(&self.broker);
        let context = Arc::clone(&self.context);
        let Budgets { quotas, memory } = self.budgets.clone();
        let Stopping { shutdown, killed } = self.stopping.clone();
        let limits = Arc::clone(&self.limits);
        Box::pin(async move {
            let KafkaConnection {
                stream,
                peer,
                principal,
            } = connection;
            // No waiting for a slot here: the quorum accepted already.
            let current = limits.lock().await.get(&broker).await;
            let slot = match quotas.open(peer.ip(), &current) {
                Ok(slot) => slot,
                Err(TooManyConnections { address, max }) => {
                    info!("Rejected connection from {address}, address already has the configured maximum of {max} connections.");
                    return;
                }
            };
            let shared = connection::Shared {
                slot,
                memory,
                shutdown,
            };
            let serving =
                connection::serve_handed_over(broker, stream, peer, principal, context, shared);
            tokio::select! {
                _ = serving => {}
                _ = killed.cancelled() => {}
            }
        })
    }
}
