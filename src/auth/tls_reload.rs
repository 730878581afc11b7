//! A TLS listener's keystore and truststore changed while it runs (Kafka's
//! dynamic `listener.name.<l>.ssl.*` update, `SslFactory.reconfigure`):
//! certificates are rotated without a restart. The new settings are loaded
//! and checked in full before anything changes; connections already open
//! keep the session they have, new ones are offered the new certificate.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

use arc_swap::ArcSwap;
use rustls_pki_types::CertificateDer;
use tokio_rustls::TlsAcceptor;

use super::certificate;
use super::tls::{acceptor_and_certificate, TlsError};
use crate::config::security::{KeyStore, Pem, SslConfig};

/// What a listener serves TLS with now.
struct Loaded {
    acceptor: TlsAcceptor,
    config: SslConfig,
    certificate: CertificateDer<'static>,
    /// When its store files were last modified, as loaded.
    modified: Vec<Option<SystemTime>>,
}

/// A listener's TLS acceptor, replaceable while the listener runs.
pub struct ReloadableAcceptor {
    listener: String,
    loaded: ArcSwap<Loaded>,
}

/// A loaded and checked replacement, installed only once the change that
/// asked for it is committed.
pub struct Prepared(Loaded);

impl ReloadableAcceptor {
    pub fn new(listener: &str, config: &SslConfig) -> Result<ReloadableAcceptor, TlsError> {
        // Stat before reading: a store rewritten meanwhile is read again.
        let modified = modified(config);
        let (acceptor, certificate) = acceptor_and_certificate(listener, config)?;
        Ok(ReloadableAcceptor {
            listener: listener.to_string(),
            loaded: ArcSwap::from_pointee(Loaded {
                acceptor,
                config: config.clone(),
                certificate,
                modified,
            }),
        })
    }

    pub fn listener(&self) -> &str {
        &self.listener
    }

    /// The acceptor for a new connection.
    pub fn current(&self) -> TlsAcceptor {
        self.loaded.load().acceptor.clone()
    }

    /// Whether `config` asks for another acceptor, as Kafka's
    /// `SslEngineFactory.shouldBeRebuilt` judges: other settings, or a
    /// store file modified since it was loaded.
    pub fn needs_rebuild(&self, config: &SslConfig) -> bool {
        let loaded = self.loaded.load();
        loaded.config != *config || loaded.modified != modified(config)
    }

    /// Loads the stores `config` names (read again even if their names are
    /// unchanged: a store rewritten in place is how certificates are
    /// rotated) and checks that the new certificate names the same subject
    /// and alternative names as the current one, unless
    /// `ssl.allow.dn.changes` / `ssl.allow.san.changes` allow it, as Kafka
    /// checks: clients that pinned the broker's identity still find it.
    pub fn prepare(&self, config: &SslConfig) -> Result<Prepared, String> {
        let modified = modified(config);
        let (acceptor, certificate) =
            acceptor_and_certificate(&self.listener, config).map_err(|error| error.to_string())?;
        let current = self.loaded.load();
        let (old_subject, old_names) = identity(&current.certificate)?;
        let (new_subject, new_names) = identity(&certificate)?;
        if !config.allow_dn_changes && old_subject != new_subject {
            return Err(
                "Keystore DistinguishedName does not match: the new certificate names another subject (ssl.allow.dn.changes=false)"
                    .to_string(),
            );
        }
        if !config.allow_san_changes && old_names != new_names {
            return Err(
                "Keystore SubjectAltNames do not match: the new certificate names other hosts (ssl.allow.san.changes=false)"
                    .to_string(),
            );
        }
        Ok(Prepared(Loaded {
            acceptor,
            config: config.clone(),
            certificate,
            modified,
        }))
    }

    pub fn install(&self, prepared: Prepared) {
        self.loaded.store(Arc::new(prepared.0));
    }
}

/// The modification times of the store files `config` names.
fn modified(config: &SslConfig) -> Vec<Option<SystemTime>> {
    let keystore = match &config.keystore {
        KeyStore::File(path) => Some(path.clone()),
        KeyStore::Inline { .. } => None,
    };
    let truststore = match &config.truststore {
        Some(Pem::File(path)) => Some(path.clone()),
        _ => None,
    };
    [keystore, truststore]
        .into_iter()
        .flatten()
        .map(|path: PathBuf| std::fs::metadata(path).and_then(|m| m.modified()).ok())
        .collect()
}

/// A certificate's subject and its subjectAltName extension.
fn identity(der: &[u8]) -> Result<(&[u8], Option<&[u8]>), String> {
    certificate::subject(der)
        .zip(certificate::alt_names(der))
        .ok_or_else(|| "the keystore's certificate cannot be read".to_string())
}
