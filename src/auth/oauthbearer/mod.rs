//! SASL/OAUTHBEARER (RFC 7628, KIP-255) as Kafka's `OAuthBearerSaslServer`
//! runs it. The client's one message carries a bearer token; a token the
//! listener's validator accepts names the principal (`User:<sub>`) and, by
//! its expiry, bounds the session (KIP-368).
//!
//! A token that is refused is answered, as RFC 7628 says, with a JSON error
//! as a challenge (`{"status":"invalid_token"}`); the client acknowledges it
//! with a lone `0x01` and the exchange then fails with that JSON as its
//! message. Nothing about a token is believed before its validator accepted
//! it: the unsecured one (`alg: none`, for development only), or the signed
//! one, against the keys of a JWKS file.

mod endpoint;
mod jwks;
mod signed;
mod unsecured;

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use serde_json::{Map, Value};
use thiserror::Error;

pub use jwks::JwksError;

use crate::config::oauthbearer::{OAuthBearerConfig, UnsecuredValidatorOptions};

/// The separator of RFC 7628's key/value pairs (Kafka's `SEPARATOR`).
const SEPARATOR: u8 = 0x01;

/// Why a client's message is not an OAUTHBEARER initial response, in
/// Kafka's words (they go to the broker's log, never to the client).
#[derive(Debug, Error, PartialEq, Eq)]
pub enum Malformed {
    #[error("Invalid OAUTHBEARER client first message")]
    Message,
    #[error("Invalid OAUTHBEARER client first message: 'auth' not specified")]
    NoAuth,
    #[error("Invalid OAUTHBEARER client first message: invalid 'auth' format")]
    AuthFormat,
    #[error("Invalid scheme in OAUTHBEARER client first message: {0}")]
    Scheme(String),
}

/// RFC 7628's client initial response, as Kafka's
/// `OAuthBearerClientInitialResponse` reads it:
/// `n,[a=<authzid>],^Aauth=Bearer <token>^A[<key>=<value>^A]...^A`.
#[derive(Debug, PartialEq, Eq)]
pub struct ClientInitialResponse {
    /// Empty unless the client asked for one.
    pub authorization_id: String,
    pub token: String,
    /// SASL extensions (KIP-342): accepted, and not used by gregor.
    pub extensions: BTreeMap<String, String>,
}

impl ClientInitialResponse {
    pub fn parse(message: &[u8]) -> Result<ClientInitialResponse, Malformed> {
        let rest = message.strip_prefix(b"n,").ok_or(Malformed::Message)?;
        let comma = rest
            .iter()
            .position(|b| *b == b',')
            .ok_or(Malformed::Message)?;
        let (authzid, rest) = (&rest[..comma], &rest[comma + 1..]);
        let authorization_id = match authzid {
            [] => String::new(),
            _ => {
                let name = authzid.strip_prefix(b"a=").ok_or(Malformed::Message)?;
                if !is_sasl_name(name) {
                    return Err(Malformed::Message);
                }
                ascii(name)
            }
        };
        // ^A, the pairs each ended by ^A, and a final ^A.
        let pairs = rest
            .strip_prefix(&[SEPARATOR])
            .and_then(|rest| rest.strip_suffix(&[SEPARATOR]))
            .ok_or(Malformed::Message)?;
        let mut properties = BTreeMap::new();
        if !pairs.is_empty() {
            let pairs = pairs.strip_suffix(&[SEPARATOR]).ok_or(Malformed::Message)?;
            for pair in pairs.split(|b| *b == SEPARATOR) {
                let equals = pair
                    .iter()
                    .position(|b| *b == b'=')
                    .ok_or(Malformed::Message)?;
                let (key, value) = (&pair[..equals], &pair[equals + 1..]);
                let key_ok = !key.is_empty() && key.iter().all(u8::is_ascii_alphabetic);
                let value_ok = !value.is_empty()
                    && value
                        .iter()
                        .all(|b| matches!(b, 0x21..=0x7E | b' ' | b'\t' | b'\r' | b'\n'));
                if !(key_ok && value_ok) {
                    return Err(Malformed::Message);
                }
                // The last of a repeated key wins, as in Kafka's parseMap.
                properties.insert(ascii(key), ascii(value));
            }
        }
        let auth = properties.remove("auth").ok_or(Malformed::NoAuth)?;
        let (scheme, token) = auth.split_once(' ').ok_or(Malformed::AuthFormat)?;
        let token = token.trim_start_matches(' ');
        let scheme_ok = !scheme.is_empty()
            && scheme
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_');
        let body = token.trim_end_matches('=');
        let token_ok = !body.is_empty()
            && body
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_~+/.".contains(&b));
        if !(scheme_ok && token_ok) {
            return Err(Malformed::AuthFormat);
        }
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(Malformed::Scheme(scheme.to_string()));
        }
        Ok(ClientInitialResponse {
            authorization_id,
            token: token.to_string(),
            extensions: properties,
        })
    }
}

