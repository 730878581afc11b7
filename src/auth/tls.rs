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
use tokio_rustls::TlsAcceptor;

use crate::config::security::{ClientAuth, KeyStore, Pem, SslConfig, TlsVersion};

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
    let invalid = |reason: String| TlsError::Invalid {
        listener: listener.to_string(),
        reason,
    };
    let (key, chain) = match &config.keystore {
        KeyStore::File(path) => {
            let pem = read(listener, &Pem::File(path.clone()), "ssl.keystore.location")?;
            (pem.clone(), pem)
        }
        KeyStore::Inline { key, chain } => (
            read(listener, key, "ssl.keystore.key")?,
            read(listener, chain, "ssl.keystore.certificate.chain")?,
        ),
    };
    if key.contains("ENCRYPTED PRIVATE KEY") {
        return Err(invalid(
            "the private key is encrypted; encrypted keys are not supported yet".to_string(),
        ));
    }
    let key = PrivateKeyDer::from_pem_slice(key.as_bytes())
        .map_err(|error| invalid(format!("no usable private key in the keystore: {error}")))?;
    let chain = certificates(&chain)
        .map_err(|error| invalid(format!("bad certificate chain in the keystore: {error}")))?;
    if chain.is_empty() {
        return Err(invalid("no certificate in the keystore".to_string()));
    }

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
            let trusted = match &config.truststore {
                Some(pem) => read(listener, pem, "ssl.truststore.location")?,
                None => return Err(invalid("client authentication needs a truststore".into())),
            };
            let mut roots = RootCertStore::empty();
            for certificate in certificates(&trusted)
                .map_err(|error| invalid(format!("bad certificate in the truststore: {error}")))?
            {
                roots
                    .add(certificate)
                    .map_err(|error| invalid(format!("truststore: {error}")))?;
            }
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
    let server = builder
        .with_single_cert(chain, key)
        .map_err(|error| invalid(format!("key and certificate: {error}")))?;
    Ok(TlsAcceptor::from(Arc::new(server)))
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
