//! Just enough DER to walk certificates and key stores: tag, length,
//! contents. Certificates come from clients and stores from files: every
//! length is checked against what is left.

use thiserror::Error;

/// Bytes that are not the DER expected.
#[derive(Debug, Error, PartialEq, Eq)]
#[error("{0}")]
pub struct DerError(String);

pub const INTEGER: u8 = 0x02;
pub const OCTET_STRING: u8 = 0x04;
pub const OID: u8 = 0x06;
pub const SEQUENCE: u8 = 0x30;
pub const SET: u8 = 0x31;
/// `[0] EXPLICIT`, as ContentInfo and SafeBag wrap their values.
pub const EXPLICIT_0: u8 = 0xa0;
/// `[0] IMPLICIT OCTET STRING`, as EncryptedContentInfo holds its bytes.
pub const IMPLICIT_0: u8 = 0x80;

/// One element: its tag, its contents and all of its bytes.
#[derive(Debug, Clone, Copy)]
pub struct Element<'a> {
    pub tag: u8,
    pub contents: &'a [u8],
    pub whole: &'a [u8],
}

/// The elements of a run of DER, one after another.
pub struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    pub fn new(bytes: &'a [u8]) -> Reader<'a> {
        Reader(bytes)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// What follows the elements read so far.
    pub fn rest(&self) -> &'a [u8] {
        self.0
    }

    pub fn element(&mut self) -> Result<Element<'a>, DerError> {
        let bytes = self.0;
        let [tag, first, rest @ ..] = bytes else {
            return Err(malformed("an element is cut short"));
        };
        let (length, header) = match *first {
            short @ 0..=0x7f => (usize::from(short), 2),
            0x80 => return Err(malformed("indefinite lengths (BER) are not read")),
            long => {
                let count = usize::from(long & 0x7f);
                if count > 4 || rest.len() < count {
                    return Err(malformed("an element's length is out of range"));
                }
                let length = rest[..count]
                    .iter()
                    .fold(0usize, |length, byte| length << 8 | usize::from(*byte));
                (length, 2 + count)
            }
        };
        let end = header
            .checked_add(length)
            .filter(|end| *end <= bytes.len())
            .ok_or_else(|| malformed("an element runs past its container"))?;
        self.0 = &bytes[end..];
        Ok(Element {
            tag: *tag,
            contents: &bytes[header..end],
            whole: &bytes[..end],
        })
    }

    /// The next element, which must have `tag`; its contents.
    pub fn read(&mut self, tag: u8, what: &str) -> Result<&'a [u8], DerError> {
        let element = self.element()?;
        if element.tag != tag {
            return Err(malformed(&format!(
                "expected {what} (tag {tag:#04x}), found tag {:#04x}",
                element.tag
            )));
        }
        Ok(element.contents)
    }

    /// The next element if it has `tag`.
    pub fn optional(&mut self, tag: u8) -> Result<Option<Element<'a>>, DerError> {
        match self.0.first() {
            Some(first) if *first == tag => self.element().map(Some),
            _ => Ok(None),
        }
    }
}

/// The reader of a SEQUENCE's (or SET's) contents.
pub fn sequence<'a>(bytes: &'a [u8], what: &str) -> Result<Reader<'a>, DerError> {
    Reader::new(bytes).read(SEQUENCE, what).map(Reader::new)
}

/// A small non-negative INTEGER.
pub fn small_integer(contents: &[u8]) -> Result<u32, DerError> {
    let negative = contents.first().is_none_or(|first| first & 0x80 != 0);
    let trimmed = match contents {
        [0, rest @ ..] if !rest.is_empty() => rest,
        _ => contents,
    };
    if negative || trimmed.len() > 4 {
        return Err(malformed("an integer is out of range"));
    }
    Ok(trimmed
        .iter()
        .fold(0u32, |value, byte| value << 8 | u32::from(*byte)))
}

fn malformed(reason: &str) -> DerError {
    DerError(reason.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_are_read_and_checked() {
        let mut reader = Reader::new(&[0x04, 0x02, 0xaa, 0xbb, 0x30, 0x81, 0x01, 0x05]);
        assert_eq!(reader.read(OCTET_STRING, "bytes").unwrap(), &[0xaa, 0xbb]);
        assert_eq!(reader.read(SEQUENCE, "sequence").unwrap(), &[0x05]);
        assert!(reader.is_empty());
        for bad in [
            &[0x04, 0x03, 0x00][..],
            &[0x30, 0x80],
            &[0x30, 0x85, 1, 1, 1, 1, 1],
            &[0x04],
        ] {
            assert!(Reader::new(bad).element().is_err(), "{bad:?}");
        }
        assert!(Reader::new(&[0x02, 0x01, 0x03])
            .read(SEQUENCE, "x")
            .is_err());
        assert_eq!(small_integer(&[0x00, 0x80]).unwrap(), 128);
        assert!(small_integer(&[0x80]).is_err());
        assert!(small_integer(&[]).is_err());
    }
}