/// RFC 5801's saslname as Kafka matches it: ASCII but `=` and `,`, which
/// appear only as `=2C` and `=3D` (kept encoded, as Kafka keeps them).
fn is_sasl_name(name: &[u8]) -> bool {
    let mut rest = name;
    while let Some((first, tail)) = rest.split_first() {
        rest = match first {
            b'=' if tail.starts_with(b"2C") || tail.starts_with(b"3D") => &tail[2..],
            b'=' | b',' | 0 | 0x80.. => return false,
            _ => tail,
        };
    }
    !name.is_empty()
}

/// Checked to be ASCII by the caller.
fn ascii(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A token a validator accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// The principal's name (the `sub` claim, or the configured one).
    pub principal: String,
    /// When the token expires, in milliseconds since the epoch.
    pub expires_at_ms: i64,
}

/// Why a token was refused. Only the status (and, for a missing scope, the
/// scope needed) reaches the client; the reason goes to the broker's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub reason: String,
    /// Set for `insufficient_scope`: the scope required, as Kafka prints it.
    pub required_scope: Option<String>,
}

impl Rejection {
    fn invalid(reason: impl Into<String>) -> Rejection {
        Rejection {
            reason: reason.into(),
            required_scope: None,
        }
    }

    /// The JSON error the server answers with, byte for byte as Kafka's
    /// `OAuthBearerSaslServer.jsonErrorResponse` writes it.
    pub fn challenge(&self) -> String {
        match &self.required_scope {
            None => r#"{"status":"invalid_token"}"#.to_string(),
            Some(scope) => format!(r#"{{"status":"insufficient_scope", "scope":"{scope}"}}"#),
        }
    }
}

/// How a listener validates tokens; built once at start-up.
#[derive(Debug)]
pub enum Validator {
    Unsecured(UnsecuredValidatorOptions),
    Signed(signed::SignedValidator),
}

impl Validator {
    /// Reads (or fetches) the JWKS of a signed validator: missing or
    /// unusable keys stop start-up.
    pub async fn start(config: &OAuthBearerConfig) -> Result<Validator, JwksError> {
        Ok(match config {
            OAuthBearerConfig::Unsecured(options) => Validator::Unsecured(options.clone()),
            OAuthBearerConfig::Signed(options) => {
                Validator::Signed(signed::SignedValidator::start(options.clone()).await?)
            }
        })
    }

    /// Accepts `token` at `now_ms` (milliseconds since the epoch), or says why not.
    pub fn validate(&self, token: &str, now_ms: i64) -> Result<Token, Rejection> {
        match self {
            Validator::Unsecured(options) => unsecured::validate(options, token, now_ms),
            Validator::Signed(validator) => validator.validate(token, now_ms),
        }
    }
}

/// What the server answers a client message with.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// The JSON error for a refused token, and why it was refused (for
    /// the log); the exchange goes on.
    Challenge { error: String, reason: String },
    /// Authenticated.
    Complete(Token),
}

/// A failed exchange.
#[derive(Debug, PartialEq, Eq)]
pub struct Failure {
    /// What the client is told, where Kafka tells it something specific;
    /// otherwise the mechanism's "invalid credentials" message.
    pub message: Option<String>,
    /// For the broker's log.
    pub cause: String,
}

/// One exchange, as Kafka's `OAuthBearerSaslServer` runs it.
#[derive(Debug, Default)]
pub struct OAuthBearerServer {
    /// The JSON error last answered, and why: the client's `0x01` turns it
    /// into the exchange's failure.
    challenged: Option<(String, String)>,
}

