//! The flexible encoding of the values Kafka's group coordinator writes
//! to `__consumer_offsets` for KIP-848 consumer groups and KIP-1071 streams
//! groups: unsigned varints, compact strings and arrays, tagged fields.
//! Writers refuse strings Kafka could not read back; readers never trust a
//! length beyond the bytes at hand.

use std::collections::BTreeMap;

use crate::records::primitives::{check_string, StringTooLong, MAX_STRING_LENGTH};

/// A key/value pair for `__consumer_offsets` (`None`: a tombstone).
pub type EncodedRecord = (Vec<u8>, Option<Vec<u8>>);

/// The records that take a group's durable image from `before` (on disk)
/// to `after`: tombstones first, in the order `rank` gives (Kafka writes
/// a member's assignments before the member, members before the group),
/// then the new values in key order.
pub(crate) fn diff<K: Ord, V: PartialEq>(
    before: &BTreeMap<K, V>,
    after: &BTreeMap<K, V>,
    rank: impl Fn(&K) -> u8,
    encode_key: impl Fn(&K) -> Result<Vec<u8>, StringTooLong>,
    encode_value: impl Fn(&V) -> Result<Vec<u8>, StringTooLong>,
) -> Result<Vec<EncodedRecord>, StringTooLong> {
    let mut removed: Vec<&K> = before.keys().filter(|k| !after.contains_key(k)).collect();
    removed.sort_by_key(|key| rank(key));
    let mut records = Vec::new();
    for key in removed {
        records.push((encode_key(key)?, None));
    }
    for (key, value) in after {
        if before.get(key) != Some(value) {
            records.push((encode_key(key)?, Some(encode_value(value)?)));
        }
    }
    Ok(records)
}

/// `[]int32`, compact.
pub(crate) fn put_i32_array(out: &mut Vec<u8>, values: impl ExactSizeIterator<Item = i32>) {
    put_length(out, values.len());
    for value in values {
        out.extend_from_slice(&value.to_be_bytes());
    }
}

/// A compact `[]int32`, each element checked against the bytes at hand.
pub(crate) fn read_i32_array(reader: &mut FlexibleReader<'_>) -> Option<Vec<i32>> {
    let count = read_length(reader, 4)?;
    (0..count).map(|_| reader.i32()).collect()
}

pub(crate) fn put_unsigned_varint(out: &mut Vec<u8>, mut value: u32) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// A compact array's or string's length: stored plus one (0 is null).
pub(crate) fn put_length(out: &mut Vec<u8>, length: usize) {
    put_unsigned_varint(out, length as u32 + 1);
}

pub(crate) fn put_compact_string(
    out: &mut Vec<u8>,
    value: Option<&str>,
) -> Result<(), StringTooLong> {
    match value {
        None => out.push(0),
        Some(value) => {
            check_string(value)?;
            put_length(out, value.len());
            out.extend_from_slice(value.as_bytes());
        }
    }
    Ok(())
}

pub(crate) fn put_no_tagged_fields(out: &mut Vec<u8>) {
    out.push(0);
}

/// A bounds-checked reader of flexible values: every read is `None` past
/// the end, and no length is trusted beyond the bytes at hand.
pub(crate) struct FlexibleReader<'a>(pub(crate) &'a [u8]);

impl<'a> FlexibleReader<'a> {
    pub(crate) fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, tail) = (self.0.get(..n)?, self.0.get(n..)?);
        self.0 = tail;
        Some(head)
    }

    pub(crate) fn remaining(&self) -> usize {
        self.0.len()
    }

    pub(crate) fn i8(&mut self) -> Option<i8> {
        Some(self.take(1)?[0] as i8)
    }

    pub(crate) fn i16(&mut self) -> Option<i16> {
        Some(i16::from_be_bytes(self.take(2)?.try_into().ok()?))
    }

    pub(crate) fn i32(&mut self) -> Option<i32> {
        Some(i32::from_be_bytes(self.take(4)?.try_into().ok()?))
    }
}

pub(crate) fn read_unsigned_varint(reader: &mut FlexibleReader<'_>) -> Option<u32> {
    let mut value = 0u32;
    for shift in (0..35).step_by(7) {
        let byte = reader.take(1)?[0];
        value |= u32::from(byte & 0x7f).checked_shl(shift)?;
        if byte & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

/// A compact non-null length, refused if the remaining bytes cannot hold
/// that many elements of at least `min_size` bytes.
pub(crate) fn read_length(reader: &mut FlexibleReader<'_>, min_size: usize) -> Option<usize> {
    let length = usize::try_from(read_unsigned_varint(reader)?.checked_sub(1)?).ok()?;
    (length.checked_mul(min_size)? <= reader.remaining()).then_some(length)
}

/// `Some(None)` is a null string; `None` unreadable input.
pub(crate) fn read_compact_string(reader: &mut FlexibleReader<'_>) -> Option<Option<String>> {
    let length = read_unsigned_varint(reader)?;
    if length == 0 {
        return Some(None);
    }
    // Kafka refuses strings longer than an i16 length, compact or not.
    let length = usize::try_from(length - 1).ok()?;
    if length > MAX_STRING_LENGTH {
        return None;
    }
    let bytes = reader.take(length)?;
    String::from_utf8(bytes.to_vec()).ok().map(Some)
}

pub(crate) fn skip_tagged_fields(reader: &mut FlexibleReader<'_>) -> Option<()> {
    tagged_fields(reader).map(|_| ())
}

/// The tagged fields at the reader, each as its tag and its bytes.
pub(crate) fn tagged_fields<'a>(
    reader: &mut FlexibleReader<'a>,
) -> Option<Vec<(u32, FlexibleReader<'a>)>> {
    // A field takes at least two bytes (tag and size).
    let count = usize::try_from(read_unsigned_varint(reader)?).ok()?;
    if count > reader.remaining() / 2 {
        return None;
    }
    let mut fields = Vec::with_capacity(count);
    for _ in 0..count {
        let tag = read_unsigned_varint(reader)?;
        let size = read_unsigned_varint(reader)?;
        fields.push((
            tag,
            FlexibleReader(reader.take(usize::try_from(size).ok()?)?),
        ));
    }
    Some(fields)
}
