//! How gregor connects as a Kafka client, with Kafka's client settings:
//! its console commands' `--command-config client.properties`
//! (`security.protocol`, `sasl.mechanism`, `sasl.jaas.config`, `ssl.*`),
//! and a broker's own connections to other brokers on the inter-broker
//! listener (that listener's `ssl.*`, `sasl.mechanism.inter.broker.protocol`
//! and the `username`/`password` of its JAAS login module), as Kafka's
//! brokers connect.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use super::security::{
    invalid, listener_setting, parse_jaas, KeyStore, Password, Pem, SecurityProtocol, StoreAccess,
    StoreType,
};
use super::ConfigError;

/// A client's security: TLS and SASL, each if its protocol uses it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ClientSecurityConfig {
    pub tls: Option<ClientTlsConfig>,
    pub sasl: Option<SaslCredentials>,
}

/// TLS as a client: the CAs the server's certificate is checked against
/// (the system's when unset), and a certificate to present if asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientTlsConfig {
    pub truststore: Option<Pem>,
    /// `ssl.truststore.type` and `ssl.truststore.password`.
    pub truststore_access: StoreAccess,
    pub keystore: Option<KeyStore>,
    /// `ssl.keystore.type` and `ssl.keystore.password`.
    pub keystore_access: StoreAccess,
    /// `ssl.key.password`: an encrypted PKCS#8 key's, or a JKS key's.
    pub key_password: Option<Password>,
    /// `ssl.endpoint.identification.algorithm=https` (Kafka's default):
    /// the certificate must name the host connected to.
    pub verify_hostname: bool,
}

/// A SASL mechanism and the identity it logs in with.
#[derive(Clone, PartialEq, Eq)]
pub struct SaslCredentials {
    pub mechanism: String,
    pub username: String,
    pub password: String,
}

impl fmt::Debug for SaslCredentials {
    // The password is never printed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SaslCredentials")
            .field("mechanism", &self.mechanism)
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// The mechanisms gregor can log in with.
const CLIENT_MECHANISMS: &[&str] = &["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"];
/// The mechanisms controllers log in to each other with.
const CONTROLLER_MECHANISMS: &[&str] = &["PLAIN"];

impl ClientSecurityConfig {
    /// From a client's properties, as Kafka's clients read them.
    pub fn from_client_properties(
        properties: &BTreeMap<String, String>,
    ) -> Result<ClientSecurityConfig, ConfigError> {
        let protocol_text = properties
            .get("security.protocol")
            .map_or("PLAINTEXT", |p| p.trim());
        let protocol = SecurityProtocol::parse(protocol_text).ok_or_else(|| {
            invalid(
                "security.protocol",
                protocol_text,
                "expected PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL",
            )
        })?;
        let tls = match protocol.uses_tls() {
            true => Some(tls(properties, None)?),
            false => None,
        };
        let sasl = match protocol.uses_sasl() {
            false => None,
            true => {
                // Kafka's default mechanism is GSSAPI, which gregor lacks.
                let mechanism = properties
                    .get("sasl.mechanism")
                    .map_or("GSSAPI", |m| m.trim())
                    .to_string();
                let jaas = properties.get("sasl.jaas.config").ok_or_else(|| {
                    invalid("sasl.jaas.config", "", "SASL needs a username and password")
                })?;
                Some(credentials(
                    "sasl.mechanism",
                    mechanism,
                    "sasl.jaas.config",
                    jaas,
                    CLIENT_MECHANISMS,
                )?)
            }
        };
        Ok(ClientSecurityConfig { tls, sasl })
    }

    /// A broker's client side on its inter-broker listener.
    pub fn inter_broker(
        properties: &BTreeMap<String, String>,
        listener: &str,
        protocol: SecurityProtocol,
    ) -> Result<ClientSecurityConfig, ConfigError> {
        let role = BrokerRole {
            mechanism_name: "sasl.mechanism.inter.broker.protocol",
            mechanisms: CLIENT_MECHANISMS,
            what: "inter-broker",
        };
        ClientSecurityConfig::of_broker(properties, listener, protocol, role)
    }

    /// A node's client side on the controller listener: its
    /// `sasl.mechanism.controller.protocol` login. PLAIN only: SCRAM
    /// credentials live in the metadata log the controllers serve, so
    /// controllers could not log in to each other before it exists.
    pub fn controller(
        properties: &BTreeMap<String, String>,
        listener: &str,
        protocol: SecurityProtocol,
    ) -> Result<ClientSecurityConfig, ConfigError> {
        let role = BrokerRole {
            mechanism_name: "sasl.mechanism.controller.protocol",
            mechanisms: CONTROLLER_MECHANISMS,
            what: "controller",
        };
        ClientSecurityConfig::of_broker(properties, listener, protocol, role)
    }

