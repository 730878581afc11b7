//! Delegation tokens (KIP-48), by Kafka's names and defaults: they are on
//! only when `delegation.token.secret.key` is set (the same on every
//! broker: it signs each token's HMAC).

use std::time::Duration;

use super::broker::Secret;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DelegationTokenConfig {
    /// `delegation.token.secret.key` (or its old name,
    /// `delegation.token.master.key`).
    pub secret_key: Option<Secret>,
    /// `delegation.token.max.lifetime.ms`: no renewal reaches past it.
    pub max_lifetime_ms: i64,
    /// `delegation.token.expiry.time.ms`: a token's life until renewed.
    pub expiry_time_ms: i64,
    /// `delegation.token.expiry.check.interval.ms`: how often expired
    /// tokens are removed.
    pub expiry_check_interval_ms: i64,
}

impl Default for DelegationTokenConfig {
    fn default() -> Self {
        DelegationTokenConfig {
            secret_key: None,
            max_lifetime_ms: 7 * 24 * 3_600_000,
            expiry_time_ms: 24 * 3_600_000,
            expiry_check_interval_ms: 3_600_000,
        }
    }
}

impl DelegationTokenConfig {
    /// The secret, when tokens are on.
    pub fn secret(&self) -> Option<&str> {
        self.secret_key.as_ref().map(|s| s.0.as_str())
    }

    pub fn expiry_check_interval(&self) -> Duration {
        Duration::from_millis(
            u64::try_from(self.expiry_check_interval_ms)
                .unwrap_or(1)
                .max(1),
        )
    }
}
