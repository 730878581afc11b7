//! `connection_creation_rate` by client address. An IP quota entity names
//! an address or a host name; Kafka resolves a name once, when the quota
//! record applies (`InetAddress.getByName`). Here the names are resolved
//! once per change of the quotas, by the first connection accepted after
//! it, and every address a name resolves to takes its rate (a host name
//! means all of its addresses). An address named as such wins over a host
//! name that resolves to it; the default IP's rate applies to the rest.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use tracing::warn;

use crate::metadata::client_quotas::ClientQuotas;

/// The IP quotas, resolved.
#[derive(Debug)]
pub struct IpRates {
    /// What they were resolved from: the quotas' IP entities.
    named: Vec<(Option<String>, f64)>,
    by_address: HashMap<IpAddr, f64>,
    default: Option<f64>,
}

impl IpRates {
    async fn resolve(named: Vec<(Option<String>, f64)>) -> IpRates {
        let mut by_address = HashMap::new();
        let mut literal = Vec::new();
        let mut default = None;
        for (name, rate) in &named {
            let Some(name) = name else {
                default = Some(*rate);
                continue;
            };
            if let Ok(address) = name.parse::<IpAddr>() {
                literal.push((address.to_canonical(), *rate));
                continue;
            }
            match tokio::net::lookup_host((name.as_str(), 0)).await {
                Ok(addresses) => {
                    for address in addresses {
                        by_address.insert(address.ip().to_canonical(), *rate);
                    }
                }
                // The controller resolved it when the quota was set.
                Err(error) => warn!(host = %name, %error, "cannot resolve the IP quota's host"),
            }
        }
        by_address.extend(literal);
        IpRates {
            named,
            by_address,
            default,
        }
    }

    /// The rate connections from `ip` are held to, if any.
    pub fn rate(&self, ip: IpAddr) -> Option<f64> {
        self.by_address
            .get(&ip.to_canonical())
            .copied()
            .or(self.default)
    }
}

/// The IP quotas as last resolved, and the quotas they were read from.
#[derive(Default)]
pub struct ResolvedIpRates(tokio::sync::Mutex<Option<(Arc<ClientQuotas>, Arc<IpRates>)>>);

impl ResolvedIpRates {
    /// `quotas`' IP rates: the same quotas (a metadata image keeps them
    /// while they do not change) are not read again, and their IP
    /// entities are resolved again only if they changed.
    pub async fn current(&self, quotas: &Arc<ClientQuotas>) -> Arc<IpRates> {
        let mut resolved = self.0.lock().await;
        if let Some((source, rates)) = resolved.as_ref() {
            if Arc::ptr_eq(source, quotas) {
                return Arc::clone(rates);
            }
        }
        let named = quotas.connection_rates();
        let rates = match resolved.take() {
            Some((_, rates)) if rates.named == named => rates,
            _ => Arc::new(IpRates::resolve(named).await),
        };
        *resolved = Some((Arc::clone(quotas), Arc::clone(&rates)));
        rates
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::client_quotas::{QuotaEntity, QuotaValue};

    fn rates(entries: &[(Option<&str>, f64)]) -> Arc<ClientQuotas> {
        let mut quotas = ClientQuotas::default();
        for (name, rate) in entries {
            quotas.apply(
                &QuotaEntity::ip(*name),
                "connection_creation_rate",
                Some(QuotaValue(*rate)),
            );
        }
        Arc::new(quotas)
    }

    #[tokio::test]
    async fn host_names_cover_their_addresses_and_literal_addresses_win() {
        let resolved = ResolvedIpRates::default();
        let ip = |text: &str| text.parse::<IpAddr>().unwrap();
        let quotas = rates(&[(Some("localhost"), 2.0), (Some("0:0:0:0:0:0:0:1"), 7.0)]);
        let current = resolved.current(&quotas).await;
        assert_eq!(current.rate(ip("127.0.0.1")), Some(2.0));
        // IPv4 as an IPv6 listener sees it.
        assert_eq!(current.rate(ip("::ffff:127.0.0.1")), Some(2.0));
        assert_eq!(current.rate(ip("::1")), Some(7.0));
        assert_eq!(current.rate(ip("127.0.0.2")), None);
        assert!(Arc::ptr_eq(&current, &resolved.current(&quotas).await));
        // Equal quotas of a newer image: not resolved again.
        let equal = Arc::new((*quotas).clone());
        assert!(Arc::ptr_eq(&current, &resolved.current(&equal).await));

        let quotas = rates(&[(Some("127.0.0.1"), 3.0), (None, 9.0)]);
        let current = resolved.current(&quotas).await;
        assert_eq!(current.rate(ip("127.0.0.1")), Some(3.0));
        assert_eq!(current.rate(ip("127.0.0.2")), Some(9.0));
    }
}
