//! The server side of a SCRAM exchange (RFC 5802), as Kafka's
//! `ScramSaslServer` runs it for SCRAM-SHA-256 and SCRAM-SHA-512:
//! client-first → server-first (nonce, salt, iterations), client-final →
//! the proof is verified against the stored key, and only then the
//! server-final and an identity. Channel binding is not offered (`n,,`).
//!
//! Whatever goes wrong says no more than "invalid credentials": an unknown
//! user, a wrong proof and a malformed message look alike to the client.

use base64::Engine;
use thiserror::Error;

use super::constant_time_eq;
use crate::metadata::scram::{ScramCredential, ScramMechanism};

const BASE64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum ScramError {
    #[error("invalid SCRAM message: {0}")]
    Malformed(&'static str),
    #[error("authorization id differs from the user name")]
    AuthorizationId,
    #[error("unknown user or delegation token")]
    UnknownUser,
    #[error("the credential's {0} iterations are below the mechanism's minimum")]
    TooFewIterations(u32),
    #[error("nonce mismatch")]
    Nonce,
    #[error("invalid proof")]
    Proof,
}

/// Whom a client-first message names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScramIdentity {
    User(String),
    /// Kafka's `tokenauth=true` extension: a delegation token, by its id
    /// (the user name field), its HMAC the password.
    Token(String),
}

/// Whom a delegation token authenticates, and until when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenOwner {
    /// `User:<name>`.
    pub principal: String,
    pub expires_at_ms: i64,
}

/// What an exchange is checked against: the stored credential, and for a
/// token its owner.
pub type ScramLookup = (ScramCredential, Option<TokenOwner>);

/// After the server-first message: what the client-final is checked with.
#[derive(Debug)]
pub struct ScramServer {
    mechanism: ScramMechanism,
    user: String,
    token: Option<TokenOwner>,
    credential: ScramCredential,
    client_first_bare: String,
    server_first: String,
    nonce: String,
}

/// A completed exchange.
#[derive(Debug)]
pub struct Verified {
    pub user: String,
    /// Set when a delegation token logged in: the principal is its owner.
    pub token: Option<TokenOwner>,
    pub server_final: Vec<u8>,
}

impl ScramServer {
    pub fn mechanism(&self) -> ScramMechanism {
        self.mechanism
    }

    /// Reads the client-first message, looks up the user's credential and
    /// answers the server-first message.
    pub fn start(
        mechanism: ScramMechanism,
        client_first: &[u8],
        credential_of: impl FnOnce(&ScramIdentity) -> Option<ScramLookup>,
    ) -> Result<(ScramServer, Vec<u8>), ScramError> {
        let text = std::str::from_utf8(client_first).map_err(|_| ScramError::Malformed("UTF-8"))?;
        // gs2-header: "n," (no channel binding), an optional
        // "a=<authzid>", then ",".
        let rest = text
            .strip_prefix("n,")
            .ok_or(ScramError::Malformed("gs2 header"))?;
        let (authzid, bare) = rest
            .split_once(',')
            .ok_or(ScramError::Malformed("gs2 header"))?;
        let mut fields = bare.split(',');
        let user = fields
            .next()
            .and_then(|f| f.strip_prefix("n="))
            .ok_or(ScramError::Malformed("user name"))?;
        let user = decode_sasl_name(user)?;
        let client_nonce = fields
            .next()
            .and_then(|f| f.strip_prefix("r="))
            .filter(|nonce| !nonce.is_empty())
            .ok_or(ScramError::Malformed("nonce"))?;
        // Extensions (Kafka's `tokenauth=true` for delegation tokens).
        let mut token = false;
        for extension in fields {
            let (key, value) = extension
                .split_once('=')
                .ok_or(ScramError::Malformed("extension"))?;
            if key == "tokenauth" && value.eq_ignore_ascii_case("true") {
                token = true;
            }
        }
        if let Some(authzid) = authzid.strip_prefix("a=") {
            if decode_sasl_name(authzid)? != user {
                return Err(ScramError::AuthorizationId);
            }
        } else if !authzid.is_empty() {
            return Err(ScramError::Malformed("authorization id"));
        }
        let identity = match token {
            true => ScramIdentity::Token(user.clone()),
            false => ScramIdentity::User(user.clone()),
        };
        let (credential, token) = credential_of(&identity).ok_or(ScramError::UnknownUser)?;
        if credential.iterations < mechanism.min_iterations() {
            return Err(ScramError::TooFewIterations(credential.iterations));
        }
        let nonce = format!("{client_nonce}{}", server_nonce());
        let server_first = format!(
            "r={nonce},s={},i={}",
            BASE64.encode(&credential.salt),
            credential.iterations
        );
        let answer = server_first.clone().into_bytes();
        Ok((
            ScramServer {
                mechanism,
                user,
                token,
                credential,
                client_first_bare: bare.to_string(),
                server_first,
                nonce,
            },
            answer,
        ))
    }

