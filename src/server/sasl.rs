//! SASL authentication of a connection on a `SASL_PLAINTEXT` or `SASL_SSL`
//! listener, as Kafka's `SaslServerAuthenticator` does it: until a
//! SaslHandshake (v1) names an enabled mechanism and SaslAuthenticate
//! completes it, the connection may send only ApiVersions and those two;
//! anything else, an unsupported mechanism or a failed exchange ends it.
//!
//! The identity comes only from a completed, verified exchange (PLAIN's
//! password compared in constant time; SCRAM's proof checked against the
//! stored key; OAUTHBEARER's token accepted by the listener's validator):
//! no state before that one carries a principal.
//!
//! A session ends at `connections.max.reauth.ms`, and an OAUTHBEARER one
//! no later than its token expires; SaslAuthenticate tells the client when
//! (KIP-368). The client re-authenticates before then, as the same
//! principal, or the connection is closed at its next request after it.

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
use crate::auth::oauthbearer::{self, OAuthBearerServer, Validator};
use crate::auth::plain;
use crate::auth::scram::{ScramError, ScramIdentity, ScramLookup, ScramServer};
use crate::config::security::SaslConfig;
use crate::metadata::scram::ScramMechanism;

/// Kafka's message for a failed PLAIN exchange: it does not say which of
/// user or password was wrong.
const PLAIN_FAILED: &str = "Authentication failed: Invalid username or password";

/// Kafka's message for an exchange its mechanism failed without saying
/// why (SCRAM's, but for two cases; a malformed OAUTHBEARER message).
fn invalid_credentials(mechanism: impl std::fmt::Display, reauthenticating: bool) -> String {
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
    OAuthBearer,
}

impl Mechanism {
    fn from_name(name: &str) -> Option<Mechanism> {
        match name {
            "PLAIN" => Some(Mechanism::Plain),
            "OAUTHBEARER" => Some(Mechanism::OAuthBearer),
            other => ScramMechanism::from_name(other).map(Mechanism::Scram),
        }
    }

    fn failure(self, reauthenticating: bool) -> String {
        match self {
            Mechanism::Plain => PLAIN_FAILED.to_string(),
            Mechanism::Scram(scram) => invalid_credentials(scram, reauthenticating),
            Mechanism::OAuthBearer => invalid_credentials("OAUTHBEARER", reauthenticating),
        }
    }
}

/// An authenticated session.
struct Session {
    /// `User:<name>`.
    principal: String,
    mechanism: Mechanism,
    /// When re-authentication is due (`connections.max.reauth.ms`, or an
    /// OAUTHBEARER token's expiry), for clients of every SaslAuthenticate
    /// version (v0 ones are not told).
    expires: Option<Instant>,
    /// A delegation token logged in (Kafka's `tokenAuthenticated`): such
    /// a session may not ask for more tokens.
    token: bool,
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
    /// OAUTHBEARER's JSON error is sent; waiting for the client's `0x01`
    /// (or another try).
    OAuthBearerChallenged(OAuthBearerServer),
    /// Authenticated.
    Done(Session),
}

