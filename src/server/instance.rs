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

use super::api_versions::ListenerType;
use super::context::ListenerContext;
use super::listener::Budgets;
use crate::auth::oauthbearer::{JwksError, Validator};
use crate::auth::principal::PrincipalMapper;
use crate::auth::tls::TlsError;
use crate::auth::tls_reload::ReloadableAcceptor;
use crate::broker::{Broker, BrokerError};
use crate::config::listener::Listener;
use crate::config::BrokerConfig;
use crate::log::LogError;
use crate::metadata::Endpoint;

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
    /// Configured, but not built yet: refused rather than served with less
    /// security than asked for.
    #[error("{0}")]
    Unsupported(String),
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error("listener {listener}: SASL/OAUTHBEARER: {source}")]
    OAuthBearer { listener: String, source: JwksError },
}

/// A client listener, bound.
struct Bound {
    listener: TcpListener,
    address: SocketAddr,
    context: Arc<ListenerContext>,
    endpoint: Endpoint,
}

pub struct RunningBroker {
    broker: Arc<Broker>,
    address: SocketAddr,
    admin_address: Option<SocketAddr>,
    connections: CancellationToken,
    /// Ends every connection at once, mid-request (`abort`: kill -9).
    killed: CancellationToken,
    serving: Vec<JoinHandle<()>>,
    maintenance: JoinHandle<()>,
}

fn blocking_failed(error: tokio::task::JoinError) -> StartError {
    StartError::Open(BrokerError::Log(LogError::Io(std::io::Error::other(
        error.to_string(),
    ))))
}

impl RunningBroker {
    /// Binds the client listeners (port 0 picks a free one), opens and
    /// recovers the data, and starts serving.
    pub async fn start(config: BrokerConfig) -> Result<RunningBroker, StartError> {
        check_security(&config)?;
        let mut bound = Vec::new();
        for listener in config.client_listeners() {
            bound.push(bind(&config, listener).await?);
        }
        let first = bound.first().ok_or(StartError::NoListener)?;
        let address = first.address;
        let endpoints = bound.iter().map(|b| b.endpoint.clone()).collect();
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
        // The controller listener's Kafka clients (`--bootstrap-controller`)
        // are served with its own name's security, once the broker runs.
        let controller_context = match config.controller_listener() {
            Some(listener) if config.is_controller() => Some(Arc::new(
                listener_context(&config, &listener.name, ListenerType::Controller).await?,
            )),
            _ => None,
        };
        let broker = tokio::task::spawn_blocking(move || Broker::open(config, endpoints))
            .await
            .map_err(blocking_failed)??;
        for tls in bound.iter().filter_map(|b| b.context.tls.as_ref()) {
            broker.register_listener_tls(Arc::clone(tls));
        }
        for b in &bound {
            info!(
                listener = %b.context.name,
                protocol = %b.context.protocol,
                address = %b.address,
                advertised = %format!("{}:{}", b.endpoint.host, b.endpoint.port),
                "listening"
            );
        }
        info!(
            node_id = broker.config().node_id,
            address = %address,
            data_dir = %broker.config().data_dir().display(),
            "gregor broker started"
        );
        let connections = CancellationToken::new();
        let killed = CancellationToken::new();
        let mut admin_address = None;
        if let Some(admin_listener) = admin_listener {
            broker.journal().enable();
            broker.linter().enable();
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
        let budgets = Budgets::new(&broker);
        let stopping = super::listener::Stopping {
            shutdown: connections.clone(),
            killed: killed.clone(),
        };
        if let Some(context) = controller_context {
            let clients = super::listener::ControllerClients::new(
                Arc::clone(&broker),
                context,
                budgets.clone(),
                stopping.clone(),
            );
            broker.controller().serve_kafka_clients(Arc::new(clients));
        }
        let serving = bound
            .into_iter()
            .map(|b| {
                tokio::spawn(super::listener::run(
                    Arc::clone(&broker),
                    b.listener,
                    b.context,
                    budgets.clone(),
                    stopping.clone(),
                ))
            })
            .collect();
        Ok(RunningBroker {
            broker,
            address,
            admin_address,
            connections,
            killed,
            serving,
            maintenance,
        })
    }

    /// The address the first client listener is bound to.
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
        for serving in &mut self.serving {
            let _ = serving.await;
        }
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
        // No request is finished: an acks=all write waiting for its
        // followers must not complete (it would shrink the ISR first).
        self.killed.cancel();
        self.stop_serving().await;
        // The metadata quorum's tasks stop too, as they would with the
        // process: a restart in the same process opens the log afresh.
        let broker = Arc::clone(&self.broker);
        let _ = tokio::task::spawn_blocking(move || broker.stop_metadata_quorum()).await;
    }
}

