//! Delegation tokens (KIP-48; Kafka's `DelegationTokenControlManager`):
//! created, renewed, expired and removed through the metadata log, so that
//! every broker authenticates a token the same way until it expires.

use kafka_protocol::error::ResponseError;
use tracing::info;

use super::quorum::MetadataRecord;
use super::{Controller, ControllerError};
use crate::config::delegation_token::DelegationTokenConfig;
use crate::metadata::delegation_tokens::{self, TokenInformation};

/// A CreateDelegationToken the broker checked (principals resolved).
pub struct NewToken {
    pub owner: String,
    pub requester: String,
    pub renewers: Vec<String>,
    /// The request's `max_lifetime_ms`; not positive: the broker's maximum.
    pub max_lifetime_ms: i64,
}

/// What a renewal or expiry answers: the token's new expiry, or Kafka's
/// error for it.
pub type ExpiryOutcome = Result<i64, ResponseError>;

impl Controller {
    /// Issues a token: it lives `delegation.token.expiry.time.ms` unless
    /// renewed, never past its maximum lifetime.
    pub fn create_delegation_token(
        &self,
        config: &DelegationTokenConfig,
        token: NewToken,
        now_ms: i64,
    ) -> Result<Result<TokenInformation, ResponseError>, ControllerError> {
        if config.secret().is_none() {
            return Ok(Err(ResponseError::DelegationTokenAuthDisabled));
        }
        let max_lifetime = match token.max_lifetime_ms {
            requested if requested > 0 => requested.min(config.max_lifetime_ms),
            _ => config.max_lifetime_ms,
        };
        let max_timestamp_ms = now_ms.saturating_add(max_lifetime);
        let information = TokenInformation {
            token_id: delegation_tokens::new_token_id(),
            owner: token.owner,
            requester: token.requester,
            renewers: token.renewers,
            issue_timestamp_ms: now_ms,
            expiry_timestamp_ms: max_timestamp_ms.min(now_ms.saturating_add(config.expiry_time_ms)),
            max_timestamp_ms,
        };
        let _writer = self.write_lock.lock().unwrap_or_else(|p| p.into_inner());
        self.commit(vec![MetadataRecord::PutDelegationToken(
            information.clone(),
        )])?;
        info!(token = %information.token_id, owner = %information.owner, "delegation token created");
        Ok(Ok(information))
    }

    /// RenewDelegationToken: `period_ms` more from now (negative: the
    /// broker's default), capped at the token's maximum.
    pub fn renew_delegation_token(
        &self,
        config: &DelegationTokenConfig,
        hmac: &[u8],
        principal: &str,
        period_ms: i64,
        now_ms: i64,
    ) -> Result<ExpiryOutcome, ControllerError> {
        let period = match period_ms {
            negative if negative < 0 => config.expiry_time_ms,
            period => period,
        };
        self.change_expiry(config, hmac, principal, now_ms, |token| {
            Some(token.max_timestamp_ms.min(now_ms.saturating_add(period)))
        })
    }

    /// ExpireDelegationToken: expires in `period_ms` (capped at the
    /// token's maximum); a negative period removes it at once.
    pub fn expire_delegation_token(
        &self,
        config: &DelegationTokenConfig,
        hmac: &[u8],
        principal: &str,
        period_ms: i64,
        now_ms: i64,
    ) -> Result<ExpiryOutcome, ControllerError> {
        let outcome = self.change_expiry(config, hmac, principal, now_ms, |token| {
            (period_ms >= 0).then(|| token.max_timestamp_ms.min(now_ms.saturating_add(period_ms)))
        })?;
        Ok(outcome.map(|expiry| match period_ms < 0 {
            true => now_ms.saturating_add(period_ms),
            false => expiry,
        }))
    }

    /// The checks renewal and expiry share, then the token with its new
    /// expiry (`None` from `expiry`: removed).
    fn change_expiry(
        &self,
        config: &DelegationTokenConfig,
        hmac: &[u8],
        principal: &str,
        now_ms: i64,
        expiry: impl FnOnce(&TokenInformation) -> Option<i64>,
    ) -> Result<ExpiryOutcome, ControllerError> {
        let Some(secret) = config.secret() else {
            return Ok(Err(ResponseError::DelegationTokenAuthDisabled));
        };
        let _writer = self.write_lock.lock().unwrap_or_else(|p| p.into_inner());
        let image = self.image();
        let Some(token) = delegation_tokens::find_by_hmac(&image.delegation_tokens, secret, hmac)
        else {
            return Ok(Err(ResponseError::DelegationTokenNotFound));
        };
        if !token.owner_or_renewer(principal) {
            return Ok(Err(ResponseError::DelegationTokenOwnerMismatch));
        }
        if token.max_timestamp_ms < now_ms || token.expired(now_ms) {
            return Ok(Err(ResponseError::DelegationTokenExpired));
        }
        let record = match expiry(token) {
            Some(expiry_timestamp_ms) => MetadataRecord::PutDelegationToken(TokenInformation {
                expiry_timestamp_ms,
                ..token.clone()
            }),
            None => MetadataRecord::RemoveDelegationTokens(vec![token.token_id.clone()]),
        };
        let outcome = match &record {
            MetadataRecord::PutDelegationToken(changed) => changed.expiry_timestamp_ms,
            _ => now_ms,
        };
        self.commit(vec![record])?;
        Ok(Ok(outcome))
    }

    /// Whether this node leads the metadata quorum: the active controller
    /// alone removes expired tokens.
    pub fn is_active(&self) -> bool {
        self.quorum.leader_term().is_some()
    }

    /// Removes the tokens past their expiry (every
    /// `delegation.token.expiry.check.interval.ms`); how many went.
    pub fn remove_expired_delegation_tokens(&self, now_ms: i64) -> Result<usize, ControllerError> {
        let _writer = self.write_lock.lock().unwrap_or_else(|p| p.into_inner());
        let expired: Vec<String> = self
            .image()
            .delegation_tokens
            .values()
            .filter(|token| token.expired(now_ms))
            .map(|token| token.token_id.clone())
            .collect();
        if expired.is_empty() {
            return Ok(0);
        }
        let count = expired.len();
        self.commit(vec![MetadataRecord::RemoveDelegationTokens(expired)])?;
        info!(count, "expired delegation tokens removed");
        Ok(count)
    }
}
