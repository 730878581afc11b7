//! PKCS#12 (RFC 7292): keytool's default store since Java 9, and what
//! `openssl pkcs12 -export` writes. Bags of keys and certificates, most of
//! them encrypted with PBES2 (PBKDF2 and AES), under a MAC keyed from the
//! store's password.

use ring::{digest, hmac};

use super::{Contents, KeyEntry, StoreError};
use crate::auth::der::{self, Reader};

const DATA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01];
const ENCRYPTED_DATA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x06];
const KEY_BAG: &[u8] = &[
    0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x0c, 0x0a, 0x01, 0x01,
];
const SHROUDED_KEY_BAG: &[u8] = &[
    0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x0c, 0x0a, 0x01, 0x02,
];
const CERT_BAG: &[u8] = &[
    0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x0c, 0x0a, 0x01, 0x03,
];
const X509_CERTIFICATE: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x16, 0x01];
const FRIENDLY_NAME: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x14];
const LOCAL_KEY_ID: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x15];
/// pbeWithSHAAnd…: PKCS#12's own (PBES1) ciphers, 3DES and RC2, which
/// Java before 12 and `openssl pkcs12 -legacy` write.
const PKCS12_PBE: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x0c, 0x01];
const SHA1: &[u8] = &[0x2b, 0x0e, 0x03, 0x02, 0x1a];
const SHA256: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01];
const SHA384: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02];
const SHA512: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03];
/// More MAC iterations than any tool writes: a bound on the work a store
/// can ask for.
const MAX_ITERATIONS: u32 = 10_000_000;

/// The store in `bytes`. The MAC is checked, and encrypted certificates
/// read, with the store's `password` (Java skips the check without one, and
/// then reads only what is not encrypted); private keys are read only with
/// a `key_password`.
pub fn read(
    bytes: &[u8],
    password: Option<&str>,
    key_password: Option<&str>,
) -> Result<Contents, StoreError> {
    let mut pfx = der::sequence(bytes, "PFX")?;
    let version = der::small_integer(pfx.read(der::INTEGER, "version")?)?;
    if version != 3 {
        return Err(StoreError::Malformed(format!("PKCS#12 version {version}")));
    }
    let (kind, content) = content_info(pfx.element()?.whole)?;
    if kind != DATA {
        return Err(StoreError::Unsupported(
            "a PKCS#12 store signed with a public key".into(),
        ));
    }
    let authenticated = data(content)?;
    if let (false, Some(password)) = (pfx.is_empty(), password) {
        check_mac(pfx.element()?.whole, authenticated, password)?;
    }

    let mut keys: Vec<(KeyEntry, Option<Vec<u8>>)> = Vec::new();
    let mut certificates: Vec<(Vec<u8>, Option<Vec<u8>>)> = Vec::new();
    let mut safes = der::sequence(authenticated, "AuthenticatedSafe")?;
    while !safes.is_empty() {
        let (kind, content) = content_info(safes.element()?.whole)?;
        let safe_contents = match kind {
            DATA => data(content)?.to_vec(),
            ENCRYPTED_DATA => {
                let password = password.ok_or(StoreError::PasswordNeeded)?;
                encrypted_data(content, password)?
            }
            _ => {
                return Err(StoreError::Unsupported(
                    "a PKCS#12 safe encrypted with a public key".into(),
                ))
            }
        };
        let mut bags = der::sequence(&safe_contents, "SafeContents")?;
        while !bags.is_empty() {
            let mut bag = Reader::new(bags.read(der::SEQUENCE, "SafeBag")?);
            let id = bag.read(der::OID, "bag id")?;
            let value = Reader::new(bag.read(der::EXPLICIT_0, "bag value")?).element()?;
            let (alias, local_key_id) = attributes(bag.optional(der::SET)?)?;
            match id {
                KEY_BAG | SHROUDED_KEY_BAG => {
                    let Some(key_password) = key_password else {
                        continue;
                    };
                    let pkcs8 = match id {
                        KEY_BAG => value.whole.to_vec(),
                        _ => {
                            let mut info = der::sequence(value.whole, "EncryptedPrivateKeyInfo")?;
                            let algorithm = info.element()?.whole;
                            let encrypted = info.read(der::OCTET_STRING, "encrypted key")?;
                            decrypt(
                                algorithm,
                                encrypted,
                                key_password,
                                StoreError::WrongKeyPassword,
                            )?
                        }
                    };
                    let entry = KeyEntry {
                        alias,
                        pkcs8,
                        chain: Vec::new(),
                    };
                    keys.push((entry, local_key_id));
                }
                CERT_BAG => {
                    let mut cert_bag = der::sequence(value.whole, "CertBag")?;
                    if cert_bag.read(der::OID, "certificate type")? == X509_CERTIFICATE {
                        let wrapped = cert_bag.read(der::EXPLICIT_0, "certificate")?;
                        let certificate =
                            Reader::new(wrapped).read(der::OCTET_STRING, "certificate")?;
                        certificates.push((certificate.to_vec(), local_key_id));
                    }
                }
                _ => {}
            }
        }
    }
    Ok(assemble(keys, certificates))
}