/// Refuses what the configuration asks for and gregor does not do yet.
fn check_security(config: &BrokerConfig) -> Result<(), StartError> {
    let security = &config.security;
    for name in &config.controller_listener_names {
        let protocol = security.protocol(name);
        if !protocol.uses_sasl() {
            continue;
        }
        // Controllers log in to each other with PLAIN (see
        // ClientSecurityConfig::controller): the listener must take it.
        if let Err(reason) = &security.controller_client {
            return Err(StartError::Unsupported(format!(
                "controller listener {name} is {protocol}: {reason}"
            )));
        }
        if let Some(sasl) = security.sasl.get(name) {
            if !sasl.mechanisms.iter().any(|m| m == "PLAIN") {
                return Err(StartError::Unsupported(format!(
                    "controller listener {name} is {protocol}: controllers log in to each other with SASL/PLAIN, which its sasl.enabled.mechanisms ({}) lack",
                    sasl.mechanisms.join(",")
                )));
            }
        }
    }
    // Brokers that have others to talk to must be able to.
    let alone = config.controller_quorum_voters.len() <= 1
        && config.controller_quorum_bootstrap_servers.is_empty()
        && config.is_controller();
    if let (Err(reason), false) = (&security.inter_broker_client, alone) {
        return Err(StartError::Unsupported(format!(
            "the inter-broker listener {}: {reason}",
            security.inter_broker_listener_name
        )));
    }
    Ok(())
}

/// What a listener's connections are served with, by its name's
/// settings: its TLS acceptor (for a client listener: the controller
/// listener's handshake is the quorum's), its principal mapping, its SASL
/// mechanisms and OAUTHBEARER keys (loaded now, so that a bad key or a
/// missing file stops start-up).
async fn listener_context(
    config: &BrokerConfig,
    name: &str,
    listener_type: ListenerType,
) -> Result<ListenerContext, StartError> {
    let protocol = config.security.protocol(name);
    let tls = match config.security.ssl.get(name) {
        Some(ssl) if protocol.uses_tls() && listener_type == ListenerType::Broker => {
            Some(Arc::new(ReloadableAcceptor::new(name, ssl)?))
        }
        _ => None,
    };
    let principal_mapper = match config.security.ssl.get(name) {
        Some(ssl) => PrincipalMapper::parse(&ssl.principal_mapping_rules).map_err(|reason| {
            StartError::Unsupported(format!(
                "listener {name}: ssl.principal.mapping.rules: {reason}"
            ))
        })?,
        None => PrincipalMapper::default(),
    };
    let sasl = config
        .security
        .sasl
        .get(name)
        .filter(|_| protocol.uses_sasl());
    let oauthbearer = match sasl.and_then(|sasl| sasl.oauthbearer.as_ref()) {
        None => None,
        Some(oauthbearer) => Some(Arc::new(Validator::start(oauthbearer).await.map_err(
            |source| StartError::OAuthBearer {
                listener: name.to_string(),
                source,
            },
        )?)),
    };
    Ok(ListenerContext {
        name: name.to_string(),
        protocol,
        listener_type,
        tls,
        principal_mapper,
        sasl: sasl.cloned().map(Arc::new),
        oauthbearer,
    })
}

/// Binds one client listener.
async fn bind(config: &BrokerConfig, listener: &Listener) -> Result<Bound, StartError> {
    let context = listener_context(config, &listener.name, ListenerType::Broker).await?;
    let bind_error = |source| StartError::Bind {
        address: listener.bind_address(),
        source,
    };
    let socket = crate::listen::bind(&listener.bind_address())
        .await
        .map_err(bind_error)?;
    let address = socket.local_addr().map_err(bind_error)?;
    let advertised = config.advertised(listener);
    let endpoint = Endpoint {
        listener: listener.name.clone(),
        host: match advertised.host.as_str() {
            "" | "0.0.0.0" | "::" => "localhost".to_string(),
            host => host.to_string(),
        },
        // Port 0 binds any free port: the one bound is advertised.
        port: match advertised.port {
            0 => address.port(),
            port => port,
        },
    };
    Ok(Bound {
        listener: socket,
        address,
        context: Arc::new(context),
        endpoint,
    })
}
