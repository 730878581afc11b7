//! What each listener speaks: `listener.security.protocol.map`, the
//! inter-broker listener, and the TLS settings (`ssl.*`, overridden per
//! listener by `listener.name.<listener>.ssl.*`), by Kafka's names.
//!
//! Only what the broker implements is accepted: a listener mapped to SASL,
//! a keystore that is not PEM, or an `ssl.*` value gregor cannot honour
//! stops start-up with an error naming the setting. Nothing is ever served
//! with less security than configured.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use super::listener::Listener;
use super::oauthbearer::OAuthBearerConfig;
use super::ConfigError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecurityProtocol {
    Plaintext,
    Ssl,
    SaslPlaintext,
    SaslSsl,
}

impl SecurityProtocol {
    pub fn parse(text: &str) -> Option<SecurityProtocol> {
        match text.trim().to_ascii_uppercase().as_str() {
            "PLAINTEXT" => Some(SecurityProtocol::Plaintext),
            "SSL" => Some(SecurityProtocol::Ssl),
            "SASL_PLAINTEXT" => Some(SecurityProtocol::SaslPlaintext),
            "SASL_SSL" => Some(SecurityProtocol::SaslSsl),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            SecurityProtocol::Plaintext => "PLAINTEXT",
            SecurityProtocol::Ssl => "SSL",
            SecurityProtocol::SaslPlaintext => "SASL_PLAINTEXT",
            SecurityProtocol::SaslSsl => "SASL_SSL",
        }
    }

    pub fn uses_tls(self) -> bool {
        matches!(self, SecurityProtocol::Ssl | SecurityProtocol::SaslSsl)
    }

    pub fn uses_sasl(self) -> bool {
        matches!(
            self,
            SecurityProtocol::SaslPlaintext | SecurityProtocol::SaslSsl
        )
    }
}

impl fmt::Display for SecurityProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// `ssl.client.auth`
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    Required,
    Requested,
    None,
}

/// A TLS version of `ssl.enabled.protocols`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsVersion {
    Tls12,
    Tls13,
}

/// PEM text from a file (`*.location`) or given inline (Kafka's
/// `ssl.keystore.key` / `ssl.keystore.certificate.chain` /
/// `ssl.truststore.certificates`).
#[derive(Clone, PartialEq, Eq)]
pub enum Pem {
    File(PathBuf),
    Inline(String),
}

impl fmt::Debug for Pem {
    // Inline PEM may hold a private key: never printed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Pem::File(path) => write!(f, "File({})", path.display()),
            Pem::Inline(_) => f.write_str("Inline(..)"),
        }
    }
}

/// A password from the configuration: never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(pub String);

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[hidden]")
    }
}

/// `ssl.keystore.type` / `ssl.truststore.type`. Kafka's default is JKS;
/// unset, gregor reads whichever of PEM, PKCS12 and JKS the file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StoreType {
    #[default]
    Unspecified,
    Pem,
    Pkcs12,
    Jks,
}

impl StoreType {
    /// `value` of the setting `name` (`None` when unset).
    pub(crate) fn parse(name: &str, value: Option<&str>) -> Result<StoreType, ConfigError> {
        let Some(value) = value.map(str::trim).filter(|v| !v.is_empty()) else {
            return Ok(StoreType::Unspecified);
        };
        match value.to_ascii_uppercase().as_str() {
            "PEM" => Ok(StoreType::Pem),
            "PKCS12" => Ok(StoreType::Pkcs12),
            "JKS" => Ok(StoreType::Jks),
            _ => Err(invalid(
                name,
                value,
                "the supported store types are PEM, PKCS12 and JKS",
            )),
        }
    }
}

impl fmt::Display for StoreType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StoreType::Unspecified => "unset",
            StoreType::Pem => "PEM",
            StoreType::Pkcs12 => "PKCS12",
            StoreType::Jks => "JKS",
        })
    }
}

/// How a store file is read: its type and `ssl.*store.password`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StoreAccess {
    pub kind: StoreType,
    pub password: Option<Password>,
}

/// Where a listener's private key and certificate chain come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyStore {
    /// `ssl.keystore.location`: a PEM file with the key and the chain, or a
    /// PKCS12 or JKS store.
    File(PathBuf),
    /// `ssl.keystore.key` and `ssl.keystore.certificate.chain`.
    Inline { key: Pem, chain: Pem },
}

