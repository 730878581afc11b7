//! The SASL/OAUTHBEARER settings of a listener, by Kafka's names: how its
//! tokens are validated.
//!
//! - Unsecured (Kafka's default, `OAuthBearerUnsecuredValidatorCallbackHandler`):
//!   `alg: none` tokens, checked against the `unsecuredValidator*` options of
//!   `listener.name.<l>.oauthbearer.sasl.jaas.config`, which must be set.
//!   Anyone can mint such a token: it is for development only.
//! - Signed (KIP-768's `OAuthBearerValidatorCallbackHandler`): whenever
//!   `sasl.oauthbearer.jwks.endpoint.url` is set, tokens must carry a
//!   signature by a key of that JWKS, with `sasl.oauthbearer.expected.*`,
//!   `scope.claim.name`, `sub.claim.name` and `clock.skew.seconds`. The
//!   JWKS is a local file (read once) or an `https://` (or `http://`)
//!   endpoint, fetched at start-up and refreshed every
//!   `sasl.oauthbearer.jwks.endpoint.refresh.ms`, and sooner when a token
//!   names a key it lacks; the endpoint's certificate is checked against
//!   the JAAS options' `ssl.truststore.*` (PEM, PKCS12 or JKS), as Kafka takes the
//!   IdP connection's TLS settings from them, or the system's CA bundle.
//!
//! Unlike Kafka, a JWKS URL alone selects signed validation (Kafka would
//! also need the callback handler class, and without it would accept
//! unsigned tokens while looking configured).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use super::security::{invalid, parse_jaas, Password, StoreAccess, StoreType};
use super::ConfigError;

/// Kafka's login module for OAUTHBEARER, the only one its JAAS entry may name.
pub const LOGIN_MODULE: &str =
    "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule";

/// The callback handler classes that name what gregor does.
const SIGNED_HANDLERS: &[&str] = &[
    "org.apache.kafka.common.security.oauthbearer.OAuthBearerValidatorCallbackHandler",
    "org.apache.kafka.common.security.oauthbearer.secured.OAuthBearerValidatorCallbackHandler",
];
const UNSECURED_HANDLER: &str =
    "org.apache.kafka.common.security.oauthbearer.internals.unsecured.OAuthBearerUnsecuredValidatorCallbackHandler";

/// How a listener validates OAUTHBEARER tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OAuthBearerConfig {
    Unsecured(UnsecuredValidatorOptions),
    Signed(SignedValidatorOptions),
}

/// The `unsecuredValidator*` JAAS options, with Kafka's defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsecuredValidatorOptions {
    /// `unsecuredValidatorPrincipalClaimName` (default `sub`).
    pub principal_claim_name: String,
    /// `unsecuredValidatorScopeClaimName` (default `scope`).
    pub scope_claim_name: String,
    /// `unsecuredValidatorRequiredScope`: space-separated, every one needed.
    pub required_scope: Vec<String>,
    /// `unsecuredValidatorAllowableClockSkewMs` (default 0).
    pub allowable_clock_skew: Duration,
}

/// `sasl.oauthbearer.*` for signed tokens (KIP-768).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedValidatorOptions {
    /// The setting the JWKS was named by, for errors.
    pub jwks_setting: String,
    /// `sasl.oauthbearer.jwks.endpoint.url`.
    pub jwks: JwksSource,
    /// `sasl.oauthbearer.expected.audience`: when empty, a token with an
    /// `aud` claim is refused (as jose4j does for Kafka).
    pub expected_audience: Vec<String>,
    /// `sasl.oauthbearer.expected.issuer`.
    pub expected_issuer: Option<String>,
    /// `sasl.oauthbearer.scope.claim.name` (default `scope`).
    pub scope_claim_name: String,
    /// `sasl.oauthbearer.sub.claim.name` (default `sub`): the principal.
    pub sub_claim_name: String,
    /// `sasl.oauthbearer.clock.skew.seconds` (default 30).
    pub clock_skew: Duration,
}