/// A ContentInfo: its type and its `[0] EXPLICIT` content.
fn content_info(bytes: &[u8]) -> Result<(&[u8], &[u8]), StoreError> {
    let mut info = der::sequence(bytes, "ContentInfo")?;
    let kind = info.read(der::OID, "content type")?;
    let content = info.read(der::EXPLICIT_0, "content")?;
    Ok((kind, content))
}

/// The bytes of a `data` ContentInfo.
fn data(content: &[u8]) -> Result<&[u8], StoreError> {
    Ok(Reader::new(content).read(der::OCTET_STRING, "data")?)
}

/// EncryptedData: a version, then EncryptedContentInfo with the algorithm
/// and the `[0] IMPLICIT` ciphertext.
fn encrypted_data(content: &[u8], password: &str) -> Result<Vec<u8>, StoreError> {
    let mut encrypted = der::sequence(content, "EncryptedData")?;
    encrypted.read(der::INTEGER, "version")?;
    let mut info = Reader::new(encrypted.read(der::SEQUENCE, "EncryptedContentInfo")?);
    info.read(der::OID, "content type")?;
    let algorithm = info.element()?.whole;
    let ciphertext = info.read(der::IMPLICIT_0, "encrypted content")?;
    decrypt(algorithm, ciphertext, password, StoreError::WrongPassword)
}

/// Decrypts with a PBES2 algorithm (PBKDF2, AES-CBC), the only kind
/// keytool (Java 12 and later) and OpenSSL 3 write by default; `wrong` is
/// the error when the password does not decrypt.
fn decrypt(
    algorithm: &[u8],
    ciphertext: &[u8],
    password: &str,
    wrong: StoreError,
) -> Result<Vec<u8>, StoreError> {
    let oid = der::sequence(algorithm, "AlgorithmIdentifier")?.read(der::OID, "algorithm")?;
    if oid.starts_with(PKCS12_PBE) {
        return Err(StoreError::Unsupported(
            "PKCS#12's legacy encryption (3DES or RC2, from Java 8 or openssl -legacy); re-encrypt the store with AES: keytool -importkeystore -srckeystore OLD -destkeystore NEW -deststoretype PKCS12 (Java 12 or later), or openssl pkcs12 (OpenSSL 3)".into(),
        ));
    }
    let scheme = pkcs8::pkcs5::EncryptionScheme::try_from(algorithm)
        .map_err(|error| StoreError::Unsupported(format!("the store's encryption: {error}")))?;
    scheme
        .decrypt(password.as_bytes(), ciphertext)
        .map_err(|_| wrong)
}

/// A bag's friendly name (its alias) and local key id, which pairs a key
/// with its certificate.
fn attributes(set: Option<der::Element>) -> Result<(String, Option<Vec<u8>>), StoreError> {
    let (mut alias, mut local_key_id) = (String::new(), None);
    let Some(set) = set else {
        return Ok((alias, local_key_id));
    };
    let mut attributes = Reader::new(set.contents);
    while !attributes.is_empty() {
        let mut attribute = Reader::new(attributes.read(der::SEQUENCE, "attribute")?);
        let oid = attribute.read(der::OID, "attribute type")?;
        let mut values = Reader::new(attribute.read(der::SET, "attribute values")?);
        if values.is_empty() {
            continue;
        }
        let value = values.element()?;
        match oid {
            LOCAL_KEY_ID => local_key_id = Some(value.contents.to_vec()),
            // A BMPString: UTF-16, big-endian.
            FRIENDLY_NAME => {
                let units: Vec<u16> = value
                    .contents
                    .chunks_exact(2)
                    .map(|pair| u16::from_be_bytes([pair[0], pair[1]]))
                    .collect();
                alias = String::from_utf16_lossy(&units);
            }
            _ => {}
        }
    }
    Ok((alias, local_key_id))
}

/// Each key with its chain: the certificate of the same local key id
/// first, then the certificates of no key (the CAs). Those alone are the
/// store's trusted certificates, unless it has nothing else.
fn assemble(
    keys: Vec<(KeyEntry, Option<Vec<u8>>)>,
    certificates: Vec<(Vec<u8>, Option<Vec<u8>>)>,
) -> Contents {
    let authorities: Vec<Vec<u8>> = certificates
        .iter()
        .filter(|(_, id)| id.is_none())
        .map(|(certificate, _)| certificate.clone())
        .collect();
    let only_key = keys.len() == 1;
    let keys = keys
        .into_iter()
        .map(|(mut key, id)| {
            let leaf = certificates.iter().find(|(_, certificate_id)| match &id {
                Some(id) => certificate_id.as_ref() == Some(id),
                None => only_key && certificate_id.is_some(),
            });
            key.chain = leaf
                .map(|(certificate, _)| certificate.clone())
                .into_iter()
                .chain(authorities.iter().cloned())
                .collect();
            key
        })
        .collect();
    let trusted = match authorities.is_empty() {
        true => certificates
            .into_iter()
            .map(|(certificate, _)| certificate)
            .collect(),
        false => authorities,
    };
    Contents { keys, trusted }
}

