//! Signed tokens, as Kafka's `OAuthBearerValidatorCallbackHandler` (KIP-768)
//! checks them with jose4j's `JwtConsumer`: a compact JWS signed by a key of
//! the JWKS (never `alg: none`), `exp` and `iat` required, `exp` not past
//! and `nbf` reached (each with `sasl.oauthbearer.clock.skew.seconds`),
//! `aud` one of `expected.audience` (and absent when none is expected),
//! `iss` the `expected.issuer` if one is; then Kafka's own checks of the
//! scope and subject claims. Unlike jose4j's defaults, an `iat` later than
//! now plus the skew is refused too.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use std::sync::Arc;

use super::endpoint::RefreshingJwks;
use super::jwks::{Algorithm, Jwks, SignatureError};
use super::{decode_segment, json_object, json_type, JwksError, Rejection, Token};
use crate::config::oauthbearer::{JwksSource, SignedValidatorOptions};

#[derive(Debug)]
pub struct SignedValidator {
    options: SignedValidatorOptions,
    keys: Keys,
}

/// A file's keys, read once; or an endpoint's, refreshed.
#[derive(Debug)]
enum Keys {
    Fixed(Arc<Jwks>),
    Refreshing(Arc<RefreshingJwks>),
}

impl SignedValidator {
    /// Reads the keys (fetches them, from an endpoint): without them the
    /// listener cannot start.
    pub async fn start(options: SignedValidatorOptions) -> Result<SignedValidator, JwksError> {
        let keys = match &options.jwks {
            JwksSource::File(path) => {
                Keys::Fixed(Arc::new(Jwks::load(&options.jwks_setting, path)?))
            }
            JwksSource::Endpoint {
                url,
                truststore,
                truststore_access,
                refresh,
                retry_backoff_max,
            } => Keys::Refreshing(
                RefreshingJwks::start(
                    &options.jwks_setting,
                    url,
                    truststore.as_deref(),
                    truststore_access,
                    *refresh,
                    *retry_backoff_max,
                )
                .await?,
            ),
        };
        Ok(SignedValidator { options, keys })
    }

    pub fn validate(&self, token: &str, now_ms: i64) -> Result<Token, Rejection> {
        let token = token.trim();
        let segments: Vec<&str> = token.split('.').collect();
        let [header_segment, claims_segment, signature_segment] = segments[..] else {
            return Err(Rejection::invalid(format!(
                "Malformed JWT provided; expected three sections (header, payload, and signature), but {} sections provided",
                segments.len()
            )));
        };
        if segments.iter().any(|segment| segment.trim().is_empty()) {
            return Err(Rejection::invalid(
                "Malformed JWT provided; a section (header, payload or signature) is missing",
            ));
        }
        let header = json_object(header_segment)?;
        let alg = match header.get("alg") {
            Some(Value::String(alg)) => alg.as_str(),
            _ => return Err(Rejection::invalid("the JWS header has no algorithm")),
        };
        let Some(algorithm) = Algorithm::from_name(alg) else {
            return Err(Rejection::invalid(format!(
                "the JWS algorithm {alg:?} is not accepted (signed tokens only: RS256/384/512, PS256/384/512, ES256, ES384)"
            )));
        };
        if header.contains_key("crit") {
            return Err(Rejection::invalid(
                "the JWS header has critical parameters gregor does not understand",
            ));
        }
        let kid = match header.get("kid") {
            None => None,
            Some(Value::String(kid)) => Some(kid.as_str()),
            Some(_) => return Err(Rejection::invalid("the JWS header's kid is not a string")),
        };
        let signature = decode_segment(signature_segment)
            .ok_or_else(|| Rejection::invalid("the signature is not base64url"))?;
        let signed = &token[..header_segment.len() + 1 + claims_segment.len()];
        let keys = match &self.keys {
            Keys::Fixed(keys) => Arc::clone(keys),
            Keys::Refreshing(endpoint) => endpoint.current(),
        };
        let verified = keys.verify(algorithm, kid, signed.as_bytes(), &signature);
        if let (Err(SignatureError::NoKey { kid: Some(_), .. }), Keys::Refreshing(endpoint)) =
            (&verified, &self.keys)
        {
            // Perhaps a key the provider rotated in since the last fetch.
            endpoint.missing_key();
        }
        verified.map_err(|error| Rejection::invalid(error.to_string()))?;
        let claims = json_object(claims_segment)?;
        self.check_claims(&claims, now_ms)
    }