/// A setting of the listener's OAUTHBEARER: `listener.name.<l>.oauthbearer.<key>`,
/// then `listener.name.<l>.<key>`, then `<key>` (Kafka's mechanism and
/// listener prefixes); with the name it was found under. Blank is unset.
fn setting<'a>(
    properties: &'a BTreeMap<String, String>,
    listener: &str,
    key: &str,
) -> Option<(String, &'a str)> {
    let listener = listener.to_ascii_lowercase();
    [
        format!("listener.name.{listener}.oauthbearer.{key}"),
        format!("listener.name.{listener}.{key}"),
        key.to_string(),
    ]
    .into_iter()
    .find_map(|name| {
        let value = properties.get(&name)?.trim();
        (!value.is_empty()).then_some((name, value))
    })
}

impl OAuthBearerConfig {
    /// The OAUTHBEARER settings of `listener`, refused where gregor could not
    /// honour them.
    pub fn for_listener(
        properties: &BTreeMap<String, String>,
        listener: &str,
    ) -> Result<OAuthBearerConfig, ConfigError> {
        let jaas_name = format!(
            "listener.name.{}.oauthbearer.sasl.jaas.config",
            listener.to_ascii_lowercase()
        );
        let options = match properties.get(&jaas_name) {
            None => None,
            Some(jaas) => {
                let (module, options) =
                    parse_jaas(jaas).map_err(|reason| invalid(&jaas_name, "[hidden]", reason))?;
                if module != LOGIN_MODULE {
                    return Err(invalid(
                        &jaas_name,
                        "[hidden]",
                        format!("{module} is not OAUTHBEARER's login module ({LOGIN_MODULE})"),
                    ));
                }
                Some(options.into_iter().collect::<BTreeMap<_, _>>())
            }
        };
        let jwks = setting(properties, listener, "sasl.oauthbearer.jwks.endpoint.url");
        let handler = setting(properties, listener, "sasl.server.callback.handler.class");
        match (handler, jwks) {
            (Some((name, class)), _)
                if !SIGNED_HANDLERS.contains(&class) && class != UNSECURED_HANDLER =>
            {
                Err(invalid(
                    &name,
                    class,
                    format!(
                        "gregor cannot run callback handlers; use {} (signed tokens, with sasl.oauthbearer.jwks.endpoint.url) or unset it",
                        SIGNED_HANDLERS[0]
                    ),
                ))
            }
            (Some((name, class)), None) if SIGNED_HANDLERS.contains(&class) => Err(invalid(
                &name,
                class,
                format!("validating signed tokens needs the keys: set listener.name.{}.oauthbearer.sasl.oauthbearer.jwks.endpoint.url=file:///path/to/jwks.json", listener.to_ascii_lowercase()),
            )),
            (Some((name, class)), Some((jwks_name, _))) if class == UNSECURED_HANDLER => {
                Err(invalid(
                    &name,
                    class,
                    format!("the unsecured validator would ignore {jwks_name}: unset one of them"),
                ))
            }
            (_, Some((jwks_name, url))) => Ok(OAuthBearerConfig::Signed(signed_options(
                properties,
                listener,
                jwks_name,
                url,
                options.as_ref(),
            )?)),
            (_, None) => {
                let options = options.ok_or_else(|| {
                    invalid(
                        &jaas_name,
                        "",
                        format!(
                            "listener {listener} enables OAUTHBEARER: set {jaas_name}={LOGIN_MODULE} required; to accept unsigned tokens (development only), or sasl.oauthbearer.jwks.endpoint.url to validate signed ones"
                        ),
                    )
                })?;
                Ok(OAuthBearerConfig::Unsecured(unsecured_options(
                    &jaas_name, &options,
                )?))
            }
        }
    }
}

