//! The records the transaction coordinator writes to `__transaction_state`,
//! in Kafka's layout (`TransactionLogKey` v0, `TransactionLogValue` v0):
//!
//! - key: `version i16 = 0 | transactional id (string)`;
//! - value: `version i16 = 0 | producer id i64 | producer epoch i16 |
//!   timeout ms i32 | state i8 | partitions ([topic string, [i32]], null
//!   when Empty) | last update ms i64 | start ms i64`.
//!
//! A null value is a tombstone (the id expired). Strings are
//! i16-length-prefixed, arrays i32-length-prefixed, big-endian; a string
//! longer than an i16 length holds is refused, never cut.

use super::state::{TxnMetadata, TxnState};
use crate::records::primitives::{put_string, Reader, StringTooLong};
use crate::types::TopicPartition;

const KEY_VERSION: i16 = 0;
const VALUE_VERSION: i16 = 0;

pub fn key(transactional_id: &str) -> Result<Vec<u8>, StringTooLong> {
    let mut out = KEY_VERSION.to_be_bytes().to_vec();
    put_string(&mut out, transactional_id)?;
    Ok(out)
}

pub fn value(meta: &TxnMetadata) -> Result<Vec<u8>, StringTooLong> {
    let mut out = VALUE_VERSION.to_be_bytes().to_vec();
    out.extend_from_slice(&meta.producer_id.to_be_bytes());
    out.extend_from_slice(&meta.producer_epoch.to_be_bytes());
    out.extend_from_slice(&meta.timeout_ms.to_be_bytes());
    out.push(meta.state as u8);
    if meta.state == TxnState::Empty {
        out.extend_from_slice(&(-1i32).to_be_bytes());
    } else {
        let by_topic = meta.partitions_by_topic();
        out.extend_from_slice(&(by_topic.len() as i32).to_be_bytes());
        for (topic, partitions) in by_topic {
            put_string(&mut out, topic)?;
            out.extend_from_slice(&(partitions.len() as i32).to_be_bytes());
            for partition in partitions {
                out.extend_from_slice(&partition.to_be_bytes());
            }
        }
    }
    out.extend_from_slice(&meta.last_update_timestamp.to_be_bytes());
    out.extend_from_slice(&meta.start_timestamp.to_be_bytes());
    Ok(out)
}

pub fn decode_key(bytes: &[u8]) -> Option<String> {
    let mut reader = Reader::new(bytes);
    (reader.i16()? == KEY_VERSION).then_some(())?;
    reader.string()
}

pub fn decode_value(transactional_id: &str, bytes: &[u8]) -> Option<TxnMetadata> {
    let mut reader = Reader::new(bytes);
    (reader.i16()? == VALUE_VERSION).then_some(())?;
    let producer_id = reader.i64()?;
    let producer_epoch = reader.i16()?;
    let timeout_ms = reader.i32()?;
    let state = TxnState::from_code(reader.i8()?)?;
    let mut partitions = std::collections::BTreeSet::new();
    let topics = reader.i32()?;
    for _ in 0..topics.max(0) {
        let topic = reader.string()?;
        let count = reader.i32()?;
        for _ in 0..count.max(0) {
            partitions.insert(TopicPartition::new(topic.clone(), reader.i32()?));
        }
    }
    Some(TxnMetadata {
        transactional_id: transactional_id.to_string(),
        producer_id,
        producer_epoch,
        timeout_ms,
        state,
        partitions,
        last_update_timestamp: reader.i64()?,
        start_timestamp: reader.i64()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_empty_transactions_have_null_partitions() {
        let mut meta = TxnMetadata::new("payments-1", 4_000, 60_000, 123);
        let empty = value(&meta).unwrap();
        assert_eq!(&empty[17..21], &(-1i32).to_be_bytes(), "null partitions");
        assert_eq!(decode_value("payments-1", &empty), Some(meta.clone()));
        meta = meta
            .with_partitions(
                [
                    TopicPartition::new("a", 1),
                    TopicPartition::new("a", 0),
                    TopicPartition::new("b", 3),
                ],
                500,
            )
            .unwrap();
        meta.producer_epoch = 7;
        assert_eq!(
            decode_value("payments-1", &value(&meta).unwrap()),
            Some(meta)
        );
        assert_eq!(
            decode_key(&key("payments-1").unwrap()).as_deref(),
            Some("payments-1")
        );
        assert_eq!(
            key(&"t".repeat(32_768)),
            Err(StringTooLong { length: 32_768 })
        );
        assert_eq!(decode_value("x", &[0, 0, 1]), None, "truncated");
    }
}