    /// Verifies the client-final message's proof; the identity and the
    /// server-final message only if it holds.
    pub fn finish(self, client_final: &[u8]) -> Result<Verified, ScramError> {
        let text = std::str::from_utf8(client_final).map_err(|_| ScramError::Malformed("UTF-8"))?;
        let (without_proof, proof) = text
            .rsplit_once(",p=")
            .ok_or(ScramError::Malformed("proof"))?;
        let mut fields = without_proof.split(',');
        let binding = fields
            .next()
            .and_then(|f| f.strip_prefix("c="))
            .ok_or(ScramError::Malformed("channel binding"))?;
        let nonce = fields
            .next()
            .and_then(|f| f.strip_prefix("r="))
            .ok_or(ScramError::Malformed("nonce"))?;
        BASE64
            .decode(binding)
            .map_err(|_| ScramError::Malformed("channel binding"))?;
        // Kafka accepts a nonce that ends with the exchange's (older
        // librdkafka repeated the client's part); the proof covers it.
        if !nonce.ends_with(&self.nonce) {
            return Err(ScramError::Nonce);
        }
        let proof = BASE64
            .decode(proof)
            .map_err(|_| ScramError::Malformed("proof"))?;
        let auth_message = format!(
            "{},{},{without_proof}",
            self.client_first_bare, self.server_first
        );
        let mechanism = self.mechanism;
        let client_signature =
            mechanism.hmac_of(&self.credential.stored_key, auth_message.as_bytes());
        if proof.len() != client_signature.len() {
            return Err(ScramError::Proof);
        }
        // ClientKey = ClientProof XOR ClientSignature; it is the client's
        // if it hashes to the stored key.
        let client_key: Vec<u8> = proof
            .iter()
            .zip(&client_signature)
            .map(|(p, s)| p ^ s)
            .collect();
        if !constant_time_eq(&self.credential.stored_key, &mechanism.hash(&client_key)) {
            return Err(ScramError::Proof);
        }
        let server_signature =
            mechanism.hmac_of(&self.credential.server_key, auth_message.as_bytes());
        Ok(Verified {
            user: self.user,
            token: self.token,
            server_final: format!("v={}", BASE64.encode(server_signature)).into_bytes(),
        })
    }
}

/// The client side of an exchange, for the broker's own connections to
/// other brokers and for gregor's console commands.
pub struct ScramClient {
    mechanism: ScramMechanism,
    password: String,
    client_first_bare: String,
    nonce: String,
    /// The ServerSignature expected in the server-final message.
    expected: Option<Vec<u8>>,
}

impl ScramClient {
    /// Starts an exchange; the client-first message to send.
    pub fn start(mechanism: ScramMechanism, user: &str, password: &str) -> (ScramClient, Vec<u8>) {
        let nonce = server_nonce();
        let name = user.replace('=', "=3D").replace(',', "=2C");
        let client_first_bare = format!("n={name},r={nonce}");
        let message = format!("n,,{client_first_bare}").into_bytes();
        (
            ScramClient {
                mechanism,
                password: password.to_string(),
                client_first_bare,
                nonce,
                expected: None,
            },
            message,
        )
    }