/// The TLS settings of one listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SslConfig {
    pub keystore: KeyStore,
    /// `ssl.keystore.type` and `ssl.keystore.password`.
    pub keystore_access: StoreAccess,
    /// `ssl.truststore.location` or `ssl.truststore.certificates`: the CAs
    /// client certificates are checked against.
    pub truststore: Option<Pem>,
    /// `ssl.truststore.type` and `ssl.truststore.password`.
    pub truststore_access: StoreAccess,
    pub client_auth: ClientAuth,
    pub enabled_protocols: Vec<TlsVersion>,
    /// `ssl.cipher.suites` by their IANA names, as Java names them; empty
    /// for every suite the TLS library offers.
    pub cipher_suites: Vec<String>,
    /// `ssl.key.password`: the keystore's private key is encrypted
    /// PKCS#8 (`BEGIN ENCRYPTED PRIVATE KEY`) in a PEM store, or its
    /// password in a JKS store where it differs from the store's.
    pub key_password: Option<Password>,
    /// `ssl.principal.mapping.rules` as given (`DEFAULT`: the subject);
    /// read by `auth::principal::PrincipalMapper` when the listener starts.
    pub principal_mapping_rules: String,
    /// `ssl.allow.dn.changes` / `ssl.allow.san.changes` (false): whether a
    /// keystore changed at run time may name another subject or hosts.
    pub allow_dn_changes: bool,
    pub allow_san_changes: bool,
}

/// The SASL settings of one listener: its mechanisms, the users its
/// PLAIN login module knows (SCRAM's users are in the cluster metadata),
/// and how its OAUTHBEARER tokens are validated.
#[derive(Clone, PartialEq, Eq)]
pub struct SaslConfig {
    pub mechanisms: Vec<String>,
    /// `user_<name>="<password>"` options of the listener's
    /// `PlainLoginModule`.
    pub plain_users: BTreeMap<String, String>,
    /// Set when OAUTHBEARER is enabled.
    pub oauthbearer: Option<OAuthBearerConfig>,
}

impl fmt::Debug for SaslConfig {
    // Passwords are never printed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SaslConfig")
            .field("mechanisms", &self.mechanisms)
            .field("plain_users", &self.plain_users.keys().collect::<Vec<_>>())
            .field("oauthbearer", &self.oauthbearer)
            .finish()
    }
}

/// The SASL mechanisms gregor implements.
pub const SASL_MECHANISMS: &[&str] = &["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER"];

/// What every listener speaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecurityConfig {
    /// By listener name, for every listener.
    pub protocols: BTreeMap<String, SecurityProtocol>,
    /// By listener name, for the listeners that use TLS.
    pub ssl: BTreeMap<String, SslConfig>,
    /// By listener name, for the SASL listeners.
    pub sasl: BTreeMap<String, SaslConfig>,
    /// The listener the brokers reach each other on.
    pub inter_broker_listener_name: String,
    /// How this broker connects to the others on it, or why it cannot:
    /// a lone broker never does, and starts anyway (Kafka refuses).
    pub inter_broker_client: Result<super::client_security::ClientSecurityConfig, String>,
    /// How this node logs in to the controllers when their listener uses
    /// SASL (`sasl.mechanism.controller.protocol`), or why it cannot.
    pub controller_client: Result<super::client_security::ClientSecurityConfig, String>,
    pub authorizer: AuthorizerConfig,
}

impl Default for SecurityConfig {
    fn default() -> Self {
        SecurityConfig {
            protocols: BTreeMap::new(),
            ssl: BTreeMap::new(),
            sasl: BTreeMap::new(),
            inter_broker_listener_name: String::new(),
            inter_broker_client: Ok(Default::default()),
            controller_client: Ok(Default::default()),
            authorizer: AuthorizerConfig::default(),
        }
    }
}

/// `authorizer.class.name` and the settings of Kafka's
/// `StandardAuthorizer`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AuthorizerConfig {
    /// Whether requests are authorized at all (an authorizer is set).
    pub enabled: bool,
    /// `super.users`: principals every action is allowed to.
    pub super_users: Vec<String>,
    /// `allow.everyone.if.no.acl.found`: a resource no ACL names is open
    /// to all (Kafka's default: closed).
    pub allow_everyone_if_no_acl_found: bool,
}

/// The authorizer class names that turn gregor's authorizer on: Kafka's
/// KRaft authorizer, whose semantics it has, and gregor's own name.
pub const AUTHORIZER_CLASS_NAMES: &[&str] = &[
    "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
    "gregor.auth.Authorizer",
];

