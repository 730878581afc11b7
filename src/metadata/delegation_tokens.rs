//! Delegation tokens (KIP-48) as the metadata keeps them: who owns each,
//! who asked for it, who may renew it, and when it expires. The token's
//! secret — its HMAC — is never stored: every broker derives it from the
//! token id with the cluster's `delegation.token.secret.key`, as Kafka's
//! `DelegationTokenManager` does, so the metadata log leaks no password.

use std::collections::BTreeMap;

use base64::Engine;
use serde::{Deserialize, Serialize};

use super::scram::{ScramCredential, ScramMechanism};

/// Every token, by id.
pub type DelegationTokens = BTreeMap<String, TokenInformation>;

/// One token, as Kafka's `TokenInformation` has it (principals written
/// `User:<name>`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenInformation {
    pub token_id: String,
    pub owner: String,
    /// Who created it (the owner, or a user allowed CREATE_TOKENS on it).
    pub requester: String,
    pub renewers: Vec<String>,
    pub issue_timestamp_ms: i64,
    /// Renewing moves this, never past `max_timestamp_ms`.
    pub expiry_timestamp_ms: i64,
    pub max_timestamp_ms: i64,
}

impl TokenInformation {
    /// Kafka's `ownerOrRenewer`: the principals that may renew, expire
    /// and describe the token without further permission.
    pub fn owner_or_renewer(&self, principal: &str) -> bool {
        self.owner == principal
            || self.requester == principal
            || self.renewers.iter().any(|r| r == principal)
    }

    pub fn expired(&self, now_ms: i64) -> bool {
        self.expiry_timestamp_ms < now_ms
    }
}

/// The token's HMAC-SHA512 under the secret key: what its holder proves
/// (Kafka's `DelegationTokenManager.createHmac`).
pub fn hmac(secret: &str, token_id: &str) -> Vec<u8> {
    ScramMechanism::Sha512.hmac_of(secret.as_bytes(), token_id.as_bytes())
}

/// The token whose HMAC this is (ring's verification compares in
/// constant time).
pub fn find_by_hmac<'a>(
    tokens: &'a DelegationTokens,
    secret: &str,
    given: &[u8],
) -> Option<&'a TokenInformation> {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA512, secret.as_bytes());
    tokens
        .values()
        .find(|token| ring::hmac::verify(&key, token.token_id.as_bytes(), given).is_ok())
}

/// The SCRAM credential a token logs in with (`tokenauth=true`): its id
/// as the user name and its HMAC in base64 as the password, as Kafka's
/// clients send them (`DelegationToken.hmacAsBase64String`), at the
/// mechanism's minimum iterations. The salt is derived from the secret
/// and the id, so every broker computes the same credential on demand.
pub fn scram_credential(
    mechanism: ScramMechanism,
    secret: &str,
    token_id: &str,
) -> ScramCredential {
    let password = base64::engine::general_purpose::STANDARD.encode(hmac(secret, token_id));
    let salt = mechanism.hmac_of(secret.as_bytes(), format!("salt:{token_id}").as_bytes());
    let salt = &salt[..16];
    let iterations = mechanism.min_iterations();
    let salted = mechanism.salted_password(password.as_bytes(), salt, iterations);
    ScramCredential::from_salted_password(mechanism, salt, &salted, iterations)
}

/// A new token id, as Kafka makes one: a random `Uuid` as it prints.
pub fn new_token_id() -> String {
    crate::kafka_uuid::random_text()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(id: &str) -> TokenInformation {
        TokenInformation {
            token_id: id.into(),
            owner: "User:alice".into(),
            requester: "User:admin".into(),
            renewers: vec!["User:bob".into()],
            issue_timestamp_ms: 0,
            expiry_timestamp_ms: 10,
            max_timestamp_ms: 20,
        }
    }

    #[test]
    fn a_token_is_found_by_its_hmac_under_the_same_secret_only() {
        let tokens: DelegationTokens = [("a".to_string(), token("a")), ("b".into(), token("b"))]
            .into_iter()
            .collect();
        let given = hmac("secret", "b");
        assert_eq!(given.len(), 64, "HMAC-SHA512");
        assert_eq!(
            find_by_hmac(&tokens, "secret", &given).map(|t| t.token_id.as_str()),
            Some("b")
        );
        assert!(find_by_hmac(&tokens, "other", &given).is_none());
        assert!(find_by_hmac(&tokens, "secret", &given[..63]).is_none());
    }

    #[test]
    fn owner_requester_and_renewers_may_act_on_a_token() {
        let t = token("a");
        for principal in ["User:alice", "User:admin", "User:bob"] {
            assert!(t.owner_or_renewer(principal), "{principal}");
        }
        assert!(!t.owner_or_renewer("User:mallory"));
        assert!(!t.expired(10) && t.expired(11));
    }

    #[test]
    fn the_scram_credential_is_the_same_on_every_broker_and_differs_per_token() {
        let one = scram_credential(ScramMechanism::Sha256, "secret", "a");
        assert_eq!(one, scram_credential(ScramMechanism::Sha256, "secret", "a"));
        assert_ne!(one, scram_credential(ScramMechanism::Sha256, "secret", "b"));
        assert_ne!(one, scram_credential(ScramMechanism::Sha256, "other", "a"));
        assert_eq!(one.iterations, 4096);
    }
}
