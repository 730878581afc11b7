//! The keys signed tokens are checked with: a JSON Web Key Set (RFC 7517)
//! read from a file at start-up, as Kafka's `JwksFileVerificationKeyResolver`
//! reads it (once; a changed file needs a restart) or fetched from an
//! endpoint (`endpoint.rs`), and the JWS algorithms
//! (RFC 7518) gregor verifies with `ring`: RS256/384/512, PS256/384/512 on
//! RSA keys of 2048 to 8192 bits, ES256 on P-256 and ES384 on P-384 keys.
//!
//! A key is chosen as jose4j's `VerificationJwkSelector` chooses it: by the
//! token's `kid` when it has one, of the type its `alg` needs, not marked
//! for encryption, and with the same `alg` if the key names one. Keys of
//! other kinds (`oct`, `OKP`, P-521, encryption keys) are skipped with a
//! warning, so that an identity provider's full set can be used as it is.

use std::path::Path;

use ring::signature::{self, RsaParameters, RsaPublicKeyComponents, UnparsedPublicKey};
use serde_json::{Map, Value};
use thiserror::Error;
use tracing::warn;

use super::decode_segment;

#[derive(Debug, Error)]
pub enum JwksError {
    #[error("cannot read the JWKS {origin} ({setting}): {reason}")]
    Read {
        setting: String,
        origin: String,
        reason: String,
    },
    #[error("the JWKS {origin} ({setting}) is not a JSON Web Key Set: {reason}")]
    Format {
        setting: String,
        origin: String,
        reason: String,
    },
    #[error("the JWKS {origin} ({setting}) has no key gregor can verify signatures with (RSA of 2048 bits or more, or EC on P-256 or P-384){skipped}")]
    NoUsableKey {
        setting: String,
        origin: String,
        skipped: String,
    },
}

/// A JWS algorithm gregor verifies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Rs256,
    Rs384,
    Rs512,
    Ps256,
    Ps384,
    Ps512,
    Es256,
    Es384,
}

impl Algorithm {
    pub fn from_name(name: &str) -> Option<Algorithm> {
        Some(match name {
            "RS256" => Algorithm::Rs256,
            "RS384" => Algorithm::Rs384,
            "RS512" => Algorithm::Rs512,
            "PS256" => Algorithm::Ps256,
            "PS384" => Algorithm::Ps384,
            "PS512" => Algorithm::Ps512,
            "ES256" => Algorithm::Es256,
            "ES384" => Algorithm::Es384,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Rs256 => "RS256",
            Algorithm::Rs384 => "RS384",
            Algorithm::Rs512 => "RS512",
            Algorithm::Ps256 => "PS256",
            Algorithm::Ps384 => "PS384",
            Algorithm::Ps512 => "PS512",
            Algorithm::Es256 => "ES256",
            Algorithm::Es384 => "ES384",
        }
    }

    fn rsa(self) -> Option<&'static RsaParameters> {
        Some(match self {
            Algorithm::Rs256 => &signature::RSA_PKCS1_2048_8192_SHA256,
            Algorithm::Rs384 => &signature::RSA_PKCS1_2048_8192_SHA384,
            Algorithm::Rs512 => &signature::RSA_PKCS1_2048_8192_SHA512,
            Algorithm::Ps256 => &signature::RSA_PSS_2048_8192_SHA256,
            Algorithm::Ps384 => &signature::RSA_PSS_2048_8192_SHA384,
            Algorithm::Ps512 => &signature::RSA_PSS_2048_8192_SHA512,
            Algorithm::Es256 | Algorithm::Es384 => return None,
        })
    }