impl AuthorizerConfig {
    fn from_properties(
        properties: &BTreeMap<String, String>,
    ) -> Result<AuthorizerConfig, ConfigError> {
        let class = properties
            .get("authorizer.class.name")
            .map(|name| name.trim())
            .unwrap_or("");
        if !class.is_empty() && !AUTHORIZER_CLASS_NAMES.contains(&class) {
            return Err(invalid(
                "authorizer.class.name",
                class,
                format!(
                    "not an authorizer gregor has; use {} (or unset it to authorize nothing)",
                    AUTHORIZER_CLASS_NAMES.join(" or ")
                ),
            ));
        }
        let super_users = properties
            .get("super.users")
            .map(|users| {
                users
                    .split(';')
                    .map(str::trim)
                    .filter(|u| !u.is_empty())
                    .map(str::to_string)
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default();
        if let Some(bad) = super_users.iter().find(|u| !u.contains(':')) {
            return Err(invalid(
                "super.users",
                bad,
                "each super user is a principal, Type:name (e.g. User:admin), separated by ';'",
            ));
        }
        let allow_everyone = match properties
            .get("allow.everyone.if.no.acl.found")
            .map(|v| v.trim().to_ascii_lowercase())
            .as_deref()
        {
            None | Some("false") => false,
            Some("true") => true,
            Some(other) => {
                return Err(invalid(
                    "allow.everyone.if.no.acl.found",
                    other,
                    "must be true or false",
                ))
            }
        };
        Ok(AuthorizerConfig {
            enabled: !class.is_empty(),
            super_users,
            allow_everyone_if_no_acl_found: allow_everyone,
        })
    }
}

/// Kafka's default `listener.security.protocol.map`.
const DEFAULT_MAP: &str =
    "PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL";

/// Settings read here rather than by the broker config's own parser.
pub fn is_security_setting(name: &str) -> bool {
    matches!(
        name,
        "listener.security.protocol.map"
            | "inter.broker.listener.name"
            | "security.inter.broker.protocol"
            | "authorizer.class.name"
            | "super.users"
            | "allow.everyone.if.no.acl.found"
    ) || name.starts_with("ssl.")
        || name.starts_with("sasl.")
        || name.starts_with("listener.name.")
}

pub(crate) fn invalid(name: &str, value: &str, reason: impl Into<String>) -> ConfigError {
    ConfigError::InvalidValue {
        name: name.to_string(),
        value: value.to_string(),
        reason: reason.into(),
    }
}

impl SecurityConfig {
    /// Resolves every listener's protocol and TLS settings, and the
    /// inter-broker listener, as Kafka's `KafkaConfig` validates them.
    pub fn from_properties(
        properties: &BTreeMap<String, String>,
        listeners: &[Listener],
        advertised: &[Listener],
        controller_listener_names: &[String],
    ) -> Result<SecurityConfig, ConfigError> {
        // An authorizer asked for and not there would let everyone in.
        let authorizer = AuthorizerConfig::from_properties(properties)?;
        if let Some(stray) = advertised
            .iter()
            .find(|a| !listeners.iter().any(|l| l.name == a.name))
        {
            return Err(invalid(
                "advertised.listeners",
                &stray.name,
                "every advertised listener must be one of listeners, by name (as Kafka requires)",
            ));
        }
        let given_map = properties.get("listener.security.protocol.map");
        let map = parse_map(given_map.map_or(DEFAULT_MAP, String::as_str))?;
        let mut protocols = BTreeMap::new();
        for listener in listeners.iter().chain(advertised) {
            let protocol = match map.get(&listener.name) {
                Some(protocol) => *protocol,
                // Kafka (KRaft): a controller listener missing from a map
                // that was not set speaks PLAINTEXT.
                None if given_map.is_none()
                    && controller_listener_names.contains(&listener.name) =>
                {
                    SecurityProtocol::Plaintext
                }
                None => {
                    return Err(invalid(
                        "listener.security.protocol.map",
                        given_map.map_or(DEFAULT_MAP, String::as_str),
                        format!("no security protocol for listener {}", listener.name),
                    ))
                }
            };
            protocols.insert(listener.name.clone(), protocol);
        }
        // A broker that is not a controller still connects to the
        // controllers' listener, with its protocol and TLS settings.
        for name in controller_listener_names {
            if !protocols.contains_key(name) {
                let protocol = map
                    .get(name)
                    .copied()
                    .unwrap_or(SecurityProtocol::Plaintext);
                protocols.insert(name.clone(), protocol);
            }
        }
        let inter_broker_listener_name =
            inter_broker_listener(properties, listeners, controller_listener_names)?;
        let mut ssl = BTreeMap::new();
        let mut sasl = BTreeMap::new();
        for name in controller_listener_names {
            if !listeners.iter().any(|l| &l.name == name) && protocols[name].uses_tls() {
                ssl.insert(name.clone(), SslConfig::for_listener(properties, name)?);
            }
        }
        for listener in listeners {
            let protocol = protocols[&listener.name];
            if protocol.uses_sasl() {
                sasl.insert(
                    listener.name.clone(),
                    SaslConfig::for_listener(properties, &listener.name)?,
                );
            }
            if protocol.uses_tls() {
                ssl.insert(
                    listener.name.clone(),
                    SslConfig::for_listener(properties, &listener.name)?,
                );
            }
        }
        let inter_broker_client = match protocols.get(&inter_broker_listener_name) {
            Some(protocol) => super::client_security::ClientSecurityConfig::inter_broker(
                properties,
                &inter_broker_listener_name,
                *protocol,
            ),
            None => Ok(Default::default()),
        }
        .and_then(|client| {
            // As Kafka requires: the brokers' own mechanism is one their
            // listener accepts.
            match (&client.sasl, sasl.get(&inter_broker_listener_name)) {
                (Some(credentials), Some(listener))
                    if !listener.mechanisms.contains(&credentials.mechanism) =>
                {
                    Err(invalid(
                        "sasl.mechanism.inter.broker.protocol",
                        &credentials.mechanism,
                        format!(
                            "must be one of the inter-broker listener {inter_broker_listener_name}'s sasl.enabled.mechanisms {:?}",
                            listener.mechanisms
                        ),
                    ))
                }
                _ => Ok(client),
            }
        })
        .map_err(|error| error.to_string());
        let controller_client = match controller_listener_names.first() {
            Some(name) => super::client_security::ClientSecurityConfig::controller(
                properties,
                name,
                protocols[name],
            ),
            None => Ok(Default::default()),
        }
        .and_then(|client| {
            // The controllers must accept the mechanism they log in with.
            match (&client.sasl, controller_listener_names.first()) {
                (Some(credentials), Some(name)) => match sasl.get(name) {
                    Some(listener) if !listener.mechanisms.contains(&credentials.mechanism) => {
                        Err(invalid(
                            "sasl.mechanism.controller.protocol",
                            &credentials.mechanism,
                            format!(
                                "must be one of the controller listener {name}'s sasl.enabled.mechanisms {:?}",
                                listener.mechanisms
                            ),
                        ))
                    }
                    _ => Ok(client),
                },
                _ => Ok(client),
            }
        })
        .map_err(|error| error.to_string());
        Ok(SecurityConfig {
            protocols,
            ssl,
            sasl,
            inter_broker_listener_name,
            inter_broker_client,
            controller_client,
            authorizer,
        })
    }

    pub fn protocol(&self, listener: &str) -> SecurityProtocol {
        self.protocols
            .get(listener)
            .copied()
            .unwrap_or(SecurityProtocol::Plaintext)
    }
}

fn parse_map(text: &str) -> Result<BTreeMap<String, SecurityProtocol>, ConfigError> {
    let name = "listener.security.protocol.map";
    let mut map = BTreeMap::new();
    for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let (listener, protocol) = entry
            .split_once(':')
            .ok_or_else(|| invalid(name, text, format!("{entry:?} is not LISTENER:PROTOCOL")))?;
        let protocol = SecurityProtocol::parse(protocol).ok_or_else(|| {
            invalid(
                name,
                text,
                format!("unknown security protocol {protocol:?} (PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL)"),
            )
        })?;
        map.insert(listener.trim().to_string(), protocol);
    }
    Ok(map)
}

/// `inter.broker.listener.name`, or the listener named after
/// `security.inter.broker.protocol` (default PLAINTEXT); only one of the two
/// may be set, as in Kafka. Where neither is set and no listener is named
/// PLAINTEXT — a configuration Kafka refuses — the first client listener
/// serves, so that a single broker with one listener of another name runs.
fn inter_broker_listener(
    properties: &BTreeMap<String, String>,
    listeners: &[Listener],
    controller_listener_names: &[String],
) -> Result<String, ConfigError> {
    let by_name = properties.get("inter.broker.listener.name");
    let by_protocol = properties.get("security.inter.broker.protocol");
    let client_listeners = || {
        listeners
            .iter()
            .filter(|l| !controller_listener_names.contains(&l.name))
    };
    let named = match (by_name, by_protocol) {
        (Some(_), Some(_)) => return Err(invalid(
            "inter.broker.listener.name",
            by_name.map_or("", String::as_str),
            "only one of inter.broker.listener.name and security.inter.broker.protocol may be set",
        )),
        (Some(name), None) => name.trim().to_string(),
        (None, Some(protocol)) => SecurityProtocol::parse(protocol)
            .ok_or_else(|| {
                invalid(
                    "security.inter.broker.protocol",
                    protocol,
                    "unknown security protocol",
                )
            })?
            .name()
            .to_string(),
        (None, None) => {
            let default = SecurityProtocol::Plaintext.name();
            return Ok(match client_listeners().any(|l| l.name == default) {
                true => default.to_string(),
                false => client_listeners()
                    .next()
                    .map_or_else(|| default.to_string(), |l| l.name.clone()),
            });
        }
    };
    if controller_listener_names.contains(&named) {
        return Err(invalid(
            "inter.broker.listener.name",
            &named,
            "a controller listener cannot carry broker traffic",
        ));
    }
    if !client_listeners().any(|l| l.name == named) {
        return Err(invalid(
            "inter.broker.listener.name",
            &named,
            "no listener of that name in listeners",
        ));
    }
    Ok(named)
}

/// A setting of `listener`: `listener.name.<listener in lower case>.<key>`
/// if given, else `<key>`; with the name it was found under.
pub(crate) fn listener_setting<'a>(
    properties: &'a BTreeMap<String, String>,
    listener: &str,
    key: &str,
) -> Option<(String, &'a str)> {
    let scoped = format!("listener.name.{}.{key}", listener.to_ascii_lowercase());
    match properties.get(&scoped) {
        Some(value) => Some((scoped, value.as_str())),
        None => properties
            .get(key)
            .map(|value| (key.to_string(), value.as_str())),
    }
}

