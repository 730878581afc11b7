//! A zero-copy view of a RecordBatch (magic v2) as it travels on the wire and
//! lies on disk.
//!
//! The broker never re-encodes a batch: it checks the 61-byte header and the
//! CRC-32C, then writes its own base offset and leader epoch into the header.
//! Both fields sit before the CRC-covered range, so patching them keeps the
//! producer's checksum valid.

use thiserror::Error;

use crate::types::{LeaderEpoch, Offset};

/// Size of the v2 batch header, up to and including the record count.
pub const HEADER_SIZE: usize = 61;
/// Bytes before `batch_length` counts: base offset (8) and the length itself (4).
pub const LOG_OVERHEAD: usize = 12;

const BASE_OFFSET: usize = 0;
const BATCH_LENGTH: usize = 8;
const PARTITION_LEADER_EPOCH: usize = 12;
const MAGIC: usize = 16;
const CRC: usize = 17;
const ATTRIBUTES: usize = 21;
const LAST_OFFSET_DELTA: usize = 23;
const BASE_TIMESTAMP: usize = 27;
const MAX_TIMESTAMP: usize = 35;
const PRODUCER_ID: usize = 43;
const PRODUCER_EPOCH: usize = 51;
const BASE_SEQUENCE: usize = 53;
const RECORDS_COUNT: usize = 57;

const COMPRESSION_MASK: i16 = 0x07;
const TIMESTAMP_TYPE_LOG_APPEND: i16 = 0x08;
pub(crate) const TRANSACTIONAL: i16 = 0x10;
pub(crate) const CONTROL: i16 = 0x20;

/// Why a batch was refused.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum BatchError {
    #[error("batch is truncated: {available} bytes available, {needed} needed")]
    Truncated { needed: usize, available: usize },
    #[error("batch length {0} is invalid")]
    InvalidLength(i32),
    #[error("unsupported record batch magic {0}")]
    UnsupportedMagic(i8),
    #[error("batch CRC mismatch: stored {stored:#010x}, computed {computed:#010x}")]
    CrcMismatch { stored: u32, computed: u32 },
    #[error("batch declares {0} records")]
    InvalidRecordCount(i32),
    #[error("batch last offset delta {last_offset_delta} does not fit record count {count}")]
    InvalidOffsetDelta { last_offset_delta: i32, count: i32 },
}

/// The compression codec in a batch's attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Snappy,
    Lz4,
    Zstd,
}

/// A validated-length view of one batch's bytes (header and records).
#[derive(Debug, Clone, Copy)]
pub struct Batch<'a> {
    bytes: &'a [u8],
}

fn read_i16(bytes: &[u8], at: usize) -> i16 {
    i16::from_be_bytes([bytes[at], bytes[at + 1]])
}

fn read_i32(bytes: &[u8], at: usize) -> i32 {
    let mut word = [0u8; 4];
    word.copy_from_slice(&bytes[at..at + 4]);
    i32::from_be_bytes(word)
}

fn read_i64(bytes: &[u8], at: usize) -> i64 {
    let mut word = [0u8; 8];
    word.copy_from_slice(&bytes[at..at + 8]);
    i64::from_be_bytes(word)
}

/// The total size of the batch starting at `bytes[0]`, read from its length
/// field, without checking anything else. `None` if fewer than 12 bytes remain.
pub fn frame_size(bytes: &[u8]) -> Option<Result<usize, BatchError>> {
    if bytes.len() < LOG_OVERHEAD {
        return None;
    }
    let length = read_i32(bytes, BATCH_LENGTH);
    // A batch must at least hold the header after the length field.
    if length < (HEADER_SIZE - LOG_OVERHEAD) as i32 {
        return Some(Err(BatchError::InvalidLength(length)));
    }
    Some(Ok(LOG_OVERHEAD + length as usize))
}