pub struct Authenticator {
    config: Arc<SaslConfig>,
    /// The listener's OAUTHBEARER token validator, if it enables OAUTHBEARER.
    oauthbearer: Option<Arc<Validator>>,
    /// `connections.max.reauth.ms`; `None` when 0 (sessions end only with
    /// their credential: an OAUTHBEARER token).
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
    pub fn new(
        config: Arc<SaslConfig>,
        oauthbearer: Option<Arc<Validator>>,
        max_reauth: Option<Duration>,
    ) -> Authenticator {
        Authenticator {
            config,
            oauthbearer,
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

    /// Whether a delegation token authenticated this connection.
    pub fn token_authenticated(&self) -> bool {
        matches!(&self.state, State::Done(session) if session.token)
    }

    /// Looks at a request before it is handled. `credentials` finds a
    /// user's (or a delegation token's) SCRAM credential in the current
    /// metadata.
    pub fn step(
        &mut self,
        request: &Request,
        credentials: impl FnOnce(&ScramIdentity, ScramMechanism) -> Option<ScramLookup>,
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
                    Ok(verified) => {
                        let (principal, expires_at_ms) = match verified.token {
                            Some(token) => (token.principal, Some(token.expires_at_ms)),
                            None => (format!("User:{}", verified.user), None),
                        };
                        self.authenticated(
                            mechanism,
                            principal,
                            verified.server_final,
                            expires_at_ms,
                            request.version(),
                        )
                    }
                    Err(error) => self.failed(mechanism, None, &error.to_string()),
                }
            }
            (State::OAuthBearerChallenged(server), RequestKind::SaslAuthenticate(authenticate)) => {
                self.oauthbearer(server, &authenticate.auth_bytes, request.version())
            }
            (state, RequestKind::ApiVersions(_)) => {
                self.state = state;
                Step::Pass
            }
            // KIP-368: a new handshake on an authenticated connection
            // renews its session, when sessions have a lifetime.
            (State::Done(session), RequestKind::SaslHandshake(handshake))
                if session.expires.is_some()
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
        credentials: impl FnOnce(&ScramIdentity, ScramMechanism) -> Option<ScramLookup>,
    ) -> Step {
        match mechanism {
            Mechanism::Plain => match plain::verify(&self.config.plain_users, token) {
                Some(user) => {
                    self.authenticated(mechanism, format!("User:{user}"), Vec::new(), None, version)
                }
                None => self.failed(mechanism, None, "invalid username or password"),
            },
            Mechanism::OAuthBearer => {
                self.oauthbearer(OAuthBearerServer::default(), token, version)
            }
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

    /// One OAUTHBEARER message: a token, or the acknowledgement of a
    /// challenge.
    fn oauthbearer(&mut self, mut server: OAuthBearerServer, message: &[u8], version: i16) -> Step {
        let mechanism = Mechanism::OAuthBearer;
        let Some(validator) = self.oauthbearer.clone() else {
            return self.failed(mechanism, None, "no OAUTHBEARER validator on this listener");
        };
        match server.evaluate(&validator, message, oauthbearer::now_ms()) {
            Ok(oauthbearer::Step::Challenge { error, reason }) => {
                info!(%error, %reason, "OAUTHBEARER token refused");
                self.state = State::OAuthBearerChallenged(server);
                Step::Answer(ResponseKind::SaslAuthenticate(
                    SaslAuthenticateResponse::default()
                        .with_error_message(None)
                        .with_auth_bytes(Bytes::from(error.into_bytes())),
                ))
            }
            Ok(oauthbearer::Step::Complete(token)) => self.authenticated(
                mechanism,
                format!("User:{}", token.principal),
                Vec::new(),
                Some(token.expires_at_ms),
                version,
            ),
            Err(failure) => self.failed(mechanism, failure.message.as_deref(), &failure.cause),
        }
    }

    /// `credential_expires_at_ms`: when the credential itself expires (an
    /// OAUTHBEARER token, a delegation token), in milliseconds since the
    /// epoch; SCRAM sets it only for a delegation token.
    fn authenticated(
        &mut self,
        mechanism: Mechanism,
        principal: String,
        final_bytes: Vec<u8>,
        credential_expires_at_ms: Option<i64>,
        version: i16,
    ) -> Step {
        let token = matches!(mechanism, Mechanism::Scram(_)) && credential_expires_at_ms.is_some();
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
        info!(%principal, ?mechanism, delegation_token = token, "authenticated");
        // Sessions end at the earlier of connections.max.reauth.ms and the
        // credential's expiry, as Kafka's `calcCompletionTimesAndReturnSessionLifetimeMs`
        // has it; clients learn when from SaslAuthenticate v1 (KIP-368),
        // older ones by being disconnected.
        let credential_lifetime = credential_expires_at_ms.map(|expires_at| {
            let remaining = expires_at.saturating_sub(oauthbearer::now_ms()).max(0);
            Duration::from_millis(u64::try_from(remaining).unwrap_or(0))
        });
        let lifetime = match (credential_lifetime, self.max_reauth) {
            (Some(credential), Some(max)) => Some(credential.min(max)),
            (credential, max) => credential.or(max),
        };
        self.state = State::Done(Session {
            principal,
            mechanism,
            // A token may claim to expire beyond any clock.
            expires: lifetime.and_then(|lifetime| Instant::now().checked_add(lifetime)),
            token,
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use base64::Engine;
    use kafka_protocol::messages::RequestHeader;

    use super::*;
    use crate::config::oauthbearer::{OAuthBearerConfig, UnsecuredValidatorOptions};

    fn authenticator(max_reauth: Option<Duration>) -> Authenticator {
        let options = UnsecuredValidatorOptions {
            principal_claim_name: "sub".into(),
            scope_claim_name: "scope".into(),
            required_scope: vec![],
            allowable_clock_skew: Duration::ZERO,
        };
        let config = SaslConfig {
            mechanisms: vec!["OAUTHBEARER".into()],
            plain_users: BTreeMap::new(),
            oauthbearer: Some(OAuthBearerConfig::Unsecured(options.clone())),
        };
        Authenticator::new(
            Arc::new(config),
            Some(Arc::new(Validator::Unsecured(options))),
            max_reauth,
        )
    }

    fn request(body: RequestKind, api_key: ApiKey) -> Request {
        Request {
            api_key,
            header: RequestHeader::default().with_request_api_version(1),
            body,
        }
    }

    fn step(authenticator: &mut Authenticator, body: RequestKind, api_key: ApiKey) -> Step {
        authenticator.step(&request(body, api_key), |_, _| None)
    }

    fn handshake(authenticator: &mut Authenticator) -> Step {
        step(
            authenticator,
            RequestKind::SaslHandshake(
                SaslHandshakeRequest::default()
                    .with_mechanism(StrBytes::from_static_str("OAUTHBEARER")),
            ),
            ApiKey::SaslHandshake,
        )
    }

    fn authenticate(authenticator: &mut Authenticator, bytes: &[u8]) -> Step {
        step(
            authenticator,
            RequestKind::SaslAuthenticate(
                SaslAuthenticateRequest::default().with_auth_bytes(Bytes::copy_from_slice(bytes)),
            ),
            ApiKey::SaslAuthenticate,
        )
    }

    /// An unsecured token for `sub` expiring `lifetime_s` seconds from now.
    fn bearer(sub: &str, lifetime_s: i64) -> Vec<u8> {
        let b64 = |text: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text);
        let exp = oauthbearer::now_ms() / 1000 + lifetime_s;
        let token = format!(
            "{}.{}.",
            b64(r#"{"alg":"none"}"#),
            b64(&format!(r#"{{"sub":"{sub}","exp":{exp}}}"#))
        );
        format!("n,,\x01auth=Bearer {token}\x01\x01").into_bytes()
    }

    fn answer(step: Step) -> SaslAuthenticateResponse {
        match step {
            Step::Answer(ResponseKind::SaslAuthenticate(response)) => response,
            _ => panic!("not an answer to SaslAuthenticate"),
        }
    }

    #[test]
    fn an_oauthbearer_session_ends_when_its_token_does() {
        let mut alone = authenticator(None);
        assert!(matches!(handshake(&mut alone), Step::Answer(_)));
        let response = answer(authenticate(&mut alone, &bearer("alice", 600)));
        assert_eq!(response.error_code, 0);
        assert!(
            (598_000..=600_000).contains(&response.session_lifetime_ms),
            "{}",
            response.session_lifetime_ms
        );
        assert_eq!(alone.principal(), Some("User:alice"));
        // connections.max.reauth.ms, when shorter, wins.
        let mut capped = authenticator(Some(Duration::from_secs(60)));
        handshake(&mut capped);
        let response = answer(authenticate(&mut capped, &bearer("alice", 600)));
        assert_eq!(response.session_lifetime_ms, 60_000);
        // The token's lifetime alone allows re-authentication, as the same
        // principal.
        alone.last_reauth = Some(Instant::now() - MIN_REAUTH_INTERVAL);
        assert!(matches!(handshake(&mut alone), Step::Answer(_)));
        let step = authenticate(&mut alone, &bearer("bob", 600));
        assert!(
            matches!(&step, Step::AnswerAndClose(ResponseKind::SaslAuthenticate(r), _)
                if r.error_code == ResponseError::SaslAuthenticationFailed.code()),
            "a renewal as someone else"
        );
    }

    #[test]
    fn a_refused_token_is_challenged_then_fails_with_kafkas_json() {
        let mut authenticator = authenticator(None);
        handshake(&mut authenticator);
        let challenge = answer(authenticate(&mut authenticator, &bearer("alice", -60)));
        assert_eq!(challenge.error_code, 0);
        assert_eq!(&challenge.auth_bytes[..], br#"{"status":"invalid_token"}"#);
        assert_eq!(authenticator.principal(), None);
        match authenticate(&mut authenticator, b"\x01") {
            Step::AnswerAndClose(ResponseKind::SaslAuthenticate(response), _) => {
                assert_eq!(
                    response.error_code,
                    ResponseError::SaslAuthenticationFailed.code()
                );
                assert_eq!(
                    response.error_message.as_deref(),
                    Some(r#"{"status":"invalid_token"}"#)
                );
            }
            _ => panic!("the exchange must fail"),
        }
        assert!(authenticator.has_failed());
        assert_eq!(authenticator.principal(), None);
        // A malformed message fails at once, with Kafka's vague message.
        let mut authenticator = self::authenticator(None);
        handshake(&mut authenticator);
        match authenticate(&mut authenticator, b"n,,\x01auth=Bearer\x01\x01") {
            Step::AnswerAndClose(ResponseKind::SaslAuthenticate(response), _) => {
                assert_eq!(
                    response.error_message.as_deref(),
                    Some("Authentication failed during authentication due to invalid credentials with SASL mechanism OAUTHBEARER")
                );
            }
            _ => panic!("the exchange must fail"),
        }
    }
}