impl SaslConfig {
    /// `sasl.enabled.mechanisms` (Kafka's default: GSSAPI) and each
    /// mechanism's `listener.name.<listener>.<mechanism>.sasl.jaas.config`.
    fn for_listener(
        properties: &BTreeMap<String, String>,
        listener: &str,
    ) -> Result<SaslConfig, ConfigError> {
        let prefix = format!("listener.name.{}.", listener.to_ascii_lowercase());
        let (name, value) = listener_setting(properties, listener, "sasl.enabled.mechanisms")
            .map(|(name, value)| (name, value.to_string()))
            .unwrap_or_else(|| ("sasl.enabled.mechanisms".to_string(), "GSSAPI".to_string()));
        let mechanisms: Vec<String> = value
            .split(',')
            .map(|m| m.trim().to_string())
            .filter(|m| !m.is_empty())
            .collect();
        if mechanisms.is_empty() {
            return Err(invalid(
                &name,
                &value,
                format!("listener {listener} enables no SASL mechanism"),
            ));
        }
        if let Some(unsupported) = mechanisms
            .iter()
            .find(|m| !SASL_MECHANISMS.contains(&m.as_str()))
        {
            return Err(invalid(
                &name,
                &value,
                format!(
                    "SASL mechanism {unsupported} is not implemented yet ({} are)",
                    SASL_MECHANISMS.join(", ")
                ),
            ));
        }
        let oauthbearer = match mechanisms.iter().any(|m| m == "OAUTHBEARER") {
            true => Some(OAuthBearerConfig::for_listener(properties, listener)?),
            false => None,
        };
        if !mechanisms.iter().any(|m| m == "PLAIN") {
            return Ok(SaslConfig {
                mechanisms,
                plain_users: BTreeMap::new(),
                oauthbearer,
            });
        }
        let jaas_name = format!("{prefix}plain.sasl.jaas.config");
        let jaas = properties.get(&jaas_name).ok_or_else(|| {
            invalid(
                &jaas_name,
                "",
                format!(
                    "listener {listener} enables PLAIN and needs its users: {jaas_name}=org.apache.kafka.common.security.plain.PlainLoginModule required user_alice=\"alice-secret\";"
                ),
            )
        })?;
        let (module, options) =
            parse_jaas(jaas).map_err(|reason| invalid(&jaas_name, "[hidden]", reason))?;
        if module != "org.apache.kafka.common.security.plain.PlainLoginModule" {
            return Err(invalid(
                &jaas_name,
                "[hidden]",
                format!("{module} is not PLAIN's login module"),
            ));
        }
        let plain_users: BTreeMap<String, String> = options
            .into_iter()
            .filter_map(|(key, value)| Some((key.strip_prefix("user_")?.to_string(), value)))
            .collect();
        if plain_users.is_empty() {
            return Err(invalid(
                &jaas_name,
                "[hidden]",
                "no user_<name>=\"<password>\" entries",
            ));
        }
        Ok(SaslConfig {
            mechanisms,
            plain_users,
            oauthbearer,
        })
    }
}

