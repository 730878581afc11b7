//! Kafka's unsecured validator (`OAuthBearerUnsecuredValidatorCallbackHandler`
//! with `OAuthBearerUnsecuredJws` and `OAuthBearerValidationUtils`): an
//! `alg: none` JWS with no signature, whose claims are believed as they
//! are. Its checks, in Kafka's order: the compact form, `alg`, an empty
//! signature, the scope claim's type, `exp` present, the principal claim a
//! non-blank string, `iat` not in the future, `exp` not past, `exp` after
//! `iat`, and every required scope present, each time with the allowable
//! clock skew.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use super::{json_object, json_type, Rejection, Token};
use crate::config::oauthbearer::UnsecuredValidatorOptions;

pub(super) fn validate(
    options: &UnsecuredValidatorOptions,
    token: &str,
    now_ms: i64,
) -> Result<Token, Rejection> {
    if token.contains("..") {
        return Err(Rejection::invalid(
            "Malformed compact serialization contains '..'",
        ));
    }
    let segments: Vec<&str> = token.split('.').collect();
    let [header, claims, signature] = segments[..] else {
        return Err(Rejection::invalid(
            "Unsecured JWS compact serializations must have 3 dot-separated Base64URL-encoded values",
        ));
    };
    let header = json_object(header)?;
    let claims = json_object(claims)?;
    match header.get("alg") {
        Some(Value::String(alg)) if alg == "none" => {}
        None => {
            return Err(Rejection::invalid(
                "JWS header must have an Algorithm value",
            ))
        }
        Some(_) => {
            return Err(Rejection::invalid(
                "Unsecured JWS must have 'none' for an algorithm",
            ))
        }
    }
    if !signature.is_empty() {
        return Err(Rejection::invalid(
            "Unsecured JWS must not contain a digital signature",
        ));
    }
    let scope = scope(&claims, &options.scope_claim_name)?;
    let expires =
        number(&claims, "exp")?.ok_or_else(|| Rejection::invalid("No expiration time in JWT"))?;
    let name = &options.principal_claim_name;
    let principal = match claims.get(name) {
        Some(Value::String(principal)) if !principal.trim().is_empty() => principal.clone(),
        None | Some(Value::String(_)) => {
            return Err(Rejection::invalid(format!(
                "No principal name in JWT claim: {name}"
            )))
        }
        Some(other) => return Err(not_of_type(name, "String", other)),
    };
    let issued_at = number(&claims, "iat")?;
    let skew = i64::try_from(options.allowable_clock_skew.as_millis()).unwrap_or(i64::MAX);
    if let Some(issued_at) = issued_at {
        if 1000.0 * issued_at > now_ms.saturating_add(skew) as f64 {
            return Err(Rejection::invalid(format!(
                "The Issued At value ({issued_at} seconds) was after the indicated time ({now_ms} ms) plus allowable clock skew ({skew} ms)"
            )));
        }
    }
    if now_ms.saturating_sub(skew) as f64 >= 1000.0 * expires {
        return Err(Rejection::invalid(format!(
            "The indicated time ({now_ms} ms) minus allowable clock skew ({skew} ms) was on or after the Expiration Time value ({expires} seconds)"
        )));
    }
    if let Some(issued_at) = issued_at.filter(|issued_at| expires <= *issued_at) {
        return Err(Rejection::invalid(format!(
            "The Expiration Time time ({expires} seconds) was not after the Issued At time ({issued_at} seconds)"
        )));
    }
    if let Some(missing) = options
        .required_scope
        .iter()
        .find(|required| !scope.contains(required.as_str()))
    {
        return Err(Rejection {
            reason: format!(
                "The provided scope ({scope:?}) was missing a required scope ({missing}).  All required scope elements: {:?}",
                options.required_scope
            ),
            // Java's List.toString.
            required_scope: Some(format!("[{}]", options.required_scope.join(", "))),
        });
    }
    Ok(Token {
        principal,
        // Kafka rounds; `as` saturates where a claim is absurd.
        expires_at_ms: (expires * 1000.0).round() as i64,
    })
}

/// A claim that must be a number if it is there.
fn number(claims: &Map<String, Value>, name: &str) -> Result<Option<f64>, Rejection> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::Number(number)) => Ok(number.as_f64()),
        Some(other) => Err(not_of_type(name, "Number", other)),
    }
}

/// The scope claim: a string is one scope (trimmed, none if blank), a list
/// is its non-blank items, trimmed; as Kafka reads it.
fn scope(claims: &Map<String, Value>, name: &str) -> Result<BTreeSet<String>, Rejection> {
    let items = match claims.get(name) {
        None => return Ok(BTreeSet::new()),
        Some(Value::String(scope)) => vec![scope.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| match item {
                Value::String(text) => text.clone(),
                other => other.to_string(),
            })
            .collect(),
        Some(other) => return Err(not_of_type(name, "List", other)),
    };
    Ok(items
        .iter()
        .map(|item| item.trim())
        .filter(|item| !item.is_empty())
        .map(str::to_string)
        .collect())
}

