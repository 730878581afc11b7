//! TLS for `SSL` listeners (rustls): the server configuration built from a
//! listener's `ssl.*` settings at start-up, so that a missing file or a key
//! that does not match its certificate stops the broker there, never at the
//! first client.

use std::sync::Arc;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use thiserror::Error;
use tokio_rustls::rustls::crypto::ring;
use tokio_rustls::rustls::server::WebPkiClientVerifier;
use tokio_rustls::rustls::{self, RootCertStore, ServerConfig};
use tokio_rustls::{TlsAcceptor, TlsConnector};

use crate::auth::keystore::{self, Format};
use crate::config::client_security::ClientTlsConfig;
use crate::config::security::{
    ClientAuth, KeyStore, Password, Pem, SslConfig, StoreAccess, TlsVersion,
};

#[derive(Debug, Error)]
pub enum TlsError {
    #[error("listener {listener}: cannot read {what}: {reason}")]
    Read {
        listener: String,
        what: String,
        reason: String,
    },
    #[error("listener {listener}: {reason}")]
    Invalid { listener: String, reason: String },
}

/// The acceptor of one TLS listener.
pub fn acceptor(listener: &str, config: &SslConfig) -> Result<TlsAcceptor, TlsError> {
    acceptor_and_certificate(listener, config).map(|(acceptor, _)| acceptor)
}

/// The acceptor of one TLS listener, and the certificate it presents.
pub(crate) fn acceptor_and_certificate(
    listener: &str,
    config: &SslConfig,
) -> Result<(TlsAcceptor, CertificateDer<'static>), TlsError> {
    let invalid = |reason: String| TlsError::Invalid {
        listener: listener.to_string(),
        reason,
    };
    let (key, chain) = key_and_chain(
        listener,
        &config.keystore,
        &config.keystore_access,
        config.key_password.as_ref(),
    )?;

    let versions: Vec<&'static rustls::SupportedProtocolVersion> = config
        .enabled_protocols
        .iter()
        .map(|version| match version {
            TlsVersion::Tls12 => &rustls::version::TLS12,
            TlsVersion::Tls13 => &rustls::version::TLS13,
        })
        .collect();
    // ring rather than aws-lc-rs: no C toolchain for the build. rustls
    // deprecates it for lacking post-quantum key exchange, which Kafka's
    // Java clients do not offer either.
    #[allow(deprecated)]
    let mut provider = ring::default_provider();
    if !config.cipher_suites.is_empty() {
        let unknown: Vec<&String> = config
            .cipher_suites
            .iter()
            .filter(|wanted| {
                !provider
                    .cipher_suites
                    .iter()
                    .any(|s| iana_name(s) == **wanted)
            })
            .collect();
        if !unknown.is_empty() {
            let offered: Vec<String> = provider.cipher_suites.iter().map(iana_name).collect();
            return Err(invalid(format!(
                "ssl.cipher.suites: {unknown:?} not supported; the supported suites are {}",
                offered.join(",")
            )));
        }
        provider
            .cipher_suites
            .retain(|suite| config.cipher_suites.contains(&iana_name(suite)));
    }
    let provider = Arc::new(provider);
    let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(&versions)
        .map_err(|error| invalid(error.to_string()))?;
    let builder = match config.client_auth {
        ClientAuth::None => builder.with_no_client_auth(),
        auth => {
            let Some(truststore) = &config.truststore else {
                return Err(invalid("client authentication needs a truststore".into()));
            };
            let roots = roots(listener, truststore, &config.truststore_access)?;
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
            let verifier = match auth {
                ClientAuth::Requested => verifier.allow_unauthenticated(),
                _ => verifier,
            };
            builder.with_client_cert_verifier(
                verifier
                    .build()
                    .map_err(|error| invalid(format!("truststore: {error}")))?,
            )
        }
    };
    let certificate = chain
        .first()
        .cloned()
        .ok_or_else(|| invalid("no certificate in the keystore".to_string()))?;
    let server = builder
        .with_single_cert(chain, key)
        .map_err(|error| invalid(format!("key and certificate: {error}")))?;
    Ok((TlsAcceptor::from(Arc::new(server)), certificate))
}