/// Checks MacData: an HMAC over the authenticated safe, keyed with the
/// PKCS#12 key derivation (RFC 7292, appendix B) of the password.
fn check_mac(mac_data: &[u8], authenticated: &[u8], password: &str) -> Result<(), StoreError> {
    let mut mac_data = der::sequence(mac_data, "MacData")?;
    let mut digest_info = Reader::new(mac_data.read(der::SEQUENCE, "DigestInfo")?);
    let mut algorithm = Reader::new(digest_info.read(der::SEQUENCE, "digest algorithm")?);
    let oid = algorithm.read(der::OID, "digest algorithm")?;
    let expected = digest_info.read(der::OCTET_STRING, "digest")?;
    let salt = mac_data.read(der::OCTET_STRING, "MAC salt")?;
    let iterations = match mac_data.optional(der::INTEGER)? {
        Some(iterations) => der::small_integer(iterations.contents)?,
        None => 1,
    };
    if !(1..=MAX_ITERATIONS).contains(&iterations) {
        return Err(StoreError::Malformed(format!(
            "{iterations} MAC iterations"
        )));
    }
    let (hash, mac, block) = match oid {
        SHA1 => (
            &digest::SHA1_FOR_LEGACY_USE_ONLY,
            hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
            64,
        ),
        SHA256 => (&digest::SHA256, hmac::HMAC_SHA256, 64),
        SHA384 => (&digest::SHA384, hmac::HMAC_SHA384, 128),
        SHA512 => (&digest::SHA512, hmac::HMAC_SHA512, 128),
        _ => return Err(StoreError::Unsupported("the store's MAC algorithm".into())),
    };
    let key = derive(hash, block, password, salt, iterations, hash.output_len());
    hmac::verify(&hmac::Key::new(mac, &key), authenticated, expected)
        .map_err(|_| StoreError::WrongPassword)
}

/// RFC 7292's key derivation, with ID 3 (a MAC key): the password as a
/// BMPString with its two zero bytes, salt and password each repeated to
/// whole blocks, hashed `iterations` times per block of output.
fn derive(
    hash: &'static digest::Algorithm,
    block: usize,
    password: &str,
    salt: &[u8],
    iterations: u32,
    length: usize,
) -> Vec<u8> {
    const MAC_KEY: u8 = 3;
    let password: Vec<u8> = password
        .encode_utf16()
        .flat_map(u16::to_be_bytes)
        .chain([0, 0])
        .collect();
    let fill = |bytes: &[u8]| -> Vec<u8> {
        let whole = block * bytes.len().div_ceil(block);
        bytes.iter().cycle().take(whole).copied().collect()
    };
    let mut input = [fill(salt), fill(&password)].concat();
    let diversifier = vec![MAC_KEY; block];
    let mut output = Vec::with_capacity(length);
    loop {
        let mut context = digest::Context::new(hash);
        context.update(&diversifier);
        context.update(&input);
        let mut round = context.finish();
        for _ in 1..iterations {
            round = digest::digest(hash, round.as_ref());
        }
        output.extend_from_slice(round.as_ref());
        if output.len() >= length {
            output.truncate(length);
            return output;
        }
        // Each block of the input += the output repeated to a block, + 1.
        let addend: Vec<u8> = round.as_ref().iter().cycle().take(block).copied().collect();
        for chunk in input.chunks_mut(block) {
            let mut carry = 1u16;
            for (byte, add) in chunk.iter_mut().zip(&addend).rev() {
                let sum = u16::from(*byte) + u16::from(*add) + carry;
                *byte = sum as u8;
                carry = sum >> 8;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(text: &str) -> Vec<u8> {
        (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn the_key_derivation_matches_openssl() {
        // `openssl kdf -keylen N -kdfopt digest:D -kdfopt hexpass:P -kdfopt
        // hexsalt:S -kdfopt iter:I -kdfopt id:3 PKCS12KDF`, P the password
        // as a BMPString with its two zero bytes.
        let salt = hex("0a58cf64530d823f");
        let sha1 = &digest::SHA1_FOR_LEGACY_USE_ONLY;
        assert_eq!(
            derive(sha1, 64, "smeg", &salt, 1, 20),
            hex("9BA6EF317B8CB9F4760AB2FA2E51C066F0DCE645")
        );
        // Two rounds of output: the input blocks are added to.
        assert_eq!(
            derive(sha1, 64, "smeg", &salt, 2, 40),
            hex("47A593BBC676E2C48E925AE9527004EA341F5490E4516D9AA44AA2235B0EAE8CA7D593E37FB834FB")
        );
        assert_eq!(
            derive(
                &digest::SHA256,
                64,
                "queeg",
                &hex("05dec959acff72f7"),
                1000,
                32
            ),
            hex("64BD552BB4ECEC8224B888D4FA1DC49C6FF894BFC59B10402D83AD46C0D8DA4B")
        );
    }
}
