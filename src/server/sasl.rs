//! SASL authentication of a connection on a `SASL_PLAINTEXT` or `SASL_SSL`
//! listener, as Kafka's `SaslServerAuthenticator` does it: until a
//! SaslHandshake (v1) names an enabled mechanism and SaslAuthenticate
//! completes it, the connection may send only ApiVersions and those two;
//! anything else, an unsupported mechanism or a failed exchange ends it.
//!
//! The identity comes only from a completed, verified exchange (PLAIN's
//! password compared in constant time; SCRAM's proof checked against the
//! stored key): no state before that one carries a principal.
//!
//! With `connections.max.reauth.ms` set, SaslAuthenticate tells the client
//! its session's lifetime (KIP-368); the client re-authenticates before it
//! ends, as the same principal, or the connection is closed at its next
//! request after it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::{
    ApiKey, RequestKind, ResponseKind, SaslAuthenticateRequest, SaslAuthenticateResponse,
    SaslHandshakeRequest, SaslHandshakeResponse,
};
use kafka_protocol::protocol::StrBytes;
use tracing::info;

use super::codec::Request;
use crate::auth::plain;
use crate::auth::scram::{ScramError, ScramServer};
use crate::config::security::SaslConfig;
use crate::metadata::scram::{ScramCredential, ScramMechanism};

/// Kafka's message for a failed PLAIN exchange: it does not say which of
/// user or password was wrong.
const PLAIN_FAILED: &str = "Authentication failed: Invalid username or password";

/// Kafka's message for a failed SCRAM exchange (any step but two).
fn scram_failed(mechanism: ScramMechanism, reauthenticating: bool) -> String {
    let during = match reauthenticating {
        true => "re-authentication",
        false => "authentication",
    };
    format!(
        "Authentication failed during {during} due to invalid credentials with SASL mechanism {mechanism}"
    )
}

/// A mechanism a handshake agreed on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mechanism {
    Plain,
    Scram(ScramMechanism),
}

impl Mechanism {
    fn from_name(name: &str) -> Option<Mechanism> {
        match name {
            "PLAIN" => Some(Mechanism::Plain),
            other => ScramMechanism::from_name(other).map(Mechanism::Scram),
        }
    }

    fn failure(self, reauthenticating: bool) -> String {
        match self {
            Mechanism::Plain => PLAIN_FAILED.to_string(),
            Mechanism::Scram(scram) => scram_failed(scram, reauthenticating),
        }
    }
}

/// An authenticated session.
struct Session {
    /// `User:<name>`.
    principal: String,
    mechanism: Mechanism,
    /// When re-authentication is due (`connections.max.reauth.ms`), for
    /// clients of every SaslAuthenticate version (v0 ones are not told).
    expires: Option<Instant>,
}

/// What a re-authentication must match (KIP-368).
struct Renewal {
    principal: String,
    mechanism: Mechanism,
}

/// Kafka starts at most one re-authentication a second per connection
/// (`KafkaChannel.maybeBeginServerReauthentication`).
const MIN_REAUTH_INTERVAL: Duration = Duration::from_secs(1);

/// Where a connection is in its authentication.
enum State {
    /// Waiting for SaslHandshake.
    Handshake,
    /// The mechanism is agreed; waiting for SaslAuthenticate.
    Authenticate(Mechanism),
    /// SCRAM's server-first message is sent; waiting for the client-final.
    ScramFinal(Box<ScramServer>),
    /// Authenticated.
    Done(Session),
}

pub struct Authenticator {
    config: Arc<SaslConfig>,
    /// `connections.max.reauth.ms`; `None` when 0 (sessions do not end).
    max_reauth: Option<Duration>,
    state: State,
    /// The session being renewed (KIP-368): the new exchange must use
    /// its mechanism and authenticate its principal.
    reauthenticating: Option<Renewal>,
    /// When the last re-authentication began.
    last_reauth: Option<Instant>,
    /// Whether the last step was a failed authentication (its answer
    /// waits `connection.failed.authentication.delay.ms`).
    failed: bool,
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
    pub fn new(config: Arc<SaslConfig>, max_reauth: Option<Duration>) -> Authenticator {
        Authenticator {
            config,
            max_reauth,
            state: State::Handshake,
            reauthenticating: None,
            last_reauth: None,
            failed: false,
        }
    }