    /// A broker's own connections on one of its listeners, as `role` names
    /// the mechanism; the login module of that listener and mechanism
    /// (`listener.name.<l>.<mech>.sasl.jaas.config`) gives the identity.
    fn of_broker(
        properties: &BTreeMap<String, String>,
        listener: &str,
        protocol: SecurityProtocol,
        role: BrokerRole,
    ) -> Result<ClientSecurityConfig, ConfigError> {
        let tls = match protocol.uses_tls() {
            true => Some(tls(properties, Some(listener))?),
            false => None,
        };
        let sasl = match protocol.uses_sasl() {
            false => None,
            true => {
                let name = role.mechanism_name;
                let mechanism = properties
                    .get(name)
                    .map_or("GSSAPI", |m| m.trim())
                    .to_string();
                // Kafka's default, GSSAPI, is not there: say so before
                // asking for its login module.
                supported(name, &mechanism, role.mechanisms)?;
                let jaas_name = format!(
                    "listener.name.{}.{}.sasl.jaas.config",
                    listener.to_ascii_lowercase(),
                    mechanism.to_ascii_lowercase()
                );
                let jaas = properties.get(&jaas_name).ok_or_else(|| {
                    invalid(
                        &jaas_name,
                        "",
                        format!("the {} listener {listener} uses SASL/{mechanism}: its login module needs username=\"…\" password=\"…\" for this node's own connections", role.what),
                    )
                })?;
                Some(credentials(
                    name,
                    mechanism,
                    &jaas_name,
                    jaas,
                    role.mechanisms,
                )?)
            }
        };
        Ok(ClientSecurityConfig { tls, sasl })
    }
}

/// Which of a broker's own logins: the property naming its mechanism and
/// the mechanisms gregor logs in with there.
struct BrokerRole {
    mechanism_name: &'static str,
    mechanisms: &'static [&'static str],
    what: &'static str,
}

fn supported(name: &str, mechanism: &str, mechanisms: &[&str]) -> Result<(), ConfigError> {
    match mechanisms.contains(&mechanism) {
        true => Ok(()),
        false => Err(invalid(
            name,
            mechanism,
            format!("gregor logs in with {} only", mechanisms.join(", ")),
        )),
    }
}

fn credentials(
    mechanism_name: &str,
    mechanism: String,
    jaas_name: &str,
    jaas: &str,
    mechanisms: &[&str],
) -> Result<SaslCredentials, ConfigError> {
    supported(mechanism_name, &mechanism, mechanisms)?;
    let (_, options) = parse_jaas(jaas).map_err(|reason| invalid(jaas_name, "[hidden]", reason))?;
    let option = |key: &str| {
        options
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .ok_or_else(|| invalid(jaas_name, "[hidden]", format!("no {key}=\"…\" option")))
    };
    Ok(SaslCredentials {
        mechanism,
        username: option("username")?,
        password: option("password")?,
    })
}

