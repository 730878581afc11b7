//! Reading the records inside a v2 batch, for the few places the broker must
//! look inside one (ListOffsets by timestamp). Never used on the produce or
//! fetch path.

use super::varint::get_varlong;

/// What the broker needs of one record: where it is and when it was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordPosition {
    pub offset_delta: i64,
    pub timestamp_delta: i64,
}

/// Walks the uncompressed records of a batch, yielding each record's offset
/// and timestamp deltas. Stops (returns `None`) on malformed input.
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
}

impl Iterator for Records<'_> {
    type Item = RecordPosition;

    fn next(&mut self) -> Option<RecordPosition> {
        if self.left <= 0 {
            return None;
        }
        self.left -= 1;
        let mut input = self.remaining;
        let length = usize::try_from(get_varlong(&mut input)?).ok()?;
        if input.len() < length {
            return None;
        }
        let (mut record, rest) = input.split_at(length);
        self.remaining = rest;
        // attributes (1 byte), then timestamp delta and offset delta.
        record = record.get(1..)?;
        let timestamp_delta = get_varlong(&mut record)?;
        let offset_delta = get_varlong(&mut record)?;
        Some(RecordPosition {
            offset_delta,
            timestamp_delta,
        })
    }
}
