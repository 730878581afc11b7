//! The fields of an X.509 certificate gregor reads: its subject (the TLS
//! principal) and its subjectAltName (a rotated keystore must keep it).

use super::der::{self, Reader};

/// subjectAltName (2.5.29.17).
const SUBJECT_ALT_NAME: &[u8] = &[0x55, 0x1d, 0x11];
const BOOLEAN: u8 = 0x01;
/// `[3] EXPLICIT Extensions` of a v3 certificate.
const EXTENSIONS: u8 = 0xa3;

/// The subject Name's contents: Certificate → tbsCertificate →
/// [version], serial, signature, issuer, validity, subject.
pub fn subject(der: &[u8]) -> Option<&[u8]> {
    subject_and_rest(der).map(|(subject, _)| subject)
}

/// The subjectAltName extension's value, `Some(None)` for a certificate
/// without one.
pub fn alt_names(der: &[u8]) -> Option<Option<&[u8]>> {
    let (_, rest) = subject_and_rest(der)?;
    let mut tbs = Reader::new(rest);
    tbs.element().ok()?; // subjectPublicKeyInfo
    while !tbs.is_empty() {
        let element = tbs.element().ok()?;
        if element.tag != EXTENSIONS {
            continue;
        }
        let mut extensions = der::sequence(element.contents, "Extensions").ok()?;
        while !extensions.is_empty() {
            let mut extension = Reader::new(extensions.read(der::SEQUENCE, "Extension").ok()?);
            let oid = extension.read(der::OID, "extension id").ok()?;
            extension.optional(BOOLEAN).ok()?; // critical
            let value = extension.read(der::OCTET_STRING, "extension value").ok()?;
            if oid == SUBJECT_ALT_NAME {
                return Some(Some(value));
            }
        }
    }
    Some(None)
}

/// The subject's contents, and the tbsCertificate's fields after it.
fn subject_and_rest(der: &[u8]) -> Option<(&[u8], &[u8])> {
    let mut certificate = der::sequence(der, "Certificate").ok()?;
    let mut tbs = Reader::new(certificate.read(der::SEQUENCE, "TBSCertificate").ok()?);
    tbs.optional(der::EXPLICIT_0).ok()?; // version
    for _ in ["serial", "signature", "issuer", "validity"] {
        tbs.element().ok()?;
    }
    let subject = tbs.read(der::SEQUENCE, "subject").ok()?;
    Some((subject, tbs.rest()))
}
