//! Dynamic broker configs (Kafka's `ConfigurationControlManager`, broker
//! side): per-broker and cluster-wide defaults, validated, then written as
//! one record for the scope changed.

use std::collections::BTreeMap;
use std::sync::Arc;

use tracing::info;

use super::quorum::MetadataRecord;
use super::{Controller, ControllerError};
use crate::config::dynamic::{BrokerConfigError, DynamicBrokerConfigs, Scope};

impl Controller {
    /// Replaces the dynamic configs of one scope with what `change` makes
    /// of all current ones (it validates them; it runs under the write
    /// lock, so concurrent changes do not lose each other's updates).
    /// With `validate_only`, nothing is stored.
    pub fn alter_broker_configs(
        &self,
        scope: Scope,
        validate_only: bool,
        change: impl FnOnce(
            &DynamicBrokerConfigs,
        ) -> Result<BTreeMap<String, String>, BrokerConfigError>,
    ) -> Result<Arc<DynamicBrokerConfigs>, ControllerError> {
        let _writer = self.write_lock.lock().unwrap_or_else(|p| p.into_inner());
        let current = self.broker_configs();
        let configs = change(&current)?;
        let next = Arc::new(current.with(scope, configs.clone()));
        if validate_only {
            return Ok(next);
        }
        let node_id = match scope {
            Scope::Broker(node_id) => Some(node_id),
            Scope::ClusterDefault => None,
        };
        self.commit(vec![MetadataRecord::PutBrokerScopeConfigs {
            node_id,
            configs,
        }])?;
        info!(?scope, "altered dynamic broker configs");
        Ok(next)
    }
}