    /// Answers the server-first message with the client-final one.
    pub fn respond(&mut self, server_first: &[u8]) -> Result<Vec<u8>, ScramError> {
        let text = std::str::from_utf8(server_first).map_err(|_| ScramError::Malformed("UTF-8"))?;
        let mut nonce = None;
        let mut salt = None;
        let mut iterations = None;
        for field in text.split(',') {
            match field.split_at_checked(2) {
                Some(("r=", value)) => nonce = Some(value),
                Some(("s=", value)) => salt = BASE64.decode(value).ok(),
                Some(("i=", value)) => iterations = value.parse::<u32>().ok(),
                _ => {}
            }
        }
        let nonce = nonce
            .filter(|n| n.starts_with(&self.nonce) && n.len() > self.nonce.len())
            .ok_or(ScramError::Nonce)?;
        let salt = salt.ok_or(ScramError::Malformed("salt"))?;
        let iterations = iterations
            .filter(|i| {
                *i >= self.mechanism.min_iterations() && *i <= self.mechanism.max_iterations()
            })
            .ok_or(ScramError::Malformed("iterations"))?;
        let m = self.mechanism;
        let salted = m.salted_password(self.password.as_bytes(), &salt, iterations);
        let client_key = m.hmac_of(&salted, b"Client Key");
        let stored_key = m.hash(&client_key);
        let without_proof = format!("c=biws,r={nonce}");
        let auth_message = format!("{},{text},{without_proof}", self.client_first_bare);
        let signature = m.hmac_of(&stored_key, auth_message.as_bytes());
        let proof: Vec<u8> = client_key
            .iter()
            .zip(&signature)
            .map(|(k, s)| k ^ s)
            .collect();
        let server_key = m.hmac_of(&salted, b"Server Key");
        self.expected = Some(m.hmac_of(&server_key, auth_message.as_bytes()));
        Ok(format!("{without_proof},p={}", BASE64.encode(proof)).into_bytes())
    }

    /// Checks that the server knew the credential too.
    pub fn verify(&self, server_final: &[u8]) -> Result<(), ScramError> {
        let text = std::str::from_utf8(server_final).map_err(|_| ScramError::Malformed("UTF-8"))?;
        let signature = text
            .strip_prefix("v=")
            .and_then(|v| BASE64.decode(v).ok())
            .ok_or(ScramError::Malformed("server final"))?;
        match &self.expected {
            Some(expected) if constant_time_eq(expected, &signature) => Ok(()),
            _ => Err(ScramError::Proof),
        }
    }
}

/// RFC 5802's saslname: `=2C` is a comma and `=3D` an equals sign; any
/// other `=` is malformed.
fn decode_sasl_name(name: &str) -> Result<String, ScramError> {
    let mut decoded = String::with_capacity(name.len());
    let mut rest = name;
    while let Some(at) = rest.find('=') {
        decoded.push_str(&rest[..at]);
        let escape = rest.get(at..at + 3);
        match escape {
            Some("=2C") => decoded.push(','),
            Some("=3D") => decoded.push('='),
            _ => return Err(ScramError::Malformed("user name escape")),
        }
        rest = &rest[at + 3..];
    }
    decoded.push_str(rest);
    if decoded.is_empty() {
        return Err(ScramError::Malformed("user name"));
    }
    Ok(decoded)
}

