//! The TLS listeners' stores changed at run time (Kafka's dynamic
//! `listener.name.<l>.ssl.*` broker configs): each change to this broker's
//! configs reloads the listeners whose settings it changes, or whose store
//! files were modified since they were loaded, once every one of them has
//! loaded and passed Kafka's checks; otherwise the change is refused.

use std::sync::{Arc, Mutex};

use tracing::{info, warn};

use super::Broker;
use crate::auth::tls_reload::{Prepared, ReloadableAcceptor};
use crate::config::dynamic::BrokerConfigError;
use crate::config::security::SecurityConfig;

/// The TLS acceptors of this broker's client listeners.
#[derive(Default)]
pub struct ListenerTls(Mutex<Vec<Arc<ReloadableAcceptor>>>);

/// Replacements loaded and checked, to install once the change is
/// committed.
pub struct Reloads(Vec<(Arc<ReloadableAcceptor>, Prepared)>);

impl ListenerTls {
    pub fn register(&self, acceptor: Arc<ReloadableAcceptor>) {
        self.lock().push(acceptor);
    }

    /// The replacements `security` (the configs a change would leave)
    /// asks for, each loaded and checked.
    pub fn prepare(&self, security: &SecurityConfig) -> Result<Reloads, BrokerConfigError> {
        let mut reloads = Vec::new();
        for acceptor in self.lock().iter() {
            let Some(config) = security.ssl.get(acceptor.listener()) else {
                continue;
            };
            if acceptor.needs_rebuild(config) {
                let prepared = acceptor
                    .prepare(config)
                    .map_err(BrokerConfigError::SslReconfiguration)?;
                reloads.push((Arc::clone(acceptor), prepared));
            }
        }
        Ok(Reloads(reloads))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Arc<ReloadableAcceptor>>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Reloads {
    pub fn install(self) {
        for (acceptor, prepared) in self.0 {
            acceptor.install(prepared);
            info!(
                listener = acceptor.listener(),
                "TLS keystore and truststore reloaded"
            );
        }
    }
}

impl Broker {
    /// Serves `acceptor`'s listener with the stores the dynamic configs
    /// name (kept in the metadata across restarts) where they differ from
    /// the static ones; one that cannot be loaded is logged and the static
    /// stores kept.
    pub fn register_listener_tls(&self, acceptor: Arc<ReloadableAcceptor>) {
        self.listener_tls.register(Arc::clone(&acceptor));
        let layers = match self.config_layers() {
            Ok(layers) => layers,
            Err(error) => {
                warn!(%error, "dynamic broker configs unusable: TLS stores as configured at start");
                return;
            }
        };
        let Some(config) = layers.effective.security.ssl.get(acceptor.listener()) else {
            return;
        };
        if acceptor.needs_rebuild(config) {
            match acceptor.prepare(config) {
                Ok(prepared) => {
                    acceptor.install(prepared);
                    info!(
                        listener = acceptor.listener(),
                        "TLS stores from the dynamic broker configs"
                    );
                }
                Err(error) => {
                    warn!(listener = acceptor.listener(), %error, "the dynamic TLS stores cannot be used: serving the static ones")
                }
            }
        }
    }
}