fn not_of_type(name: &str, wanted: &str, value: &Value) -> Rejection {
    Rejection::invalid(format!(
        "The '{name}' claim was not of type {wanted}: {}",
        json_type(value)
    ))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use base64::Engine;

    use super::super::tests::{b64, unsecured_jws};
    use super::*;

    const NOW_MS: i64 = 1_700_000_000_000;
    const NOW: i64 = NOW_MS / 1000;

    fn options() -> UnsecuredValidatorOptions {
        UnsecuredValidatorOptions {
            principal_claim_name: "sub".into(),
            scope_claim_name: "scope".into(),
            required_scope: vec![],
            allowable_clock_skew: Duration::ZERO,
        }
    }

    fn check(options: &UnsecuredValidatorOptions, claims: &str) -> Result<Token, Rejection> {
        validate(options, &unsecured_jws(claims), NOW_MS)
    }

    #[test]
    fn a_current_unsigned_token_names_its_subject() {
        let token = check(
            &options(),
            &format!(
                r#"{{"sub":"alice","iat":{}.5,"exp":{}.25}}"#,
                NOW - 1,
                NOW + 3600
            ),
        )
        .unwrap();
        assert_eq!(token.principal, "alice");
        assert_eq!(token.expires_at_ms, (NOW + 3600) * 1000 + 250);
        // iat is optional; padding and the standard alphabet are read too.
        let padded = format!(
            "{}.{}.",
            b64(br#"{"alg":"none"}"#),
            base64::engine::general_purpose::STANDARD
                .encode(format!(r#"{{"sub":"bob>>","exp":{}}}"#, NOW + 60))
        );
        assert!(padded.contains('=') && padded.contains('+'), "{padded}");
        assert_eq!(
            validate(&options(), &padded, NOW_MS).unwrap().principal,
            "bob>>"
        );
    }

    #[test]
    fn the_principal_comes_from_the_configured_claim() {
        let options = UnsecuredValidatorOptions {
            principal_claim_name: "uid".into(),
            ..options()
        };
        let claims = format!(r#"{{"sub":"alice","uid":"svc-1","exp":{}}}"#, NOW + 60);
        assert_eq!(check(&options, &claims).unwrap().principal, "svc-1");
        let claims = format!(r#"{{"sub":"alice","exp":{}}}"#, NOW + 60);
        assert!(check(&options, &claims).is_err());
    }

    #[test]
    fn expiry_and_issue_times_are_checked_with_the_allowable_skew() {
        let strict = options();
        let lenient = UnsecuredValidatorOptions {
            allowable_clock_skew: Duration::from_millis(5000),
            ..options()
        };
        let expired = format!(r#"{{"sub":"a","exp":{}}}"#, NOW - 2);
        assert!(check(&strict, &expired).is_err());
        assert!(check(&lenient, &expired).is_ok());
        // On the second of expiry is expired.
        assert!(check(&strict, &format!(r#"{{"sub":"a","exp":{NOW}}}"#)).is_err());
        let future = format!(r#"{{"sub":"a","iat":{},"exp":{}}}"#, NOW + 2, NOW + 60);
        assert!(check(&strict, &future).is_err());
        assert!(check(&lenient, &future).is_ok());
        let backwards = format!(r#"{{"sub":"a","iat":{NOW},"exp":{NOW}}}"#);
        assert!(check(&lenient, &backwards).is_err());
    }

    #[test]
    fn required_scopes_must_all_be_granted() {
        let options = UnsecuredValidatorOptions {
            required_scope: vec!["read".into(), "write".into()],
            ..options()
        };
        let exp = NOW + 60;
        let granted = format!(r#"{{"sub":"a","exp":{exp},"scope":[" read ","write","x"]}}"#);
        assert!(check(&options, &granted).is_ok());
        let rejection = check(
            &options,
            &format!(r#"{{"sub":"a","exp":{exp},"scope":["read"]}}"#),
        )
        .unwrap_err();
        assert_eq!(
            rejection.challenge(),
            r#"{"status":"insufficient_scope", "scope":"[read, write]"}"#
        );
        // A string is one scope, not a space-separated list (as in Kafka).
        assert!(check(
            &options,
            &format!(r#"{{"sub":"a","exp":{exp},"scope":"read write"}}"#)
        )
        .is_err());
        assert!(check(&options, &format!(r#"{{"sub":"a","exp":{exp}}}"#)).is_err());
    }

    #[test]
    fn malformed_signed_or_incomplete_tokens_are_invalid() {
        let exp = NOW + 60;
        let claims = b64(format!(r#"{{"sub":"a","exp":{exp}}}"#).as_bytes());
        let none = b64(br#"{"alg":"none"}"#);
        for token in [
            format!("{}.{claims}.", b64(br#"{"alg":"RS256"}"#)),
            format!("{}.{claims}.", b64(br#"{"typ":"JWT"}"#)),
            format!("{none}.{claims}.c2lnbmF0dXJl"),
            format!("{none}.{claims}"),
            format!("{none}.{claims}.."),
            format!("{none}..{claims}."),
            format!("{none}.{claims}.x."),
            format!("{none}.e30=.x"),
            format!("{none}.bm90IGpzb24.",),
            format!("{none}.WzFd."),
            format!("{none}.*.",),
            unsecured_jws(r#"{"sub":"a"}"#),
            unsecured_jws(&format!(r#"{{"exp":{exp}}}"#)),
            unsecured_jws(&format!(r#"{{"sub":" ","exp":{exp}}}"#)),
            unsecured_jws(&format!(r#"{{"sub":7,"exp":{exp}}}"#)),
            unsecured_jws(&format!(r#"{{"sub":"a","exp":"{exp}"}}"#)),
            unsecured_jws(&format!(r#"{{"sub":"a","exp":{exp},"iat":"x"}}"#)),
            unsecured_jws(&format!(r#"{{"sub":"a","exp":{exp},"scope":5}}"#)),
            String::new(),
        ] {
            let rejection = validate(&options(), &token, NOW_MS).unwrap_err();
            assert_eq!(
                rejection.challenge(),
                r#"{"status":"invalid_token"}"#,
                "{token}"
            );
        }
    }
}