/// TLS between controllers: the connector presents this node's own
/// certificate; the acceptor requires a client certificate its truststore
/// trusts when `mutual` (an `SSL` controller listener), and otherwise asks
/// as the listener's `ssl.client.auth` says (SASL proves who the peer is).
pub fn quorum(
    listener: &str,
    config: &SslConfig,
    mutual: bool,
) -> Result<(TlsAcceptor, TlsConnector), TlsError> {
    let mut required = config.clone();
    if mutual {
        required.client_auth = ClientAuth::Required;
    }
    if required.truststore.is_none() {
        return Err(TlsError::Invalid {
            listener: listener.to_string(),
            reason: "controllers check each other's certificates: set ssl.truststore.location"
                .to_string(),
        });
    }
    let acceptor = acceptor(listener, &required)?;
    let connector = connector(&ClientTlsConfig {
        truststore: config.truststore.clone(),
        truststore_access: config.truststore_access.clone(),
        keystore: Some(config.keystore.clone()),
        keystore_access: config.keystore_access.clone(),
        key_password: config.key_password.clone(),
        verify_hostname: true,
    })?;
    Ok((acceptor, connector))
}

/// The connector of a client: the server's certificate checked against
/// the truststore (required: the system's roots are not read), its host
/// name checked unless `verify_hostname` is off, and a client certificate
/// presented if the keystore has one.
pub fn connector(config: &ClientTlsConfig) -> Result<TlsConnector, TlsError> {
    let what = "client";
    let invalid = |reason: String| TlsError::Invalid {
        listener: what.to_string(),
        reason,
    };
    let Some(truststore) = &config.truststore else {
        return Err(invalid("TLS needs ssl.truststore.location".to_string()));
    };
    let roots = roots(what, truststore, &config.truststore_access)?;
    #[allow(deprecated)]
    let provider = Arc::new(ring::default_provider());
    let verifier = rustls::client::WebPkiServerVerifier::builder_with_provider(
        Arc::new(roots),
        Arc::clone(&provider),
    )
    .build()
    .map_err(|error| invalid(format!("truststore: {error}")))?;
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|error| invalid(error.to_string()))?;
    let builder = match config.verify_hostname {
        true => builder.with_webpki_verifier(verifier),
        false => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyHostName(verifier))),
    };
    let client = match &config.keystore {
        None => builder.with_no_client_auth(),
        Some(keystore) => {
            let (key, chain) = key_and_chain(
                what,
                keystore,
                &config.keystore_access,
                config.key_password.as_ref(),
            )?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|error| invalid(format!("key and certificate: {error}")))?
        }
    };
    Ok(TlsConnector::from(Arc::new(client)))
}

/// `ssl.endpoint.identification.algorithm=` (empty): the chain must still
/// lead to a trusted CA, but any host name is accepted.
#[derive(Debug)]
struct AnyHostName(Arc<rustls::client::WebPkiServerVerifier>);