    /// Whether the exchange just failed on the client's credentials.
    pub fn has_failed(&self) -> bool {
        self.failed
    }

    /// The authenticated principal, once there is one.
    pub fn principal(&self) -> Option<&str> {
        match &self.state {
            State::Done(session) => Some(&session.principal),
            _ => None,
        }
    }

    /// Looks at a request before it is handled. `credentials` finds a
    /// user's SCRAM credential in the current metadata.
    pub fn step(
        &mut self,
        request: &Request,
        credentials: impl FnOnce(&str, ScramMechanism) -> Option<ScramCredential>,
    ) -> Step {
        let state = std::mem::replace(&mut self.state, State::Handshake);
        match (state, &request.body) {
            (State::Handshake, RequestKind::SaslHandshake(handshake)) => {
                self.handshake(handshake.mechanism.as_str())
            }
            (State::Authenticate(mechanism), RequestKind::SaslAuthenticate(_))
                if self
                    .reauthenticating
                    .as_ref()
                    .is_some_and(|renewal| renewal.mechanism != mechanism) =>
            {
                let previous = self.reauthenticating.take().map(|r| r.mechanism);
                Step::Close(format!(
                    "SASL mechanism {mechanism:?} requested by client is not supported for re-authentication of mechanism {previous:?}"
                ))
            }
            (State::Authenticate(mechanism), RequestKind::SaslAuthenticate(authenticate)) => self
                .authenticate(
                    mechanism,
                    &authenticate.auth_bytes,
                    request.version(),
                    credentials,
                ),
            (State::ScramFinal(server), RequestKind::SaslAuthenticate(authenticate)) => {
                let mechanism = Mechanism::Scram(server.mechanism());
                match server.finish(&authenticate.auth_bytes) {
                    Ok(verified) => self.authenticated(
                        mechanism,
                        verified.user,
                        verified.server_final,
                        request.version(),
                    ),
                    Err(error) => self.failed(mechanism, None, &error.to_string()),
                }
            }
            (state, RequestKind::ApiVersions(_)) => {
                self.state = state;
                Step::Pass
            }
            // KIP-368: a new handshake on an authenticated connection
            // renews its session, when sessions have a lifetime.
            (State::Done(session), RequestKind::SaslHandshake(handshake))
                if self.max_reauth.is_some()
                    && self
                        .last_reauth
                        .is_none_or(|at| at.elapsed() >= MIN_REAUTH_INTERVAL) =>
            {
                self.last_reauth = Some(Instant::now());
                self.reauthenticating = Some(Renewal {
                    principal: session.principal,
                    mechanism: session.mechanism,
                });
                self.handshake(handshake.mechanism.as_str())
            }
            // Otherwise Kafka's request handlers answer them, and the
            // connection stays.
            (State::Done(session), RequestKind::SaslHandshake(_)) => {
                self.state = State::Done(session);
                Step::Answer(illegal_state(request.api_key))
            }
            (State::Done(session), RequestKind::SaslAuthenticate(_)) => {
                self.state = State::Done(session);
                Step::Answer(ResponseKind::SaslAuthenticate(
                    SaslAuthenticateResponse::default()
                        .with_error_code(ResponseError::IllegalSaslState.code())
                        .with_error_message(Some(StrBytes::from_static_str(
                            "SaslAuthenticate request received after successful authentication",
                        ))),
                ))
            }
            (State::Done(session), _) => {
                let expired = session.expires.is_some_and(|at| Instant::now() >= at);
                self.state = State::Done(session);
                match expired {
                    true => Step::Close(format!(
                        "session expired without re-authentication (connections.max.reauth.ms); {:?} refused",
                        request.api_key
                    )),
                    false => Step::Pass,
                }
            }
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

    fn handshake(&mut self, wanted: &str) -> Step {
        let mechanisms = self
            .config
            .mechanisms
            .iter()
            .map(|m| StrBytes::from_string(m.clone()))
            .collect();
        let response = SaslHandshakeResponse::default().with_mechanisms(mechanisms);
        let mechanism = Mechanism::from_name(wanted)
            .filter(|_| self.config.mechanisms.iter().any(|m| m == wanted));
        let Some(mechanism) = mechanism else {
            return Step::AnswerAndClose(
                ResponseKind::SaslHandshake(
                    response.with_error_code(ResponseError::UnsupportedSaslMechanism.code()),
                ),
                format!("Unsupported SASL mechanism {wanted}"),
            );
        };
        self.state = State::Authenticate(mechanism);
        Step::Answer(ResponseKind::SaslHandshake(response))
    }

    fn authenticate(
        &mut self,
        mechanism: Mechanism,
        token: &[u8],
        version: i16,
        credentials: impl FnOnce(&str, ScramMechanism) -> Option<ScramCredential>,
    ) -> Step {
        match mechanism {
            Mechanism::Plain => match plain::verify(&self.config.plain_users, token) {
                Some(user) => self.authenticated(mechanism, user, Vec::new(), version),
                None => self.failed(mechanism, None, "invalid username or password"),
            },
            Mechanism::Scram(scram) => {
                match ScramServer::start(scram, token, |user| credentials(user, scram)) {
                    Ok((server, server_first)) => {
                        self.state = State::ScramFinal(Box::new(server));
                        Step::Answer(ResponseKind::SaslAuthenticate(
                            SaslAuthenticateResponse::default()
                                .with_error_message(None)
                                .with_auth_bytes(Bytes::from(server_first)),
                        ))
                    }
                    // Kafka tells this one apart; every other failure
                    // is "invalid credentials".
                    Err(error @ ScramError::AuthorizationId) => self.failed(
                        mechanism,
                        Some("Authentication failed: Client requested an authorization id that is different from username"),
                        &error.to_string(),
                    ),
                    Err(error) => self.failed(mechanism, None, &error.to_string()),
                }
            }
        }
    }

    fn authenticated(
        &mut self,
        mechanism: Mechanism,
        user: String,
        final_bytes: Vec<u8>,
        version: i16,
    ) -> Step {
        let principal = format!("User:{user}");
        if let Some(previous) = self.reauthenticating.take().map(|r| r.principal) {
            if previous != principal {
                // Kafka refuses a re-authentication as someone else, and
                // says so (with its `Type.name` spelling).
                let message = format!(
                    "Cannot change principals during re-authentication from {}: {}",
                    previous.replacen(':', ".", 1),
                    principal.replacen(':', ".", 1)
                );
                return self.failed(mechanism, Some(&message), "principal changed");
            }
        }
        info!(%principal, ?mechanism, "authenticated");
        // Every session ends; clients learn when from SaslAuthenticate v1
        // (KIP-368), older ones by being disconnected.
        let lifetime = self.max_reauth;
        self.state = State::Done(Session {
            principal,
            mechanism,
            expires: lifetime.map(|lifetime| Instant::now() + lifetime),
        });
        let lifetime = lifetime.filter(|_| version >= 1);
        Step::Answer(ResponseKind::SaslAuthenticate(
            SaslAuthenticateResponse::default()
                .with_error_message(None)
                .with_auth_bytes(Bytes::from(final_bytes))
                .with_session_lifetime_ms(
                    lifetime.map_or(0, |l| i64::try_from(l.as_millis()).unwrap_or(i64::MAX)),
                ),
        ))
    }

    /// Answers Kafka's message for the mechanism (or `message`), never the
    /// precise cause (that goes to the broker's log), and closes.
    fn failed(&mut self, mechanism: Mechanism, message: Option<&str>, cause: &str) -> Step {
        let reauthenticating = self.reauthenticating.take().is_some();
        self.failed = true;
        let message = message
            .map(str::to_string)
            .unwrap_or_else(|| mechanism.failure(reauthenticating));
        Step::AnswerAndClose(
            ResponseKind::SaslAuthenticate(
                SaslAuthenticateResponse::default()
                    .with_error_code(ResponseError::SaslAuthenticationFailed.code())
                    .with_error_message(Some(StrBytes::from_string(message.clone()))),
            ),
            format!("Failed authentication ({message}): {cause}"),
        )
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

/// The answer to a SaslHandshake failing with `code`.
pub fn handshake_error_response(
    _request: &SaslHandshakeRequest,
    _version: i16,
    code: i16,
) -> SaslHandshakeResponse {
    SaslHandshakeResponse::default().with_error_code(code)
}

/// The answer to a SaslAuthenticate failing with `code`.
pub fn authenticate_error_response(
    _request: &SaslAuthenticateRequest,
    _version: i16,
    code: i16,
) -> SaslAuthenticateResponse {
    SaslAuthenticateResponse::default().with_error_code(code)
}