/// `ssl.*` as a client reads them (`listener.name.<l>.ssl.*` first for a
/// broker's listener).
fn tls(
    properties: &BTreeMap<String, String>,
    listener: Option<&str>,
) -> Result<ClientTlsConfig, ConfigError> {
    let get = |key: &str| -> Option<(String, String)> {
        let found = match listener {
            Some(listener) => listener_setting(properties, listener, key)
                .map(|(name, value)| (name, value.to_string())),
            None => properties.get(key).map(|v| (key.to_string(), v.clone())),
        };
        found.filter(|(_, value)| !value.trim().is_empty())
    };
    let access = |store: &str| -> Result<StoreAccess, ConfigError> {
        let kind = match get(&format!("ssl.{store}.type")) {
            Some((name, value)) => StoreType::parse(&name, Some(&value))?,
            None => StoreType::Unspecified,
        };
        Ok(StoreAccess {
            kind,
            password: get(&format!("ssl.{store}.password")).map(|(_, value)| Password(value)),
        })
    };
    let truststore = match (
        get("ssl.truststore.location"),
        get("ssl.truststore.certificates"),
    ) {
        (Some((_, path)), _) => Some(Pem::File(PathBuf::from(path.trim()))),
        (None, Some((_, text))) => Some(Pem::Inline(text)),
        (None, None) => None,
    };
    let keystore = match (
        get("ssl.keystore.location"),
        get("ssl.keystore.key"),
        get("ssl.keystore.certificate.chain"),
    ) {
        (Some((_, path)), _, _) => Some(KeyStore::File(PathBuf::from(path.trim()))),
        (None, Some((_, key)), Some((_, chain))) => Some(KeyStore::Inline {
            key: Pem::Inline(key),
            chain: Pem::Inline(chain),
        }),
        _ => None,
    };
    let key_password = get("ssl.key.password").map(|(_, value)| Password(value));
    let verify_hostname = match properties.get("ssl.endpoint.identification.algorithm") {
        None => true,
        Some(value) => value.trim().eq_ignore_ascii_case("https"),
    };
    Ok(ClientTlsConfig {
        truststore,
        truststore_access: access("truststore")?,
        keystore,
        keystore_access: access("keystore")?,
        key_password,
        verify_hostname,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::config::properties::from_pairs as props;

    #[test]
    fn client_properties_as_kafka_clients_read_them() {
        let plain = ClientSecurityConfig::from_client_properties(&props(&[])).unwrap();
        assert_eq!(plain, ClientSecurityConfig::default());
        let scram = ClientSecurityConfig::from_client_properties(&props(&[
            ("security.protocol", "SASL_SSL"),
            ("sasl.mechanism", "SCRAM-SHA-512"),
            (
                "sasl.jaas.config",
                "org.apache.kafka.common.security.scram.ScramLoginModule required username=\"alice\" password=\"s3cret\";",
            ),
            ("ssl.truststore.location", "/tmp/ca.pem"),
            ("ssl.endpoint.identification.algorithm", ""),
        ]))
        .unwrap();
        let sasl = scram.sasl.unwrap();
        assert_eq!(
            (
                sasl.mechanism.as_str(),
                sasl.username.as_str(),
                sasl.password.as_str()
            ),
            ("SCRAM-SHA-512", "alice", "s3cret")
        );
        let tls = scram.tls.unwrap();
        assert!(!tls.verify_hostname);
        assert_eq!(tls.truststore, Some(Pem::File("/tmp/ca.pem".into())));
        for refused in [
            props(&[("security.protocol", "TLS")]),
            props(&[("security.protocol", "SASL_PLAINTEXT")]),
            props(&[
                ("security.protocol", "SASL_PLAINTEXT"),
                ("sasl.mechanism", "OAUTHBEARER"),
                (
                    "sasl.jaas.config",
                    "x required username=\"a\" password=\"b\";",
                ),
            ]),
            props(&[
                ("security.protocol", "SASL_PLAINTEXT"),
                ("sasl.mechanism", "PLAIN"),
                ("sasl.jaas.config", "x required username=\"a\";"),
            ]),
        ] {
            assert!(
                ClientSecurityConfig::from_client_properties(&refused).is_err(),
                "{refused:?}"
            );
        }
    }

    #[test]
    fn a_broker_logs_in_to_others_with_its_listeners_login_module() {
        let properties = props(&[
            ("sasl.mechanism.inter.broker.protocol", "PLAIN"),
            (
                "listener.name.internal.plain.sasl.jaas.config",
                "org.apache.kafka.common.security.plain.PlainLoginModule required username=\"broker\" password=\"b\" user_broker=\"b\";",
            ),
            ("listener.name.internal.ssl.truststore.location", "/ca.pem"),
        ]);
        let config =
            ClientSecurityConfig::inter_broker(&properties, "INTERNAL", SecurityProtocol::SaslSsl)
                .unwrap();
        assert_eq!(config.sasl.unwrap().username, "broker");
        assert_eq!(
            config.tls.unwrap().truststore,
            Some(Pem::File("/ca.pem".into()))
        );
        assert!(ClientSecurityConfig::inter_broker(
            &props(&[]),
            "INTERNAL",
            SecurityProtocol::SaslPlaintext
        )
        .is_err());
    }

    #[test]
    fn controllers_log_in_to_each_other_with_plain_only() {
        let jaas = "org.apache.kafka.common.security.plain.PlainLoginModule required username=\"c\" password=\"p\";";
        let login = |mechanism: &str| {
            let properties = props(&[
                ("sasl.mechanism.controller.protocol", mechanism),
                ("listener.name.controller.plain.sasl.jaas.config", jaas),
                (
                    "listener.name.controller.scram-sha-256.sasl.jaas.config",
                    jaas,
                ),
            ]);
            ClientSecurityConfig::controller(
                &properties,
                "CONTROLLER",
                SecurityProtocol::SaslPlaintext,
            )
        };
        let plain = login("PLAIN").unwrap().sasl.unwrap();
        assert_eq!(
            (plain.username.as_str(), plain.password.as_str()),
            ("c", "p")
        );
        // The credentials of SCRAM are in the log the controllers serve.
        let error = login("SCRAM-SHA-256").unwrap_err().to_string();
        assert!(error.contains("PLAIN only"), "{error}");
        // Nothing to log in with: Kafka's default mechanism, GSSAPI.
        let unset = ClientSecurityConfig::controller(
            &props(&[]),
            "CONTROLLER",
            SecurityProtocol::SaslPlaintext,
        );
        assert!(unset.unwrap_err().to_string().contains("GSSAPI"));
    }
}