/// One JAAS login module entry, as Kafka's `sasl.jaas.config` holds it:
/// `<class> <required|requisite|sufficient|optional> key="value" ... ;`.
/// Returns the class and its options.
pub(crate) fn parse_jaas(text: &str) -> Result<(String, Vec<(String, String)>), String> {
    let text = text.trim();
    let text = text.strip_suffix(';').unwrap_or(text).trim();
    let mut rest = text;
    let mut word = || -> Option<String> {
        rest = rest.trim_start();
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        let (word, tail) = rest.split_at(end);
        rest = tail;
        (!word.is_empty()).then(|| word.to_string())
    };
    let module = word().ok_or("no login module")?;
    let flag = word().ok_or("no control flag after the login module")?;
    if !["required", "requisite", "sufficient", "optional"].contains(&flag.as_str()) {
        return Err(format!("{flag:?} is not a control flag"));
    }
    let mut options = Vec::new();
    loop {
        rest = rest.trim_start();
        if rest.is_empty() {
            break;
        }
        let (key, tail) = rest.split_once('=').ok_or_else(|| {
            format!(
                "expected key=\"value\" near {:?}",
                rest.chars().take(20).collect::<String>()
            )
        })?;
        let key = key.trim().to_string();
        let tail = tail.trim_start();
        let (value, tail) = match tail.strip_prefix('"') {
            Some(quoted) => {
                let end = quoted
                    .find('"')
                    .ok_or_else(|| format!("unterminated value for {key}"))?;
                (quoted[..end].to_string(), &quoted[end + 1..])
            }
            None => {
                let end = tail.find(char::is_whitespace).unwrap_or(tail.len());
                (tail[..end].to_string(), &tail[end..])
            }
        };
        options.push((key, value));
        rest = tail;
    }
    Ok((module, options))
}

