//! Key stores as Kafka's `ssl.keystore.*` and `ssl.truststore.*` settings
//! name them: PEM, PKCS12 and JKS files, read into the DER keys and
//! certificates rustls takes. As Java does (`keystore.type.compat`), a
//! store of type PKCS12 or JKS is read in whichever of the two formats the
//! file is in: keytool has written PKCS12 by default since Java 9, also to
//! files named `.jks` for Kafka's default `ssl.keystore.type=JKS`.

mod jks;
mod pkcs12;

use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use thiserror::Error;

use crate::auth::der;
use crate::config::security::StoreType;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum StoreError {
    #[error("the store is malformed: {0}")]
    Malformed(String),
    #[error("not supported: {0}")]
    Unsupported(String),
    #[error("the store's password is wrong, or the store was tampered with (its integrity check failed)")]
    WrongPassword,
    #[error("the private key cannot be recovered with ssl.key.password (or, without it, the store's password)")]
    WrongKeyPassword,
    #[error("the store is encrypted: set its password")]
    PasswordNeeded,
    #[error("{0}")]
    Contents(String),
}

impl From<der::DerError> for StoreError {
    fn from(error: der::DerError) -> StoreError {
        StoreError::Malformed(error.to_string())
    }
}

/// What a store holds.
#[derive(Debug, Default)]
pub struct Contents {
    pub keys: Vec<KeyEntry>,
    /// Certificates of no key of the store: the CAs it trusts.
    pub trusted: Vec<Vec<u8>>,
}

/// A private key (PKCS#8) and its certificate chain, its own first.
#[derive(Debug)]
pub struct KeyEntry {
    pub alias: String,
    pub pkcs8: Vec<u8>,
    pub chain: Vec<Vec<u8>>,
}

/// The format of a store's bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Pem,
    Pkcs12,
    Jks,
}

/// The format `bytes` are in, checked against the configured `kind`
/// (`setting` names it in the error).
pub fn format(bytes: &[u8], kind: StoreType, setting: &str) -> Result<Format, StoreError> {
    let found = match bytes {
        _ if bytes.starts_with(&jks::MAGIC) => Format::Jks,
        _ if bytes.starts_with(&jks::JCEKS_MAGIC) => {
            return Err(StoreError::Unsupported(
                "JCEKS stores; convert with keytool -importkeystore -deststoretype PKCS12".into(),
            ))
        }
        [der::SEQUENCE, ..] => Format::Pkcs12,
        _ => Format::Pem,
    };
    match (kind, found) {
        (StoreType::Pem, Format::Pem)
        | (StoreType::Unspecified, _)
        | (StoreType::Pkcs12 | StoreType::Jks, Format::Pkcs12 | Format::Jks) => Ok(found),
        (StoreType::Pem, _) => Err(StoreError::Contents(format!(
            "{setting} is PEM but the file is a binary key store (PKCS12 or JKS): set {setting} to PKCS12 or JKS"
        ))),
        (_, Format::Pem) => Err(StoreError::Contents(format!(
            "{setting} is {kind} but the file is not a key store (PEM text?): set {setting}=PEM"
        ))),
    }
}

/// The private key and certificate chain of a PKCS12 or JKS keystore:
/// its only private key. Without `ssl.key.password` the key is read with
/// the store's password, as Kafka does.
pub fn key_and_chain(
    bytes: &[u8],
    format: Format,
    store_password: Option<&str>,
    key_password: Option<&str>,
) -> Result<(PrivateKeyDer<'static>, Vec<CertificateDer<'static>>), StoreError> {
    let key_password = key_password
        .or(store_password)
        .ok_or(StoreError::PasswordNeeded)?;
    let contents = read(bytes, format, store_password, Some(key_password))?;
    let mut keys = contents.keys;
    let key = match keys.len() {
        1 => keys.remove(0),
        0 => {
            return Err(StoreError::Contents(
                "no private key in the keystore".into(),
            ))
        }
        _ => {
            let aliases: Vec<&str> = keys.iter().map(|key| key.alias.as_str()).collect();
            return Err(StoreError::Contents(format!(
                "the keystore holds {} private keys ({}): keep the broker's only",
                keys.len(),
                aliases.join(", ")
            )));
        }
    };
    if key.chain.is_empty() {
        return Err(StoreError::Contents(format!(
            "no certificate for the private key {:?} in the keystore",
            key.alias
        )));
    }
    let chain = key.chain.into_iter().map(CertificateDer::from).collect();
    Ok((PrivateKeyDer::Pkcs8(key.pkcs8.into()), chain))
}

/// The certificates a PKCS12 or JKS truststore trusts.
pub fn trusted(
    bytes: &[u8],
    format: Format,
    password: Option<&str>,
) -> Result<Vec<CertificateDer<'static>>, StoreError> {
    let contents = read(bytes, format, password, None)?;
    if contents.trusted.is_empty() {
        return Err(StoreError::Contents(
            "no certificate in the truststore".into(),
        ));
    }
    Ok(contents
        .trusted
        .into_iter()
        .map(CertificateDer::from)
        .collect())
}

fn read(
    bytes: &[u8],
    format: Format,
    store_password: Option<&str>,
    key_password: Option<&str>,
) -> Result<Contents, StoreError> {
    match format {
        Format::Jks => jks::read(bytes, store_password, key_password),
        Format::Pkcs12 => pkcs12::read(bytes, store_password, key_password),
        Format::Pem => Err(StoreError::Contents("a PEM file is not a key store".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_format_is_read_from_the_bytes_and_checked_against_the_type() {
        let pem = b"-----BEGIN CERTIFICATE-----";
        let jks = [0xfe, 0xed, 0xfe, 0xed, 0, 0, 0, 2];
        let pkcs12 = [0x30, 0x82, 0x01, 0x00];
        let setting = "ssl.keystore.type";
        assert_eq!(
            format(pem, StoreType::Unspecified, setting),
            Ok(Format::Pem)
        );
        assert_eq!(
            format(&jks, StoreType::Unspecified, setting),
            Ok(Format::Jks)
        );
        // Java's keystore.type.compat: JKS and PKCS12 read either format.
        assert_eq!(format(&pkcs12, StoreType::Jks, setting), Ok(Format::Pkcs12));
        assert_eq!(format(&jks, StoreType::Pkcs12, setting), Ok(Format::Jks));
        assert!(format(pem, StoreType::Pkcs12, setting).is_err());
        assert!(format(&jks, StoreType::Pem, setting).is_err());
        assert!(matches!(
            format(&[0xce, 0xce, 0xce, 0xce], StoreType::Jks, setting),
            Err(StoreError::Unsupported(_))
        ));
    }

    proptest! {
        /// A store cut short or corrupted is an error, never a panic.
        #[test]
        fn damaged_stores_are_errors(body in proptest::collection::vec(any::<u8>(), 0..300),
                                     jks_store in any::<bool>()) {
            let bytes: Vec<u8> = match jks_store {
                true => [0xfe, 0xed, 0xfe, 0xed, 0, 0, 0, 2].into_iter().chain(body).collect(),
                false => [0x30, 0x82].into_iter().chain(body).collect(),
            };
            let format = if jks_store { Format::Jks } else { Format::Pkcs12 };
            let _ = key_and_chain(&bytes, format, Some("p"), None);
            let _ = key_and_chain(&bytes, format, None, Some("p"));
            let _ = trusted(&bytes, format, None);
        }
    }
}
