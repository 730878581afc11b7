//! Reading the records inside an uncompressed v2 batch, for the few places
//! the broker must look inside one: ListOffsets by timestamp, and loading the
//! group coordinator's state from `__consumer_offsets`. Never used on the
//! produce or fetch path.

use super::varint::get_varlong;

/// One record's fields, borrowed from the batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record<'a> {
    pub offset_delta: i64,
    pub timestamp_delta: i64,
    pub key: Option<&'a [u8]>,
    pub value: Option<&'a [u8]>,
    /// The whole encoded record, length prefix included: the cleaner copies
    /// kept records verbatim (their deltas stay valid in the same batch).
    pub raw: &'a [u8],
}

/// Walks the records of an uncompressed payload. Stops (returns `None`) at
/// the declared count or at the first malformed record.
pub struct Records<'a> {
    remaining: &'a [u8],
    left: i32,
}

impl<'a> Records<'a> {
    pub fn new(payload: &'a [u8], count: i32) -> Self {
        Records {
            remaining: payload,
            left: count,
        }
    }

    /// Bytes not yet read: after the declared count of records, a
    /// well-formed payload has none left.
    pub fn remaining_bytes(&self) -> usize {
        self.remaining.len()
    }
}

/// A length-prefixed field: -1 is null.
fn nullable_bytes<'a>(input: &mut &'a [u8]) -> Option<Option<&'a [u8]>> {
    let length = get_varlong(input)?;
    if length < 0 {
        return Some(None);
    }
    let length = usize::try_from(length).ok()?;
    if input.len() < length {
        return None;
    }
    let (bytes, rest) = input.split_at(length);
    *input = rest;
    Some(Some(bytes))
}

impl<'a> Iterator for Records<'a> {
    type Item = Record<'a>;

    fn next(&mut self) -> Option<Record<'a>> {
        if self.left <= 0 {
            return None;
        }
        self.left -= 1;
        let start = self.remaining;
        let mut input = self.remaining;
        let length = usize::try_from(get_varlong(&mut input)?).ok()?;
        if input.len() < length {
            return None;
        }
        let (mut record, rest) = input.split_at(length);
        self.remaining = rest;
        record = record.get(1..)?; // attributes, unused in v2
        let timestamp_delta = get_varlong(&mut record)?;
        let offset_delta = get_varlong(&mut record)?;
        let key = nullable_bytes(&mut record)?;
        let value = nullable_bytes(&mut record)?;
        Some(Record {
            offset_delta,
            timestamp_delta,
            key,
            value,
            raw: &start[..start.len() - self.remaining.len()],
        })
    }
}