    fn check_claims(&self, claims: &Map<String, Value>, now_ms: i64) -> Result<Token, Rejection> {
        let options = &self.options;
        // jose4j's NumericDateValidator, in whole seconds.
        let now = now_ms.div_euclid(1000);
        let skew = i64::try_from(options.clock_skew.as_secs()).unwrap_or(i64::MAX);
        let expires = numeric_date(claims, "exp")?
            .ok_or_else(|| Rejection::invalid("No Expiration Time (exp) claim present."))?;
        let issued_at = numeric_date(claims, "iat")?
            .ok_or_else(|| Rejection::invalid("No Issued At (iat) claim present."))?;
        let not_before = numeric_date(claims, "nbf")?;
        if now.saturating_sub(skew) >= expires {
            return Err(Rejection::invalid(format!(
                "The JWT is no longer valid - the evaluation time {now} is on or after the Expiration Time (exp={expires}) claim value (with {skew} seconds of leeway)"
            )));
        }
        if expires < issued_at {
            return Err(Rejection::invalid(format!(
                "The Expiration Time (exp={expires}) claim value cannot be before the Issued At (iat={issued_at}) claim value."
            )));
        }
        if let Some(not_before) = not_before {
            if expires < not_before {
                return Err(Rejection::invalid(format!(
                    "The Expiration Time (exp={expires}) claim value cannot be before the Not Before (nbf={not_before}) claim value."
                )));
            }
            if now.saturating_add(skew) < not_before {
                return Err(Rejection::invalid(format!(
                    "The JWT is not yet valid as the evaluation time {now} is before the Not Before (nbf={not_before}) claim time (with {skew} seconds of leeway)"
                )));
            }
        }
        if issued_at > now.saturating_add(skew) {
            return Err(Rejection::invalid(format!(
                "The JWT was issued in the future (iat={issued_at}, now {now}, with {skew} seconds of leeway)"
            )));
        }
        self.check_audience(claims)?;
        if let Some(expected) = &options.expected_issuer {
            match claims.get("iss") {
                Some(Value::String(issuer)) if issuer == expected => {}
                None => return Err(Rejection::invalid("No Issuer (iss) claim present.")),
                Some(other) => {
                    return Err(Rejection::invalid(format!(
                    "Issuer (iss) claim value ({other}) doesn't match expected value of {expected}"
                )))
                }
            }
        }
        // Kafka's ClaimValidationUtils.
        scope(claims, &options.scope_claim_name)?;
        let name = &options.sub_claim_name;
        let principal = match claims.get(name) {
            Some(Value::String(sub)) if !sub.trim().is_empty() => sub.trim().to_string(),
            Some(Value::String(_)) => {
                return Err(Rejection::invalid(format!(
                    "{name} value must be non-empty"
                )))
            }
            None => return Err(Rejection::invalid(format!("{name} value must be non-null"))),
            Some(other) => {
                return Err(Rejection::invalid(format!(
                    "Could not extract the '{name}' claim from the access token: {}",
                    json_type(other)
                )))
            }
        };
        if expires < 0 || issued_at < 0 {
            return Err(Rejection::invalid("exp and iat must be non-negative"));
        }
        Ok(Token {
            principal,
            expires_at_ms: expires.saturating_mul(1000),
        })
    }

    /// jose4j's AudValidator: an `aud` (a string or a list of strings) must
    /// name an expected audience; without any expected, a token that has an
    /// `aud` is refused.
    fn check_audience(&self, claims: &Map<String, Value>) -> Result<(), Rejection> {
        let expected = &self.options.expected_audience;
        let audiences: Vec<&str> = match claims.get("aud") {
            None if expected.is_empty() => return Ok(()),
            None => return Err(Rejection::invalid("No Audience (aud) claim present.")),
            Some(Value::String(audience)) => vec![audience],
            Some(Value::Array(items)) => items
                .iter()
                .map(Value::as_str)
                .collect::<Option<_>>()
                .ok_or_else(|| Rejection::invalid("the aud claim is not a list of strings"))?,
            Some(other) => {
                return Err(Rejection::invalid(format!(
                    "the aud claim is a {}",
                    json_type(other)
                )))
            }
        };
        match audiences
            .iter()
            .any(|audience| expected.iter().any(|e| e == audience))
        {
            true => Ok(()),
            false if expected.is_empty() => Err(Rejection::invalid(format!(
                "Audience (aud) claim {audiences:?} present in the JWT but no expected audience value(s) were provided (sasl.oauthbearer.expected.audience)"
            ))),
            false => Err(Rejection::invalid(format!(
                "Audience (aud) claim {audiences:?} doesn't contain an acceptable identifier. Expected one of {expected:?} as an aud value."
            ))),
        }
    }
}

