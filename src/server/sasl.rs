//! SASL authentication of a connection on a `SASL_PLAINTEXT` or `SASL_SSL`
//! listener, as Kafka's `SaslServerAuthenticator` does it: until a
//! SaslHandshake (v1) names an enabled mechanism and a SaslAuthenticate
//! completes it, the connection may send only ApiVersions and those two;
//! anything else, an unsupported mechanism or a failed exchange ends it.
//!
//! The identity comes only from a completed, verified exchange: a PLAIN
//! password is compared in constant time with the listener's
//! `user_<name>` entry, and nothing is authenticated before that.

use std::sync::Arc;

use bytes::Bytes;
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::{
    ApiKey, RequestKind, ResponseKind, SaslAuthenticateResponse, SaslHandshakeResponse,
};
use kafka_protocol::protocol::StrBytes;
use tracing::info;

use super::codec::Request;
use crate::config::security::SaslConfig;

/// Kafka's message for a failed PLAIN or SCRAM exchange: it does not say
/// which of the two was wrong.
const AUTHENTICATION_FAILED: &str = "Authentication failed: Invalid username or password";

/// Where a connection is in its authentication.
enum State {
    /// Waiting for SaslHandshake.
    Handshake,
    /// The mechanism is agreed; waiting for SaslAuthenticate.
    Authenticate,
    /// Authenticated as this principal (`User:<name>`).
    Done(String),
}

pub struct Authenticator {
    config: Arc<SaslConfig>,
    state: State,
}

/// What the connection does with a request the authenticator looked at.
pub enum Step {
    /// Not the authenticator's: handle the request as usual.
    Pass,
    /// Answer this and go on.
    Answer(ResponseKind),
    /// Answer this, then close the connection for the reason given.
    AnswerAndClose(ResponseKind, String),
    /// Close at once.
    Close(String),
}

impl Authenticator {
    pub fn new(config: Arc<SaslConfig>) -> Authenticator {
        Authenticator {
            config,
            state: State::Handshake,
        }
    }

    /// The authenticated principal, once there is one.
    pub fn principal(&self) -> Option<&str> {
        match &self.state {
            State::Done(principal) => Some(principal),
            _ => None,
        }
    }

    pub fn step(&mut self, request: &Request) -> Step {
        match (&self.state, &request.body) {
            (State::Handshake, RequestKind::SaslHandshake(handshake)) => {
                let mechanisms = self
                    .config
                    .mechanisms
                    .iter()
                    .map(|m| StrBytes::from_string(m.clone()))
                    .collect();
                let response = SaslHandshakeResponse::default().with_mechanisms(mechanisms);
                let wanted = handshake.mechanism.as_str();
                if !self.config.mechanisms.iter().any(|m| m == wanted) {
                    return Step::AnswerAndClose(
                        ResponseKind::SaslHandshake(
                            response
                                .with_error_code(ResponseError::UnsupportedSaslMechanism.code()),
                        ),
                        format!("Unsupported SASL mechanism {wanted}"),
                    );
                }
                self.state = State::Authenticate;
                Step::Answer(ResponseKind::SaslHandshake(response))
            }
            (State::Authenticate, RequestKind::SaslAuthenticate(authenticate)) => {
                match verify_plain(&self.config, &authenticate.auth_bytes) {
                    Some(user) => {
                        let principal = format!("User:{user}");
                        info!(%principal, mechanism = "PLAIN", "authenticated");
                        self.state = State::Done(principal);
                        Step::Answer(ResponseKind::SaslAuthenticate(
                            SaslAuthenticateResponse::default()
                                .with_error_message(None)
                                .with_auth_bytes(Bytes::new()),
                        ))
                    }
                    None => Step::AnswerAndClose(
                        ResponseKind::SaslAuthenticate(
                            SaslAuthenticateResponse::default()
                                .with_error_code(ResponseError::SaslAuthenticationFailed.code())
                                .with_error_message(Some(StrBytes::from_static_str(
                                    AUTHENTICATION_FAILED,
                                ))),
                        ),
                        format!("Failed authentication ({AUTHENTICATION_FAILED})"),
                    ),
                }
            }
            (_, RequestKind::ApiVersions(_)) => Step::Pass,
            // Re-authentication (KIP-368) is not offered: sessions have no
            // lifetime, so clients never start one.
            (State::Done(_), RequestKind::SaslHandshake(_) | RequestKind::SaslAuthenticate(_)) => {
                Step::Answer(illegal_state(request.api_key))
            }
            (State::Done(_), _) => Step::Pass,
            (_, RequestKind::SaslHandshake(_) | RequestKind::SaslAuthenticate(_)) => {
                Step::AnswerAndClose(
                    illegal_state(request.api_key),
                    format!(
                        "Unexpected {:?} during SASL authentication",
                        request.api_key
                    ),
                )
            }
            (_, _) => Step::Close(format!(
                "Unexpected Kafka request of type {:?} during SASL handshake",
                request.api_key
            )),
        }
    }
}

/// The answer to SaslHandshake or SaslAuthenticate where they do not
/// belong: on a listener without SASL, or after authentication.
pub fn illegal_state(api_key: ApiKey) -> ResponseKind {
    let code = ResponseError::IllegalSaslState.code();
    match api_key {
        ApiKey::SaslHandshake => {
            ResponseKind::SaslHandshake(SaslHandshakeResponse::default().with_error_code(code))
        }
        _ => ResponseKind::SaslAuthenticate(
            SaslAuthenticateResponse::default()
                .with_error_code(code)
                .with_error_message(Some(StrBytes::from_static_str(
                    "SASL authentication is not expected here",
                ))),
        ),
    }
}

/// RFC 4616: `[authzid] NUL authcid NUL passwd`. The user, if the password
/// is theirs and no other identity is asked for.
fn verify_plain(config: &SaslConfig, token: &[u8]) -> Option<String> {
    let mut parts = token.split(|b| *b == 0);
    let (authzid, user, password) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let user = std::str::from_utf8(user).ok()?;
    if user.is_empty() || !(authzid.is_empty() || authzid == user.as_bytes()) {
        return None;
    }
    let expected = config.plain_users.get(user)?;
    constant_time_eq(expected.as_bytes(), password).then(|| user.to_string())
}

/// Compares without stopping at the first difference, so that the time
/// taken does not tell how much of a guess was right.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut difference = a.len() ^ b.len();
    for (i, byte) in b.iter().enumerate() {
        difference |= usize::from(a.get(i).copied().unwrap_or(0) ^ byte);
    }
    difference == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> SaslConfig {
        SaslConfig {
            mechanisms: vec!["PLAIN".to_string()],
            plain_users: [("alice".to_string(), "alice-secret".to_string())].into(),
        }
    }

    #[test]
    fn plain_accepts_only_the_users_own_password() {
        let config = config();
        assert_eq!(
            verify_plain(&config, b"\0alice\0alice-secret").as_deref(),
            Some("alice")
        );
        assert_eq!(
            verify_plain(&config, b"alice\0alice\0alice-secret").as_deref(),
            Some("alice")
        );
        for refused in [
            &b"\0alice\0alice-secreT"[..],
            b"\0alice\0alice-secret\0",
            b"\0alice\0alice-secre",
            b"\0alice\0",
            b"\0bob\0alice-secret",
            b"admin\0alice\0alice-secret",
            b"\0\0alice-secret",
            b"alice-secret",
            b"",
        ] {
            assert_eq!(verify_plain(&config, refused), None, "{refused:?}");
        }
    }
}
