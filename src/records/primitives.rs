//! The big-endian primitives of Kafka's internal record formats — the
//! `__consumer_offsets` and `__transaction_state` keys and values, and the
//! consumer protocol's subscription and assignment: fixed-width integers,
//! i16-length strings (-1: null), i32-length byte arrays and i32 counts.
//! Reading never trusts a length or count beyond the bytes at hand.

use bytes::Bytes;
use thiserror::Error;

/// The longest string an i16 length prefix holds.
pub const MAX_STRING_LENGTH: usize = i16::MAX as usize;

/// A string too long for Kafka's i16-length strings. Written anyway, its
/// length would wrap and the record be misread, so writers refuse it.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
#[error("a string of {length} bytes does not fit Kafka's {MAX_STRING_LENGTH}-byte strings")]
pub struct StringTooLong {
    pub length: usize,
}

/// Whether `value` fits an i16-length string.
pub fn check_string(value: &str) -> Result<(), StringTooLong> {
    match value.len() {
        length if length > MAX_STRING_LENGTH => Err(StringTooLong { length }),
        _ => Ok(()),
    }
}

pub fn put_string(out: &mut Vec<u8>, value: &str) -> Result<(), StringTooLong> {
    check_string(value)?;
    out.extend_from_slice(&(value.len() as i16).to_be_bytes());
    out.extend_from_slice(value.as_bytes());
    Ok(())
}

pub fn put_nullable_string(out: &mut Vec<u8>, value: Option<&str>) -> Result<(), StringTooLong> {
    match value {
        Some(value) => put_string(out, value),
        None => {
            out.extend_from_slice(&(-1i16).to_be_bytes());
            Ok(())
        }
    }
}

pub fn put_bytes(out: &mut Vec<u8>, value: &[u8]) {
    out.extend_from_slice(&(value.len() as i32).to_be_bytes());
    out.extend_from_slice(value);
}

/// A bounds-checked reader: every read is `None` past the end.
pub struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Reader(bytes)
    }

    pub fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, tail) = (self.0.get(..n)?, self.0.get(n..)?);
        self.0 = tail;
        Some(head)
    }

    pub fn i8(&mut self) -> Option<i8> {
        Some(i8::from_be_bytes(self.take(1)?.try_into().ok()?))
    }

    pub fn i16(&mut self) -> Option<i16> {
        Some(i16::from_be_bytes(self.take(2)?.try_into().ok()?))
    }

    pub fn i32(&mut self) -> Option<i32> {
        Some(i32::from_be_bytes(self.take(4)?.try_into().ok()?))
    }

    pub fn i64(&mut self) -> Option<i64> {
        Some(i64::from_be_bytes(self.take(8)?.try_into().ok()?))
    }

    /// An array count, refused if the remaining bytes cannot hold that
    /// many elements of at least `min_size` bytes.
    pub fn count(&mut self, min_size: usize) -> Option<usize> {
        let count = usize::try_from(self.i32()?).ok()?;
        (count <= self.0.len() / min_size.max(1)).then_some(count)
    }

    pub fn string(&mut self) -> Option<String> {
        let length = usize::try_from(self.i16()?).ok()?;
        String::from_utf8(self.take(length)?.to_vec()).ok()
    }

    pub fn nullable_string(&mut self) -> Option<Option<String>> {
        let length = self.i16()?;
        if length < 0 {
            return Some(None);
        }
        String::from_utf8(self.take(length as usize)?.to_vec())
            .ok()
            .map(Some)
    }

    pub fn bytes(&mut self) -> Option<Bytes> {
        let length = usize::try_from(self.i32()?).ok()?;
        Some(Bytes::copy_from_slice(self.take(length)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_values_read_back_and_short_input_is_none() {
        let mut out = Vec::new();
        put_string(&mut out, "group").unwrap();
        put_nullable_string(&mut out, None).unwrap();
        put_bytes(&mut out, b"abc");
        out.extend_from_slice(&7i64.to_be_bytes());
        let mut reader = Reader::new(&out);
        assert_eq!(reader.string().as_deref(), Some("group"));
        assert_eq!(reader.nullable_string(), Some(None));
        assert_eq!(reader.bytes().as_deref(), Some(&b"abc"[..]));
        assert_eq!(reader.i64(), Some(7));
        assert_eq!(reader.i8(), None);
        assert_eq!(Reader::new(&i32::MAX.to_be_bytes()).count(1), None);
    }

    #[test]
    fn strings_longer_than_an_i16_length_are_refused_not_cut() {
        let mut out = Vec::new();
        let longest = "x".repeat(MAX_STRING_LENGTH);
        put_string(&mut out, &longest).unwrap();
        assert_eq!(
            Reader::new(&out).string().as_deref(),
            Some(longest.as_str())
        );
        let mut out = Vec::new();
        let too_long = "x".repeat(MAX_STRING_LENGTH + 1);
        assert_eq!(
            put_string(&mut out, &too_long),
            Err(StringTooLong { length: 32_768 })
        );
        assert_eq!(
            put_nullable_string(&mut out, Some(&too_long)),
            Err(StringTooLong { length: 32_768 })
        );
        assert!(out.is_empty(), "nothing written");
    }
}