impl<'a> Batch<'a> {
    /// Views the batch at the start of `bytes`, checking only that its header
    /// and declared length fit. Use [`Batch::validate`] before trusting it.
    pub fn parse(bytes: &'a [u8]) -> Result<Batch<'a>, BatchError> {
        let size = match frame_size(bytes) {
            None => {
                return Err(BatchError::Truncated {
                    needed: LOG_OVERHEAD,
                    available: bytes.len(),
                })
            }
            Some(size) => size?,
        };
        if bytes.len() < size {
            return Err(BatchError::Truncated {
                needed: size,
                available: bytes.len(),
            });
        }
        let batch = Batch {
            bytes: &bytes[..size],
        };
        if batch.magic() != 2 {
            return Err(BatchError::UnsupportedMagic(batch.magic()));
        }
        Ok(batch)
    }

    /// Views a bare header, for reading its fields while scanning a segment.
    pub fn parse_header_only(header: &'a [u8; HEADER_SIZE]) -> Batch<'a> {
        Batch { bytes: header }
    }

    /// Checks what the broker relies on: the CRC and a sane record count.
    pub fn validate(&self) -> Result<(), BatchError> {
        let computed = crc32c::crc32c(&self.bytes[ATTRIBUTES..]);
        let stored = self.crc();
        if computed != stored {
            return Err(BatchError::CrcMismatch { stored, computed });
        }
        let count = self.records_count();
        if count <= 0 {
            return Err(BatchError::InvalidRecordCount(count));
        }
        let last_offset_delta = self.last_offset_delta();
        // Compaction may leave fewer records than the delta span, never more.
        if last_offset_delta < 0 || last_offset_delta < count - 1 {
            return Err(BatchError::InvalidOffsetDelta {
                last_offset_delta,
                count,
            });
        }
        Ok(())
    }

    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    pub fn size(&self) -> usize {
        self.bytes.len()
    }

    pub fn base_offset(&self) -> Offset {
        Offset(read_i64(self.bytes, BASE_OFFSET))
    }

    pub fn last_offset(&self) -> Offset {
        self.base_offset().plus(i64::from(self.last_offset_delta()))
    }

    /// The offset after this batch: where the next one starts.
    pub fn next_offset(&self) -> Offset {
        self.last_offset().plus(1)
    }

    pub fn partition_leader_epoch(&self) -> LeaderEpoch {
        LeaderEpoch(read_i32(self.bytes, PARTITION_LEADER_EPOCH))
    }

    pub fn magic(&self) -> i8 {
        self.bytes[MAGIC] as i8
    }

    pub fn crc(&self) -> u32 {
        read_i32(self.bytes, CRC) as u32
    }

    pub fn attributes(&self) -> i16 {
        read_i16(self.bytes, ATTRIBUTES)
    }

    pub fn compression(&self) -> Compression {
        match self.attributes() & COMPRESSION_MASK {
            1 => Compression::Gzip,
            2 => Compression::Snappy,
            3 => Compression::Lz4,
            4 => Compression::Zstd,
            _ => Compression::None,
        }
    }

    pub fn is_log_append_time(&self) -> bool {
        self.attributes() & TIMESTAMP_TYPE_LOG_APPEND != 0
    }

    pub fn is_transactional(&self) -> bool {
        self.attributes() & TRANSACTIONAL != 0
    }

    pub fn is_control(&self) -> bool {
        self.attributes() & CONTROL != 0
    }

    pub fn last_offset_delta(&self) -> i32 {
        read_i32(self.bytes, LAST_OFFSET_DELTA)
    }

    pub fn base_timestamp(&self) -> i64 {
        read_i64(self.bytes, BASE_TIMESTAMP)
    }

    pub fn max_timestamp(&self) -> i64 {
        read_i64(self.bytes, MAX_TIMESTAMP)
    }

    pub fn producer_id(&self) -> i64 {
        read_i64(self.bytes, PRODUCER_ID)
    }

    pub fn producer_epoch(&self) -> i16 {
        read_i16(self.bytes, PRODUCER_EPOCH)
    }

    pub fn base_sequence(&self) -> i32 {
        read_i32(self.bytes, BASE_SEQUENCE)
    }

    pub fn records_count(&self) -> i32 {
        read_i32(self.bytes, RECORDS_COUNT)
    }

    /// The encoded records after the header (compressed if the batch is).
    pub fn records_payload(&self) -> &'a [u8] {
        &self.bytes[HEADER_SIZE..]
    }
}

/// Writes the broker-assigned base offset into a batch header. Outside the CRC.
pub fn set_base_offset(bytes: &mut [u8], offset: Offset) {
    bytes[BASE_OFFSET..BASE_OFFSET + 8].copy_from_slice(&offset.0.to_be_bytes());
}

/// Writes the leader epoch into a batch header. Outside the CRC.
pub fn set_partition_leader_epoch(bytes: &mut [u8], epoch: LeaderEpoch) {
    bytes[PARTITION_LEADER_EPOCH..PARTITION_LEADER_EPOCH + 4]
        .copy_from_slice(&epoch.0.to_be_bytes());
}

/// Marks a batch as LogAppendTime with the broker's clock, as Kafka does for
/// topics with `message.timestamp.type=LogAppendTime`: the max timestamp and
/// the timestamp-type bit change, so the CRC is recomputed. Records inside are
/// left untouched; readers take the batch's max timestamp for every record.
pub fn set_log_append_time(bytes: &mut [u8], now_ms: i64) {
    let (header, records) = bytes.split_at_mut(HEADER_SIZE);
    stamp_log_append_time(header, records, now_ms);
}

fn stamp_log_append_time(header: &mut [u8], records: &[u8], now_ms: i64) {
    let attributes = read_i16(header, ATTRIBUTES) | TIMESTAMP_TYPE_LOG_APPEND;
    header[ATTRIBUTES..ATTRIBUTES + 2].copy_from_slice(&attributes.to_be_bytes());
    header[MAX_TIMESTAMP..MAX_TIMESTAMP + 8].copy_from_slice(&now_ms.to_be_bytes());
    let crc = crc32c::crc32c_append(crc32c::crc32c(&header[ATTRIBUTES..HEADER_SIZE]), records);
    header[CRC..CRC + 4].copy_from_slice(&crc.to_be_bytes());
}

/// The header a leader writes for `batch`: the producer's header with the
/// broker's base offset and leader epoch, and for LogAppendTime topics the
/// broker's time. The records after it are written from the request's own
/// bytes, so a produce request is never copied whole.
pub fn leader_header(
    batch: &Batch<'_>,
    base_offset: Offset,
    leader_epoch: LeaderEpoch,
    log_append_time: Option<i64>,
) -> [u8; HEADER_SIZE] {
    let mut header = [0u8; HEADER_SIZE];
    header.copy_from_slice(&batch.bytes[..HEADER_SIZE]);
    set_base_offset(&mut header, base_offset);
    set_partition_leader_epoch(&mut header, leader_epoch);
    if let Some(now_ms) = log_append_time {
        stamp_log_append_time(&mut header, batch.records_payload(), now_ms);
    }
    header
}

/// A copy of `original` holding only `records` (encoded records taken from
/// it, uncompressed): what compaction writes. Offsets, timestamps, producer
/// fields and the last offset delta stay, so offsets never move and the
/// producer's sequence range is kept; the codec becomes none.
pub fn with_records(original: &Batch<'_>, records: &[&[u8]]) -> Vec<u8> {
    let payload: usize = records.iter().map(|r| r.len()).sum();
    let mut out = Vec::with_capacity(HEADER_SIZE + payload);
    out.extend_from_slice(&original.bytes[..HEADER_SIZE]);
    for record in records {
        out.extend_from_slice(record);
    }
    let batch_length = (out.len() - LOG_OVERHEAD) as i32;
    out[BATCH_LENGTH..BATCH_LENGTH + 4].copy_from_slice(&batch_length.to_be_bytes());
    let attributes = original.attributes() & !COMPRESSION_MASK;
    out[ATTRIBUTES..ATTRIBUTES + 2].copy_from_slice(&attributes.to_be_bytes());
    out[RECORDS_COUNT..RECORDS_COUNT + 4].copy_from_slice(&(records.len() as i32).to_be_bytes());
    let crc = crc32c::crc32c(&out[ATTRIBUTES..]);
    out[CRC..CRC + 4].copy_from_slice(&crc.to_be_bytes());
    out
}

/// Iterates over the batches laid end to end in a buffer (a produce request's
/// records, a segment read). Stops with an error at the first malformed one.
pub struct Batches<'a> {
    remaining: &'a [u8],
    position: usize,
}