fn unsecured_options(
    jaas_name: &str,
    options: &BTreeMap<String, String>,
) -> Result<UnsecuredValidatorOptions, ConfigError> {
    let option = |key: &str, default: &str| {
        options
            .get(key)
            .map(|value| value.trim())
            .filter(|value| !value.is_empty())
            .unwrap_or(default)
            .to_string()
    };
    let required_scope = option("unsecuredValidatorRequiredScope", "");
    let required_scope: Vec<String> = required_scope
        .split(' ')
        .filter(|item| !item.is_empty())
        .map(str::to_string)
        .collect();
    // RFC 6749's scope-token, as Kafka's OAuthBearerScopeUtils checks it.
    let scope_token = |item: &str| {
        item.bytes()
            .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b))
    };
    if let Some(bad) = required_scope.iter().find(|item| !scope_token(item)) {
        return Err(invalid(
            jaas_name,
            bad,
            "unsecuredValidatorRequiredScope: not a valid scope value",
        ));
    }
    let skew = option("unsecuredValidatorAllowableClockSkewMs", "0");
    let skew_ms = skew.parse::<u32>().ok().filter(|ms| *ms <= i32::MAX as u32);
    let Some(skew_ms) = skew_ms else {
        return Err(invalid(
            jaas_name,
            &skew,
            "unsecuredValidatorAllowableClockSkewMs must be a non-negative number of milliseconds",
        ));
    };
    Ok(UnsecuredValidatorOptions {
        principal_claim_name: option("unsecuredValidatorPrincipalClaimName", "sub"),
        scope_claim_name: option("unsecuredValidatorScopeClaimName", "scope"),
        required_scope,
        allowable_clock_skew: Duration::from_millis(u64::from(skew_ms)),
    })
}

fn signed_options(
    properties: &BTreeMap<String, String>,
    listener: &str,
    jwks_setting: String,
    url: &str,
    jaas_options: Option<&BTreeMap<String, String>>,
) -> Result<SignedValidatorOptions, ConfigError> {
    let get = |key: &str, default: &str| {
        setting(properties, listener, key).map_or(default.to_string(), |(_, v)| v.to_string())
    };
    let millis = |key: &str, default: u64| -> Result<Duration, ConfigError> {
        match setting(properties, listener, key) {
            None => Ok(Duration::from_millis(default)),
            Some((name, value)) => match value.parse::<u64>() {
                Ok(ms) if ms > 0 => Ok(Duration::from_millis(ms)),
                _ => Err(invalid(
                    &name,
                    value,
                    "must be a positive number of milliseconds",
                )),
            },
        }
    };
    let jwks = match endpoint(url) {
        Some(url) => {
            let option = |name: &str| jaas_options.and_then(|o| o.get(name));
            let truststore = option("ssl.truststore.location");
            let truststore_access = StoreAccess {
                kind: StoreType::parse(
                    "ssl.truststore.type (OAUTHBEARER JAAS option)",
                    option("ssl.truststore.type").map(String::as_str),
                )?,
                password: option("ssl.truststore.password").map(|p| Password(p.clone())),
            };
            JwksSource::Endpoint {
                url,
                truststore: truststore.map(PathBuf::from),
                truststore_access,
                refresh: millis("sasl.oauthbearer.jwks.endpoint.refresh.ms", 3_600_000)?,
                retry_backoff_max: millis(
                    "sasl.oauthbearer.jwks.endpoint.retry.backoff.max.ms",
                    10_000,
                )?,
            }
        }
        None => {
            JwksSource::File(jwks_file(url).map_err(|reason| invalid(&jwks_setting, url, reason))?)
        }
    };
    let expected_audience = get("sasl.oauthbearer.expected.audience", "")
        .split(',')
        .map(str::trim)
        .filter(|audience| !audience.is_empty())
        .map(str::to_string)
        .collect();
    let expected_issuer = setting(properties, listener, "sasl.oauthbearer.expected.issuer")
        .map(|(_, issuer)| issuer.to_string());
    let clock_skew = match setting(properties, listener, "sasl.oauthbearer.clock.skew.seconds") {
        None => Duration::from_secs(30),
        Some((name, value)) => match value.parse::<u32>() {
            Ok(seconds) if seconds <= i32::MAX as u32 => Duration::from_secs(u64::from(seconds)),
            _ => {
                return Err(invalid(
                    &name,
                    value,
                    "must be a non-negative number of seconds",
                ))
            }
        },
    };
    Ok(SignedValidatorOptions {
        jwks_setting,
        jwks,
        expected_audience,
        expected_issuer,
        scope_claim_name: get("sasl.oauthbearer.scope.claim.name", "scope"),
        sub_claim_name: get("sasl.oauthbearer.sub.claim.name", "sub"),
        clock_skew,
    })
}