/// A NumericDate claim (RFC 7519): a number of seconds, truncated as
/// jose4j truncates it.
fn numeric_date(claims: &Map<String, Value>, name: &str) -> Result<Option<i64>, Rejection> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::Number(number)) => Ok(number
            .as_i64()
            .or_else(|| number.as_f64().map(|seconds| seconds as i64))),
        Some(other) => Err(Rejection::invalid(format!(
            "The value of the '{name}' claim is not the expected type (a {} is not a NumericDate)",
            json_type(other)
        ))),
    }
}

/// Kafka's scope checks: a string is one scope, a list its items; each
/// must be a non-blank string, and none repeated.
fn scope(claims: &Map<String, Value>, name: &str) -> Result<BTreeSet<String>, Rejection> {
    let items: Vec<&Value> = match claims.get(name) {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(text @ Value::String(_)) => vec![text],
        _ => Vec::new(),
    };
    let mut scope = BTreeSet::new();
    for item in items {
        let item = match item {
            Value::String(item) if !item.trim().is_empty() => item.trim(),
            _ => {
                return Err(Rejection::invalid(format!(
                    "{name} value must be a list of non-blank strings"
                )))
            }
        };
        if !scope.insert(item.to_string()) {
            return Err(Rejection::invalid(format!(
                "{name} value must not contain duplicates - {item} already present"
            )));
        }
    }
    Ok(scope)
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::time::Duration;

    use base64::Engine;
    use ring::rand::SystemRandom;
    use ring::signature::{EcdsaKeyPair, RsaKeyPair, RsaPublicKeyComponents};

    use super::super::jwks::tests::es256_key;
    use super::super::tests::b64;
    use super::*;

    const NOW: i64 = 1_700_000_000;
    const NOW_MS: i64 = NOW * 1000 + 250;

    /// A throw-away 2048-bit RSA key (PKCS#8), made for these tests with
    /// `openssl genpkey`: ring cannot generate RSA keys.
    const RSA_PKCS8: &[&str] = &[
        "MIIEvAIBADANBgkqhkiG9w0BAQEFAASCBKYwggSiAgEAAoIBAQC8FFWktDSxPRu8Wdg6LzcIS6N/OsKiv+gGx2Q9DCkFTwpm",
        "55PmX6bAA0CkZE6zmr1Fq+yqsBnQgIGZlQEhCDr6BQgXZ7A4gPGiCU1oXHWghxe2zoqrGT5uMAgWs4pXvZ4zkQgf4jpF6JG1",
        "Aixw/vLfj1rMWcAFC8/OJSTydrodFGKLhuHsUDNcSKGE9Rl+9MBcw8tw2RLNyDgxG7AZLsxEpEoeZJTb14GosrLfCHcgiAgS",
        "AeVH+Ez2x9m2y6L0C7yTwImSZ4Ox8MmfmyzAcKbVxAmca3+RuFKM2I3jpDi0yTwT+O9JH1VTo7Zj/s/OQrUrIrqHpzKszUNB",
        "HYr44zSJAgMBAAECggEAScwkyqqW3lCe+Gm8aSArlMqxDXQN+PQZ48cK8tU5p0abS0NkiglQEZl1HMvrAZge2h6aj2LnziMO",
        "Nyf7OG3VTlL5GM3rnFAj/7Nstx1IXkODr4wdZwNRtsSL9/RcvQ6+63bl3DTVLqcRvRdsPq4auFO0iehRaul2kWmLtMOXRV8T",
        "LBrv1cusJ9aGNvhuNXYWVNLxj0+H5OBmXolAzXyZqr5YWyTu073o41zVKxtlkpnk4+6uvKxxgLnKnv+0mSAhdWB9x3dsu19Y",
        "n4Ka4TcYWtbSSirlpSBDwdlLcsiixwhhWAus42CE1rDHocnNo0Ea6ArmZNc3x5i2+IRn1IyQ/QKBgQD+oofExylIcUDalekG",
        "VMvMEBzwJNvqZOkIgbg5QniLbAOkNf0XlwGd3aG1NwUDhTkL3Ks4BHkuF4PQC8yO1uGOS/IDoNMi6gr3BTsn2avL6tUpKVE/",
        "z63YbRrg7ns7/CDXr0GSoomWfzJK+O+gTWtIKBvV6wwlrFbNQqas5rAJXwKBgQC9FnYR8Co7tcXXvkosklbKW9SyZeRB9fcO",
        "fCHvaOGbZWAJjigiXErymp3nDGgnBU7Fb6ahhdjBlFv8mUhfk52JZ/PsdB8DZwCSknVW56UxEkPBEhiwHO77Uo1ZiBlkQm/x",
        "JZl/Kkd+qn7L2W3dsLL3zo34yy4p6e3UOnYHG3HDFwKBgDIdBp9hmuxY7ayXSE8orRsyKJ/SgT12Mq6r6PfL7zFxRp4wyei0",
        "nWrWTZb+hwwUUg/VlBToPHknw5dUWyPZgnag17aDFkqOyS2oZ+YF3tu5Ec6SBR2L3+jyQBH4nWRG0KfiJAOZ3X4y9lDvASoJ",
        "Uo3W5vOI2NEpQ8QN1AO/OvH9AoGAJNXeVGpD3/PuQbQZQQuVCsDO853z1IG1CkZWWgxFfv9FsTbXTLJMC2zhe+Qn2gonqUCx",
        "5l9rtXJQZSn7NltMYjs1AogwjnofW25am35u6NtVBaSf2JcaWy1eyeVAhQ6IPiMD/wjeeqd+IfoOdBR7GNlNQP1b1eBza1ek",
        "LIhFJisCgYAnk85HMvNn6bPOoTSRdXbQC3OSPeah1xx44ARbTRO4/UPV4VERDqUqjgV38/wJEo8xTgFQZwprmqIHnuoqxJjs",
        "meqBVawFY/n9LIFAxT90h4WTsSJGnGkSxD1l05wM79/o/HDHtT2m2B38xbxHFW8QysyF+PKr9Un0+uAJcl/0uQ==",
    ];

    fn rsa_key() -> RsaKeyPair {
        let der = base64::engine::general_purpose::STANDARD
            .decode(RSA_PKCS8.concat())
            .unwrap();
        RsaKeyPair::from_pkcs8(&der).unwrap()
    }

    fn rsa_jwk(key: &RsaKeyPair, kid: &str) -> String {
        let public = RsaPublicKeyComponents::<Vec<u8>>::from(key.public());
        format!(
            r#"{{"kty":"RSA","kid":"{kid}","n":"{}","e":"{}"}}"#,
            b64(&public.n),
            b64(&public.e)
        )
    }

    enum Signer<'a> {
        Rsa(&'a RsaKeyPair, &'static dyn ring::signature::RsaEncoding),
        Ec(&'a EcdsaKeyPair),
    }

    fn sign(header: &str, claims: &str, signer: Signer) -> String {
        let signed = format!("{}.{}", b64(header.as_bytes()), b64(claims.as_bytes()));
        let rng = SystemRandom::new();
        let signature = match signer {
            Signer::Rsa(key, encoding) => {
                let mut signature = vec![0; key.public().modulus_len()];
                key.sign(encoding, &rng, signed.as_bytes(), &mut signature)
                    .unwrap();
                signature
            }
            Signer::Ec(key) => key.sign(&rng, signed.as_bytes()).unwrap().as_ref().to_vec(),
        };
        format!("{signed}.{}", b64(&signature))
    }

    fn start(options: SignedValidatorOptions) -> Result<SignedValidator, JwksError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(SignedValidator::start(options))
    }

    fn options(jwks_file: PathBuf) -> SignedValidatorOptions {
        SignedValidatorOptions {
            jwks_setting: "sasl.oauthbearer.jwks.endpoint.url".into(),
            jwks: JwksSource::File(jwks_file),
            expected_audience: vec![],
            expected_issuer: None,
            scope_claim_name: "scope".into(),
            sub_claim_name: "sub".into(),
            clock_skew: Duration::from_secs(30),
        }
    }

    struct Fixture {
        _dir: tempfile::TempDir,
        rsa: RsaKeyPair,
        ec: EcdsaKeyPair,
        validator: SignedValidator,
    }

    fn fixture(configure: impl FnOnce(&mut SignedValidatorOptions)) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let rsa = rsa_key();
        let (ec, ec_jwk) = es256_key("ec-1");
        let path = dir.path().join("jwks.json");
        std::fs::write(
            &path,
            format!(r#"{{"keys":[{},{ec_jwk}]}}"#, rsa_jwk(&rsa, "rsa-1")),
        )
        .unwrap();
        let mut options = options(path);
        configure(&mut options);
        let validator = start(options).unwrap();
        Fixture {
            _dir: dir,
            rsa,
            ec,
            validator,
        }
    }

    fn claims(extra: &str) -> String {
        format!(
            r#"{{"sub":"alice","iat":{NOW},"exp":{}{extra}}}"#,
            NOW + 3600
        )
    }

    impl Fixture {
        fn rs256(&self, claims: &str) -> String {
            sign(
                r#"{"alg":"RS256","kid":"rsa-1","typ":"JWT"}"#,
                claims,
                Signer::Rsa(&self.rsa, &ring::signature::RSA_PKCS1_SHA256),
            )
        }

        fn check(&self, token: &str) -> Result<Token, Rejection> {
            self.validator.validate(token, NOW_MS)
        }
    }

    #[test]
    fn tokens_signed_by_a_key_of_the_set_name_their_subject() {
        let f = fixture(|_| {});
        let token = f.check(&f.rs256(&claims(""))).unwrap();
        assert_eq!(
            token,
            Token {
                principal: "alice".into(),
                expires_at_ms: (NOW + 3600) * 1000
            }
        );
        for (header, encoding) in [
            (
                r#"{"alg":"RS512","kid":"rsa-1"}"#,
                &ring::signature::RSA_PKCS1_SHA512 as &'static dyn ring::signature::RsaEncoding,
            ),
            (
                r#"{"alg":"PS256","kid":"rsa-1"}"#,
                &ring::signature::RSA_PSS_SHA256,
            ),
            (r#"{"alg":"PS384"}"#, &ring::signature::RSA_PSS_SHA384),
        ] {
            let token = sign(header, &claims(""), Signer::Rsa(&f.rsa, encoding));
            assert_eq!(f.check(&token).unwrap().principal, "alice", "{header}");
        }
        let token = sign(
            r#"{"alg":"ES256","kid":"ec-1"}"#,
            &claims(""),
            Signer::Ec(&f.ec),
        );
        assert_eq!(f.check(&token).unwrap().principal, "alice");
    }

    #[test]
    fn forged_unsigned_or_mislabelled_tokens_are_refused() {
        let f = fixture(|_| {});
        let good = f.rs256(&claims(""));
        let (signed, signature) = good.rsplit_once('.').unwrap();
        let mut flipped = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(signature)
            .unwrap();
        flipped[10] ^= 1;
        let (header, _) = signed.split_once('.').unwrap();
        let other_claims = b64(claims(r#","admin":true"#).as_bytes());
        let none = b64(br#"{"alg":"none"}"#);
        let body = b64(claims("").as_bytes());
        for token in [
            format!("{signed}.{}", b64(&flipped)),
            format!("{header}.{other_claims}.{signature}"),
            format!("{none}.{body}."),
            format!("{none}.{body}.{signature}"),
            sign(
                r#"{"alg":"RS256","kid":"unknown"}"#,
                &claims(""),
                Signer::Rsa(&f.rsa, &ring::signature::RSA_PKCS1_SHA256),
            ),
            // The EC key's kid with an RSA signature, and the reverse.
            sign(
                r#"{"alg":"RS256","kid":"ec-1"}"#,
                &claims(""),
                Signer::Rsa(&f.rsa, &ring::signature::RSA_PKCS1_SHA256),
            ),
            sign(
                r#"{"alg":"ES256","kid":"rsa-1"}"#,
                &claims(""),
                Signer::Ec(&f.ec),
            ),
            sign(
                r#"{"alg":"RS256","kid":"rsa-1","crit":["exp"]}"#,
                &claims(""),
                Signer::Rsa(&f.rsa, &ring::signature::RSA_PKCS1_SHA256),
            ),
            format!(
                "{}.{body}.{signature}",
                b64(br#"{"alg":"HS256","kid":"rsa-1"}"#)
            ),
            format!("{signed}."),
            signed.to_string(),
            format!("{good}.x"),
            String::new(),
        ] {
            let rejection = f.check(&token).unwrap_err();
            assert_eq!(
                rejection.challenge(),
                r#"{"status":"invalid_token"}"#,
                "{token}"
            );
        }
    }

    #[test]
    fn times_are_checked_with_the_clock_skew() {
        let f = fixture(|_| {});
        let at = |iat: i64, exp: i64, extra: &str| {
            f.check(&f.rs256(&format!(
                r#"{{"sub":"alice","iat":{iat},"exp":{exp}{extra}}}"#
            )))
        };
        assert!(at(NOW - 100, NOW - 29, "").is_ok());
        assert!(at(NOW - 100, NOW - 30, "").is_err());
        assert!(at(NOW + 30, NOW + 60, "").is_ok());
        assert!(at(NOW + 31, NOW + 60, "").is_err());
        assert!(at(NOW, NOW + 60, &format!(r#","nbf":{}"#, NOW + 30)).is_ok());
        assert!(at(NOW, NOW + 60, &format!(r#","nbf":{}"#, NOW + 31)).is_err());
        assert!(at(NOW, NOW - 1 + 60, &format!(r#","nbf":{}"#, NOW + 60)).is_err());
        assert!(at(NOW + 10, NOW + 5, "").is_err());
        // exp and iat are both required, and must be numbers.
        assert!(f
            .check(&f.rs256(&format!(r#"{{"sub":"a","exp":{}}}"#, NOW + 60)))
            .is_err());
        assert!(f
            .check(&f.rs256(&format!(r#"{{"sub":"a","iat":{NOW}}}"#)))
            .is_err());
        assert!(f
            .check(&f.rs256(&format!(
                r#"{{"sub":"a","iat":{NOW},"exp":"{}"}}"#,
                NOW + 60
            )))
            .is_err());
        let strict = fixture(|options| options.clock_skew = Duration::ZERO);
        assert!(strict
            .check(&strict.rs256(&format!(r#"{{"sub":"a","iat":{NOW},"exp":{NOW}}}"#)))
            .is_err());
        assert!(strict
            .check(&strict.rs256(&format!(r#"{{"sub":"a","iat":{NOW},"exp":{}}}"#, NOW + 1)))
            .is_ok());
    }

    #[test]
    fn audience_and_issuer_must_be_the_expected_ones() {
        let open = fixture(|_| {});
        assert!(open.check(&open.rs256(&claims(""))).is_ok());
        // As jose4j does for Kafka: an aud with none expected is refused.
        assert!(open
            .check(&open.rs256(&claims(r#","aud":"kafka""#)))
            .is_err());
        let f = fixture(|options| {
            options.expected_audience = vec!["kafka".into(), "other".into()];
            options.expected_issuer = Some("https://idp.example".into());
        });
        let iss = r#","iss":"https://idp.example""#;
        assert!(f
            .check(&f.rs256(&claims(&format!(r#","aud":"kafka"{iss}"#))))
            .is_ok());
        assert!(f
            .check(&f.rs256(&claims(&format!(r#","aud":["x","other"]{iss}"#))))
            .is_ok());
        for extra in [
            format!(r#","aud":"x"{iss}"#),
            format!(r#","aud":["x"]{iss}"#),
            format!(r#","aud":[7]{iss}"#),
            iss.to_string(),
            r#","aud":"kafka""#.to_string(),
            r#","aud":"kafka","iss":"https://evil.example""#.to_string(),
        ] {
            assert!(f.check(&f.rs256(&claims(&extra))).is_err(), "{extra}");
        }
    }

    #[test]
    fn subject_and_scope_claims_are_checked_as_kafka_checks_them() {
        let f = fixture(|options| {
            options.sub_claim_name = "client_id".into();
        });
        let token =
            |claims: &str| f.rs256(&format!(r#"{{"iat":{NOW},"exp":{}{claims}}}"#, NOW + 60));
        assert_eq!(
            f.check(&token(r#","client_id":" svc-1 ","sub":"x""#))
                .unwrap()
                .principal,
            "svc-1"
        );
        assert!(f
            .check(&token(r#","client_id":"svc","scope":"a b""#))
            .is_ok());
        assert!(f
            .check(&token(r#","client_id":"svc","scope":["a","b"]"#))
            .is_ok());
        for claims in [
            r#","sub":"alice""#,
            r#","client_id":"  ""#,
            r#","client_id":7"#,
            r#","client_id":"svc","scope":["a","a"]"#,
            r#","client_id":"svc","scope":["a",""]"#,
            r#","client_id":"svc","scope":"""#,
        ] {
            assert!(f.check(&token(claims)).is_err(), "{claims}");
        }
    }

    #[test]
    fn a_missing_jwks_file_stops_start_up() {
        let error = start(options("/nonexistent/jwks.json".into())).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("sasl.oauthbearer.jwks.endpoint.url"),
            "{error}"
        );
    }
}