impl OAuthBearerServer {
    pub fn evaluate(
        &mut self,
        validator: &Validator,
        message: &[u8],
        now_ms: i64,
    ) -> Result<Step, Failure> {
        if let (Some((error, reason)), [SEPARATOR]) = (self.challenged.take(), message) {
            return Err(Failure {
                message: Some(error),
                cause: reason,
            });
        }
        // Anything else starts over, as in Kafka.
        let response = ClientInitialResponse::parse(message).map_err(|error| Failure {
            message: None,
            cause: error.to_string(),
        })?;
        let token = match validator.validate(&response.token, now_ms) {
            Ok(token) => token,
            Err(rejection) => {
                let error = rejection.challenge();
                self.challenged = Some((error.clone(), rejection.reason.clone()));
                return Ok(Step::Challenge {
                    error,
                    reason: rejection.reason,
                });
            }
        };
        let authzid = &response.authorization_id;
        if !authzid.is_empty() && *authzid != token.principal {
            return Err(Failure {
                message: Some(format!(
                    "Authentication failed: Client requested an authorization id ({authzid}) that is different from the token's principal name ({})",
                    token.principal
                )),
                cause: "authorization id differs from the token's principal".to_string(),
            });
        }
        Ok(Step::Complete(token))
    }
}

/// Milliseconds since the epoch, the clock tokens are checked against.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| {
            i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX)
        })
}

/// Decodes one segment of a compact JWS: base64url (RFC 7515) with or
/// without padding, and the standard alphabet's `+` and `/`, which Kafka's
/// unsecured validator decodes.
fn decode_segment(segment: &str) -> Option<Vec<u8>> {
    const LENIENT: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
        &base64::alphabet::URL_SAFE,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent)
            .with_decode_allow_trailing_bits(true),
    );
    let url_safe: String = segment
        .chars()
        .map(|c| match c {
            '+' => '-',
            '/' => '_',
            c => c,
        })
        .collect();
    LENIENT.decode(url_safe).ok()
}

/// A segment that must be a JSON object (a JOSE header or a claims set).
fn json_object(segment: &str) -> Result<Map<String, Value>, Rejection> {
    let bytes = decode_segment(segment)
        .ok_or_else(|| Rejection::invalid("malformed Base64 URL encoded value"))?;
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(object)) => Ok(object),
        _ => Err(Rejection::invalid("malformed JSON")),
    }
}