impl<'a> Batches<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Batches {
            remaining: bytes,
            position: 0,
        }
    }
}

impl<'a> Iterator for Batches<'a> {
    /// The batch and its byte position in the buffer.
    type Item = Result<(usize, Batch<'a>), BatchError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.remaining.is_empty() {
            return None;
        }
        match Batch::parse(self.remaining) {
            Ok(batch) => {
                let position = self.position;
                self.remaining = &self.remaining[batch.size()..];
                self.position += batch.size();
                Some(Ok((position, batch)))
            }
            Err(error) => {
                self.remaining = &[];
                Some(Err(error))
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::records::builder::BatchBuilder;

    pub fn sample_batch(records: usize) -> Vec<u8> {
        let mut builder = BatchBuilder::new(1_000);
        for i in 0..records {
            builder.push(
                1_000 + i as i64,
                Some(format!("k{i}").as_bytes()),
                Some(b"value"),
                &[],
            );
        }
        builder.build()
    }

    #[test]
    fn parses_header_fields_of_a_built_batch() {
        let bytes = sample_batch(3);
        let batch = Batch::parse(&bytes).unwrap();
        batch.validate().unwrap();
        assert_eq!(batch.records_count(), 3);
        assert_eq!(batch.last_offset_delta(), 2);
        assert_eq!(batch.base_timestamp(), 1_000);
        assert_eq!(batch.max_timestamp(), 1_002);
        assert_eq!(batch.producer_id(), -1);
        assert_eq!(batch.compression(), Compression::None);
        assert_eq!(batch.size(), bytes.len());
    }

    #[test]
    fn patching_offset_and_epoch_keeps_the_crc_valid() {
        let mut bytes = sample_batch(2);
        set_base_offset(&mut bytes, Offset(42));
        set_partition_leader_epoch(&mut bytes, LeaderEpoch(7));
        let batch = Batch::parse(&bytes).unwrap();
        batch.validate().unwrap();
        assert_eq!(batch.base_offset(), Offset(42));
        assert_eq!(batch.next_offset(), Offset(44));
        assert_eq!(batch.partition_leader_epoch(), LeaderEpoch(7));
    }

    #[test]
    fn a_flipped_byte_is_a_crc_mismatch() {
        let mut bytes = sample_batch(2);
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff;
        let batch = Batch::parse(&bytes).unwrap();
        assert!(matches!(
            batch.validate(),
            Err(BatchError::CrcMismatch { .. })
        ));
    }

    #[test]
    fn log_append_time_rewrites_max_timestamp_and_crc() {
        let mut bytes = sample_batch(2);
        set_log_append_time(&mut bytes, 99_999);
        let batch = Batch::parse(&bytes).unwrap();
        batch.validate().unwrap();
        assert!(batch.is_log_append_time());
        assert_eq!(batch.max_timestamp(), 99_999);
    }

    #[test]
    fn truncated_and_short_lengths_are_errors() {
        let bytes = sample_batch(1);
        assert!(matches!(
            Batch::parse(&bytes[..bytes.len() - 1]),
            Err(BatchError::Truncated { .. })
        ));
        let mut bad = bytes.clone();
        bad[8..12].copy_from_slice(&(-5i32).to_be_bytes());
        assert_eq!(
            Batch::parse(&bad).unwrap_err(),
            BatchError::InvalidLength(-5)
        );
    }

    #[test]
    fn iterates_batches_laid_end_to_end() {
        let mut buffer = sample_batch(1);
        let first_len = buffer.len();
        buffer.extend(sample_batch(4));
        let found: Vec<_> = Batches::new(&buffer).map(|b| b.unwrap()).collect();
        assert_eq!(found.len(), 2);
        assert_eq!(found[1].0, first_len);
        assert_eq!(found[1].1.records_count(), 4);
    }
}