impl SslConfig {
    /// The `ssl.*` settings of `listener`: `listener.name.<listener>.ssl.*`
    /// (the listener's name in lower case) first, then `ssl.*`.
    fn for_listener(
        properties: &BTreeMap<String, String>,
        listener: &str,
    ) -> Result<SslConfig, ConfigError> {
        let prefix = format!("listener.name.{}.", listener.to_ascii_lowercase());
        let nonempty = |key: &str| {
            listener_setting(properties, listener, key)
                .filter(|(_, value)| !value.trim().is_empty())
        };

        let access = |store: &str| -> Result<StoreAccess, ConfigError> {
            let kind = match nonempty(&format!("ssl.{store}.type")) {
                Some((name, value)) => StoreType::parse(&name, Some(value))?,
                None => StoreType::Unspecified,
            };
            Ok(StoreAccess {
                kind,
                password: nonempty(&format!("ssl.{store}.password"))
                    .map(|(_, value)| Password(value.to_string())),
            })
        };
        let keystore_access = access("keystore")?;
        let truststore_access = access("truststore")?;
        let keystore = match (
            nonempty("ssl.keystore.location"),
            nonempty("ssl.keystore.key"),
            nonempty("ssl.keystore.certificate.chain"),
        ) {
            (Some((_, path)), None, None) => KeyStore::File(PathBuf::from(path.trim())),
            (None, Some((_, key)), Some((_, chain))) => KeyStore::Inline {
                key: Pem::Inline(key.to_string()),
                chain: Pem::Inline(chain.to_string()),
            },
            (None, None, None) => {
                return Err(invalid(
                    &format!("{prefix}ssl.keystore.location"),
                    "",
                    format!("listener {listener} uses TLS and needs a key and certificate (ssl.keystore.location, or ssl.keystore.key with ssl.keystore.certificate.chain)"),
                ))
            }
            _ => {
                return Err(invalid(
                    "ssl.keystore.location",
                    "",
                    "set either ssl.keystore.location or both ssl.keystore.key and ssl.keystore.certificate.chain",
                ))
            }
        };
        let key_password =
            nonempty("ssl.key.password").map(|(_, value)| Password(value.to_string()));
        let truststore = match (
            nonempty("ssl.truststore.location"),
            nonempty("ssl.truststore.certificates"),
        ) {
            (Some((_, path)), None) => Some(Pem::File(PathBuf::from(path.trim()))),
            (None, Some((_, certificates))) => Some(Pem::Inline(certificates.to_string())),
            (None, None) => None,
            _ => {
                return Err(invalid(
                    "ssl.truststore.location",
                    "",
                    "set ssl.truststore.location or ssl.truststore.certificates, not both",
                ))
            }
        };
        let client_auth = match nonempty("ssl.client.auth") {
            None => ClientAuth::None,
            Some((name, value)) => match value.trim().to_ascii_lowercase().as_str() {
                "required" => ClientAuth::Required,
                "requested" => ClientAuth::Requested,
                "none" => ClientAuth::None,
                _ => {
                    return Err(invalid(
                        &name,
                        value,
                        "expected required, requested or none",
                    ))
                }
            },
        };
        if client_auth != ClientAuth::None && truststore.is_none() {
            return Err(invalid(
                "ssl.client.auth",
                "",
                format!("listener {listener} checks client certificates and needs a truststore (ssl.truststore.location or ssl.truststore.certificates)"),
            ));
        }
        let enabled_protocols = match nonempty("ssl.enabled.protocols") {
            None => vec![TlsVersion::Tls12, TlsVersion::Tls13],
            Some((name, value)) => {
                let mut versions = Vec::new();
                for entry in value.split(',').map(str::trim).filter(|e| !e.is_empty()) {
                    versions.push(match entry {
                        "TLSv1.2" => TlsVersion::Tls12,
                        "TLSv1.3" => TlsVersion::Tls13,
                        _ => {
                            return Err(invalid(
                                &name,
                                value,
                                format!("{entry} is not supported (TLSv1.2, TLSv1.3)"),
                            ))
                        }
                    });
                }
                if versions.is_empty() {
                    return Err(invalid(&name, value, "no TLS version enabled"));
                }
                versions
            }
        };
        let principal_mapping_rules = nonempty("ssl.principal.mapping.rules").map_or_else(
            || "DEFAULT".to_string(),
            |(_, value)| value.trim().to_string(),
        );
        let cipher_suites = nonempty("ssl.cipher.suites")
            .map(|(_, value)| {
                value
                    .split(',')
                    .map(str::trim)
                    .filter(|suite| !suite.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        let allowed = |key: &str| {
            nonempty(key).is_some_and(|(_, value)| value.trim().eq_ignore_ascii_case("true"))
        };
        Ok(SslConfig {
            allow_dn_changes: allowed("ssl.allow.dn.changes"),
            allow_san_changes: allowed("ssl.allow.san.changes"),
            keystore,
            keystore_access,
            truststore,
            truststore_access,
            client_auth,
            enabled_protocols,
            cipher_suites,
            key_password,
            principal_mapping_rules,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::config::properties::from_pairs as props;

    fn resolve(pairs: &[(&str, &str)]) -> Result<SecurityConfig, ConfigError> {
        let properties = props(pairs);
        let listeners = Listener::parse_list(&properties["listeners"]).unwrap();
        SecurityConfig::from_properties(&properties, &listeners, &[], &["CONTROLLER".to_string()])
    }

    #[test]
    fn listeners_take_their_protocol_from_the_map() {
        let config = resolve(&[
            (
                "listeners",
                "PLAINTEXT://:9092,SSL://:9093,CONTROLLER://:9094",
            ),
            ("ssl.keystore.location", "/k.pem"),
        ])
        .unwrap();
        assert_eq!(config.protocol("SSL"), SecurityProtocol::Ssl);
        // Not in Kafka's default map, but a controller listener.
        assert_eq!(config.protocol("CONTROLLER"), SecurityProtocol::Plaintext);
        assert_eq!(config.inter_broker_listener_name, "PLAINTEXT");
        assert_eq!(config.ssl["SSL"].keystore, KeyStore::File("/k.pem".into()));
        assert_eq!(config.ssl["SSL"].client_auth, ClientAuth::None);
    }

    #[test]
    fn plain_users_come_from_the_listeners_jaas_config() {
        let config = resolve(&[
            ("listeners", "SASL_SSL://:9093"),
            ("ssl.keystore.location", "/k.pem"),
            ("listener.name.sasl_ssl.sasl.enabled.mechanisms", "PLAIN"),
            (
                "listener.name.sasl_ssl.plain.sasl.jaas.config",
                "org.apache.kafka.common.security.plain.PlainLoginModule required \
                 username=\"admin\" password=\"admin-secret\" \
                 user_admin=\"admin-secret\" user_alice=\"a b;c\";",
            ),
        ])
        .unwrap();
        let sasl = &config.sasl["SASL_SSL"];
        assert_eq!(sasl.mechanisms, ["PLAIN"]);
        assert_eq!(sasl.plain_users["alice"], "a b;c");
        assert_eq!(sasl.plain_users["admin"], "admin-secret");
        assert_eq!(sasl.plain_users.len(), 2);
        assert!(!format!("{sasl:?}").contains("secret"));
        assert!(config.ssl.contains_key("SASL_SSL"));
    }

    #[test]
    fn per_listener_settings_win() {
        let config = resolve(&[
            ("listeners", "INTERNAL://:9092,EXTERNAL://:9093"),
            (
                "listener.security.protocol.map",
                "INTERNAL:PLAINTEXT,EXTERNAL:SSL",
            ),
            ("inter.broker.listener.name", "INTERNAL"),
            ("ssl.keystore.location", "/default.pem"),
            (
                "listener.name.external.ssl.keystore.location",
                "/external.pem",
            ),
            ("listener.name.external.ssl.client.auth", "required"),
            ("ssl.truststore.location", "/ca.pem"),
        ])
        .unwrap();
        let external = &config.ssl["EXTERNAL"];
        assert_eq!(external.keystore, KeyStore::File("/external.pem".into()));
        assert_eq!(external.client_auth, ClientAuth::Required);
        assert_eq!(external.truststore, Some(Pem::File("/ca.pem".into())));
        assert!(!config.ssl.contains_key("INTERNAL"));
    }

    #[test]
    fn what_cannot_be_honoured_is_refused() {
        let refused = |pairs: &[(&str, &str)], setting: &str| match resolve(pairs) {
            Err(ConfigError::InvalidValue { name, .. }) => assert_eq!(name, setting, "{pairs:?}"),
            other => panic!("{pairs:?}: {other:?}"),
        };
        refused(
            &[("listeners", "EXTERNAL://:9092")],
            "listener.security.protocol.map",
        );
        refused(
            &[("listeners", "SASL_PLAINTEXT://:9092")],
            "sasl.enabled.mechanisms",
        );
        let properties = props(&[("listeners", "PLAINTEXT://:9092")]);
        let listeners = Listener::parse_list("PLAINTEXT://:9092").unwrap();
        let advertised = Listener::parse_list("EXTERNAL://example.com:9092").unwrap();
        assert!(matches!(
            SecurityConfig::from_properties(&properties, &listeners, &advertised, &[]),
            Err(ConfigError::InvalidValue { name, .. }) if name == "advertised.listeners"
        ));
        refused(
            &[
                ("listeners", "SASL_PLAINTEXT://:9092"),
                ("sasl.enabled.mechanisms", "SCRAM-SHA-256,GSSAPI"),
            ],
            "sasl.enabled.mechanisms",
        );
        refused(
            &[
                ("listeners", "SASL_PLAINTEXT://:9092"),
                ("sasl.enabled.mechanisms", "SCRAM-SHA-256,OAUTHBEARER"),
            ],
            "listener.name.sasl_plaintext.oauthbearer.sasl.jaas.config",
        );
        refused(
            &[
                ("listeners", "SASL_PLAINTEXT://:9092"),
                ("sasl.enabled.mechanisms", "PLAIN"),
            ],
            "listener.name.sasl_plaintext.plain.sasl.jaas.config",
        );
        refused(
            &[
                ("listeners", "PLAINTEXT://:9092"),
                (
                    "authorizer.class.name",
                    "kafka.security.authorizer.AclAuthorizer",
                ),
            ],
            "authorizer.class.name",
        );
        refused(
            &[("listeners", "PLAINTEXT://:9092"), ("super.users", "admin")],
            "super.users",
        );
        refused(
            &[
                ("listeners", "A://:9092"),
                ("listener.security.protocol.map", "A:TLS"),
            ],
            "listener.security.protocol.map",
        );
        refused(
            &[("listeners", "SSL://:9093")],
            "listener.name.ssl.ssl.keystore.location",
        );
        refused(
            &[
                ("listeners", "SSL://:9093"),
                ("ssl.keystore.location", "/k"),
                ("listener.name.ssl.ssl.truststore.type", "JCEKS"),
            ],
            "listener.name.ssl.ssl.truststore.type",
        );
        refused(
            &[
                ("listeners", "SSL://:9093"),
                ("ssl.keystore.location", "/k"),
                ("ssl.client.auth", "required"),
            ],
            "ssl.client.auth",
        );
        refused(
            &[
                ("listeners", "SSL://:9093"),
                ("ssl.keystore.location", "/k"),
                ("ssl.enabled.protocols", "TLSv1.1"),
            ],
            "ssl.enabled.protocols",
        );
        refused(
            &[
                ("listeners", "PLAINTEXT://:9092"),
                ("inter.broker.listener.name", "OTHER"),
            ],
            "inter.broker.listener.name",
        );
        refused(
            &[
                ("listeners", "PLAINTEXT://:9092"),
                ("inter.broker.listener.name", "PLAINTEXT"),
                ("security.inter.broker.protocol", "PLAINTEXT"),
            ],
            "inter.broker.listener.name",
        );
    }
}
