//! Java's own key store format (JKS, `keytool -storetype JKS`, Java 8's
//! default): entries after a `FEEDFEED` header, a SHA-1 over the store and
//! the password, and private keys under Sun's key protector (a SHA-1 stream
//! XORed over the PKCS#8 key).

use ring::digest::{Context, SHA1_FOR_LEGACY_USE_ONLY as SHA1};

use super::{Contents, KeyEntry, StoreError};
use crate::auth::der;

pub const MAGIC: [u8; 4] = [0xfe, 0xed, 0xfe, 0xed];
/// JCEKS, Java's other proprietary format, which can hold secret keys.
pub const JCEKS_MAGIC: [u8; 4] = [0xce, 0xce, 0xce, 0xce];
const PRIVATE_KEY: u32 = 1;
const TRUSTED_CERTIFICATE: u32 = 2;
/// Sun's key protector, the only protection keytool writes to JKS.
const KEY_PROTECTOR_OID: &[u8] = &[0x2b, 0x06, 0x01, 0x04, 0x01, 0x2a, 0x02, 0x11, 0x01, 0x01];
const DIGEST_LEN: usize = 20;

/// The store in `bytes`. Its integrity is checked when `store_password` is
/// given (Java skips the check without one); private keys are read only
/// with a `key_password`.
pub fn read(
    bytes: &[u8],
    store_password: Option<&str>,
    key_password: Option<&str>,
) -> Result<Contents, StoreError> {
    let body_len = bytes
        .len()
        .checked_sub(DIGEST_LEN)
        .ok_or_else(|| cut("the store"))?;
    let (body, digest) = bytes.split_at(body_len);
    if let Some(password) = store_password {
        let mut context = Context::new(&SHA1);
        context.update(&utf16(password));
        context.update(b"Mighty Aphrodite");
        context.update(body);
        if context.finish().as_ref() != digest {
            return Err(StoreError::WrongPassword);
        }
    }
    let mut input = Input(body);
    if input.take(4)? != MAGIC {
        return Err(StoreError::Malformed("not a JKS store".into()));
    }
    let version = input.u32()?;
    if !matches!(version, 1 | 2) {
        return Err(StoreError::Malformed(format!("JKS version {version}")));
    }
    let mut contents = Contents::default();
    for _ in 0..input.u32()? {
        let tag = input.u32()?;
        let alias = input.utf()?;
        input.take(8)?; // the entry's creation time
        match tag {
            PRIVATE_KEY => {
                let protected = input.sized()?;
                let mut chain = Vec::new();
                for _ in 0..input.u32()? {
                    chain.push(input.certificate(version)?.to_vec());
                }
                if let Some(password) = key_password {
                    let pkcs8 = unprotect(protected, password)?;
                    contents.keys.push(KeyEntry {
                        alias,
                        pkcs8,
                        chain,
                    });
                }
            }
            TRUSTED_CERTIFICATE => contents.trusted.push(input.certificate(version)?.to_vec()),
            other => {
                return Err(StoreError::Unsupported(format!(
                    "JKS entry type {other} (alias {alias})"
                )))
            }
        }
    }
    Ok(contents)
}

/// Sun's `KeyProtector.recover`: the EncryptedPrivateKeyInfo's data is a
/// 20-byte salt, the key XORed with SHA-1(password, salt) chained, and
/// SHA-1(password, key) to check the password.
fn unprotect(protected: &[u8], password: &str) -> Result<Vec<u8>, StoreError> {
    let mut info = der::sequence(protected, "EncryptedPrivateKeyInfo")?;
    let mut algorithm = der::sequence(info.element()?.whole, "AlgorithmIdentifier")?;
    let oid = algorithm.read(der::OID, "algorithm")?;
    if oid != KEY_PROTECTOR_OID {
        return Err(StoreError::Unsupported(
            "a JKS key protected other than by Sun's key protector".into(),
        ));
    }
    let data = info.read(der::OCTET_STRING, "encrypted key")?;
    if data.len() < 2 * DIGEST_LEN {
        return Err(cut("a protected key"));
    }
    let (salt, rest) = data.split_at(DIGEST_LEN);
    let (encrypted, check) = rest.split_at(rest.len() - DIGEST_LEN);
    let password = utf16(password);
    let mut key = Vec::with_capacity(encrypted.len());
    let mut digest = salt.to_vec();
    for chunk in encrypted.chunks(DIGEST_LEN) {
        let mut context = Context::new(&SHA1);
        context.update(&password);
        context.update(&digest);
        digest = context.finish().as_ref().to_vec();
        key.extend(chunk.iter().zip(&digest).map(|(byte, mask)| byte ^ mask));
    }
    let mut context = Context::new(&SHA1);
    context.update(&password);
    context.update(&key);
    if context.finish().as_ref() != check {
        return Err(StoreError::WrongKeyPassword);
    }
    Ok(key)
}

/// A password as Java hashes it here: each char as two big-endian bytes.
fn utf16(password: &str) -> Vec<u8> {
    password.encode_utf16().flat_map(u16::to_be_bytes).collect()
}

fn cut(what: &str) -> StoreError {
    StoreError::Malformed(format!("{what} is cut short"))
}

struct Input<'a>(&'a [u8]);

impl<'a> Input<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], StoreError> {
        if self.0.len() < n {
            return Err(cut("an entry"));
        }
        let (taken, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(taken)
    }

    fn u32(&mut self) -> Result<u32, StoreError> {
        let bytes = self.take(4)?;
        Ok(u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
    }

    fn sized(&mut self) -> Result<&'a [u8], StoreError> {
        let len = self.u32()? as usize;
        self.take(len)
    }

    /// Java's `writeUTF`: a two-byte length, then (modified) UTF-8.
    fn utf(&mut self) -> Result<String, StoreError> {
        let len = self.take(2)?;
        let text = self.take(usize::from(u16::from_be_bytes([len[0], len[1]])))?;
        Ok(String::from_utf8_lossy(text).into_owned())
    }

    /// A certificate: from version 2 its type's name ("X.509") first.
    fn certificate(&mut self, version: u32) -> Result<&'a [u8], StoreError> {
        if version == 2 {
            let kind = self.utf()?;
            if kind != "X.509" {
                return Err(StoreError::Unsupported(format!("{kind} certificates")));
            }
        }
        self.sized()
    }
}
