//! What a leader checks in the batches of a produce request before any of
//! them is written, as Kafka's `LogValidator` does. Problems with a whole
//! batch refuse the request; problems with single records are collected
//! with each record's index in its batch (KIP-467), so that a client fails
//! only those records.
//!
//! The broker looks inside a compressed batch only when it must: the topic
//! is compacted (every record needs a key), `message.timestamp.before.max.ms`
//! is set, or the batch header's timestamps are already out of range.

use std::fmt;

use super::LogError;
use crate::config::topic::{LogConfig, TimestampType};
use crate::records::batch::{Batch, Batches, Compression};
use crate::records::compression::records_payload;
use crate::records::record::Records;

/// Who is appending: clients go through every check and the sequence
/// checks; the broker's own coordinators write records it built itself
/// (and transactional offsets without sequences), as Kafka's coordinator
/// appends do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppendOrigin {
    Client,
    Coordinator,
}

/// One refused record: its index in its batch and why (a produce
/// response's `record_errors`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordError {
    pub batch_index: i32,
    pub message: String,
}

impl fmt::Display for RecordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "RecordError(batchIndex={}, message='{}')",
            self.batch_index, self.message
        )
    }
}

/// Which records a validation refused, and whether any for its timestamp
/// (Kafka then answers INVALID_TIMESTAMP for the whole partition).
#[derive(Default)]
struct RecordErrors {
    errors: Vec<RecordError>,
    any_timestamp: bool,
}

impl RecordErrors {
    fn push(&mut self, batch_index: usize, message: String, timestamp: bool) {
        self.any_timestamp |= timestamp;
        self.errors.push(RecordError {
            batch_index: batch_index as i32,
            message,
        });
    }

    /// Kafka's `processRecordErrors`: one error for the partition, carrying
    /// every record error.
    fn into_result(self) -> Result<(), LogError> {
        if self.errors.is_empty() {
            return Ok(());
        }
        if self.any_timestamp {
            return Err(LogError::InvalidTimestamp {
                message: "One or more records have been rejected due to invalid timestamp"
                    .to_string(),
                record_errors: self.errors,
            });
        }
        let shown: Vec<String> = self.errors.iter().take(3).map(|e| e.to_string()).collect();
        Err(LogError::InvalidRecord {
            message: format!(
                "One or more records have been rejected due to {} record errors in total, \
                 and only showing the first three errors at most: [{}]",
                self.errors.len(),
                shown.join(", ")
            ),
            record_errors: self.errors,
        })
    }
}

/// The checks of one partition's appends.
pub struct LogValidator<'c> {
    config: &'c LogConfig,
    /// The partition, for error messages.
    partition: &'c str,
    origin: AppendOrigin,
    now_ms: i64,
}

impl<'c> LogValidator<'c> {
    pub fn new(
        config: &'c LogConfig,
        partition: &'c str,
        origin: AppendOrigin,
        now_ms: i64,
    ) -> Self {
        LogValidator {
            config,
            partition,
            origin,
            now_ms,
        }
    }

