//! Kafka's `ConnectionQuotas`: how many connections the broker holds, in
//! all and per client address, against `max.connections`,
//! `max.connections.per.ip` and `max.connections.per.ip.overrides`.
//!
//! As in Kafka, the two limits act differently: at the broker-wide limit
//! the listener stops accepting (new clients wait in the listen backlog
//! until a connection closes), while a connection over its address's limit
//! is accepted and closed at once.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Notify;
use tracing::warn;

use crate::config::broker::SocketServerConfig;

/// The limits in force, with override host names resolved to addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionLimits {
    pub max_connections: usize,
    pub max_connections_per_ip: usize,
    pub per_ip_overrides: HashMap<IpAddr, usize>,
}

impl ConnectionLimits {
    /// Resolves the overrides' host names (Kafka resolves them when the
    /// setting changes, as here); a name that does not resolve is skipped
    /// with a warning rather than refusing every client.
    pub async fn resolve(config: &SocketServerConfig) -> ConnectionLimits {
        let mut per_ip_overrides = HashMap::new();
        for (host, count) in &config.max_connections_per_ip_overrides {
            let count = usize::try_from(*count).unwrap_or(0);
            if let Ok(address) = host.parse::<IpAddr>() {
                per_ip_overrides.insert(address, count);
                continue;
            }
            match tokio::net::lookup_host((host.as_str(), 0)).await {
                Ok(addresses) => {
                    for address in addresses {
                        per_ip_overrides.insert(address.ip(), count);
                    }
                }
                Err(error) => {
                    warn!(%host, %error, "max.connections.per.ip.overrides: cannot resolve host")
                }
            }
        }
        ConnectionLimits {
            max_connections: usize::try_from(config.max_connections).unwrap_or(0),
            max_connections_per_ip: usize::try_from(config.max_connections_per_ip).unwrap_or(0),
            per_ip_overrides,
        }
    }

    fn per_ip(&self, address: IpAddr) -> usize {
        self.per_ip_overrides
            .get(&address)
            .copied()
            .unwrap_or(self.max_connections_per_ip)
    }
}

#[derive(Default)]
struct Counts {
    total: usize,
    per_ip: HashMap<IpAddr, usize>,
}

/// The connections open now, shared by the listener and every connection.
#[derive(Default)]
pub struct ConnectionQuotas {
    counts: Mutex<Counts>,
    /// Wakes a listener waiting for a slot.
    closed: Notify,
}

/// A counted connection; dropping it frees its slot.
pub struct ConnectionSlot {
    quotas: Arc<ConnectionQuotas>,
    address: IpAddr,
}

/// A new connection from an address that already holds its maximum.
#[derive(Debug, PartialEq, Eq)]
pub struct TooManyConnections {
    pub address: IpAddr,
    pub max: usize,
}

impl ConnectionQuotas {
    fn counts(&self) -> MutexGuard<'_, Counts> {
        self.counts.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Connections open now.
    pub fn total(&self) -> usize {
        self.counts().total
    }

    /// Completes once the broker holds fewer than `max` connections.
    pub async fn wait_for_slot(&self, max: usize) {
        loop {
            // Registered before the check, so a close in between is not missed.
            let closed = self.closed.notified();
            if self.total() < max {
                return;
            }
            closed.await;
        }
    }

    /// Counts a connection just accepted from `address`, unless that
    /// address already holds its maximum.
    pub fn open(
        self: &Arc<Self>,
        address: IpAddr,
        limits: &ConnectionLimits,
    ) -> Result<ConnectionSlot, TooManyConnections> {
        let mut counts = self.counts();
        let held = counts.per_ip.get(&address).copied().unwrap_or(0);
        let max = limits.per_ip(address);
        if held >= max {
            return Err(TooManyConnections { address, max });
        }
        counts.per_ip.insert(address, held + 1);
        counts.total += 1;
        Ok(ConnectionSlot {
            quotas: Arc::clone(self),
            address,
        })
    }
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        {
            let mut counts = self.quotas.counts();
            counts.total = counts.total.saturating_sub(1);
            if let Some(held) = counts.per_ip.get_mut(&self.address) {
                *held -= 1;
                if *held == 0 {
                    counts.per_ip.remove(&self.address);
                }
            }
        }
        self.quotas.closed.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use std::time::Duration;

    fn limits(max: i32, per_ip: i32, overrides: &[(&str, i32)]) -> SocketServerConfig {
        SocketServerConfig {
            max_connections: max,
            max_connections_per_ip: per_ip,
            max_connections_per_ip_overrides: overrides
                .iter()
                .map(|(host, count)| (host.to_string(), *count))
                .collect::<BTreeMap<_, _>>(),
            ..SocketServerConfig::default()
        }
    }

    #[tokio::test]
    async fn an_address_over_its_limit_is_refused_and_overrides_win() {
        let limits = ConnectionLimits::resolve(&limits(100, 2, &[("127.0.0.2", 0)])).await;
        let quotas = Arc::new(ConnectionQuotas::default());
        let local: IpAddr = "127.0.0.1".parse().unwrap();
        let first = quotas.open(local, &limits).unwrap();
        let _second = quotas.open(local, &limits).unwrap();
        assert_eq!(
            quotas.open(local, &limits).err(),
            Some(TooManyConnections {
                address: local,
                max: 2
            })
        );
        let other: IpAddr = "127.0.0.2".parse().unwrap();
        assert_eq!(
            quotas.open(other, &limits).err(),
            Some(TooManyConnections {
                address: other,
                max: 0
            })
        );
        assert_eq!(quotas.total(), 2);
        drop(first);
        assert_eq!(quotas.total(), 1);
        assert!(quotas.open(local, &limits).is_ok());
    }

    #[tokio::test]
    async fn the_listener_waits_for_a_slot_until_a_connection_closes() {
        let limits = ConnectionLimits::resolve(&limits(1, 10, &[])).await;
        let quotas = Arc::new(ConnectionQuotas::default());
        let held = quotas.open("127.0.0.1".parse().unwrap(), &limits).unwrap();
        let waiting = tokio::spawn({
            let quotas = Arc::clone(&quotas);
            async move { quotas.wait_for_slot(limits.max_connections).await }
        });
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished());
        drop(held);
        tokio::time::timeout(Duration::from_secs(10), waiting)
            .await
            .expect("a closed connection frees the slot")
            .unwrap();
    }

    #[tokio::test]
    async fn override_host_names_resolve_to_their_addresses() {
        let limits = ConnectionLimits::resolve(&limits(10, 10, &[("localhost", 3)])).await;
        assert_eq!(limits.per_ip("127.0.0.1".parse().unwrap()), 3);
        assert_eq!(limits.per_ip("10.0.0.1".parse().unwrap()), 10);
    }
}