/// The name of a JSON value's type, for log messages.
fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "Boolean",
        Value::Number(_) => "Number",
        Value::String(_) => "String",
        Value::Array(_) => "List",
        Value::Object(_) => "Object",
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::time::Duration;

    pub(crate) fn b64(bytes: &[u8]) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    }

    /// An unsecured JWS, as clients make them.
    pub(crate) fn unsecured_jws(claims: &str) -> String {
        format!("{}.{}.", b64(br#"{"alg":"none"}"#), b64(claims.as_bytes()))
    }

    fn unsecured() -> Validator {
        Validator::Unsecured(UnsecuredValidatorOptions {
            principal_claim_name: "sub".into(),
            scope_claim_name: "scope".into(),
            required_scope: vec![],
            allowable_clock_skew: Duration::ZERO,
        })
    }

    #[test]
    fn the_client_initial_response_is_read_as_kafka_reads_it() {
        let parsed = ClientInitialResponse::parse(
            b"n,a=alice,\x01auth=Bearer abc.def.\x01traceId=x=1 2\x01\x01",
        )
        .unwrap();
        assert_eq!(parsed.authorization_id, "alice");
        assert_eq!(parsed.token, "abc.def.");
        assert_eq!(
            parsed.extensions.get("traceId").map(String::as_str),
            Some("x=1 2")
        );
        let plain = ClientInitialResponse::parse(b"n,,\x01auth=bearer   tok==\x01\x01").unwrap();
        assert_eq!(
            (plain.authorization_id.as_str(), plain.token.as_str()),
            ("", "tok==")
        );
        assert!(plain.extensions.is_empty());
        for (message, error) in [
            (&b"n,,\x01\x01"[..], Malformed::NoAuth),
            (b"n,,\x01auth=Bearer\x01\x01", Malformed::AuthFormat),
            (b"n,,\x01auth=Bearer a b\x01\x01", Malformed::AuthFormat),
            (b"n,,\x01auth=Bearer a=b\x01\x01", Malformed::AuthFormat),
            (
                b"n,,\x01auth=Basic abc\x01\x01",
                Malformed::Scheme("Basic".into()),
            ),
            (b"n,,\x01auth=Bearer abc\x01", Malformed::Message),
            (b"n,,auth=Bearer abc\x01\x01", Malformed::Message),
            (b"y,,\x01auth=Bearer abc\x01\x01", Malformed::Message),
            (b"n,a=,\x01auth=Bearer abc\x01\x01", Malformed::Message),
            (b"n,a=x=y,\x01auth=Bearer abc\x01\x01", Malformed::Message),
            (
                b"n,,\x01auth=Bearer abc\x01k1=v\x01\x01",
                Malformed::Message,
            ),
            (b"n,,\x01auth=Bearer abc\x01k=\x01\x01", Malformed::Message),
            (
                b"n,,\x01auth=Bearer abc\x01k=\xc3\xa9\x01\x01",
                Malformed::Message,
            ),
            (b"\x01", Malformed::Message),
            (b"", Malformed::Message),
        ] {
            assert_eq!(
                ClientInitialResponse::parse(message),
                Err(error),
                "{message:?}"
            );
        }
        assert_eq!(
            ClientInitialResponse::parse(b"n,a=a=2Cb,\x01auth=Bearer t\x01\x01")
                .unwrap()
                .authorization_id,
            "a=2Cb"
        );
    }

    #[test]
    fn a_refused_token_is_challenged_and_the_acknowledgement_fails_the_exchange() {
        let validator = unsecured();
        let now = 1_700_000_000_000;
        let expired = unsecured_jws(r#"{"sub":"alice","exp":1600000000}"#);
        let mut server = OAuthBearerServer::default();
        let message = format!("n,,\x01auth=Bearer {expired}\x01\x01");
        assert!(matches!(
            server.evaluate(&validator, message.as_bytes(), now),
            Ok(Step::Challenge { error, .. }) if error == r#"{"status":"invalid_token"}"#
        ));
        let failure = server.evaluate(&validator, b"\x01", now).unwrap_err();
        assert_eq!(
            failure.message.as_deref(),
            Some(r#"{"status":"invalid_token"}"#)
        );
        // A lone ^A with nothing challenged is just malformed.
        let failure = OAuthBearerServer::default()
            .evaluate(&validator, b"\x01", now)
            .unwrap_err();
        assert_eq!(failure.message, None);
        // After a challenge, a new message is a new attempt (as in Kafka).
        let mut server = OAuthBearerServer::default();
        server
            .evaluate(&validator, message.as_bytes(), now)
            .unwrap();
        let valid = unsecured_jws(r#"{"sub":"alice","exp":1800000000}"#);
        let message = format!("n,,\x01auth=Bearer {valid}\x01\x01");
        assert_eq!(
            server.evaluate(&validator, message.as_bytes(), now),
            Ok(Step::Complete(Token {
                principal: "alice".into(),
                expires_at_ms: 1_800_000_000_000
            }))
        );
    }

    #[test]
    fn an_authorization_id_must_be_the_tokens_principal() {
        let validator = unsecured();
        let token = unsecured_jws(r#"{"sub":"alice","exp":1800000000}"#);
        let now = 1_700_000_000_000;
        let as_bob = format!("n,a=bob,\x01auth=Bearer {token}\x01\x01");
        let failure = OAuthBearerServer::default()
            .evaluate(&validator, as_bob.as_bytes(), now)
            .unwrap_err();
        assert_eq!(
            failure.message.as_deref(),
            Some("Authentication failed: Client requested an authorization id (bob) that is different from the token's principal name (alice)")
        );
        let as_alice = format!("n,a=alice,\x01auth=Bearer {token}\x01\x01");
        assert!(matches!(
            OAuthBearerServer::default().evaluate(&validator, as_alice.as_bytes(), now),
            Ok(Step::Complete(_))
        ));
    }

    #[test]
    fn the_json_errors_are_kafkas() {
        assert_eq!(
            Rejection {
                reason: String::new(),
                required_scope: Some("[read, write]".into())
            }
            .challenge(),
            r#"{"status":"insufficient_scope", "scope":"[read, write]"}"#
        );
    }

    #[test]
    fn segments_decode_with_either_alphabet_and_any_padding() {
        assert_eq!(decode_segment("-_8").as_deref(), Some(&[0xfb, 0xff][..]));
        assert_eq!(decode_segment("+/8=").as_deref(), Some(&[0xfb, 0xff][..]));
        assert_eq!(decode_segment("e30"), Some(b"{}".to_vec()));
        assert_eq!(decode_segment("e*0"), None);
    }
}
