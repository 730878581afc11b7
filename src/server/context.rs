//! Who a request came from and on which listener, as Kafka's
//! `RequestContext` carries it: handlers that answer with addresses
//! (Metadata, FindCoordinator, DescribeCluster) answer with the listener's.

use std::net::SocketAddr;
use std::sync::Arc;

use super::api_versions::ListenerType;
use crate::auth::authorizer::Session;
use crate::auth::oauthbearer::Validator;
use crate::auth::tls_reload::ReloadableAcceptor;
use crate::broker::Broker;
use crate::config::security::{SaslConfig, SecurityProtocol};
use crate::metadata::acls::{AclOperation, ResourceType, CLUSTER_NAME};

/// One bound client listener, or the controller listener's Kafka side.
pub struct ListenerContext {
    /// Its name in `listeners`, e.g. `PLAINTEXT` or `EXTERNAL`.
    pub name: String,
    pub protocol: SecurityProtocol,
    /// Which of Kafka's API sets it serves.
    pub listener_type: ListenerType,
    /// Set for TLS listeners whose connections this layer handshakes (the
    /// controller listener's handshake is the quorum's).
    pub tls: Option<Arc<ReloadableAcceptor>>,
    /// How a client certificate's subject names the principal
    /// (`ssl.principal.mapping.rules`).
    pub principal_mapper: crate::auth::principal::PrincipalMapper,
    /// Set for SASL listeners: every connection authenticates first.
    pub sasl: Option<Arc<SaslConfig>>,
    /// Set for SASL listeners that enable OAUTHBEARER: how tokens are
    /// validated (its JWKS read at start-up).
    pub oauthbearer: Option<Arc<Validator>>,
}

/// What a handler may know of the connection a request came on.
#[derive(Clone)]
pub struct RequestContext {
    pub peer: SocketAddr,
    pub listener: Arc<ListenerContext>,
    /// Who sent it: `User:ANONYMOUS` until a TLS client certificate or a
    /// SASL exchange says otherwise.
    pub principal: Arc<str>,
    /// A delegation token authenticated the connection (Kafka's
    /// `KafkaPrincipal.tokenAuthenticated`).
    pub token_authenticated: bool,
}

/// Kafka's principal of unauthenticated connections.
pub const ANONYMOUS: &str = "User:ANONYMOUS";

impl RequestContext {
    pub fn listener_name(&self) -> &str {
        &self.listener.name
    }

    /// What this request's principal may do, against the ACLs of the
    /// current metadata (every check passes without an authorizer).
    pub fn authz<'a>(&'a self, broker: &'a Broker) -> Session<'a> {
        // Without an authorizer nothing is looked up: one shared empty set.
        static NO_ACLS: std::sync::LazyLock<Arc<crate::metadata::acls::Acls>> =
            std::sync::LazyLock::new(Arc::default);
        let acls = match broker.authorizer().enabled() {
            true => Arc::clone(&broker.metadata().acls),
            false => Arc::clone(&NO_ACLS),
        };
        broker
            .authorizer()
            .session(acls, &self.principal, self.peer.ip())
    }

    /// Whether the principal may do `operation` on the cluster: what
    /// Kafka's `authorizeClusterOperation` checks.
    pub fn may_on_cluster(&self, broker: &Broker, operation: AclOperation) -> bool {
        self.authz(broker)
            .allows(operation, ResourceType::Cluster, CLUSTER_NAME)
    }
}