    /// Checks every batch of `records` and returns them, or the first
    /// reason to refuse the request. Nothing is written before this passes.
    pub fn validate<'a>(&self, records: &'a [u8]) -> Result<Vec<Batch<'a>>, LogError> {
        let mut batches = Vec::new();
        let mut idempotent = false;
        let mut record_errors = RecordErrors::default();
        for item in Batches::new(records) {
            let (_, batch) = item?;
            self.validate_batch(&batch)?;
            self.validate_records(&batch, &mut record_errors)?;
            idempotent |= batch.producer_id() >= 0;
            batches.push(batch);
        }
        record_errors.into_result()?;
        if batches.is_empty() {
            return Err(LogError::EmptyRecords);
        }
        if idempotent && batches.len() > 1 {
            return Err(LogError::MultipleIdempotentBatches);
        }
        Ok(batches)
    }

    /// Kafka's `validateBatch`: the header, CRC and size, and for clients
    /// that the offsets the batch claims are exactly its records.
    fn validate_batch(&self, batch: &Batch<'_>) -> Result<(), LogError> {
        batch.validate()?;
        if batch.size() > self.config.max_message_bytes {
            return Err(LogError::MessageTooLarge {
                size: batch.size(),
                max: self.config.max_message_bytes,
            });
        }
        if self.origin != AppendOrigin::Client {
            return Ok(());
        }
        if batch.is_control() {
            return Err(LogError::ControlBatchFromClient);
        }
        let count = batch.records_count();
        if i64::from(batch.last_offset_delta()) + 1 != i64::from(count) {
            return Err(invalid_record(format!(
                "Inconsistent batch offset range [0, {}] and count of records {count}",
                batch.last_offset_delta()
            )));
        }
        if batch.producer_id() >= 0 && batch.base_sequence() < 0 {
            return Err(invalid_record(format!(
                "Invalid sequence number {} in record batch with producerId {}",
                batch.base_sequence(),
                batch.producer_id()
            )));
        }
        Ok(())
    }

    /// Kafka's `validateRecord` over every record the broker reads: the
    /// declared count and offsets, timestamps within
    /// `message.timestamp.before/after.max.ms`, keys on compacted topics.
    fn validate_records(
        &self,
        batch: &Batch<'_>,
        errors: &mut RecordErrors,
    ) -> Result<(), LogError> {
        if self.origin != AppendOrigin::Client {
            return Ok(());
        }
        if batch.compression() != Compression::None && !self.must_look_inside(batch) {
            return Ok(());
        }
        let payload = records_payload(batch, self.config.decompression_limit())?;
        let count = batch.records_count();
        let mut records = Records::new(&payload, count);
        let mut seen = 0i32;
        for (index, record) in records.by_ref().enumerate() {
            if record.offset_delta != i64::from(seen) {
                return Err(invalid_record(format!(
                    "Inner record at index {index} has offset delta {}, expected {seen}",
                    record.offset_delta
                )));
            }
            seen += 1;
            let timestamp = batch
                .base_timestamp()
                .saturating_add(record.timestamp_delta);
            if let Some(message) =
                self.timestamp_error(timestamp, batch.base_offset().0 + index as i64)
            {
                errors.push(index, message, true);
            }
            if self.config.is_compacted() && record.key.is_none() {
                errors.push(
                    index,
                    format!(
                        "Compacted topic cannot accept message without key in topic partition {}.",
                        self.partition
                    ),
                    false,
                );
            }
        }
        if seen != count || records.remaining_bytes() != 0 {
            return Err(invalid_record(format!(
                "Incorrect declared batch size: {count} records declared, {seen} well-formed \
                 records read and {} bytes left over",
                records.remaining_bytes()
            )));
        }
        Ok(())
    }

    /// A compressed batch is opened only where the header cannot answer.
    fn must_look_inside(&self, batch: &Batch<'_>) -> bool {
        let header_in_range = self.timestamp_error(batch.base_timestamp(), 0).is_none()
            && self.timestamp_error(batch.max_timestamp(), 0).is_none();
        self.config.is_compacted()
            || !header_in_range
            || (self.checks_create_time() && self.config.message_timestamp_before_max_ms < i64::MAX)
    }

    fn checks_create_time(&self) -> bool {
        self.config.message_timestamp_type == TimestampType::CreateTime
    }

    /// Why a record's CreateTime is refused, if it is (-1: no timestamp).
    fn timestamp_error(&self, timestamp: i64, offset: i64) -> Option<String> {
        if !self.checks_create_time() || timestamp == -1 {
            return None;
        }
        let before = self.config.message_timestamp_before_max_ms;
        let after = self.config.message_timestamp_after_max_ms;
        let too_old = self.now_ms.saturating_sub(timestamp) > before;
        let too_new = timestamp.saturating_sub(self.now_ms) > after;
        (too_old || too_new).then(|| {
            format!(
                "Timestamp {timestamp} of message with offset {offset} is out of range. \
                 The timestamp should be within [{}, {}]",
                self.now_ms.saturating_sub(before),
                self.now_ms.saturating_add(after)
            )
        })
    }
}