/// 24 random bytes, printable and free of commas.
fn server_nonce() -> String {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 24];
    // The system's random source does not fail once the process runs; if
    // it did, a time-derived nonce still differs per exchange.
    if ring::rand::SystemRandom::new().fill(&mut bytes).is_err() {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        bytes[..16].copy_from_slice(&now.to_le_bytes());
    }
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rfc_7677_credential() -> ScramCredential {
        let salt = BASE64.decode("W22ZaJ0SNY7soEsUEjb6gQ==").unwrap();
        ScramCredential::from_password(ScramMechanism::Sha256, "pencil", &salt, 4096)
    }

    /// The RFC's exchange, with the server nonce replaced by ours: the
    /// client's proof is recomputed the way a client does.
    fn client_final(server: &ScramServer, password: &str) -> String {
        let m = ScramMechanism::Sha256;
        let salted = m.salted_password(password.as_bytes(), &server.credential.salt, 4096);
        let client_key = m.hmac_of(&salted, b"Client Key");
        let stored_key = m.hash(&client_key);
        let without_proof = format!("c=biws,r={}", server.nonce);
        let auth_message = format!(
            "{},{},{without_proof}",
            server.client_first_bare, server.server_first
        );
        let signature = m.hmac_of(&stored_key, auth_message.as_bytes());
        let proof: Vec<u8> = client_key
            .iter()
            .zip(&signature)
            .map(|(a, b)| a ^ b)
            .collect();
        format!("{without_proof},p={}", BASE64.encode(proof))
    }

    fn start(first: &str) -> Result<(ScramServer, Vec<u8>), ScramError> {
        ScramServer::start(ScramMechanism::Sha256, first.as_bytes(), |identity| {
            (*identity == ScramIdentity::User("user".into())).then(|| (rfc_7677_credential(), None))
        })
    }

    #[test]
    fn the_right_password_authenticates_and_the_server_proves_itself() {
        let (server, first) = start("n,,n=user,r=rOprNGfwEbeRWgbNEkqO").unwrap();
        let first = String::from_utf8(first).unwrap();
        assert!(first.starts_with("r=rOprNGfwEbeRWgbNEkqO"));
        assert!(first.ends_with(",s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"));
        let message = client_final(&server, "pencil");
        let verified = server.finish(message.as_bytes()).unwrap();
        assert_eq!(verified.user, "user");
        assert!(verified.server_final.starts_with(b"v="));
    }

    #[test]
    fn the_client_and_the_server_agree() {
        let (mut client, first) = ScramClient::start(ScramMechanism::Sha256, "user", "pencil");
        let (server, server_first) = ScramServer::start(ScramMechanism::Sha256, &first, |who| {
            (*who == ScramIdentity::User("user".into())).then(|| (rfc_7677_credential(), None))
        })
        .unwrap();
        let client_final = client.respond(&server_first).unwrap();
        let verified = server.finish(&client_final).unwrap();
        client.verify(&verified.server_final).unwrap();
        assert!(client.verify(b"v=AAAA").is_err());
    }

    #[test]
    fn a_wrong_or_forged_proof_never_authenticates() {
        let (server, _) = start("n,,n=user,r=abc").unwrap();
        let wrong = client_final(&server, "pencil2");
        assert_eq!(
            server.finish(wrong.as_bytes()).unwrap_err(),
            ScramError::Proof
        );
        // A proof of the right length made of zeros, or an empty one.
        for proof in [BASE64.encode([0u8; 32]), String::new()] {
            let (server, _) = start("n,,n=user,r=abc").unwrap();
            let forged = format!("c=biws,r={},p={proof}", server.nonce);
            assert!(server.finish(forged.as_bytes()).is_err());
        }
        // The right proof with another nonce.
        let (server, _) = start("n,,n=user,r=abc").unwrap();
        let message = client_final(&server, "pencil").replacen("r=abc", "r=abd", 1);
        assert_eq!(
            server.finish(message.as_bytes()).unwrap_err(),
            ScramError::Nonce
        );
    }

    #[test]
    fn unknown_users_malformed_messages_and_other_identities_are_refused() {
        assert_eq!(
            start("n,,n=bob,r=abc").unwrap_err(),
            ScramError::UnknownUser
        );
        assert_eq!(
            start("n,a=admin,n=user,r=abc").unwrap_err(),
            ScramError::AuthorizationId
        );
        assert!(start("n,a=user,n=user,r=abc").is_ok());
        // A token of that name there is not: the user's credential is
        // not tried for it.
        assert_eq!(
            start("n,,n=user,r=abc,tokenauth=true").unwrap_err(),
            ScramError::UnknownUser
        );
        for malformed in [
            "",
            "n",
            "p=tls,,n=user,r=a",
            "y,,n=user,r=a",
            "n,,n=us=er,r=a",
            "n,,n=user",
            "n,,n=user,r=",
        ] {
            assert!(start(malformed).is_err(), "{malformed}");
        }
        assert_eq!(decode_sasl_name("a=2Cb=3Dc").unwrap(), "a,b=c");
    }

    #[test]
    fn a_delegation_token_logs_in_as_its_owner() {
        let owner = TokenOwner {
            principal: "User:alice".into(),
            expires_at_ms: 42,
        };
        let token = owner.clone();
        let (server, _) = ScramServer::start(
            ScramMechanism::Sha256,
            b"n,,n=token-1,r=abc,tokenauth=true",
            |identity| {
                (*identity == ScramIdentity::Token("token-1".into()))
                    .then(|| (rfc_7677_credential(), Some(token)))
            },
        )
        .unwrap();
        let message = client_final(&server, "pencil");
        let verified = server.finish(message.as_bytes()).unwrap();
        assert_eq!(verified.token, Some(owner));
    }
}