impl rustls::client::danger::ServerCertVerifier for AnyHostName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &rustls_pki_types::ServerName<'_>,
        ocsp_response: &[u8],
        now: rustls_pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        use rustls::{CertificateError, Error};
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(rustls::client::danger::ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// The private key and certificate chain of a keystore: PEM (the key
/// decrypted with `ssl.key.password` if it is encrypted), PKCS12 or JKS.
fn key_and_chain(
    listener: &str,
    keystore: &KeyStore,
    access: &StoreAccess,
    password: Option<&Password>,
) -> Result<(PrivateKeyDer<'static>, Vec<CertificateDer<'static>>), TlsError> {
    let invalid = |reason: String| TlsError::Invalid {
        listener: listener.to_string(),
        reason,
    };
    let (key, chain) = match keystore {
        KeyStore::File(path) => {
            let what = "ssl.keystore.location";
            let pem = match store_file(listener, path, access, what, "ssl.keystore.type")? {
                StoreFile::Pem(pem) => pem,
                StoreFile::Binary(bytes, format) => {
                    return keystore::key_and_chain(
                        &bytes,
                        format,
                        access.password.as_ref().map(|p| p.0.as_str()),
                        password.map(|p| p.0.as_str()),
                    )
                    .map_err(|error| invalid(format!("{what} {}: {error}", path.display())));
                }
            };
            (pem.clone(), pem)
        }
        KeyStore::Inline { key, chain } => (
            read(listener, key, "ssl.keystore.key")?,
            read(listener, chain, "ssl.keystore.certificate.chain")?,
        ),
    };
    let key = match (key.contains("BEGIN ENCRYPTED PRIVATE KEY"), password) {
        (true, Some(password)) => decrypt(&key, password).map_err(invalid)?,
        (true, None) => {
            return Err(invalid(
                "the private key is encrypted: set ssl.key.password".to_string(),
            ))
        }
        (false, _) => PrivateKeyDer::from_pem_slice(key.as_bytes())
            .map_err(|error| invalid(format!("no usable private key in the keystore: {error}")))?,
    };
    let chain = certificates(&chain)
        .map_err(|error| invalid(format!("bad certificate chain in the keystore: {error}")))?;
    if chain.is_empty() {
        return Err(invalid("no certificate in the keystore".to_string()));
    }
    Ok((key, chain))
}

/// A store file's contents: PEM text, or a PKCS12 or JKS store.
enum StoreFile {
    Pem(String),
    Binary(Vec<u8>, Format),
}

fn store_file(
    listener: &str,
    path: &std::path::Path,
    access: &StoreAccess,
    what: &str,
    type_setting: &str,
) -> Result<StoreFile, TlsError> {
    let invalid = |reason: String| TlsError::Invalid {
        listener: listener.to_string(),
        reason: format!("{what} {}: {reason}", path.display()),
    };
    let bytes = std::fs::read(path).map_err(|error| TlsError::Read {
        listener: listener.to_string(),
        what: format!("{what} {}", path.display()),
        reason: error.to_string(),
    })?;
    match keystore::format(&bytes, access.kind, type_setting)
        .map_err(|error| invalid(error.to_string()))?
    {
        Format::Pem => String::from_utf8(bytes)
            .map(StoreFile::Pem)
            .map_err(|_| invalid("neither PEM text nor a PKCS12 or JKS store".to_string())),
        format => Ok(StoreFile::Binary(bytes, format)),
    }
}

/// An encrypted PKCS#8 key (PBES2, as `openssl pkcs8 -topk8 -v2 aes-256-cbc`
/// and Java's tools write them), decrypted with `ssl.key.password`.
fn decrypt(pem: &str, password: &Password) -> Result<PrivateKeyDer<'static>, String> {
    let start = pem
        .find("-----BEGIN ENCRYPTED PRIVATE KEY-----")
        .ok_or("no encrypted private key")?;
    let end_marker = "-----END ENCRYPTED PRIVATE KEY-----";
    let end = pem[start..]
        .find(end_marker)
        .map(|at| start + at + end_marker.len())
        .ok_or("the encrypted private key is cut short")?;
    let unreadable = |error: &dyn std::fmt::Display| {
        format!("the encrypted private key cannot be read: {error}")
    };
    let (_, der) = pkcs8::der::pem::decode_vec(&pem.as_bytes()[start..end])
        .map_err(|error| unreadable(&error))?;
    let encrypted = pkcs8::EncryptedPrivateKeyInfo::try_from(der.as_slice())
        .map_err(|error| unreadable(&error))?;
    let decrypted = encrypted
        .decrypt(password.0.as_bytes())
        .map_err(|_| "the private key cannot be decrypted with ssl.key.password".to_string())?;
    Ok(PrivateKeyDer::Pkcs8(decrypted.as_bytes().to_vec().into()))
}

/// The CAs of a truststore: PEM, PKCS12 or JKS.
fn roots(
    listener: &str,
    truststore: &Pem,
    access: &StoreAccess,
) -> Result<RootCertStore, TlsError> {
    let invalid = |reason: String| TlsError::Invalid {
        listener: listener.to_string(),
        reason,
    };
    let what = "ssl.truststore.location";
    let trusted = match truststore {
        Pem::Inline(text) => certificates(text),
        Pem::File(path) => match store_file(listener, path, access, what, "ssl.truststore.type")? {
            StoreFile::Pem(text) => certificates(&text),
            StoreFile::Binary(bytes, format) => {
                let password = access.password.as_ref().map(|p| p.0.as_str());
                Ok(keystore::trusted(&bytes, format, password)
                    .map_err(|error| invalid(format!("{what} {}: {error}", path.display())))?)
            }
        },
    }
    .map_err(|error| invalid(format!("bad certificate in the truststore: {error}")))?;
    let mut roots = RootCertStore::empty();
    for certificate in trusted {
        roots
            .add(certificate)
            .map_err(|error| invalid(format!("truststore: {error}")))?;
    }
    Ok(roots)
}

fn read(listener: &str, pem: &Pem, what: &str) -> Result<String, TlsError> {
    match pem {
        Pem::Inline(text) => Ok(text.clone()),
        Pem::File(path) => std::fs::read_to_string(path).map_err(|error| TlsError::Read {
            listener: listener.to_string(),
            what: format!("{what} {}", path.display()),
            reason: error.to_string(),
        }),
    }
}

fn certificates(pem: &str) -> Result<Vec<CertificateDer<'static>>, rustls_pki_types::pem::Error> {
    CertificateDer::pem_slice_iter(pem.as_bytes()).collect()
}

/// A suite's IANA name, as Java and Kafka's `ssl.cipher.suites` write it
/// (rustls spells the TLS 1.3 ones `TLS13_…`).
fn iana_name(suite: &rustls::SupportedCipherSuite) -> String {
    let name = format!("{:?}", suite.suite());
    match name.strip_prefix("TLS13_") {
        Some(rest) => format!("TLS_{rest}"),
        None => name,
    }
}