fn invalid_record(message: String) -> LogError {
    LogError::InvalidRecord {
        message,
        record_errors: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::topic::CleanupPolicy;
    use crate::records::batch::tests::sample_batch;
    use crate::records::builder::BatchBuilder;

    const NOW: i64 = 1_700_000_000_000;

    fn validate(config: &LogConfig, records: &[u8]) -> Result<usize, LogError> {
        LogValidator::new(config, "t-0", AppendOrigin::Client, NOW)
            .validate(records)
            .map(|batches| batches.len())
    }

    /// A batch claiming `last_offset_delta` with its CRC made right.
    fn with_last_offset_delta(mut bytes: Vec<u8>, delta: i32) -> Vec<u8> {
        bytes[23..27].copy_from_slice(&delta.to_be_bytes());
        let crc = crc32c::crc32c(&bytes[21..]);
        bytes[17..21].copy_from_slice(&crc.to_be_bytes());
        bytes
    }

    #[test]
    fn a_batch_must_claim_exactly_as_many_offsets_as_it_has_records() {
        let config = LogConfig::default();
        assert_eq!(validate(&config, &sample_batch(3)).unwrap(), 1);
        // One 3-record batch pushing the log end by 2^31 offsets.
        let greedy = with_last_offset_delta(sample_batch(3), i32::MAX);
        assert!(matches!(
            validate(&config, &greedy),
            Err(LogError::InvalidRecord { ref record_errors, .. }) if record_errors.is_empty()
        ));
        let short = with_last_offset_delta(sample_batch(3), 1);
        assert!(validate(&config, &short).is_err());
    }

    #[test]
    fn out_of_range_timestamps_are_refused_record_by_record() {
        let config = LogConfig {
            message_timestamp_before_max_ms: 60_000,
            ..LogConfig::default()
        };
        let mut builder = BatchBuilder::new(NOW);
        builder.push(NOW, None, Some(b"ok"), &[]);
        builder.push(NOW - 120_000, None, Some(b"too old"), &[]);
        builder.push(NOW + 2 * 3_600_000, None, Some(b"too new"), &[]);
        builder.push(NOW - 1_000, None, Some(b"ok"), &[]);
        match validate(&config, &builder.build()) {
            Err(LogError::InvalidTimestamp { record_errors, .. }) => {
                let indexes: Vec<i32> = record_errors.iter().map(|e| e.batch_index).collect();
                assert_eq!(indexes, vec![1, 2]);
                assert!(record_errors[0].message.contains("out of range"));
            }
            other => panic!("expected INVALID_TIMESTAMP, got {other:?}"),
        }
        let log_append_time = LogConfig {
            message_timestamp_type: TimestampType::LogAppendTime,
            ..config
        };
        assert!(validate(&log_append_time, &builder.build()).is_ok());
    }

    #[test]
    fn keyless_records_on_a_compacted_topic_are_named() {
        let config = LogConfig {
            cleanup_policy: CleanupPolicy::Compact,
            ..LogConfig::default()
        };
        let mut builder = BatchBuilder::new(NOW);
        builder.push(NOW, Some(b"k"), Some(b"v"), &[]);
        builder.push(NOW, None, Some(b"v"), &[]);
        builder.push(NOW, None, Some(b"v"), &[]);
        match validate(&config, &builder.build()) {
            Err(LogError::InvalidRecord {
                message,
                record_errors,
            }) => {
                let indexes: Vec<i32> = record_errors.iter().map(|e| e.batch_index).collect();
                assert_eq!(indexes, vec![1, 2]);
                assert!(message.contains("2 record errors"), "{message}");
            }
            other => panic!("expected INVALID_RECORD, got {other:?}"),
        }
    }

    #[test]
    fn a_record_count_that_does_not_match_the_records_is_refused() {
        let mut bytes = sample_batch(3);
        // Claim 4 records (and offsets) where 3 are encoded.
        bytes[57..61].copy_from_slice(&4i32.to_be_bytes());
        let bytes = with_last_offset_delta(bytes, 3);
        assert!(matches!(
            validate(&LogConfig::default(), &bytes),
            Err(LogError::InvalidRecord { ref message, .. }) if message.contains("declared")
        ));
    }
}