/// Where the keys of signed tokens come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JwksSource {
    /// A local file, read once at start-up.
    File(PathBuf),
    /// An identity provider's endpoint, fetched at start-up and refreshed.
    Endpoint {
        url: String,
        /// The JAAS options' `ssl.truststore.location`; else the system's
        /// CA bundle.
        truststore: Option<PathBuf>,
        /// The JAAS options' `ssl.truststore.type` and
        /// `ssl.truststore.password`.
        truststore_access: StoreAccess,
        /// `sasl.oauthbearer.jwks.endpoint.refresh.ms` (default one hour).
        refresh: Duration,
        /// `sasl.oauthbearer.jwks.endpoint.retry.backoff.max.ms` (default
        /// 10 s): the longest wait between failed fetches, and the least
        /// between fetches asked for by unknown key ids.
        retry_backoff_max: Duration,
    },
}

/// An `http(s)://` JWKS URL, as given.
fn endpoint(url: &str) -> Option<String> {
    let lower = url.to_ascii_lowercase();
    (lower.starts_with("https://") || lower.starts_with("http://")).then(|| url.to_string())
}

/// The file a JWKS URL names: `file:///path`, `file:/path`,
/// `file://localhost/path`, or a plain path.
fn jwks_file(url: &str) -> Result<PathBuf, String> {
    let scheme = url
        .split_once(':')
        .map(|(scheme, _)| scheme.to_ascii_lowercase())
        .filter(|scheme| {
            scheme.len() > 1
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
        });
    let path = match scheme.as_deref() {
        None => url,
        Some("file") => {
            let rest = &url[5..];
            match rest.strip_prefix("//") {
                None => rest,
                Some(authority_and_path) => {
                    let (host, path) = authority_and_path
                        .find('/')
                        .map_or((authority_and_path, ""), |at| authority_and_path.split_at(at));
                    if !(host.is_empty() || host.eq_ignore_ascii_case("localhost")) {
                        return Err(format!("a file on another host ({host}) cannot be read"));
                    }
                    path
                }
            }
        }
        Some(other) => {
            return Err(format!(
                "unsupported URL scheme {other:?}: give https://… or a local file (file:///path/to/jwks.json)"
            ))
        }
    };
    if path.is_empty() {
        return Err("no file named".to_string());
    }
    Ok(PathBuf::from(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::config::properties::from_pairs as props;

    const JAAS: &str = "listener.name.sasl_plaintext.oauthbearer.sasl.jaas.config";

    #[test]
    fn the_unsecured_validator_takes_its_options_from_the_listeners_jaas_config() {
        let config = OAuthBearerConfig::for_listener(
            &props(&[(
                JAAS,
                "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required \
                 unsecuredLoginStringClaim_sub=\"admin\" \
                 unsecuredValidatorRequiredScope=\"read  write\" \
                 unsecuredValidatorPrincipalClaimName=\"uid\" \
                 unsecuredValidatorAllowableClockSkewMs=\"1500\";",
            )]),
            "SASL_PLAINTEXT",
        )
        .unwrap();
        assert_eq!(
            config,
            OAuthBearerConfig::Unsecured(UnsecuredValidatorOptions {
                principal_claim_name: "uid".into(),
                scope_claim_name: "scope".into(),
                required_scope: vec!["read".into(), "write".into()],
                allowable_clock_skew: Duration::from_millis(1500),
            })
        );
        let defaults = OAuthBearerConfig::for_listener(
            &props(&[(JAAS, &format!("{LOGIN_MODULE} required;"))]),
            "SASL_PLAINTEXT",
        )
        .unwrap();
        assert_eq!(
            defaults,
            OAuthBearerConfig::Unsecured(UnsecuredValidatorOptions {
                principal_claim_name: "sub".into(),
                scope_claim_name: "scope".into(),
                required_scope: vec![],
                allowable_clock_skew: Duration::ZERO,
            })
        );
    }

    #[test]
    fn a_jwks_file_selects_signed_validation_with_kafkas_defaults() {
        let config = OAuthBearerConfig::for_listener(
            &props(&[
                (
                    "listener.name.sasl_ssl.oauthbearer.sasl.oauthbearer.jwks.endpoint.url",
                    "file:///etc/gregor/jwks.json",
                ),
                ("sasl.oauthbearer.expected.audience", "kafka, other"),
                (
                    "listener.name.sasl_ssl.sasl.oauthbearer.expected.issuer",
                    "https://idp",
                ),
            ]),
            "SASL_SSL",
        )
        .unwrap();
        assert_eq!(
            config,
            OAuthBearerConfig::Signed(SignedValidatorOptions {
                jwks_setting:
                    "listener.name.sasl_ssl.oauthbearer.sasl.oauthbearer.jwks.endpoint.url".into(),
                jwks: JwksSource::File("/etc/gregor/jwks.json".into()),
                expected_audience: vec!["kafka".into(), "other".into()],
                expected_issuer: Some("https://idp".into()),
                scope_claim_name: "scope".into(),
                sub_claim_name: "sub".into(),
                clock_skew: Duration::from_secs(30),
            })
        );
        for (url, path) in [
            ("file:/k.json", "/k.json"),
            ("file://localhost/k.json", "/k.json"),
            ("/k.json", "/k.json"),
            ("k.json", "k.json"),
        ] {
            assert_eq!(jwks_file(url), Ok(PathBuf::from(path)), "{url}");
        }
    }

    #[test]
    fn an_endpoint_url_is_fetched_with_the_jaas_options_truststore() {
        let config = OAuthBearerConfig::for_listener(
            &props(&[
                (
                    "listener.name.sasl_ssl.oauthbearer.sasl.oauthbearer.jwks.endpoint.url",
                    "https://idp.example.com/certs",
                ),
                ("sasl.oauthbearer.jwks.endpoint.refresh.ms", "60000"),
                (
                    "listener.name.sasl_ssl.oauthbearer.sasl.jaas.config",
                    &format!("{LOGIN_MODULE} required ssl.truststore.location=\"/idp-ca.pem\";"),
                ),
            ]),
            "SASL_SSL",
        )
        .unwrap();
        let OAuthBearerConfig::Signed(options) = config else {
            panic!("{config:?}")
        };
        assert_eq!(
            options.jwks,
            JwksSource::Endpoint {
                url: "https://idp.example.com/certs".into(),
                truststore: Some("/idp-ca.pem".into()),
                truststore_access: StoreAccess::default(),
                refresh: Duration::from_secs(60),
                retry_backoff_max: Duration::from_secs(10),
            }
        );
    }

    #[test]
    fn what_cannot_be_honoured_stops_start_up() {
        let refused = |pairs: &[(&str, &str)], setting: &str| match OAuthBearerConfig::for_listener(
            &props(pairs),
            "SASL_PLAINTEXT",
        ) {
            Err(ConfigError::InvalidValue { name, .. }) => {
                assert_eq!(name, setting, "{pairs:?}")
            }
            other => panic!("{pairs:?}: {other:?}"),
        };
        let jwks = "sasl.oauthbearer.jwks.endpoint.url";
        let handler = "listener.name.sasl_plaintext.oauthbearer.sasl.server.callback.handler.class";
        refused(&[], JAAS);
        refused(&[(JAAS, "x.PlainLoginModule required;")], JAAS);
        refused(
            &[(
                JAAS,
                &format!("{LOGIN_MODULE} required unsecuredValidatorAllowableClockSkewMs=\"-1\";"),
            )],
            JAAS,
        );
        refused(
            &[(
                JAAS,
                &format!("{LOGIN_MODULE} required unsecuredValidatorRequiredScope=\"a\\b\";"),
            )],
            JAAS,
        );
        refused(
            &[
                (jwks, "https://idp.example.com/jwks"),
                ("sasl.oauthbearer.jwks.endpoint.refresh.ms", "0"),
            ],
            "sasl.oauthbearer.jwks.endpoint.refresh.ms",
        );
        refused(&[(jwks, "ftp://idp/jwks")], jwks);
        refused(&[(jwks, "file://idp/jwks.json")], jwks);
        refused(
            &[
                (jwks, "/k.json"),
                ("sasl.oauthbearer.clock.skew.seconds", "-5"),
            ],
            "sasl.oauthbearer.clock.skew.seconds",
        );
        refused(&[(handler, "com.example.MyHandler")], handler);
        refused(&[(handler, SIGNED_HANDLERS[0])], handler);
        refused(&[(handler, UNSECURED_HANDLER), (jwks, "/k.json")], handler);
        assert!(OAuthBearerConfig::for_listener(
            &props(&[(handler, SIGNED_HANDLERS[0]), (jwks, "/k.json")]),
            "SASL_PLAINTEXT"
        )
        .is_ok());
    }
}