    fn curve(self) -> Option<Curve> {
        match self {
            Algorithm::Es256 => Some(Curve::P256),
            Algorithm::Es384 => Some(Curve::P384),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Curve {
    P256,
    P384,
}

impl Curve {
    fn coordinate_len(self) -> usize {
        match self {
            Curve::P256 => 32,
            Curve::P384 => 48,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum PublicKey {
    /// Modulus and exponent, big-endian without leading zeros.
    Rsa { n: Vec<u8>, e: Vec<u8> },
    /// The uncompressed point, `04 || x || y`.
    Ec { curve: Curve, point: Vec<u8> },
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Jwk {
    kid: Option<String>,
    /// The key's own `alg`, if it names one.
    alg: Option<String>,
    key: PublicKey,
}

impl Jwk {
    fn fits(&self, alg: Algorithm, kid: Option<&str>) -> bool {
        let kind = match (&self.key, alg.curve()) {
            (PublicKey::Rsa { .. }, None) => true,
            (PublicKey::Ec { curve, .. }, Some(wanted)) => *curve == wanted,
            _ => false,
        };
        kind && kid.is_none_or(|kid| self.kid.as_deref() == Some(kid))
            && self.alg.as_deref().is_none_or(|own| own == alg.name())
    }

    fn verifies(&self, alg: Algorithm, message: &[u8], signature: &[u8]) -> bool {
        match (&self.key, alg.rsa()) {
            (PublicKey::Rsa { n, e }, Some(parameters)) => RsaPublicKeyComponents { n, e }
                .verify(parameters, message, signature)
                .is_ok(),
            (PublicKey::Ec { curve, point }, None) => {
                let algorithm = match curve {
                    Curve::P256 => &signature::ECDSA_P256_SHA256_FIXED,
                    Curve::P384 => &signature::ECDSA_P384_SHA384_FIXED,
                };
                UnparsedPublicKey::new(algorithm, point)
                    .verify(message, signature)
                    .is_ok()
            }
            _ => false,
        }
    }
}

/// Why a signature was not accepted.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum SignatureError {
    #[error("no {alg} key in the JWKS{}", .kid.as_ref().map(|kid| format!(" with kid {kid:?}")).unwrap_or_default())]
    NoKey {
        alg: &'static str,
        kid: Option<String>,
    },
    #[error("the signature does not verify")]
    Invalid,
}

/// The verification keys of a JWKS.
#[derive(Debug)]
pub struct Jwks {
    keys: Vec<Jwk>,
}

impl Jwks {
    /// Reads `path` (named by `setting`): a file that cannot be read, is not
    /// a key set, or has no usable key stops start-up.
    pub fn load(setting: &str, path: &Path) -> Result<Jwks, JwksError> {
        let origin = format!("file {}", path.display());
        let text = std::fs::read_to_string(path).map_err(|source| JwksError::Read {
            setting: setting.to_string(),
            origin: origin.clone(),
            reason: source.to_string(),
        })?;
        Jwks::from_text(setting, &origin, &text)
    }

    /// The usable keys of a JWKS document read from `origin`; none is an
    /// error.
    pub fn from_text(setting: &str, origin: &str, text: &str) -> Result<Jwks, JwksError> {
        let (jwks, skipped) = Jwks::parse(text).map_err(|reason| JwksError::Format {
            setting: setting.to_string(),
            origin: origin.to_string(),
            reason,
        })?;
        for reason in &skipped {
            warn!(%origin, %reason, "JWKS key skipped");
        }
        if jwks.keys.is_empty() {
            return Err(JwksError::NoUsableKey {
                setting: setting.to_string(),
                origin: origin.to_string(),
                skipped: match skipped.is_empty() {
                    true => String::new(),
                    false => format!(": {}", skipped.join("; ")),
                },
            });
        }
        Ok(jwks)
    }

    /// The usable keys of a JWKS document, and why the others were skipped.
    fn parse(text: &str) -> Result<(Jwks, Vec<String>), String> {
        let document: Value =
            serde_json::from_str(text).map_err(|error| format!("invalid JSON: {error}"))?;
        let keys = document
            .get("keys")
            .and_then(Value::as_array)
            .ok_or("no \"keys\" array")?;
        let mut usable = Vec::new();
        let mut skipped = Vec::new();
        for (index, key) in keys.iter().enumerate() {
            let Some(key) = key.as_object() else {
                skipped.push(format!("keys[{index}] is not an object"));
                continue;
            };
            match jwk(key) {
                Ok(jwk) => usable.push(jwk),
                Err(reason) => {
                    let kid = key.get("kid").and_then(Value::as_str).unwrap_or("");
                    skipped.push(format!("keys[{index}] (kid {kid:?}): {reason}"));
                }
            }
        }
        Ok((Jwks { keys: usable }, skipped))
    }

    /// Checks `signature` over `message` with a key that fits `alg` and `kid`.
    pub fn verify(
        &self,
        alg: Algorithm,
        kid: Option<&str>,
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), SignatureError> {
        let mut candidates = self.keys.iter().filter(|key| key.fits(alg, kid)).peekable();
        if candidates.peek().is_none() {
            return Err(SignatureError::NoKey {
                alg: alg.name(),
                kid: kid.map(str::to_string),
            });
        }
        // Without a kid, any fitting key may have signed (all are trusted).
        match candidates.any(|key| key.verifies(alg, message, signature)) {
            true => Ok(()),
            false => Err(SignatureError::Invalid),
        }
    }
}

fn jwk(key: &Map<String, Value>) -> Result<Jwk, String> {
    let text = |name: &str| -> Result<Option<&str>, String> {
        match key.get(name) {
            None => Ok(None),
            Some(Value::String(value)) => Ok(Some(value)),
            Some(_) => Err(format!("{name} is not a string")),
        }
    };
    let bytes = |name: &str| -> Result<Vec<u8>, String> {
        let value = text(name)?.ok_or_else(|| format!("no {name}"))?;
        decode_segment(value).ok_or_else(|| format!("{name} is not base64url"))
    };
    if let Some(usage) = text("use")? {
        if usage != "sig" {
            return Err(format!("for use {usage:?}, not signatures"));
        }
    }
    let public = match text("kty")? {
        Some("RSA") => {
            let n = unpadded(bytes("n")?);
            let e = unpadded(bytes("e")?);
            let bits = n.first().map_or(0, |top| {
                (n.len() - 1) * 8 + (8 - top.leading_zeros() as usize)
            });
            if !(2048..=8192).contains(&bits) {
                return Err(format!(
                    "an RSA key of {bits} bits (2048 to 8192 are verified)"
                ));
            }
            PublicKey::Rsa { n, e }
        }
        Some("EC") => {
            let curve = match text("crv")? {
                Some("P-256") => Curve::P256,
                Some("P-384") => Curve::P384,
                other => return Err(format!("curve {other:?} is not supported")),
            };
            let (x, y) = (bytes("x")?, bytes("y")?);
            let len = curve.coordinate_len();
            if x.len() != len || y.len() != len {
                return Err(format!("coordinates are not {len} bytes"));
            }
            let mut point = Vec::with_capacity(1 + 2 * len);
            point.push(0x04);
            point.extend_from_slice(&x);
            point.extend_from_slice(&y);
            PublicKey::Ec { curve, point }
        }
        other => return Err(format!("key type {other:?} is not supported")),
    };
    Ok(Jwk {
        kid: text("kid")?.map(str::to_string),
        alg: text("alg")?.map(str::to_string),
        key: public,
    })
}

/// Big-endian integers without the leading zeros some encoders add.
fn unpadded(mut bytes: Vec<u8>) -> Vec<u8> {
    let zeros = bytes.iter().take_while(|b| **b == 0).count();
    bytes.drain(..zeros);
    bytes
}

#[cfg(test)]
pub(crate) mod tests {
    use ring::rand::SystemRandom;
    use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};

    use super::super::tests::b64;
    use super::*;

    /// A fresh P-256 key pair, and its public half as a JWK.
    pub(crate) fn es256_key(kid: &str) -> (EcdsaKeyPair, String) {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
            .unwrap();
        let point = pair.public_key().as_ref();
        let jwk = format!(
            r#"{{"kty":"EC","crv":"P-256","kid":"{kid}","use":"sig","x":"{}","y":"{}"}}"#,
            b64(&point[1..33]),
            b64(&point[33..])
        );
        (pair, jwk)
    }

    pub(crate) fn jwks(keys: &[&str]) -> Jwks {
        let (jwks, skipped) = Jwks::parse(&format!(r#"{{"keys":[{}]}}"#, keys.join(","))).unwrap();
        assert_eq!(skipped, Vec::<String>::new());
        jwks
    }

    #[test]
    fn an_ec_signature_verifies_only_with_its_key_and_algorithm() {
        let (pair, jwk) = es256_key("k1");
        let (_, other) = es256_key("k2");
        let keys = jwks(&[&other, &jwk]);
        let message = b"header.payload";
        let signature = pair.sign(&SystemRandom::new(), message).unwrap();
        let signature = signature.as_ref();
        assert_eq!(
            keys.verify(Algorithm::Es256, Some("k1"), message, signature),
            Ok(())
        );
        assert_eq!(
            keys.verify(Algorithm::Es256, None, message, signature),
            Ok(())
        );
        assert_eq!(
            keys.verify(Algorithm::Es256, Some("k2"), message, signature),
            Err(SignatureError::Invalid)
        );
        assert_eq!(
            keys.verify(Algorithm::Es256, Some("k3"), message, signature),
            Err(SignatureError::NoKey {
                alg: "ES256",
                kid: Some("k3".into())
            })
        );
        assert!(matches!(
            keys.verify(Algorithm::Es384, Some("k1"), message, signature),
            Err(SignatureError::NoKey { .. })
        ));
        assert!(matches!(
            keys.verify(Algorithm::Rs256, Some("k1"), message, signature),
            Err(SignatureError::NoKey { .. })
        ));
        assert_eq!(
            keys.verify(Algorithm::Es256, Some("k1"), b"header.payloaD", signature),
            Err(SignatureError::Invalid)
        );
    }

    #[test]
    fn keys_gregor_cannot_use_are_skipped_and_a_set_without_any_is_refused() {
        let (_, ec) = es256_key("ok");
        let text = format!(
            r#"{{"keys":[{ec},
                {{"kty":"oct","k":"c2VjcmV0","kid":"hmac"}},
                {{"kty":"EC","crv":"P-521","x":"AA","y":"AA","kid":"p521"}},
                {{"kty":"RSA","n":"AQAB","e":"AQAB","kid":"small"}},
                {{"kty":"RSA","e":"AQAB","kid":"no-n"}},
                {ec_enc},
                7]}}"#,
            ec_enc = ec.replace(r#""use":"sig""#, r#""use":"enc""#)
        );
        let (jwks, skipped) = Jwks::parse(&text).unwrap();
        assert_eq!(jwks.keys.len(), 1);
        assert_eq!(skipped.len(), 6, "{skipped:?}");
        for bad in ["", "[]", r#"{"keys":{}}"#, "not json"] {
            assert!(Jwks::parse(bad).is_err(), "{bad}");
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("jwks.json");
        std::fs::write(&path, r#"{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}"#).unwrap();
        assert!(matches!(
            Jwks::load("url", &path),
            Err(JwksError::NoUsableKey { .. })
        ));
        assert!(matches!(
            Jwks::load("url", &dir.path().join("missing.json")),
            Err(JwksError::Read { .. })
        ));
        std::fs::write(&path, format!(r#"{{"keys":[{ec}]}}"#)).unwrap();
        assert_eq!(Jwks::load("url", &path).unwrap().keys.len(), 1);
    }

    #[test]
    fn the_algorithm_a_key_names_is_the_only_one_it_verifies() {
        let (pair, jwk) = es256_key("k");
        let keys = jwks(&[&jwk.replace(r#""use":"sig""#, r#""alg":"ES384""#)]);
        let signature = pair.sign(&SystemRandom::new(), b"m").unwrap();
        assert!(matches!(
            keys.verify(Algorithm::Es256, Some("k"), b"m", signature.as_ref()),
            Err(SignatureError::NoKey { .. })
        ));
    }
}
